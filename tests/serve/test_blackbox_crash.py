"""Black box: ``kill -9`` of ``weakflow serve`` in the middle of feedback ingestion.

The server promises that a 200 on ``POST /v1/feedback`` means the label is committed. So
whatever it acknowledged before dying must be in the store afterwards, even when the process is
killed without a chance to flush anything (SIGKILL). Items in flight when it died may or may not
be there: their clients never got an answer, so they would retry.

The test makes predictions first (feedback refers to them), waits until the background log has
written them, then runs several client threads that send one feedback item per request
continuously and record every item that got a 200. Once enough are acknowledged it SIGKILLs the
server's process group, and compares the acknowledged items with the store's ``feedback``
table as multisets of (prediction_id, label, source).
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from weakflow.pipeline import Project
from weakflow.registry import store_url
from weakflow.store import Database, create_token, existing_predictions

MODEL = "youtube-spam"
SENDERS = 8
MIN_ACKED = 150
TIMEOUT = 60.0


def open_store(project: Path) -> Database:
    proj = Project.load(project)
    return Database(store_url(proj.state_dir, proj.config.store.url))


def wait_until(condition: Any, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_kill_9_during_feedback_loses_no_acknowledged_label(
    served_project: Path, start_server: Any, tmp_path: Path
) -> None:
    project = Path(shutil.copytree(served_project, tmp_path / "p"))
    db = open_store(project)
    try:  # one token per sender, as separate clients would have (and separate rate limits)
        secrets = [
            create_token(db, f"sender-{i}", ["predict", "feedback"], actor="tests")[1]
            for i in range(SENDERS)
        ]
    finally:
        db.close()
    server = start_server(project)
    headers = {"Authorization": f"Bearer {secrets[0]}"}

    # Predictions to give feedback on, and until the background log has written them all.
    with httpx.Client(base_url=server.url, headers=headers, timeout=30.0) as http:
        ids: list[str] = []
        for r in range(20):
            body = {"instances": [{"text": f"request {r} comment {k}"} for k in range(10)]}
            resp = http.post(f"/v1/models/{MODEL}/predict", json=body)
            assert resp.status_code == 200, resp.text
            ids.extend(p["id"] for p in resp.json()["predictions"])
    db = open_store(project)
    try:
        wait_until(
            lambda: len(existing_predictions(db, ids)) == len(ids), "the prediction log to flush"
        )
    finally:
        db.close()

    acked: list[tuple[str, int, str]] = []
    other: Counter[str] = Counter()
    lock = threading.Lock()
    stop = threading.Event()
    sequence = itertools.count()

    def sender(me: int) -> None:
        auth = {"Authorization": f"Bearer {secrets[me]}"}
        with httpx.Client(base_url=server.url, headers=auth, timeout=10.0) as http:
            while not stop.is_set():
                n = next(sequence)
                item = (ids[n % len(ids)], n % 2, f"sender-{me}-{n}")
                try:
                    resp = http.post(
                        "/v1/feedback",
                        json={"prediction_id": item[0], "label": item[1], "source": item[2]},
                    )
                except httpx.HTTPError as exc:  # the server is gone: no answer, no promise
                    with lock:
                        other[type(exc).__name__] += 1
                    time.sleep(0.01)
                    continue
                with lock:
                    if resp.status_code == 200:
                        acked.append(item)
                    else:
                        other[f"HTTP {resp.status_code}: {resp.text[:100]}"] += 1

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(SENDERS)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(acked) >= MIN_ACKED, f"{MIN_ACKED} acknowledged feedback items")
        # Mid-stream: SIGKILL the server's whole process group (the uvicorn process and any
        # worker it started), so nothing gets to run a shutdown handler.
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(10)
        with lock:
            acked_at_kill = len(acked)
        time.sleep(0.5)  # let the senders see the dead server
    finally:
        stop.set()
        for t in threads:
            t.join(30)

    assert acked_at_kill >= MIN_ACKED
    server_errors = {k: v for k, v in other.items() if k.startswith("HTTP 5")}
    assert not server_errors, server_errors
    db = open_store(project)
    try:
        with db.transaction() as s:
            assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            stored = Counter(
                (pid, int(label), source)
                for pid, label, source in s.execute(
                    text("SELECT prediction_id, label, source FROM feedback")
                )
            )
    finally:
        db.close()
    lost = Counter(acked) - stored
    assert not lost, f"{sum(lost.values())} of {len(acked)} acknowledged items lost: {lost}"
