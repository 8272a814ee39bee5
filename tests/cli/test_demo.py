"""``weakflow demo``: runs on the bundled data and prints the LF summary and model scores."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from weakflow.cli import app

runner = CliRunner()


def test_demo_prints_lf_summary_and_label_model_scores():
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for lf in ("keyword_my", "regex_check_out", "short_comment"):
        assert lf in out
    for model in ("majority vote", "Dawid-Skene", "matrix completion", "triplet", "auto"):
        assert model in out
    accuracies = [float(x) for x in re.findall(r"(\d+\.\d)%", out)]
    assert accuracies, "the demo prints percentages"
    auto_line = next(line for line in out.splitlines() if "auto (chose" in line)
    auto_acc = float(re.findall(r"(\d+\.\d)%", auto_line)[0])
    assert auto_acc > 75.0


def test_version_and_help():
    assert runner.invoke(app, ["--version"]).stdout.startswith("weakflow ")
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "wrench" in result.stdout
    assert "demo" in result.stdout
