"""Hot reload under load: promote and roll back while requests flow; none fails."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from servekit import MODEL, copy_project, register_version, set_serve_config, wait_for

from weakflow.pipeline import Project
from weakflow.registry import open_registry

PREDICT = f"/v1/models/{MODEL}/predict"


@pytest.mark.slow
def test_promote_and_rollback_under_load(
    served_project: Path, start_server: Any, tmp_path: Path
) -> None:
    project = copy_project(served_project, tmp_path / "p")
    v2 = register_version(project, C=0.3)  # registered, not promoted
    set_serve_config(project, "[serve]\nrate_limit = 0")  # --dev limits per IP; not here
    server = start_server(project, dev=True)
    stop = threading.Event()
    seen: list[int] = []
    failures: Counter[str] = Counter()

    def load() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not stop.is_set():
                try:
                    r = http.post(PREDICT, json={"instances": [{"text": "subscribe to me"}]})
                except httpx.HTTPError as exc:
                    failures[type(exc).__name__] += 1
                    continue
                if r.status_code != 200:
                    failures[f"{r.status_code} {r.text[:80]}"] += 1
                else:
                    seen.append(r.json()["predictions"][0]["model_version"])

    proj = Project.load(project)
    registry = open_registry(proj.state_dir, proj.config.store.url)
    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(seen) > 20, "traffic on v1")
        registry.promote(MODEL, v2, "production", actor="tests")
        wait_for(lambda: seen[-1] == v2, "responses from v2", timeout=15)
        mark = len(seen)
        wait_for(lambda: len(seen) > mark + 20, "more traffic on v2")
        registry.rollback(MODEL, "production", actor="tests")
        wait_for(lambda: seen[-1] == 1, "responses from v1 after the rollback", timeout=15)
        mark = len(seen)
        wait_for(lambda: len(seen) > mark + 20, "more traffic on v1")
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        registry.db.close()
    assert not failures, failures
    assert seen[0] == 1
    assert v2 in seen
    assert seen[-1] == 1
    assert set(seen) == {1, v2}
    metrics = httpx.get(server.url + "/metrics").text
    assert f'weakflow_model_reloads_total{{model="{MODEL}"}} 2.0' in metrics
