"""``weakflow feedback`` (source screening, quarantine) and ``weakflow privacy`` (erasure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from weakflow.cli._console import fail, out
from weakflow.errors import WeakflowError

if TYPE_CHECKING:
    from weakflow.pipeline import Project
    from weakflow.registry import Registry

feedback_app = typer.Typer(
    help="Feedback sources: statistics, quarantine (poisoning defence) and release.",
    no_args_is_help=True,
)
privacy_app = typer.Typer(help="Data-subject erasure.", no_args_is_help=True)

ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="Project folder.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ReasonOpt = Annotated[
    str, typer.Option("--reason", "-r", help="Why (required: it goes to the audit log).")
]


def _open(project: Path) -> tuple[Project, Registry]:
    from weakflow.pipeline import Project
    from weakflow.registry import open_registry

    proj = Project.load(project)
    return proj, open_registry(proj.state_dir, proj.config.store.url)


@feedback_app.command("sources")
def sources(project: ProjectOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Screen every feedback source and show its volume, agreement and standing.

    A source is the API token that sent the labels (else the request's `source` field). One
    that floods, or agrees with the model or the LF majority far less than the other sources,
    is quarantined now (audited): its labels stay stored but no model trains on them until
    `weakflow feedback release`. Thresholds: `[feedback]` in weakflow.toml.
    """
    from weakflow.feedback import screen_feedback
    from weakflow.registry import current_actor

    try:
        proj, registry = _open(project)
        try:
            fb = proj.config.feedback
            found = screen_feedback(
                registry.db, proj.config.project.name,
                label_names=proj.config.data.label_names, actor=current_actor(),
                alpha=fb.alpha, min_labels=fb.min_labels, max_share=fb.max_share,
                min_gap=fb.min_gap,
            )  # fmt: skip
        finally:
            registry.db.close()
    except WeakflowError as exc:
        fail(str(exc))
    if as_json:
        out.print(json.dumps([s.to_dict() for s in found]), soft_wrap=True, markup=False)
        return
    if not found:
        out.print("No feedback yet.")
        return
    table = Table(title="Feedback sources")
    for col in ("source", "labels", "share", "agrees: model", "LFs", "peers", "standing", "why"):
        table.add_column(col)
    for s in found:
        table.add_row(
            s.source, str(s.n), f"{s.share:.0%}", f"{s.agree_model:.0%}",
            "-" if s.agree_lfs is None else f"{s.agree_lfs:.0%} ({s.n_lfs})",
            "-" if s.agree_peers is None else f"{s.agree_peers:.0%} ({s.n_peers})",
            s.status, "; ".join(s.flags) or "-",
        )  # fmt: skip
    out.print(table)


@feedback_app.command("quarantine")
def quarantine(
    source: Annotated[str, typer.Argument(help="The source, e.g. token:web or review.")],
    reason: ReasonOpt,
    project: ProjectOpt = Path("."),
) -> None:
    """Quarantine a source by hand: its labels are kept but no model trains on them."""
    from weakflow.feedback import set_quarantine
    from weakflow.registry import current_actor

    if not reason.strip():
        fail("--reason is empty: say why (it goes to the audit log).")
    try:
        _proj, registry = _open(project)
        try:
            set_quarantine(registry.db, source, reason=reason, actor=current_actor())
        finally:
            registry.db.close()
    except WeakflowError as exc:
        fail(str(exc))
    out.print(f"Quarantined {source}: its labels are kept and no longer trained on.")


@feedback_app.command("release")
def release(
    source: Annotated[str, typer.Argument(help="A quarantined source.")],
    reason: ReasonOpt,
    project: ProjectOpt = Path("."),
) -> None:
    """Release a quarantined source: its labels train the next model again (audited)."""
    from weakflow.feedback import release_source
    from weakflow.registry import current_actor

    try:
        _proj, registry = _open(project)
        try:
            release_source(registry.db, source, reason=reason, actor=current_actor())
        finally:
            registry.db.close()
    except (WeakflowError, ValueError) as exc:
        fail(str(exc))
    out.print(f"Released {source}: its labels join the next `weakflow run`.")


@privacy_app.command("erase")
def erase(
    subject_id: Annotated[
        str, typer.Option("--subject-id", help="The data subject's id, as sent in requests.")
    ],
    project: ProjectOpt = Path("."),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be erased; change nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Erase a data subject: their logged predictions, feedback, monitoring examples and
    dataset rows (`[privacy] subject_column`), and mark the versions trained on them for
    retraining. The audit log records a digest of the id and the counts, never the id."""
    from weakflow.privacy import erase_subject
    from weakflow.registry import current_actor

    try:
        report = erase_subject(project, subject_id, actor=current_actor(), dry_run=dry_run)
    except (WeakflowError, ValueError, OSError) as exc:
        fail(str(exc))
    if as_json:
        out.print(json.dumps(report.to_dict()), soft_wrap=True, markup=False)
        return
    verb = "Would erase" if dry_run else "Erased"
    rows = ", ".join(f"{n} in {f}" for f, n in report.dataset_rows.items()) or "none"
    marked = ", ".join(f"v{v}" for v in report.versions_marked) or "none"
    out.print(
        f"{verb}: {report.predictions} logged predictions, {report.feedback} feedback labels, "
        f"{report.monitor_examples} monitoring examples; dataset rows: {rows}. Versions to "
        f"retrain: {marked}.",
        soft_wrap=True,
        markup=False,
    )
