"""``weakflow demo``: ``weakflow init --example youtube`` + ``weakflow run``, then the loop.

The first part trains and registers v1 and prints what each step did; the second
(:mod:`weakflow.cli._story`, skipped with ``--no-loop``) serves it and runs the closed loop on
simulated users: drift, alerts, feedback, retraining, canary, promotion and a rollback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from weakflow.cli._console import fail, out
from weakflow.data import YOUTUBE_CITATION
from weakflow.errors import WeakflowError


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * float(x):.1f}%"


def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to create (or reuse) the demo project.")
    ] = Path("weakflow-demo"),
    loop: Annotated[
        bool,
        typer.Option(
            "--loop/--no-loop",
            help="After training: serve v1 and run the monitoring and retraining loop.",
        ),
    ] = True,
) -> None:
    """Create the YouTube spam example project and run the whole lifecycle on it.

    First `weakflow init DIR --example youtube` and `weakflow run --project DIR`: labeling
    functions vote on unlabeled comments, a label model turns the votes into probabilistic
    labels, an end model learns from them, and the report shows how each did on a gold test
    set. Then the loop (skip it with --no-loop): `weakflow serve` answers simulated users over
    HTTP, a new spam style arrives, `weakflow monitor` raises drift, LF and accuracy alerts,
    users send labels back, the loop retrains, tries v2 on a canary and promotes it, and
    when a bad version is forced into production it rolls back on its own. One line per step;
    about a minute. Running it again starts from the project as it was left.
    """
    from weakflow.pipeline import StepRecord, init_project, run_project

    out.rule("[bold]weakflow demo[/]: from no labels to a calibrated model")
    out.print(f"Data: UCI YouTube Spam Collection. {YOUTUBE_CITATION}")
    try:
        if not (directory / "weakflow.toml").exists():
            init_project(directory, example="youtube")
            out.print(
                f"Created the example project in {directory}/ (weakflow init --example youtube)"
            )
        else:
            out.print(f"Reusing the example project in {directory}/")

        def show(step: StepRecord) -> None:
            tag = " [dim](cached)[/]" if step.cached else ""
            out.print(f"[green]ok[/] {step.name:<12} {step.seconds:6.2f}s  {step.detail}{tag}")

        result = run_project(directory, on_step=show)
    except WeakflowError as exc:
        fail(str(exc))
    report = result.report
    lfs = Table(title="Labeling functions on the train pool (accuracy from the gold dev set)")
    lfs.add_column("LF", no_wrap=True)
    for col in ("votes", "cover", "dev acc", "learned"):
        lfs.add_column(col, justify="right")
    for row in report["labeling"]["lf_summary"]:
        lfs.add_row(
            row["name"],
            "/".join(row["polarity"]) or "-",
            _pct(row["coverage"]),
            _pct(row["emp_accuracy"]),
            _pct(row["learned_accuracy"]),
        )
    out.print(lfs)
    lm, em = report["label_model"], report["end_model"]
    scores = Table(title="On the gold test set")
    for col in ("model", "accuracy", "macro F1", "ECE"):
        scores.add_column(col, justify="left" if col == "model" else "right")
    scores.add_row(
        f"label model ({lm['selected']})",
        _pct(lm["test"]["accuracy"]),
        _pct(lm["test"]["f1_macro"]),
        "-",
    )
    cal = em["calibration"]
    method = cal.get("method") if cal.get("kept") else "none"
    scores.add_row(
        f"end model ({em['name']}, calibration: {method})",
        _pct(em["test"]["accuracy"]),
        _pct(em["test"]["f1_macro"]),
        f"{cal['after']['ece']:.3f}",
    )
    out.print(scores)
    out.print(
        f"The end model learned from {em['train_rows']:,} comments labeled only by the LFs; "
        f"it is right on {_pct(em['test']['accuracy'])} of the test comments.\n"
        f"Report: {result.report_html}",
        soft_wrap=True,
    )
    model = report.get("model")
    if model:
        gates = model["gates"]
        passed = sum(g["passed"] for g in gates)
        verdict = (
            f"moved {model['alias']} to it"
            if model["promoted"]
            else f"kept {model['alias']} where it was"
        )
        out.print(
            f"Registered {model['name']} v{model['version']}: {passed}/{len(gates)} gates passed, "
            f"{verdict}. Its model card: weakflow models card {model['name']} {model['version']} "
            f"--project {result.run_dir.parent.parent}",
            soft_wrap=True,
        )
    if loop:
        from weakflow.cli._story import run_story

        try:
            run_story(directory.resolve())
        except (WeakflowError, RuntimeError, OSError) as exc:
            fail(f"The loop stopped: {exc}")
