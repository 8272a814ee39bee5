"""``weakflow monitor``: drift, LF-vote drift and estimated accuracy on the prediction log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from weakflow.cli._console import fail, out
from weakflow.errors import WeakflowError

monitor_app = typer.Typer(
    help="Watch the served model: drift, LF-vote drift, label-free accuracy, alerts.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@monitor_app.command("run")
def run(
    project: Annotated[Path, typer.Option("--project", "-p", help="Project folder.")] = Path("."),
    window: Annotated[
        str | None, typer.Option(help="How far back: 30m, 1h, 7d (default [monitor] window).")
    ] = None,
    last: Annotated[int | None, typer.Option(help="The newest N predictions instead.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compare a window of logged predictions with the serving version's reference data.

    Checks feature (or text-statistics) drift, text drift (a domain classifier), prediction
    drift, each LF's coverage, conflicts and agreement with the model, and estimates accuracy
    without labels (CBPE, LF-based, combined). A signal becomes an alert after `[monitor]
    consecutive` bad windows in a row. Exit code 0; alerts are in the output.
    """
    from weakflow.monitor import run_monitor

    try:
        result = run_monitor(project, window=window, last=last)
    except WeakflowError as exc:
        fail(str(exc))
    if as_json:
        out.print(json.dumps(result, default=str), soft_wrap=True, markup=False)
        return
    model = result["model"]
    out.print(
        f"{model['name']} v{model['version']} ({model['alias']}): {result['n']} predictions, "
        f"window {result['window']['spec']}",
        markup=False,
    )
    if "message" in result:
        out.print(result["message"], markup=False)
        return
    est = result["estimated"]
    iv = est["interval"]["accuracy"]
    out.print(
        f"Estimated accuracy {est['accuracy']:.3f} ({iv[0]:.3f}-{iv[1]:.3f}, {est['method']}); "
        f"floor {est['floor'] if est['floor'] is None else round(est['floor'], 3)}",
        markup=False,
    )
    if result["realized"]:
        r = result["realized"]
        out.print(f"Realized accuracy {r['accuracy']:.3f} on {r['n']} labeled predictions")
    table = Table(title="Signals (alert after K bad windows in a row)")
    for col in ("kind", "target", "value", "threshold", "streak", "alert", "what moved"):
        table.add_column(col)
    alerts = {(a["kind"], a["target"]) for a in result["alerts"]}
    for s in result["signals"]:
        table.add_row(
            s["kind"], s["target"], f"{s['value']:.3f}", f"{s['threshold']:.3f}",
            str(s["consecutive"]), "ALERT" if (s["kind"], s["target"]) in alerts else "-",
            s["message"],
        )  # fmt: skip
    if result["signals"]:
        out.print(table)
    else:
        out.print("No drift: every signal within its threshold.")


@monitor_app.command("watch")
def watch(
    project: Annotated[Path, typer.Option("--project", "-p", help="Project folder.")] = Path("."),
    once: Annotated[bool, typer.Option("--once", help="One tick, then exit.")] = False,
    interval: Annotated[
        str | None, typer.Option(help="Time between ticks, e.g. 5m (default [loop] interval).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print each decision as JSON.")] = False,
) -> None:
    """Run the closed loop on a schedule: monitor, roll back, promote canaries, retrain.

    Each tick monitors the latest window, rolls back a fresh promotion that regressed, decides
    on a running canary from realized accuracy, and retrains when a trigger fires (drift or
    accuracy alert, enough feedback, model age). Every decision lands in the audit log
    (`weakflow audit log`) with its evidence. Stop with Ctrl-C.
    """
    import time

    from weakflow.monitor import parse_window, watch_once
    from weakflow.pipeline import Project

    try:
        proj = Project.load(project)
        pause = parse_window(interval or proj.config.loop.interval).total_seconds()
    except WeakflowError as exc:
        fail(str(exc))
    while True:
        try:
            decisions = watch_once(proj)
        except WeakflowError as exc:
            fail(str(exc))
        for d in decisions:
            if as_json:
                out.print(json.dumps(d, default=str), soft_wrap=True, markup=False)
            else:
                out.print(f"{d['action']}: {d.get('summary') or d['reason']}", markup=False)
        if once:
            return
        try:
            time.sleep(pause)
        except KeyboardInterrupt:
            return
