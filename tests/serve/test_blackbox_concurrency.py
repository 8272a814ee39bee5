"""Black box: 200 clients at once against one real ``weakflow serve``, every request answered.

Each client is a thread with its own connection and its own API token (as separate callers
would have), released together by a barrier so their requests arrive at the same moment. Every
request must succeed (no 429 from a shared limiter, no 5xx from a race in auth, prediction or
logging) and every prediction id must be unique, because feedback is joined to predictions by id.
"""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from weakflow.pipeline import Project
from weakflow.registry import store_url
from weakflow.store import Database, create_token

CLIENTS = 200
REQUESTS_PER_CLIENT = 3
INSTANCES_PER_REQUEST = 2
MODEL = "youtube-spam"


def make_tokens(project: Path, n: int) -> list[str]:
    """``n`` predict tokens, created through the store API in one connection."""
    proj = Project.load(project)
    db = Database(store_url(proj.state_dir, proj.config.store.url))
    try:
        return [create_token(db, f"client-{i}", ["predict"], actor="tests")[1] for i in range(n)]
    finally:
        db.close()


@pytest.mark.slow
def test_200_concurrent_clients_get_200s_and_unique_prediction_ids(
    served_project: Path, start_server: Any, tmp_path: Path
) -> None:
    project = Path(shutil.copytree(served_project, tmp_path / "p"))
    tokens = make_tokens(project, CLIENTS)
    server = start_server(project)
    url = f"{server.url}/v1/models/{MODEL}/predict"
    barrier = threading.Barrier(CLIENTS)
    statuses: Counter[int | str] = Counter()
    ids: list[str] = []
    versions: set[int] = set()
    failures: list[str] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        headers = {"Authorization": f"Bearer {tokens[i]}"}
        with httpx.Client(timeout=120.0, headers=headers) as http:
            barrier.wait()
            for r in range(REQUESTS_PER_CLIENT):
                body = {
                    "instances": [
                        {"text": f"client {i} request {r} row {k}: check out my channel"}
                        for k in range(INSTANCES_PER_REQUEST)
                    ]
                }
                try:
                    resp = http.post(url, json=body)
                except httpx.HTTPError as exc:
                    with lock:
                        statuses[type(exc).__name__] += 1
                    continue
                with lock:
                    statuses[resp.status_code] += 1
                    if resp.status_code != 200:
                        failures.append(f"client {i}: {resp.status_code} {resp.text[:200]}")
                        continue
                    preds = resp.json()["predictions"]
                    ids.extend(p["id"] for p in preds)
                    versions.update(p["model_version"] for p in preds)
                    if len(preds) != INSTANCES_PER_REQUEST:
                        failures.append(f"client {i}: {len(preds)} predictions")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    total = CLIENTS * REQUESTS_PER_CLIENT
    assert statuses == {200: total}, (statuses, failures[:5], server.log()[-2000:])
    assert not failures, failures[:5]
    assert len(ids) == total * INSTANCES_PER_REQUEST
    assert len(set(ids)) == len(ids), "prediction ids repeat"
    assert versions == {1}
    assert server.proc.poll() is None, "the server died under load"
