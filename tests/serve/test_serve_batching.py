"""Micro-batching in a real ``weakflow serve``: concurrent requests share model calls, and every
response still holds exactly its own rows' predictions.

32 clients (threads, one connection each) are released together by a barrier; each sends its
own texts, some requests with several rows, half the clients routed to a canary version. The
``weakflow_batch_size`` histogram in ``/metrics`` shows model calls of more than one row, and
each response is compared with the in-process prediction, by the version that answered, of the
rows that request sent: a row answered with another request's prediction, or by another
version, would not match. No wall-clock time is asserted.
"""

from __future__ import annotations

import random
import re
import threading
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from servekit import MODEL, copy_project, register_version, set_serve_config

from weakflow.pipeline import Project
from weakflow.registry import open_registry
from weakflow.serve import bucket

PREDICT = f"/v1/models/{MODEL}/predict"
CLIENTS = 32
REQUESTS_PER_CLIENT = 8


def batch_histogram(metrics: str) -> dict[tuple[str, str], dict[str, float]]:
    """``{(version, variant): {le: cumulative count}}`` of ``weakflow_batch_size``."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    pattern = re.compile(
        r'^weakflow_batch_size_bucket\{le="([^"]+)",model_version="(\d+)",variant="(\w+)"\} (\S+)$'
    )
    for line in metrics.splitlines():
        m = pattern.match(line)
        if m:
            le, version, variant, value = m.groups()
            out.setdefault((version, variant), {})[le] = float(value)
    return out


def metric_sum(metrics: str, name: str, **labels: str) -> float:
    want = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith(name + "{") and all(w in line for w in want)
    )


def client_plan(texts: list[str]) -> list[list[list[str]]]:
    """For each client, its requests, each a list of 1 to 3 texts no other request sends."""
    rng = random.Random(7)
    plan = []
    for c in range(CLIENTS):
        requests = []
        for r in range(REQUESTS_PER_CLIENT):
            n = 1 if r % 3 else rng.randint(2, 3)
            requests.append(
                [f"{rng.choice(texts)} [client {c} request {r} row {k}]" for k in range(n)]
            )
        plan.append(requests)
    return plan


def run_clients(url: str, plan: list[list[list[str]]], keys: list[str]) -> list[Any]:
    """Every client's requests at once; returns ``(texts, response JSON or error)`` per request."""
    barrier = threading.Barrier(CLIENTS)
    results: list[Any] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        with httpx.Client(timeout=120.0, headers={"X-Client-Key": keys[c]}) as http:
            barrier.wait()
            for rows in plan[c]:
                try:
                    r = http.post(url, json={"instances": [{"text": t} for t in rows]})
                    out: Any = r.json() if r.status_code == 200 else f"{r.status_code} {r.text}"
                except httpx.HTTPError as exc:
                    out = repr(exc)
                with lock:
                    results.append((rows, out))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def in_process(project: Path, versions: list[int]) -> dict[int, Any]:
    proj = Project.load(project)
    registry = open_registry(proj.state_dir, proj.config.store.url)
    try:
        return {v: registry.load_model(MODEL, v) for v in versions}
    finally:
        registry.db.close()


@pytest.fixture(scope="module")
def texts(served_project: Path) -> list[str]:
    return pd.read_csv(served_project / "data" / "test.csv")["text"].astype(str).tolist()


@pytest.mark.slow
def test_concurrent_requests_are_batched_and_each_gets_its_own_rows(
    served_project: Path, start_server: Any, tmp_path: Path, texts: list[str]
) -> None:
    project = copy_project(served_project, tmp_path / "p")
    canary = register_version(project, C=0.3)
    set_serve_config(
        project, f"[serve]\nrate_limit = 0\n[serve.canary]\nversion = {canary}\npercent = 50"
    )
    server = start_server(project, dev=True)
    # Half the clients stick to the canary (their key's bucket is below the 50% cut).
    keys = [k for k in (f"client-{i}" for i in range(200)) if bucket(k) < 5000][: CLIENTS // 2]
    keys += [k for k in (f"client-{i}" for i in range(200)) if bucket(k) >= 5000][: CLIENTS // 2]
    plan = client_plan(texts)

    results = run_clients(server.url + PREDICT, plan, keys)

    failures = [out for _, out in results if not isinstance(out, dict)]
    assert not failures, (failures[:3], server.log()[-2000:])
    assert len(results) == CLIENTS * REQUESTS_PER_CLIENT
    models = in_process(project, [1, canary])
    answered_by: set[int] = set()
    for rows, out in results:
        preds = out["predictions"]
        assert len(preds) == len(rows)
        (version,) = {p["model_version"] for p in preds}  # one request, one version
        answered_by.add(version)
        got = np.array([[p["probabilities"]["ham"], p["probabilities"]["spam"]] for p in preds])
        want = models[version].predict_proba(rows)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, err_msg=str(rows))
        assert [p["label"] for p in preds] == want.argmax(axis=1).tolist()
    assert answered_by == {1, canary}

    metrics = httpx.get(server.url + "/metrics").text
    hist = batch_histogram(metrics)
    rows_sent = {1: 0, canary: 0}
    for rows, out in results:
        rows_sent[out["predictions"][0]["model_version"]] += len(rows)
    for version, variant in ((1, "primary"), (canary, "canary")):
        buckets = hist[(str(version), variant)]
        calls = buckets["+Inf"]
        # Every row went through exactly one model call ...
        batched_rows = metric_sum(
            metrics, "weakflow_batch_size_sum", model_version=str(version), variant=variant
        )
        assert batched_rows == rows_sent[version]
        # ... and concurrent requests shared calls: fewer calls than requests, and calls of
        # more than 4 rows (a request sends at most 3, so those hold several requests).
        requests = sum(1 for _, out in results if out["predictions"][0]["model_version"] == version)
        assert calls < requests, (variant, buckets)
        assert buckets["+Inf"] > buckets["4.0"], (variant, buckets)


@pytest.mark.slow
def test_max_batch_size_1_calls_the_model_once_per_request(
    served_project: Path, start_server: Any, tmp_path: Path, texts: list[str]
) -> None:
    project = copy_project(served_project, tmp_path / "p")
    set_serve_config(project, "[serve]\nrate_limit = 0\nmax_batch_size = 1")
    server = start_server(project, dev=True)
    plan = client_plan(texts)

    results = run_clients(server.url + PREDICT, plan, [f"k{i}" for i in range(CLIENTS)])

    assert all(isinstance(out, dict) for _, out in results), results[:3]
    model = in_process(project, [1])[1]
    for rows, out in results:
        got = [[p["probabilities"]["ham"], p["probabilities"]["spam"]] for p in out["predictions"]]
        np.testing.assert_allclose(got, model.predict_proba(rows), rtol=0, atol=1e-12)
    metrics = httpx.get(server.url + "/metrics").text
    buckets = batch_histogram(metrics)[("1", "primary")]
    # One call per request: as many calls as requests, none larger than a request (3 rows).
    assert buckets["+Inf"] == len(results)
    assert buckets["4.0"] == buckets["+Inf"]
