"""``weakflow demo``: init + run of the YouTube example, with the headline numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from weakflow.cli import app

runner = CliRunner()


@pytest.mark.slow
def test_demo_creates_runs_and_reuses_the_example(tmp_path: Path):
    target = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--dir", str(target), "--no-loop"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert (target / "weakflow.toml").is_file()
    assert "The loop" not in out
    for step in ("load", "checks", "labeling", "label_model", "end_model", "evaluation", "report"):
        assert re.search(rf"ok {step}\b", out), step
    for lf in ("keyword_my", "regex_check_out", "short_comment"):
        assert lf in out
    end_line = next(line for line in out.splitlines() if "end model (text" in line)
    assert float(re.findall(r"(\d+\.\d)%", end_line)[0]) >= 92.0
    report = Path(out.split("Report: ")[1].split()[0])
    assert report.is_file()
    again = runner.invoke(app, ["demo", "--dir", str(target), "--no-loop"])
    assert again.exit_code == 0
    assert "Reusing the example project" in again.stdout
    assert "(cached)" in again.stdout


def test_version_and_help():
    assert runner.invoke(app, ["--version"]).stdout.startswith("weakflow ")
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("init", "run", "wrench", "demo"):
        assert command in result.stdout


@pytest.mark.slow
def test_demo_runs_the_closed_loop_against_a_real_server(tmp_path: Path) -> None:
    """The whole story, checked in the store it leaves behind, not only in what it prints.

    ``weakflow serve`` runs as a real subprocess; traffic and feedback go over HTTP; the loop
    (``watch_once``) retrains, promotes the canary and rolls the forced bad version back.
    """
    from weakflow.pipeline import Project
    from weakflow.registry import open_registry
    from weakflow.store import list_audit, verify_audit
    from weakflow.store._schema import Feedback, MonitorWindow

    target = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--dir", str(target)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    lines = [line.split()[0] for line in out.split("The loop")[1].splitlines()[1:] if line.strip()]
    for step in ("serve", "traffic", "monitor", "alert", "feedback", "loop", "canary", "promote"):
        assert step in lines, (step, out)
    # the estimate falls once the new spam style arrives, without a single label
    estimates = [float(x) for x in re.findall(r"estimated accuracy (\d\.\d+) \[", out)]
    assert len(estimates) == 3, estimates
    assert estimates[2] < estimates[0] - 0.1, estimates
    assert "alert LF " in out
    assert "alert text drifted" in out

    project = Project.load(target)
    registry = open_registry(project.state_dir, project.config.store.url)
    try:
        moves = registry.history("youtube-spam", "production")
        assert [(m.from_version, m.to_version) for m in moves] == [
            (None, 1),
            (1, 2),
            (2, 3),
            (3, 2),
        ]
        assert moves[-1].action == "rollback"
        assert moves[-1].actor == "weakflow-loop"
        assert moves[1].actor == "weakflow-loop"  # the canary's promotion
        assert registry.alias_version("youtube-spam", "canary") is None
        canary_moves = registry.history("youtube-spam", "canary")
        assert [m.to_version for m in canary_moves][:1] == [2]
        decisions = list_audit(registry.db, limit=1000, action="loop_decision")
        actions = [e["details"]["action"] for e in decisions]
        assert {"retrain", "promote_canary", "rollback"} <= set(actions), actions
        assert all(e["actor"] == "weakflow-loop" for e in decisions)
        assert verify_audit(registry.db).ok
        with registry.db.transaction() as s:
            assert s.query(Feedback).count() == 300 + 400 + 150
            windows = s.query(MonitorWindow).all()
            assert any(w.alerts for w in windows)
            assert not windows[0].alerts
    finally:
        registry.db.close()
    # the governance report, built from the demo's real records
    from weakflow.governance import build_governance_report

    gov = build_governance_report(target)
    assert gov["model"]["versions"] == 3
    assert gov["loop"]["by_action"]["rollback"] == 1
    assert gov["loop"]["by_action"]["promote_canary"] == 1
    assert gov["audit"]["ok"]
    assert {f["function"] for f in gov["nist_ai_rmf"]} >= {"GOVERN", "MAP", "MEASURE", "MANAGE"}
    assert gov["gaps"]
    html = runner.invoke(app, ["governance", "report", "--project", str(target)])
    assert html.exit_code == 0, html.output
    assert (target / "governance-report.html").is_file()
    # the demo restored the LF module it broke on purpose
    assert "SPAM = 1\nHAM = 0\n" in (target / "lfs.py").read_text()
