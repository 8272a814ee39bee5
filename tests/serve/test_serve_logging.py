"""The prediction log: LF votes and redacted inputs in the store, failures that never fail a
request, and a graceful shutdown that writes what was still in memory."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from servekit import MODEL, copy_project, set_serve_config, wait_for
from sqlalchemy import select

from weakflow.errors import StoreError
from weakflow.labeling import apply_lfs
from weakflow.pipeline import Project, load_lf_module
from weakflow.registry import store_url
from weakflow.serve import InputSchema, LoadedVersion, create_app
from weakflow.serve._logging import LogRecord, PredictionLog, client_key_digest
from weakflow.serve._metrics import ServeMetrics
from weakflow.store import Database, subject_digest
from weakflow.store._schema import Prediction

PREDICT = f"/v1/models/{MODEL}/predict"
EMAIL = "jane.doe@example.com"
PHONE = "+1 415 555 0100"


def _db(project: Path) -> Database:
    proj = Project.load(project)
    return Database(store_url(proj.state_dir, proj.config.store.url))


def _logged(project: Path, ids: list[str]) -> dict[str, Prediction]:
    db = _db(project)
    try:
        with db.transaction() as s:
            rows = s.scalars(select(Prediction).where(Prediction.id.in_(ids))).all()
            return {r.id: r for r in rows}
    finally:
        db.close()


def test_lf_votes_and_redacted_inputs_are_logged(
    served_project: Path, start_server: Any, tmp_path: Path
) -> None:
    project = copy_project(served_project, tmp_path / "p")
    server = start_server(project, dev=True)
    secret = f"Write to {EMAIL} or call {PHONE}, check out my channel"
    body = {"instances": [{"text": secret, "id": "subject-42"}, {"text": "great song"}]}
    with httpx.Client(base_url=server.url) as http:
        r = http.post(PREDICT, json=body, headers={"X-Client-Key": "client-7"})
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    ids = [p["id"] for p in preds]
    rows = wait_for(lambda: (got := _logged(project, ids)) and len(got) == 2 and got, "the log")
    first = rows[ids[0]]
    assert EMAIL not in first.inputs["text"]
    assert "555" not in first.inputs["text"]
    assert "<EMAIL_ADDRESS>" in first.inputs["text"]
    assert "check out my channel" in first.inputs["text"]
    assert first.subject_id == subject_digest("subject-42")  # found again by hashing it
    assert rows[ids[1]].subject_id is None
    assert first.client_key == client_key_digest("client-7")
    assert (first.model_name, first.model_version, first.variant) == (MODEL, 1, "primary")
    assert first.label == preds[0]["label"]
    np.testing.assert_allclose(first.probabilities, list(preds[0]["probabilities"].values()))
    assert first.latency_ms > 0
    assert first.created_at is not None
    lfs = load_lf_module(project / "lfs.py").lfs  # what v1 was trained with
    frame = pd.DataFrame({"text": [secret, "great song"]})
    expected = apply_lfs(lfs, frame, progress=False, cardinality=2).values.tolist()
    assert [rows[i].lf_votes for i in ids] == expected  # votes on the text as it came
    server.stop()
    for f in (project / ".weakflow").glob("weakflow.db*"):  # nowhere in the store's files
        assert EMAIL.encode() not in f.read_bytes(), f


def test_graceful_shutdown_writes_what_is_still_in_memory(
    served_project: Path, start_server: Any, tmp_path: Path
) -> None:
    project = copy_project(served_project, tmp_path / "p")
    set_serve_config(project, "[serve]\nlog_flush_interval = 600\nlog_batch_size = 100000")
    server = start_server(project, dev=True)
    with httpx.Client(base_url=server.url) as http:
        r = http.post(PREDICT, json={"instances": [{"text": f"row {i}"} for i in range(40)]})
    ids = [p["id"] for p in r.json()["predictions"]]
    assert _logged(project, ids) == {}  # still in memory
    assert server.stop() in (0, -15)  # uvicorn re-raises SIGTERM once it has shut down
    assert "Application shutdown complete" in server.log()
    assert len(_logged(project, ids)) == 40


def test_a_failing_store_never_fails_a_request(
    served_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    project = copy_project(served_project, tmp_path / "p")
    calls = {"n": 0}

    def broken(db: Any, rows: Any) -> int:
        calls["n"] += 1
        raise StoreError("disk full (simulated)")

    monkeypatch.setattr("weakflow.serve._logging.write_predictions", broken)
    caplog.set_level(logging.ERROR, logger="weakflow.serve")
    with TestClient(create_app(project, dev=True)) as client:
        state = client.app.state.serving  # type: ignore[attr-defined]
        for _ in range(3):
            r = client.post(PREDICT, json={"instances": [{"text": "a"}, {"text": "b"}]})
            assert r.status_code == 200
            assert state.log.flush(10)
        metrics = client.get("/metrics").text
    assert calls["n"] == 3
    assert "weakflow_prediction_log_failures_total 3.0" in metrics
    assert 'weakflow_prediction_log_dropped_total{reason="write_failed"} 6.0' in metrics
    failures = [r for r in caplog.records if "Writing the prediction log failed" in r.message]
    assert len(failures) == 1  # once per failure burst, not once per batch


def _record(served: LoadedVersion, i: int) -> LogRecord:
    return LogRecord(
        id=f"{i:032x}", created_at=dt.datetime.now(dt.UTC), served=served, variant="primary",
        row={"text": f"row {i}"}, label=0, probabilities=[1.0, 0.0], latency_ms=1.0,
        client_key=None, subject_id=None,
    )  # fmt: skip


def test_a_full_buffer_drops_and_counts(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    schema = InputSchema("text", "text", (), ("ham", "spam"))
    served = LoadedVersion(MODEL, 1, None, schema, ("ham", "spam"), None)
    metrics = ServeMetrics()
    log = PredictionLog(db, metrics, batch_size=1000, flush_interval=60, max_pending=10)
    log.submit([_record(served, i) for i in range(8)])
    log.submit([_record(served, i) for i in range(8, 16)])  # would pass 10: dropped
    log.close()
    text = metrics.render()[0].decode()
    assert 'weakflow_prediction_log_dropped_total{reason="queue_full"} 8.0' in text
    assert "weakflow_prediction_log_written_total 8.0" in text
    db.close()
