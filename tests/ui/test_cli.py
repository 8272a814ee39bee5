"""``weakflow ui`` and the dashboard inside ``weakflow serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from weakflow.cli import app


def test_ui_command_builds_the_dashboard_and_runs_it(
    ui_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    result = CliRunner().invoke(app, ["ui", "--project", str(ui_project), "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert "/ui" in result.output
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 8123)
    with TestClient(seen["app"]) as client:
        assert client.get("/ui/models").status_code == 200


def test_ui_command_fails_clearly_without_a_project(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ui", "--project", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "weakflow.toml" in result.output


def test_serve_mounts_the_dashboard_with_reads_behind_a_token(
    served_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from weakflow.serve import ServeSettings, get_settings
    from weakflow.ui import serve_app_with_ui

    for key, value in ServeSettings(project=served_project).to_env().items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        with TestClient(serve_app_with_ui()) as client:
            assert client.get("/v2/health/ready").status_code == 200
            page = client.get("/ui/models", follow_redirects=False)
            assert page.status_code == 303
            assert page.headers["location"].startswith("/ui/login?next=")
            assert client.get("/ui/login").status_code == 200
    finally:
        get_settings.cache_clear()
    assert "--no-ui" in CliRunner().invoke(app, ["serve", "--help"]).output
