"""``weakflow governance report``: an auditor's report from the project's own records."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from weakflow.cli._console import err, fail, out
from weakflow.errors import WeakflowError

governance_app = typer.Typer(
    help="Governance: reports for auditors (NIST AI RMF, ISO/IEC 42001) from weakflow's records.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


class ReportFormat(StrEnum):
    html = "html"
    md = "md"
    both = "both"


@governance_app.command("report")
def report(
    project: Annotated[
        Path, typer.Option("--project", "-p", help="Project folder (holds weakflow.toml).")
    ] = Path("."),
    fmt: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="html, md or both.")
    ] = ReportFormat.both,
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help=(
                "A folder (governance-report.html/.md are written in it) or a file name whose "
                "suffix is set per format. Default: the project folder."
            ),
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Registered model (default: the project's).")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the report's data as JSON (files are written too)."),
    ] = False,
) -> None:
    """Write a governance report for auditors, built only from weakflow's records.

    It shows the model's lineage (versions, runs, input hashes, LF module hash, config,
    packages, git commit), data checks, gates and their history, alias history (promotions and
    rollbacks with actor and reason), monitoring alerts and the loop's responses, erasures,
    feedback-source quarantines, human review activity, robustness and membership-inference
    results when present, the audit chain's verification and the model card; maps that
    evidence to NIST AI RMF 1.0 subcategories and ISO/IEC 42001 Annex A controls (evidence
    found / partial / gap); and lists plainly what weakflow does not record. Exit code 0 when
    the report was written (a broken audit chain is reported in it and on stderr), 1 when
    there is nothing to report on.
    """
    from weakflow.governance import build_governance_report, write_governance_report
    from weakflow.pipeline import Project

    formats = ["html", "md"] if fmt is ReportFormat.both else [fmt.value]
    try:
        proj = Project.load(project)
        data = build_governance_report(proj, model=model)
        paths = write_governance_report(data, out_path or proj.root, formats)
    except WeakflowError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"Could not write the report: {exc}. Pass --out to a writable folder.")
    if as_json:
        data = {**data, "outputs": {k: str(v) for k, v in paths.items()}}
        out.print(json.dumps(data, default=str), soft_wrap=True, markup=False)
    else:
        counts = data["counts"]
        nist, iso = counts["nist_ai_rmf"], counts["iso_42001"]
        out.print(
            f"{data['model']['name']}: {data['model']['versions']} version(s); NIST AI RMF "
            f"{nist['evidence found']} with evidence, {nist['partial']} partial, {nist['gap']} "
            f"gap(s); ISO/IEC 42001 Annex A {iso['evidence found']} / {iso['partial']} / "
            f"{iso['gap']}; {len(data['gaps'])} gap(s) listed.",
            markup=False,
            soft_wrap=True,
        )
        for path in paths.values():
            out.print(str(path), markup=False, soft_wrap=True)
    if not data["audit"]["ok"]:
        err.print(
            f"[bold red]warning:[/] the audit log does not verify (entry "
            f"{data['audit']['first_bad']}: {data['audit']['reason']}); the report says so."
        )
