"""Predictions over real HTTP: /v1 predict, the OIP v2 endpoints, errors, metrics, OpenAPI."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from servekit import MODEL, Server, copy_project

from weakflow.labeling import apply_lfs
from weakflow.pipeline import Project, load_lf_module
from weakflow.registry import open_registry

PREDICT = f"/v1/models/{MODEL}/predict"
INFER = f"/v2/models/{MODEL}/infer"


@pytest.fixture(scope="module")
def server(
    served_project: Path, start_module_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Server:
    project = copy_project(served_project, tmp_path_factory.mktemp("predict") / "p")
    server: Server = start_module_server(project, dev=True)
    return server


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def texts(served_project: Path) -> list[str]:
    return pd.read_csv(served_project / "data" / "test.csv")["text"].astype(str).tolist()[:50]


@pytest.fixture(scope="module")
def expected(served_project: Path, texts: list[str]) -> np.ndarray:
    """What v1 predicts in this process, straight from the registry."""
    proj = Project.load(served_project)
    registry = open_registry(proj.state_dir, proj.config.store.url)
    try:
        return np.asarray(registry.load_model(MODEL, 1).predict_proba(texts))
    finally:
        registry.db.close()


def test_one_row_is_the_registered_models_prediction(
    http: httpx.Client, texts: list[str], expected: np.ndarray
) -> None:
    r = http.post(PREDICT, json={"instances": [{"text": texts[0]}]})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    (pred,) = r.json()["predictions"]
    assert set(pred) == {"id", "label", "label_name", "probabilities", "model_version"}
    assert re.fullmatch(r"[0-9a-f]{32}", pred["id"])
    assert pred["model_version"] == 1
    assert list(pred["probabilities"]) == ["ham", "spam"]
    np.testing.assert_allclose(list(pred["probabilities"].values()), expected[0], atol=1e-12)
    assert pred["label"] == int(expected[0].argmax())
    assert pred["label_name"] == ["ham", "spam"][pred["label"]]


def test_many_rows_sum_to_one_and_match(
    http: httpx.Client, texts: list[str], expected: np.ndarray
) -> None:
    r = http.post(PREDICT, json={"instances": [{"text": t, "id": i} for i, t in enumerate(texts)]})
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    got = np.array([list(p["probabilities"].values()) for p in preds])
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert [p["label"] for p in preds] == expected.argmax(axis=1).tolist()
    assert len({p["id"] for p in preds}) == len(texts)


def test_lf_votes_inline_are_the_lineage_lfs_votes(
    http: httpx.Client, served_project: Path, texts: list[str]
) -> None:
    rows = texts[:5]
    r = http.post(PREDICT, json={"instances": [{"text": t} for t in rows], "lf_votes": True})
    assert r.status_code == 200, r.text
    lfs = load_lf_module(served_project / "lfs.py").lfs
    L = apply_lfs(lfs, pd.DataFrame({"text": rows}), progress=False, cardinality=2).values
    for pred, votes in zip(r.json()["predictions"], L.tolist(), strict=True):
        assert list(pred["lf_votes"]) == [lf.name for lf in lfs]
        assert list(pred["lf_votes"].values()) == [None if v < 0 else ["ham", "spam"][v]
                                                   for v in votes]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "loc", "msg"),
    [
        ({"instances": [{"text": "a"}] * 3 + [{"txt": "b"}]}, ["body", "instances", 3, "text"],
         "field required: a string"),
        ({"instances": [{"text": "a"}, {"text": 7}]}, ["body", "instances", 1, "text"],
         "must be a string, got int"),
        ({"instances": [{"text": None}]}, ["body", "instances", 0, "text"], "must be a string"),
        ({"instances": []}, ["body", "instances"], "at least one instance"),
        ({"instances": [{"text": "a"}] * 1001}, ["body", "instances"], "split the rows"),
        ({"rows": [{"text": "a"}], "instances": [{"text": "a"}]}, ["body", "rows"],
         "unknown field 'rows'"),
        ({}, ["body", "instances"], "Field required"),
    ],
)  # fmt: skip
def test_invalid_bodies_are_422_naming_row_and_field(
    http: httpx.Client, body: dict[str, Any], loc: list[Any], msg: str
) -> None:
    r = http.post(PREDICT, json=body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert any(d["loc"] == loc and msg in d["msg"] for d in detail), detail


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"", {"content-type": "application/json"}),
        (b"{not json", {"content-type": "application/json"}),
        (b"[1, 2]", {"content-type": "application/json"}),
        (b'"instances"', {}),
        (b"\xff\xfe\x00", {"content-type": "text/plain"}),
        (b'{"instances": [{"text": "\\ud800 lone surrogate"}]}', {}),
    ],
)
def test_malformed_bodies_are_4xx_never_5xx(
    http: httpx.Client, content: bytes, headers: dict[str, str]
) -> None:
    r = http.post(PREDICT, content=content, headers=headers)
    assert 400 <= r.status_code < 500 or r.status_code == 200, r.text
    assert r.json()


def test_wrong_model_is_404_naming_the_served_one(http: httpx.Client) -> None:
    r = http.post("/v1/models/other/predict", json={"instances": [{"text": "a"}]})
    assert r.status_code == 404
    assert MODEL in r.json()["detail"]


def test_oip_health_and_metadata(http: httpx.Client) -> None:
    assert http.get("/v2/health/live").json() == {"live": True}
    r = http.get("/v2/health/ready")
    assert (r.status_code, r.json()) == (200, {"ready": True})
    assert http.get(f"/v2/models/{MODEL}/ready").json() == {"name": MODEL, "ready": True}
    assert http.get("/v2").json()["name"] == "weakflow"
    meta = http.get(f"/v2/models/{MODEL}").json()
    assert meta["name"] == MODEL
    assert meta["platform"] == "weakflow"
    assert meta["versions"] == ["1"]
    assert meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert {o["name"]: o["datatype"] for o in meta["outputs"]} == {
        "probabilities": "FP64", "label": "INT64", "prediction_id": "BYTES"
    }  # fmt: skip
    r = http.get("/v2/models/other")
    assert r.status_code == 404
    assert MODEL in r.json()["error"]


def test_oip_infer_matches_v1(http: httpx.Client, texts: list[str], expected: np.ndarray) -> None:
    rows = texts[:4]
    body = {"id": "req-1", "inputs": [{"name": "text", "shape": [4, 1], "datatype": "BYTES",
                                       "data": [[t] for t in rows]}]}  # fmt: skip
    r = http.post(INFER, json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["model_name"], out["model_version"], out["id"]) == (MODEL, "1", "req-1")
    tensors = {o["name"]: o for o in out["outputs"]}
    assert tensors["probabilities"]["shape"] == [4, 2]
    np.testing.assert_allclose(
        np.reshape(tensors["probabilities"]["data"], (4, 2)), expected[:4], atol=1e-12
    )
    assert tensors["label"]["data"] == expected[:4].argmax(axis=1).tolist()
    assert tensors["label"]["datatype"] == "INT64"
    assert len(set(tensors["prediction_id"]["data"])) == 4
    only = http.post(INFER, json={**body, "outputs": [{"name": "label"}]}).json()
    assert [o["name"] for o in only["outputs"]] == ["label"]


def _t(name: str, shape: list[int], datatype: str, data: list[Any]) -> dict[str, Any]:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


@pytest.mark.parametrize(
    ("inputs", "fragment"),
    [
        ([_t("txt", [1], "BYTES", ["a"])], "unknown input(s) 'txt'"),
        ([_t("text", [1], "FP64", [1.0])], "must have datatype BYTES"),
        ([_t("text", [3], "BYTES", ["a"])], "shape [3] but 1 values"),
        ([_t("text", [1, 2], "BYTES", ["a", "b"])], "use [n] or [n, 1]"),
        ([_t("text", [1], "BYTES", [5])], "not a string"),
        ([_t("text", [0], "BYTES", [])], "send 1 to"),
        ([], "inputs"),
    ],
)  # fmt: skip
def test_oip_errors_are_400_with_an_error_message(
    http: httpx.Client, inputs: list[dict[str, Any]], fragment: str
) -> None:
    r = http.post(INFER, json={"inputs": inputs})
    assert r.status_code == 400, r.text
    assert fragment in r.json()["error"]
    r = http.post(INFER, content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert "JSON" in r.json()["error"]


def _sample(text: str, name: str, **labels: str) -> float:
    want = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((name + "{", name + " ")) and all(w in line for w in want)
    )


def test_metrics_change_with_traffic(http: httpx.Client) -> None:
    before = http.get("/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain")
    endpoint = {"endpoint": "/v1/models/{name}/predict", "model_version": "1",
                "variant": "primary"}  # fmt: skip
    n0 = _sample(before.text, "weakflow_request_duration_seconds_count", **endpoint)
    rows0 = _sample(before.text, "weakflow_predictions_total", model_version="1")
    for _ in range(3):
        body = {"instances": [{"text": "subscribe to my channel"}, {"text": "nice song"}]}
        assert http.post(PREDICT, json=body).status_code == 200
    http.post(PREDICT, json={"instances": []})
    after = http.get("/metrics").text
    assert _sample(after, "weakflow_request_duration_seconds_count", **endpoint) == n0 + 3
    assert _sample(after, "weakflow_predictions_total", model_version="1") == rows0 + 6
    assert _sample(after, "weakflow_predictions_total", label="spam") >= 3
    assert _sample(after, "weakflow_requests_total", status="422") >= 1
    assert _sample(after, "weakflow_served_version", variant="primary") == 1
    for name in (
        "weakflow_prediction_log_failures_total",
        "weakflow_feedback_total",
        "weakflow_prediction_log_dropped_total",
        "weakflow_model_reloads_total",
    ):
        assert f"# TYPE {name} counter" in after, name


def test_openapi_describes_the_training_schema(http: httpx.Client) -> None:
    doc = http.get("/openapi.json").json()
    instance = doc["components"]["schemas"]["Instance"]
    assert instance["required"] == ["text"]
    assert instance["additionalProperties"] is True
    predict = doc["paths"]["/v1/models/{name}/predict"]["post"]
    assert predict["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PredictIn"
    }
    assert {"200", "404", "413", "422", "429"} <= set(predict["responses"])
    assert "security" not in predict  # --dev: no authentication
    infer = doc["paths"]["/v2/models/{name}/infer"]["post"]
    assert "400" in infer["responses"]
    assert "422" not in infer["responses"]
    assert http.get("/docs").status_code == 200
