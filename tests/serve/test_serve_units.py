"""The serving pieces on their own (canary buckets, rate limiter, OIP parsing, labels), and a
tabular model served in-process."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from weakflow.errors import ConfigError
from weakflow.pipeline import Project, run_project
from weakflow.registry import open_registry
from weakflow.serve import InputSchema, bucket, create_app
from weakflow.serve._feedback import resolve_label
from weakflow.serve._limits import RateLimiter
from weakflow.serve._oip import OIPBadRequest, _flatten, rows_from_oip
from weakflow.serve._schemas import InferenceRequest

TEXT = InputSchema("text", "text", (), ("ham", "spam"))
TABULAR = InputSchema("tabular", None, ("x1", "x2"), ("no", "yes"))


def test_buckets_are_stable_and_uniform() -> None:
    assert bucket("user-1") == bucket("user-1")
    # Fixed values: a client keeps its bucket across processes, versions and restarts.
    assert [bucket(k) for k in ("a", "user-1", "")] == [3343, 3768, 9876]
    counts = np.bincount([bucket(f"k{i}") // 1000 for i in range(20_000)], minlength=10)
    assert counts.min() > 1700
    assert counts.max() < 2300
    assert 0 <= bucket("\ud800 surrogate") < 10_000


def test_rate_limiter_refills_at_the_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("weakflow.serve._limits.time.monotonic", lambda: now[0])
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.check("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.check("a")
    assert wait == pytest.approx(0.5)
    assert RateLimiter.retry_after(wait) == "1"
    assert limiter.check("b") == 0.0  # per key
    now[0] += 0.5
    assert limiter.check("a") == 0.0
    assert RateLimiter(rate=0, burst=1).check("a") == 0.0  # 0 turns it off


def test_input_schema_from_config() -> None:
    text = InputSchema.from_config({"data": {"text_column": "body", "label_names": ["a", "b"]}})
    assert (text.kind, text.fields) == ("text", ("body",))
    tab = InputSchema.from_config(
        {"data": {"feature_columns": ["x"], "label_names": ["a", "b"]},
         "end_model": {"type": "tabular"}}
    )  # fmt: skip
    assert (tab.kind, tab.fields) == ("tabular", ("x",))
    with pytest.raises(ConfigError, match="feature_columns"):
        InputSchema.from_config({"data": {}, "end_model": {"type": "tabular"}})


def test_resolve_label() -> None:
    names = ("ham", "spam")
    assert [resolve_label(x, names) for x in ("spam", 0, "1", 1)] == [1, 0, 1, 1]
    assert [resolve_label(x, names) for x in ("eggs", 2, -1, "2")] == [None] * 4


def test_oip_rows() -> None:
    assert _flatten([[1, [2]], 3]) == [1, 2, 3]
    body = InferenceRequest.model_validate(
        {"inputs": [{"name": "x1", "shape": [2], "datatype": "FP32", "data": [1, None]},
                    {"name": "x2", "shape": [2, 1], "datatype": "INT64", "data": [[3], [4]]},
                    {"name": "id", "shape": [2], "datatype": "BYTES", "data": ["a", "b"]}]}
    )  # fmt: skip
    assert rows_from_oip(TABULAR, body, 10) == [
        {"x1": 1.0, "x2": 3.0, "id": "a"}, {"x1": None, "x2": 4.0, "id": "b"}
    ]  # fmt: skip
    for data, fragment in [([10**400], "finite"), ([True], "finite"), (["1"], "finite")]:
        bad = InferenceRequest.model_validate(
            {"inputs": [{"name": "x1", "shape": [1], "datatype": "FP64", "data": data},
                        {"name": "x2", "shape": [1], "datatype": "FP64", "data": [0]}]}
        )  # fmt: skip
        with pytest.raises(OIPBadRequest, match=fragment):
            rows_from_oip(TABULAR, bad, 10)
    two = InferenceRequest.model_validate(
        {"inputs": [{"name": "x1", "shape": [1], "datatype": "FP64", "data": [0]},
                    {"name": "x2", "shape": [2], "datatype": "FP64", "data": [0, 1]}]}
    )  # fmt: skip
    with pytest.raises(OIPBadRequest, match="different numbers of rows"):
        rows_from_oip(TABULAR, two, 10)


# -- a tabular model, in-process ---------------------------------------------------------------
TABULAR_CONFIG = """\
[project]
name = "tab"

[data]
train = "data/train.csv"
dev = "data/dev.csv"
test = "data/test.csv"
text_column = ""
feature_columns = ["x1", "x2"]
label_names = ["no", "yes"]

[end_model]
type = "tabular"

[serve]
rate_limit = 0
"""

TABULAR_LFS = """\
from weakflow import threshold_lf
LFS = [
    threshold_lf("x1", 0.3, 1, op=">=", name="x1_high"),
    threshold_lf("x1", -0.3, 0, op="<=", name="x1_low"),
    threshold_lf("x2", 0.5, 1, op=">=", name="x2_high"),
]
"""


def _frame(n: int, seed: int, labeled: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    frame = pd.DataFrame({"x1": x1, "x2": x2})
    if labeled:
        frame["label"] = np.where(x1 + 0.7 * x2 > 0, "yes", "no")
    return frame


@pytest.fixture(scope="module")
def tabular_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tabular") / "tab"
    (root / "data").mkdir(parents=True)
    for role, (n, seed, labeled) in {"train": (800, 0, False), "dev": (100, 1, True),
                                     "test": (200, 2, True)}.items():  # fmt: skip
        _frame(n, seed, labeled).to_csv(root / "data" / f"{role}.csv", index=False)
    (root / "weakflow.toml").write_text(TABULAR_CONFIG)
    (root / "lfs.py").write_text(TABULAR_LFS)
    run_project(root)
    return root


def test_a_tabular_model_takes_its_feature_columns(tabular_project: Path) -> None:
    proj = Project.load(tabular_project)
    registry = open_registry(proj.state_dir, proj.config.store.url)
    model = registry.load_model("tab", 1)
    registry.db.close()
    rows = [{"x1": 0.5, "x2": -1.0}, {"x1": -2.0, "x2": None}]
    expected = model.predict_proba(pd.DataFrame(rows, dtype=float))
    with TestClient(create_app(tabular_project, dev=True)) as client:
        r = client.post("/v1/models/tab/predict", json={"instances": rows, "lf_votes": True})
        assert r.status_code == 200, r.text
        preds = r.json()["predictions"]
        got = [list(p["probabilities"].values()) for p in preds]
        np.testing.assert_allclose(got, expected, atol=1e-12)
        assert preds[0]["lf_votes"] == {"x1_high": "yes", "x1_low": None, "x2_high": None}
        r = client.post("/v1/models/tab/predict", json={"instances": [{"x1": 1.0}]})
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "instances", 0, "x2"]
        assert "a finite number" in r.json()["detail"][0]["msg"]
        for bad in ("abc", "1e400"):
            raw = '{"instances": [{"x1": %s, "x2": 0}]}' % (bad if bad != "abc" else '"abc"')
            r = client.post("/v1/models/tab/predict", content=raw)
            assert r.status_code == 422, r.text
        meta = client.get("/v2/models/tab").json()
        assert meta["inputs"] == [{"name": "x1", "datatype": "FP64", "shape": [-1]},
                                  {"name": "x2", "datatype": "FP64", "shape": [-1]}]  # fmt: skip
        infer: dict[str, Any] = {"inputs": [
            {"name": "x1", "shape": [2], "datatype": "FP64", "data": [0.5, -2.0]},
            {"name": "x2", "shape": [2], "datatype": "FP64", "data": [-1.0, None]},
        ]}  # fmt: skip
        out = client.post("/v2/models/tab/infer", json=infer).json()
        probs = next(o for o in out["outputs"] if o["name"] == "probabilities")
        np.testing.assert_allclose(np.reshape(probs["data"], (2, 2)), expected, atol=1e-12)
        assert not math.isnan(sum(probs["data"]))
