"""Request-size limit (413, by header and while streaming) and rate limits (429 + Retry-After)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from servekit import MODEL, Server, copy_project, set_serve_config, wait_for

PREDICT = f"/v1/models/{MODEL}/predict"


@pytest.fixture(scope="module")
def server(
    served_project: Path, start_module_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Server:
    project = copy_project(served_project, tmp_path_factory.mktemp("limits") / "p")
    set_serve_config(project, "[serve]\nmax_request_bytes = 2048\nrate_limit = 5\nrate_burst = 5")
    server: Server = start_module_server(project, dev=True)
    return server


def _big(n: int = 3000) -> bytes:
    return b'{"instances": [{"text": "' + b"x" * n + b'"}]}'


def test_a_body_over_the_limit_is_413(server: Server) -> None:
    r = httpx.post(
        server.url + PREDICT, content=_big(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert "max_request_bytes" in r.json()["detail"]
    assert "2,048" in r.json()["detail"]
    r = httpx.post(server.url + f"/v2/models/{MODEL}/infer", content=_big())
    assert r.status_code == 413
    assert "max_request_bytes" in r.json()["error"]


def test_a_streamed_body_is_counted(server: Server) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        body = _big()
        yield body[:1500]
        yield body[1500:]

    r = httpx.post(server.url + PREDICT, content=chunks())
    assert r.status_code == 413
    assert "more than 2,048" in r.json()["detail"]


def test_a_body_under_the_limit_passes(server: Server) -> None:
    r = httpx.post(server.url + PREDICT, content=_big(1500))
    assert r.status_code == 200, r.text


def test_rate_limit_is_429_with_retry_after(server: Server) -> None:
    with httpx.Client(base_url=server.url) as http:
        codes = [http.post(PREDICT, json={"instances": [{"text": "a"}]}) for _ in range(15)]
        limited = [r for r in codes if r.status_code == 429]
        assert limited
        assert all(r.status_code in (200, 429) for r in codes)
        assert int(limited[0].headers["retry-after"]) >= 1
        assert "rate_limit" in limited[0].json()["detail"]
        assert http.get("/v2/health/ready").status_code == 200  # health is never limited
        wait_for(
            lambda: http.post(PREDICT, json={"instances": [{"text": "a"}]}).status_code == 200,
            "the bucket to refill",
        )
