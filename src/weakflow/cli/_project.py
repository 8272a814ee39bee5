"""``weakflow init`` and ``weakflow run``: create a project, run its pipeline."""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Annotated

import typer

from weakflow.cli._console import err, fail, out
from weakflow.errors import ConfigError, PipelineError, WeakflowError


def init(
    directory: Annotated[
        Path, typer.Argument(help="Folder for the new project (created if needed).")
    ],
    example: Annotated[
        str | None,
        typer.Option(help="Start from an example with data and LFs: youtube (spam comments)."),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Overwrite the config, LFs and data of an existing project.")
    ] = False,
) -> None:
    """Create a weakflow project: weakflow.toml, an LF module (lfs.py) and a data folder.

    With --example youtube the project holds the bundled YouTube spam comments, split into an
    unlabeled train pool, a ~100-row gold dev set and a gold test set, plus LFs ready to run.

    Example: weakflow init spam-project --example youtube && weakflow run --project spam-project
    """
    from weakflow.pipeline import init_project

    try:
        project = init_project(directory, example=example, force=force)
    except ConfigError as exc:
        fail(str(exc))
    out.print(f"Created a weakflow project in {project.root}")
    for name in ("weakflow.toml", "lfs.py", "data/"):
        out.print(f"  {name}")
    out.print(f"Next: weakflow run --project {directory}")


def run(
    project: Annotated[
        Path, typer.Option("--project", "-p", help="Project folder (holds weakflow.toml).")
    ] = Path("."),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON summary on stdout (progress on stderr).")
    ] = False,
    debug: Annotated[bool, typer.Option(help="Show the full traceback of a failure.")] = False,
) -> None:
    """Run the pipeline: data checks, LFs, label model, end model, calibration, evaluation, report.

    Steps whose inputs did not change since the last run are reused from the cache in
    .weakflow/. The report is written to runs/<run-id>/report.html (and report.json,
    datasheet.md, provenance.json).
    """
    from weakflow.pipeline import StepRecord, run_project

    console = err if as_json else out

    def show(step: StepRecord) -> None:
        tag = " [dim](cached)[/]" if step.cached else ""
        console.print(f"[green]ok[/] {step.name:<12} {step.seconds:6.2f}s  {step.detail}{tag}")

    try:
        result = run_project(project, on_step=show)
    except (PipelineError, ConfigError) as exc:
        if debug:
            err.print("".join(traceback.format_exception(exc)))
        step = getattr(exc, "step", "config")
        fail(f"step '{step}' failed: {exc}")
    except WeakflowError as exc:
        fail(str(exc))
    if as_json:
        out.print(json.dumps(result.summary(), default=str), soft_wrap=True)
        return
    head = result.report["headline"]
    lm, em = head["label_model"]["test"], head["end_model"]["test"]
    out.print(
        f"\nLabel model on test: accuracy {lm['accuracy']:.3f}, macro F1 {lm['f1_macro']:.3f}\n"
        f"End model on test:   accuracy {em['accuracy']:.3f}, macro F1 {em['f1_macro']:.3f}, "
        f"ECE {em['ece']:.3f}, Brier {em['brier']:.3f}\n"
        f"Report: {result.report_html}",
        soft_wrap=True,
    )
