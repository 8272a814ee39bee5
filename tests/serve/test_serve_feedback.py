"""POST /v1/feedback: committed before the answer, even for predictions still in the log queue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from servekit import MODEL, Server, copy_project, set_serve_config
from sqlalchemy import text

from weakflow.pipeline import Project
from weakflow.registry import store_url
from weakflow.store import Database

PREDICT = f"/v1/models/{MODEL}/predict"


@pytest.fixture(scope="module")
def server(
    served_project: Path, start_module_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Server:
    project = copy_project(served_project, tmp_path_factory.mktemp("feedback") / "p")
    # Predictions stay in the log's memory buffer until something flushes it: feedback must.
    set_serve_config(project, "[serve]\nlog_flush_interval = 600\nlog_batch_size = 100000")
    server: Server = start_module_server(project, dev=True)
    return server


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        yield client


def _predict(http: httpx.Client, n: int) -> list[str]:
    r = http.post(PREDICT, json={"instances": [{"text": f"comment {i}"} for i in range(n)]})
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()["predictions"]]


def _stored(project: Path, ids: list[str]) -> list[tuple[str, int, str]]:
    proj = Project.load(project)
    db = Database(store_url(proj.state_dir, proj.config.store.url))
    try:
        with db.transaction() as s:
            rows = s.execute(text("SELECT prediction_id, label, source FROM feedback")).all()
    finally:
        db.close()
    return sorted((r[0], r[1], r[2]) for r in rows if r[0] in ids)


def test_feedback_for_a_prediction_still_in_memory_is_committed(
    server: Server, http: httpx.Client
) -> None:
    ids = _predict(http, 3)
    r = http.post("/v1/feedback", json={"prediction_id": ids[0], "label": "spam"})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    assert len(r.json()["ids"]) == 1
    r = http.post(
        "/v1/feedback",
        json=[{"prediction_id": ids[1], "label": 0, "source": "review"},
              {"prediction_id": ids[2], "label": "ham"}],
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2
    assert _stored(server.project, ids) == sorted(
        [(ids[0], 1, "api"), (ids[1], 0, "review"), (ids[2], 0, "api")]
    )
    metrics = http.get("/metrics").text
    assert 'weakflow_feedback_total{source="review"} 1.0' in metrics


def test_unknown_prediction_ids_are_404_naming_them(server: Server, http: httpx.Client) -> None:
    (known,) = _predict(http, 1)
    unknown = "0" * 32
    r = http.post(
        "/v1/feedback",
        json=[{"prediction_id": known, "label": 1}, {"prediction_id": unknown, "label": 1}],
    )
    assert r.status_code == 404
    assert unknown in r.json()["detail"]
    assert known not in r.json()["detail"]
    assert _stored(server.project, [known, unknown]) == []  # all or nothing


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ([{"prediction_id": "x", "label": "eggs"}], ["body", 0, "label"]),
        ({"prediction_id": "x", "label": 2}, ["body", "label"]),
        ({"prediction_id": "x", "label": -1}, ["body", "label"]),
    ],
)
def test_invalid_labels_are_422_naming_item_and_allowed_labels(
    http: httpx.Client, body: Any, loc: list[Any]
) -> None:
    r = http.post("/v1/feedback", json=body)
    assert r.status_code == 422, r.text
    (err,) = r.json()["detail"]
    assert err["loc"] == loc
    assert "ham, spam" in err["msg"]


@pytest.mark.parametrize(
    ("body", "loc", "fragment"),
    [
        ({"prediction_id": "x"}, ["body", "label"], "has a prediction_id and a label"),
        ([{"label": 1}], ["body", 0, "prediction_id"], "field required"),
        ([], ["body"], "at least 1 item"),
        ({"prediction_id": "x", "label": True}, ["body", "label"], "class name (ham, spam)"),
        ({"prediction_id": "x", "label": 1, "extra": 1}, ["body", "extra"], "takes prediction_id"),
        ("spam", ["body"], "or a list of such objects"),
    ],
)
def test_malformed_feedback_is_422(
    http: httpx.Client, body: Any, loc: list[Any], fragment: str
) -> None:
    r = http.post("/v1/feedback", json=body)
    assert r.status_code == 422, r.text
    assert any(e["loc"] == loc and fragment in e["msg"] for e in r.json()["detail"]), r.json()
