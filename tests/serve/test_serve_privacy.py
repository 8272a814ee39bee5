"""``[serve] probability_decimals`` and ``top_k``: responses carry less (v1 and OIP v2), the
prediction log keeps the full probabilities for monitoring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from servekit import MODEL, copy_project, set_serve_config, wait_for
from sqlalchemy import select

from weakflow.errors import ConfigError
from weakflow.pipeline import Project
from weakflow.registry import open_registry, store_url
from weakflow.serve import create_app
from weakflow.serve._predict import shown_probabilities
from weakflow.store import Database
from weakflow.store._schema import Prediction

PREDICT = f"/v1/models/{MODEL}/predict"
INFER = f"/v2/models/{MODEL}/infer"
NAMES = ["ham", "spam"]


def _texts(project: Path, n: int = 30) -> list[str]:
    return pd.read_csv(project / "data" / "test.csv")["text"].astype(str).tolist()[:n]


def _expected(project: Path, texts: list[str]) -> np.ndarray:
    proj = Project.load(project)
    registry = open_registry(proj.state_dir, proj.config.store.url)
    try:
        return np.asarray(registry.load_model(MODEL, 1).predict_proba(texts))
    finally:
        registry.db.close()


def _logged(project: Path, ids: list[str]) -> dict[str, Prediction]:
    proj = Project.load(project)
    db = Database(store_url(proj.state_dir, proj.config.store.url))
    try:
        with db.transaction() as s:
            rows = s.scalars(select(Prediction).where(Prediction.id.in_(ids))).all()
            return {r.id: r for r in rows}
    finally:
        db.close()


def test_rounded_top_1_over_http_and_full_precision_in_the_log(
    served_project: Path, start_server: Any, tmp_path: Path
) -> None:
    project = copy_project(served_project, tmp_path / "p")
    set_serve_config(project, "[serve]\nprobability_decimals = 2\ntop_k = 1")
    server = start_server(project, dev=True)
    texts = _texts(project)
    expected = _expected(project, texts)
    assert not np.allclose(expected, np.round(expected, 2))  # rounding has work to do
    with httpx.Client(base_url=server.url, timeout=30.0) as http:
        r = http.post(PREDICT, json={"instances": [{"text": t} for t in texts]})
        assert r.status_code == 200, r.text
        preds = r.json()["predictions"]
        body = {"inputs": [{"name": "text", "shape": [len(texts)], "datatype": "BYTES",
                            "data": texts}]}  # fmt: skip
        r2 = http.post(INFER, json=body)
        assert r2.status_code == 200, r2.text
    # v1: only the most likely class, rounded to 2 decimals
    for pred, p in zip(preds, expected, strict=True):
        top = int(p.argmax())
        assert pred["label"] == top
        assert pred["probabilities"] == {NAMES[top]: round(float(p[top]), 2)}
    # OIP: the [n, k] tensor keeps its shape; the other class reads 0
    tensors = {o["name"]: o for o in r2.json()["outputs"]}
    assert tensors["probabilities"]["shape"] == [len(texts), 2]
    got = np.reshape(tensors["probabilities"]["data"], (len(texts), 2))
    want = np.zeros_like(expected)
    rows = np.arange(len(texts))
    want[rows, expected.argmax(axis=1)] = np.round(expected.max(axis=1), 2)
    np.testing.assert_array_equal(got, want)
    assert tensors["label"]["data"] == expected.argmax(axis=1).tolist()
    # the log keeps the model's full probabilities (monitoring reads them)
    ids = [p["id"] for p in preds] + tensors["prediction_id"]["data"]
    logged = wait_for(
        lambda: (got := _logged(project, ids)) and len(got) == len(ids) and got, "the log"
    )
    full = np.vstack([expected, expected])
    np.testing.assert_allclose([logged[i].probabilities for i in ids], full, atol=1e-12)


def test_decimals_alone_round_every_class_in_class_order(
    served_project: Path, tmp_path: Path
) -> None:
    project = copy_project(served_project, tmp_path / "p")
    set_serve_config(
        project, "[serve]\nprobability_decimals = 3\ntop_k = 5\nlog_predictions = false"
    )
    texts = _texts(project, 5)
    expected = _expected(project, texts)
    with TestClient(create_app(project, dev=True)) as client:
        r = client.post(PREDICT, json={"instances": [{"text": t} for t in texts]})
    assert r.status_code == 200, r.text
    for pred, p in zip(r.json()["predictions"], expected, strict=True):
        assert list(pred["probabilities"]) == NAMES  # top_k >= k: all, in class order
        assert list(pred["probabilities"].values()) == [round(float(x), 3) for x in p]


def test_shown_probabilities_orders_top_k_and_breaks_ties_by_class() -> None:
    proba = [[0.2, 0.5, 0.3], [0.4, 0.2, 0.4]]
    assert shown_probabilities(proba) == [[(0, 0.2), (1, 0.5), (2, 0.3)],
                                          [(0, 0.4), (1, 0.2), (2, 0.4)]]  # fmt: skip
    assert shown_probabilities(proba, top_k=2) == [[(1, 0.5), (2, 0.3)], [(0, 0.4), (2, 0.4)]]
    assert shown_probabilities([[0.123456, 0.876544]], decimals=1) == [[(0, 0.1), (1, 0.9)]]
    assert shown_probabilities([[0.123456, 0.876544]], decimals=0, top_k=1) == [[(1, 1.0)]]


@pytest.mark.parametrize(
    ("setting", "key"),
    [("top_k = 0", "serve.top_k"), ("probability_decimals = -1", "serve.probability_decimals"),
     ("probability_decimals = 2.5", "serve.probability_decimals")],
)  # fmt: skip
def test_bad_settings_name_the_key(
    served_project: Path, tmp_path: Path, setting: str, key: str
) -> None:
    project = copy_project(served_project, tmp_path / "p")
    set_serve_config(project, f"[serve]\n{setting}")
    with pytest.raises(ConfigError, match=key):
        Project.load(project)
