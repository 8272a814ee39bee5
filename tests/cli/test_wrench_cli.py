"""``weakflow wrench`` end to end on a WRENCH folder built from the bundled YouTube data."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from weakflow.cli import app
from weakflow.data import load_wrench
from weakflow.labelmodel import LabelModel, score_predictions

runner = CliRunner()
KEYS = {"dataset", "method", "metric", "test_score", "fit_seconds", "n_train", "n_lfs", "n_classes"}


@pytest.fixture
def folder(wrench_dir: Path) -> Path:
    return wrench_dir


@pytest.mark.parametrize("method", ["auto", "mv", "ds", "mc", "triplet"])
def test_json_output_matches_the_python_api(folder: Path, method: str):
    result = runner.invoke(app, ["wrench", str(folder), "--method", method, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) >= KEYS
    ds = load_wrench(folder)
    assert out["dataset"] == "youtube"
    assert (out["method"], out["metric"]) == (method, "acc")
    assert (out["n_train"], out["n_lfs"], out["n_classes"]) == (len(ds.train), ds.n_lfs, 2)
    assert 0.0 <= out["test_score"] <= 1.0
    assert out["fit_seconds"] >= 0
    # the same fit through the Python API gives the same score
    model = LabelModel(method, cardinality=2, random_state=0)
    model.fit(ds.train.L, L_dev=ds.valid.L, y_dev=ds.valid.y)
    expected = score_predictions(ds.test.y, model.predict(ds.test.L), "accuracy", 2)
    assert out["test_score"] == pytest.approx(expected)


def test_auto_beats_chance_clearly_and_f1_metric(folder: Path):
    out = json.loads(runner.invoke(app, ["wrench", str(folder), "--json"]).stdout)
    assert out["test_score"] > 0.75  # 9 spam-tutorial LFs on YouTube comments
    f1 = json.loads(runner.invoke(app, ["wrench", str(folder), "--metric", "f1", "--json"]).stdout)
    assert f1["metric"] == "f1"
    assert 0.0 < f1["test_score"] <= 1.0


def test_table_output(folder: Path):
    result = runner.invoke(app, ["wrench", str(folder), "--method", "mv"])
    assert result.exit_code == 0
    assert "WRENCH youtube" in result.stdout
    assert "test score" in result.stdout


def test_not_wrench_format_exits_2_and_says_what_is_missing(tmp_path: Path, folder: Path):
    partial = tmp_path / "partial"
    shutil.copytree(folder, partial)
    (partial / "test.json").unlink()
    result = runner.invoke(app, ["wrench", str(partial), "--json"])
    assert result.exit_code == 2
    assert "missing test.json" in result.stderr
    result = runner.invoke(app, ["wrench", str(tmp_path / "absent")])
    assert result.exit_code == 2
    assert "not a folder" in result.stderr


def test_unknown_method_is_a_usage_error(folder: Path):
    result = runner.invoke(app, ["wrench", str(folder), "--method", "magic"])
    assert result.exit_code == 2
    assert "magic" in result.stderr


def test_console_script_runs_as_a_real_process(folder: Path):
    exe = Path(sys.executable).with_name("weakflow")
    proc = subprocess.run(
        [str(exe), "wrench", str(folder), "--method", "mv", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["method"] == "mv"
    help_text = subprocess.run(
        [str(exe), "wrench", "--help"], capture_output=True, text=True, timeout=60, check=False
    ).stdout
    assert "train split's weak labels only" in help_text
