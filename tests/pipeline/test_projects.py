"""Projects beyond the example: tabular data, PII redaction, slicing functions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from weakflow.pipeline import run_project

pytestmark = pytest.mark.slow


def _write_project(root: Path, config: str, lfs: str, frames: dict[str, pd.DataFrame]) -> Path:
    (root / "data").mkdir(parents=True)
    for role, frame in frames.items():
        frame.to_csv(root / "data" / f"{role}.csv", index=False)
    (root / "weakflow.toml").write_text(config)
    (root / "lfs.py").write_text(lfs)
    return root


def _tabular(n: int, seed: int, labeled: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = ((x1 + 0.7 * x2 + 0.3 * rng.normal(size=n)) > 0).astype(int)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "region": rng.choice(["north", "south"], n)})
    if labeled:
        frame["label"] = np.where(y == 1, "yes", "no")
    return frame


TABULAR_CONFIG = """\
[data]
train = "data/train.csv"
dev = "data/dev.csv"
test = "data/test.csv"
text_column = ""
feature_columns = ["x1", "x2"]
label_names = ["no", "yes"]

[end_model]
type = "tabular"

[evaluation]
slice_columns = ["region", "x1"]
"""

TABULAR_LFS = """\
from weakflow import threshold_lf
LFS = [
    threshold_lf("x1", 0.3, 1, op=">=", name="x1_high"),
    threshold_lf("x1", -0.3, 0, op="<=", name="x1_low"),
    threshold_lf("x2", 0.5, 1, op=">=", name="x2_high"),
    threshold_lf("x2", -0.5, 0, op="<=", name="x2_low"),
]
"""


def test_tabular_project_runs_end_to_end(tmp_path: Path):
    root = _write_project(
        tmp_path / "tab",
        TABULAR_CONFIG,
        TABULAR_LFS,
        {
            "train": _tabular(3000, 0, False),
            "dev": _tabular(150, 1, True),
            "test": _tabular(600, 2, True),
        },
    )
    result = run_project(root)
    report = result.report
    assert report["end_model"]["name"] == "tabular"
    # threshold LFs on two features: both models well above chance (0.5)
    assert report["end_model"]["test"]["accuracy"] > 0.8
    assert report["label_model"]["test"]["accuracy"] > 0.8
    slice_names = {s["name"] for s in report["end_model"]["slices"]}
    assert any("north" in s for s in slice_names)
    assert len(slice_names) >= 4


TEXT_CONFIG = """\
[data]
train = "data/train.csv"
dev = "data/dev.csv"
test = "data/test.csv"
label_names = ["ham", "spam"]
redact_pii = true

[evaluation]
slicing_module = "slices.py"
"""

TEXT_LFS = """\
from weakflow import keyword_lf
LFS = [
    keyword_lf(["win", "prize", "call"], 1, name="kw_spam"),
    keyword_lf(["meeting", "lunch", "thanks"], 0, name="kw_ham"),
    keyword_lf(["free", "cash"], 1, name="kw_money"),
]
"""

SLICES = """\
from weakflow.evaluate import slicing_function

@slicing_function()
def mentions_phone(x):
    return "<PHONE_NUMBER>" in x.text

@slicing_function()
def short(x):
    return len(x.text.split()) < 6
"""

EMAIL = "jane.doe@example.com"
PHONE = "+1 415 555 2671"


def _texts(n: int, seed: int, labeled: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    spam = ["win a prize now", "free cash waiting", "call to win", "claim your free prize"]
    ham = ["see you at the meeting", "lunch tomorrow?", "thanks for the notes", "meeting moved"]
    y = rng.integers(0, 2, n)
    text = []
    for i, label in enumerate(y):
        base = rng.choice(spam if label else ham)
        extra = f" contact {EMAIL}" if i % 7 == 0 else (f" or {PHONE}" if i % 11 == 0 else "")
        text.append(f"{base} #{i}{extra}")
    frame = pd.DataFrame({"text": text})
    if labeled:
        frame["label"] = np.where(y == 1, "spam", "ham")
    return frame


def test_pii_is_counted_then_never_stored_and_slicing_functions_run(tmp_path: Path):
    root = _write_project(
        tmp_path / "txt",
        TEXT_CONFIG,
        TEXT_LFS,
        {"train": _texts(400, 0, False), "dev": _texts(80, 1, True), "test": _texts(200, 2, True)},
    )
    (root / "slices.py").write_text(SLICES)
    result = run_project(root)
    report = result.report
    counts = report["data"]["pii"]
    assert counts["train.text"]["counts"]["EMAIL_ADDRESS"] > 0
    assert counts["train.text"]["counts"]["PHONE_NUMBER"] > 0
    slice_names = {s["name"] for s in report["end_model"]["slices"]}
    assert {"mentions_phone", "short"} <= slice_names
    # nothing weakflow wrote holds the raw PII: report, datasheet, provenance, artifacts, cache
    written = [p for p in (root / "runs").rglob("*") if p.is_file()]
    written += [p for p in (root / ".weakflow").rglob("*") if p.is_file()]
    assert written
    for path in written:
        data = path.read_bytes()
        assert EMAIL.encode() not in data, path
        assert PHONE.encode() not in data, path
    datasheet = (result.run_dir / "datasheet.md").read_text()
    assert "PII redaction before storage: yes" in datasheet
    assert json.loads((result.run_dir / "report.json").read_text())["data"]["pii"] == counts
