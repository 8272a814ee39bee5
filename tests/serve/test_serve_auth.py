"""Bearer tokens and scopes on a server with authentication on (no --dev)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from servekit import MODEL, Server, copy_project, make_token, wait_for
from typer.testing import CliRunner

from weakflow.cli import app

PREDICT = f"/v1/models/{MODEL}/predict"
BODY = {"instances": [{"text": "check out my channel"}]}


@pytest.fixture(scope="module")
def project(served_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(served_project, tmp_path_factory.mktemp("auth") / "p")


@pytest.fixture(scope="module")
def server(project: Path, start_module_server: Any) -> Server:
    # A short cache so that the revocation test does not wait 5 s.
    server: Server = start_module_server(project, env={"WEAKFLOW_SERVE_TOKEN_TTL": "0.5"})
    return server


def _post(server: Server, path: str, token: str | None, json: Any = BODY) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.post(server.url + path, json=json, headers=headers, timeout=30)


def test_missing_or_unknown_token_is_401_saying_how_to_get_one(server: Server) -> None:
    for token in (None, "wf_not-a-real-token"):
        r = _post(server, PREDICT, token)
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "weakflow tokens create" in r.json()["detail"]
    r = httpx.post(server.url + PREDICT, json=BODY, headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    r = _post(server, f"/v2/models/{MODEL}/infer", None, json={"inputs": []})
    assert r.status_code == 401
    assert "weakflow tokens create" in r.json()["error"]


def test_scopes(server: Server, project: Path) -> None:
    predict = make_token(project, ["predict"])
    feedback = make_token(project, ["feedback"], name="fb-only")
    admin = make_token(project, ["admin"])
    r = _post(server, PREDICT, predict)
    assert r.status_code == 200, r.text
    pid = r.json()["predictions"][0]["id"]
    r = _post(server, PREDICT, feedback)
    assert r.status_code == 403
    assert "'predict'" in r.json()["detail"]
    assert "'fb-only'" in r.json()["detail"]
    assert "feedback" in r.json()["detail"]
    r = _post(server, "/v1/feedback", predict, json={"prediction_id": pid, "label": 1})
    assert r.status_code == 403
    assert "'feedback'" in r.json()["detail"]
    r = _post(server, "/v1/feedback", feedback, json={"prediction_id": pid, "label": 1})
    assert r.status_code == 200, r.text
    assert _post(server, PREDICT, admin).status_code == 200
    infer = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a"]}]}
    assert _post(server, f"/v2/models/{MODEL}/infer", admin, json=infer).status_code == 200
    meta = httpx.get(server.url + f"/v2/models/{MODEL}", headers={"Authorization": "Bearer x"})
    assert meta.status_code == 401


def test_open_endpoints_need_no_token(server: Server) -> None:
    for path in ("/v2/health/live", "/v2/health/ready", "/metrics", "/openapi.json", "/docs"):
        assert httpx.get(server.url + path).status_code == 200, path
    doc = httpx.get(server.url + "/openapi.json").json()
    predict = doc["paths"]["/v1/models/{name}/predict"]["post"]
    assert predict["security"] == [{"HTTPBearer": []}]
    assert {"401", "403"} <= set(predict["responses"])


def test_a_revoked_token_stops_working_within_the_cache_time(server: Server, project: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["tokens", "create", "--name", "ci", "--scope", "predict", "--project", str(project)]
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[0]
    assert _post(server, PREDICT, secret).status_code == 200
    listed = runner.invoke(app, ["tokens", "list", "--json", "--project", str(project)])
    assert '"name": "ci"' in listed.stdout
    assert secret not in listed.stdout
    result = runner.invoke(app, ["tokens", "revoke", "ci", "--project", str(project)])
    assert result.exit_code == 0, result.output
    r = wait_for(
        lambda: (resp := _post(server, PREDICT, secret)).status_code == 401 and resp,
        "the revocation to reach the server",
        timeout=10,
    )
    assert "revoked" in r.json()["detail"]
