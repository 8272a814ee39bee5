"""Canary (a sticky share of traffic) and shadow (a logged copy that never answers)."""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from servekit import MODEL, copy_project, register_version, set_serve_config, wait_for
from sqlalchemy import select

from weakflow.pipeline import Project
from weakflow.registry import open_registry
from weakflow.serve import bucket
from weakflow.store._schema import Prediction

PREDICT = f"/v1/models/{MODEL}/predict"
REQUESTS = 5000
PERCENT = 30
TEXT = "check out my new video and subscribe"


def _metric(text: str, name: str, **labels: str) -> float:
    want = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and all(w in line for w in want)
    )


@pytest.mark.slow
def test_canary_share_stickiness_and_shadow(
    served_project: Path, start_server: Any, tmp_path: Path
) -> None:
    project = copy_project(served_project, tmp_path / "p")
    canary, shadow = register_version(project, C=0.3), register_version(project, C=0.05)
    set_serve_config(
        project,
        f"[serve]\nrate_limit = 0\n[serve.canary]\nversion = {canary}\npercent = {PERCENT}\n"
        f"[serve.shadow]\nversion = {shadow}",
    )
    server = start_server(project, dev=True)
    served: dict[str, tuple[int, tuple[float, ...], str]] = {}
    errors: Counter[str] = Counter()
    lock = threading.Lock()

    def send(keys: list[str]) -> None:
        # http.client: the lightest client, so the 5,000 requests leave the CPU to the server.
        conn = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]))
        body = json.dumps({"instances": [{"text": TEXT}]})
        for key in keys:
            conn.request("POST", PREDICT, body, {"Content-Type": "application/json",
                                                 "X-Client-Key": key})  # fmt: skip
            r = conn.getresponse()
            data = r.read()
            if r.status != 200:
                with lock:
                    errors[f"{r.status}"] += 1
                continue
            (pred,) = json.loads(data)["predictions"]
            with lock:
                served[key] = (pred["model_version"],
                               tuple(pred["probabilities"].values()), pred["id"])  # fmt: skip
        conn.close()

    keys = [f"user-{i}" for i in range(REQUESTS)]
    threads = [threading.Thread(target=send, args=(keys[i::2],)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    versions = Counter(v for v, _, _ in served.values())
    assert set(versions) == {1, canary}  # the shadow never answers
    share = 100 * versions[canary] / REQUESTS
    assert abs(share - PERCENT) <= 3, share
    # The assignment is the documented hash, so it is the same in every worker and restart.
    assert all((v == canary) == (bucket(k) < PERCENT * 100) for k, (v, _, _) in served.items())
    with httpx.Client(base_url=server.url) as client:  # sticky: a key keeps its version
        for key in keys[:30]:
            for _ in range(2):
                r = client.post(PREDICT, json={"instances": [{"text": TEXT}]},
                              headers={"X-Client-Key": key})  # fmt: skip
                assert r.json()["predictions"][0]["model_version"] == served[key][0]

    # Each version answers with its own numbers: the shadow changed nothing.
    proj = Project.load(project)
    registry = open_registry(proj.state_dir, proj.config.store.url)
    try:
        expect = {v: registry.load_model(MODEL, v).predict_proba([TEXT])[0] for v in (1, canary)}
    finally:
        registry.db.close()
    for version, proba, _ in served.values():
        np.testing.assert_allclose(proba, expect[version], atol=1e-12)

    # Every request was copied to the shadow (or counted as dropped), and logged as "shadow".
    def shadow_done() -> bool:
        text = httpx.get(server.url + "/metrics").text
        copied = _metric(text, "weakflow_predictions_total", variant="shadow")
        dropped = _metric(text, "weakflow_shadow_dropped_total")
        return copied + dropped >= REQUESTS + 60

    wait_for(shadow_done, "the shadow to catch up", timeout=60)
    server.stop()
    db = registry.db.__class__(registry.db.url)
    try:
        with db.transaction() as s:
            rows = s.scalars(select(Prediction).where(Prediction.variant == "shadow")).all()
            assert rows
            assert {r.model_version for r in rows} == {shadow}
            returned = {pid for _, _, pid in served.values()}
            linked = [r.inputs["shadow_of"] for r in rows]
            assert sum(pid in returned for pid in linked) >= 0.9 * len(returned)
            primary = s.scalars(select(Prediction.model_version).where(
                Prediction.variant == "canary")).all()  # fmt: skip
            assert set(primary) == {canary}
    finally:
        db.close()


def _served_versions(url: str, keys: list[str]) -> dict[str, int]:
    with httpx.Client(base_url=url) as client:
        return {
            key: client.post(
                PREDICT, json={"instances": [{"text": TEXT}]}, headers={"X-Client-Key": key}
            ).json()["predictions"][0]["model_version"]
            for key in keys
        }


@pytest.mark.slow
def test_canary_follows_its_alias(served_project: Path, start_server: Any, tmp_path: Path) -> None:
    """The loop rolls out through the ``canary`` alias: the server follows it without restart."""
    project = copy_project(served_project, tmp_path / "p")
    set_serve_config(project, "[serve]\nrate_limit = 0\nreload_interval = 0.1\ncanary_percent = 40")
    server = start_server(project, dev=True)
    keys = [f"client-{i}" for i in range(200)]
    assert set(_served_versions(server.url, keys).values()) == {1}  # no canary alias yet

    candidate = register_version(project, C=0.3)
    proj = Project.load(project)
    registry = open_registry(proj.state_dir, proj.config.store.url)
    try:
        registry.promote(MODEL, candidate, "canary", actor="tests", reason="canary test")
        wait_for(
            lambda: candidate in _served_versions(server.url, keys[:20]).values(),
            "the server to pick up the canary alias",
        )
        served = _served_versions(server.url, keys)
        # exactly the clients whose sticky bucket is under 40% get the candidate
        assert all((v == candidate) == (bucket(k) < 4000) for k, v in served.items())
        assert 0.25 < sum(v == candidate for v in served.values()) / len(keys) < 0.55

        # a canary alias on the primary's own version is no canary
        registry.promote(MODEL, 1, "canary", actor="tests", reason="same as primary")
        wait_for(lambda: set(_served_versions(server.url, keys).values()) == {1}, "canary end")

        registry.promote(MODEL, candidate, "canary", actor="tests", reason="again")
        wait_for(lambda: candidate in _served_versions(server.url, keys).values(), "canary back")
        registry.remove_alias(MODEL, "canary", actor="tests", reason="canary over")
        wait_for(lambda: set(_served_versions(server.url, keys).values()) == {1}, "canary gone")
    finally:
        registry.db.close()
    metrics = httpx.get(server.url + "/metrics").text
    assert _metric(metrics, "weakflow_served_version", variant="canary") == 0
