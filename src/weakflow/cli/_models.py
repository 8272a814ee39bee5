"""``weakflow models ...`` and ``weakflow audit ...``: the registry and the audit trail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from weakflow.cli._console import err, fail, out
from weakflow.errors import WeakflowError

if TYPE_CHECKING:
    from weakflow.registry import Registry

models_app = typer.Typer(
    help="Registered models: versions, aliases (production, staging, ...), cards, export.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
audit_app = typer.Typer(
    help="The append-only, hash-chained audit log of every state change.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

ProjectOpt = Annotated[
    Path, typer.Option("--project", "-p", help="Project folder (holds weakflow.toml).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
AliasOpt = Annotated[str, typer.Option("--alias", "-a", help="Alias, e.g. production.")]
ReasonOpt = Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the history).")]


@contextmanager
def _registry(project: Path) -> Iterator[Registry]:
    from weakflow.pipeline import Project
    from weakflow.registry import open_registry

    try:
        proj = Project.load(project)
        registry = open_registry(proj.state_dir, proj.config.store.url)
    except WeakflowError as exc:
        fail(str(exc))
    try:
        yield registry
    except WeakflowError as exc:
        fail(str(exc))
    finally:
        registry.db.close()


def _emit(data: Any) -> None:
    out.print(json.dumps(data, default=str), soft_wrap=True, markup=False)


def _actor() -> str:
    from weakflow.registry import current_actor

    return current_actor()


@models_app.command("list")
def list_(
    name: Annotated[str | None, typer.Argument(help="Only this model's versions.")] = None,
    project: ProjectOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """List registered versions with their aliases, gate verdicts and headline metrics."""
    with _registry(project) as reg:
        versions = reg.versions(name)
    if as_json:
        _emit([v.to_dict(full=False) for v in versions])
        return
    table = Table(title="Registered models")
    names = [v.name for v in versions] + ["model"]
    aliases = [", ".join(v.aliases) or "-" for v in versions] + ["aliases"]
    # Names and aliases are what people scan for: never truncate them, squeeze the numbers.
    table.add_column("model", no_wrap=True, min_width=max(map(len, names)))
    table.add_column("v", justify="right")
    table.add_column("aliases", no_wrap=True, min_width=max(map(len, aliases)))
    for col in ("status", "gates", "acc", "F1", "ECE"):
        table.add_column(col, justify="left" if col == "status" else "right")
    for v, shown in zip(versions, aliases, strict=False):
        em = v.metrics.get("end_model", {})
        gates = "-" if v.gates_passed is None else ("pass" if v.gates_passed else "fail")
        table.add_row(
            v.name,
            str(v.version),
            shown,
            v.status,
            gates,
            *(f"{em[m]:.3f}" if isinstance(em.get(m), int | float) else "-"
              for m in ("accuracy", "f1_macro", "ece")),
        )  # fmt: skip
    out.print(table)


@models_app.command("show")
def show(
    name: str, version: int, project: ProjectOpt = Path("."), as_json: JsonOpt = False
) -> None:
    """One version in full: lineage, metrics and every gate's value and verdict."""
    with _registry(project) as reg:
        info = reg.get(name, version)
    if as_json:
        _emit(info.to_dict())
        return
    out.print(f"[bold]{info.name} v{info.version}[/] ({info.status}), aliases: "
              f"{', '.join(info.aliases) or '-'}", soft_wrap=True)  # fmt: skip
    out.print(f"run {info.run_id}, created {info.created_at} by {info.created_by}")
    out.print(f"artifact sha256 {info.artifact_sha256}")
    inputs = info.lineage.get("inputs", [])
    for d in inputs:
        out.print(f"  {d.get('role')}: {d.get('source')} ({d.get('rows')} rows, "
                  f"sha256 {str(d.get('sha256'))[:16]}...)")  # fmt: skip
    lf = info.lineage.get("lf_module", {})
    out.print(f"  LF module: {lf.get('path')} (sha256 {str(lf.get('sha256'))[:16]}...)")
    table = Table(title="Gates")
    for col in ("rule", "value", "threshold", "verdict", "reason"):
        table.add_column(col)
    for g in info.gates:
        table.add_row(
            g.get("rule", ""),
            _fmt(g.get("value")),
            _fmt(g.get("threshold")),
            "pass" if g.get("passed") else "FAIL",
            g.get("reason", ""),
        )
    out.print(table)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, int | float) else str(value)


def _move_out(move: Any, as_json: bool) -> None:
    if as_json:
        _emit(move.to_dict())
        return
    if move.action == "noop":
        out.print(f"{move.name}@{move.alias} already points at v{move.to_version}.")
        return
    before = "nothing" if move.from_version is None else f"v{move.from_version}"
    out.print(f"{move.name}@{move.alias}: {before} -> v{move.to_version} ({move.action})")


@models_app.command("promote")
def promote(
    name: str,
    version: int,
    alias: AliasOpt,
    reason: ReasonOpt = "",
    project: ProjectOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Point an alias at a version; the move is kept in the alias history and audit log."""
    with _registry(project) as reg:
        move = reg.promote(name, version, alias, actor=_actor(), reason=reason)
    _move_out(move, as_json)


@models_app.command("rollback")
def rollback(
    name: str,
    alias: AliasOpt,
    reason: ReasonOpt = "",
    project: ProjectOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Move an alias back to the version it pointed at before, in one step."""
    with _registry(project) as reg:
        move = reg.rollback(name, alias, actor=_actor(), reason=reason)
    _move_out(move, as_json)


@models_app.command("history")
def history(
    name: str, alias: AliasOpt, project: ProjectOpt = Path("."), as_json: JsonOpt = False
) -> None:
    """Every move of an alias: when, from, to, who and why."""
    with _registry(project) as reg:
        moves = reg.history(name, alias)
    if as_json:
        _emit([m.to_dict() for m in moves])
        return
    table = Table(title=f"{name}@{alias}")
    for col in ("at", "action", "from", "to", "by", "reason"):
        table.add_column(col)
    for m in moves:
        table.add_row(
            str(m.at),
            m.action,
            "-" if m.from_version is None else f"v{m.from_version}",
            "-" if m.to_version is None else f"v{m.to_version}",
            m.actor,
            m.reason,
        )
    out.print(table)


@models_app.command("archive")
def archive(
    name: str,
    version: int,
    reason: ReasonOpt = "",
    project: ProjectOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Archive a version: kept for the record, never promoted or served again."""
    with _registry(project) as reg:
        info = reg.archive(name, version, actor=_actor(), reason=reason)
    if as_json:
        _emit(info.to_dict(full=False))
    else:
        out.print(f"{name} v{version} archived.")


@models_app.command("card")
def card(
    name: str, version: int, project: ProjectOpt = Path("."), as_json: JsonOpt = False
) -> None:
    """Print the version's model card (Markdown; --json for every number)."""
    with _registry(project) as reg:
        info = reg.get(name, version)
    if as_json:
        _emit(info.card)
    else:
        out.print(info.card_markdown, markup=False, highlight=False, soft_wrap=True)


@models_app.command("export")
def export(
    name: str,
    version: int,
    format: Annotated[str, typer.Option("--format", help="Export format: onnx.")] = "onnx",
    output: Annotated[
        Path | None, typer.Option(help="Output file (default exports/NAME-vVERSION.onnx).")
    ] = None,
    project: ProjectOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Export a version to ONNX, checked for parity with the model on the project's test set.

    Prints the file size, the parity (largest probability difference, label agreement) and the
    single-row latency in onnxruntime.
    """
    if format != "onnx":
        fail(f"Unknown format {format!r}; weakflow exports onnx.", code=2)
    from weakflow.pipeline import Project, end_model_inputs
    from weakflow.registry import export_onnx

    with _registry(project) as reg:
        proj = Project.load(project)
        model = reg.load_model(name, version)
        X_test = end_model_inputs(proj, "test")
        target = output or proj.root / "exports" / f"{name}-v{version}.onnx"
        result = export_onnx(model, X_test, target)
    payload = {
        "path": str(result.path),
        "size_bytes": result.size_bytes,
        "parity": result.parity,
        "latency_ms": result.latency_ms,
    }
    if as_json:
        _emit(payload)
        return
    out.print(f"Exported {name} v{version} to {result.path} ({result.size_bytes / 1e6:.2f} MB)",
              soft_wrap=True)  # fmt: skip
    p = result.parity
    out.print(
        f"Parity on {p['n']} test rows: labels agree {100 * p['label_agreement']:.1f}%, "
        f"max |probability difference| {p['max_abs_proba_diff']:.2e}"
    )
    lat = result.latency_ms
    out.print(f"Single-row latency: p50 {lat['p50']:.3f} ms, p90 {lat['p90']:.3f} ms")


@audit_app.command("verify")
def verify(project: ProjectOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Check the audit log's hash chain; exits 1 and names the first bad entry if tampered."""
    from weakflow.store import verify_audit

    with _registry(project) as reg:
        result = verify_audit(reg.db)
    if as_json:
        _emit(result.__dict__)
    if result.ok:
        if not as_json:
            out.print(f"Audit log intact: {result.checked} entries, hash chain verified.")
        return
    if not as_json:
        err.print(
            f"[bold red]Audit log tampered:[/] entry {result.first_bad} is bad ({result.reason}); "
            f"{result.checked} entries checked."
        )
    raise typer.Exit(code=1)


@audit_app.command("log")
def log(
    limit: Annotated[int, typer.Option(help="Show the last N entries.")] = 50,
    project: ProjectOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """The latest audit entries: who did what to which model, and when."""
    from weakflow.store import list_audit

    with _registry(project) as reg:
        entries = list_audit(reg.db, limit=limit)
    if as_json:
        _emit(entries)
        return
    table = Table(title="Audit log")
    for col in ("seq", "at", "actor", "action", "subject"):
        table.add_column(col)
    for e in entries:
        table.add_row(str(e["seq"]), str(e["at"]), e["actor"], e["action"], e["subject"])
    out.print(table)
