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
    result = runner.invoke(app, ["demo", "--dir", str(target)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert (target / "weakflow.toml").is_file()
    for step in ("load", "checks", "labeling", "label_model", "end_model", "evaluation", "report"):
        assert re.search(rf"ok {step}\b", out), step
    for lf in ("keyword_my", "regex_check_out", "short_comment"):
        assert lf in out
    end_line = next(line for line in out.splitlines() if "end model (text" in line)
    assert float(re.findall(r"(\d+\.\d)%", end_line)[0]) >= 92.0
    report = Path(out.split("Report: ")[1].split()[0])
    assert report.is_file()
    again = runner.invoke(app, ["demo", "--dir", str(target)])
    assert again.exit_code == 0
    assert "Reusing the example project" in again.stdout
    assert "(cached)" in again.stdout


def test_version_and_help():
    assert runner.invoke(app, ["--version"]).stdout.startswith("weakflow ")
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("init", "run", "wrench", "demo"):
        assert command in result.stdout
