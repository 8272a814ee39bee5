"""``weakflow serve``: clear start-up failures, and several workers behind one port."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from servekit import MODEL, copy_project, set_serve_config
from typer.testing import CliRunner

from weakflow.cli import app
from weakflow.pipeline import init_project

runner = CliRunner()


def _serve(project: Path, *args: str) -> Any:
    return runner.invoke(app, ["serve", "--project", str(project), "--port", "0", *args])


def test_nothing_registered_fails_fast_saying_run_first(tmp_path: Path) -> None:
    project = init_project(tmp_path / "fresh", example="youtube").root
    result = _serve(project)
    assert result.exit_code == 1
    assert "weakflow run" in result.output
    assert "Nothing is registered" in result.output


def test_missing_alias_fails_fast_saying_promote(served_project: Path) -> None:
    result = _serve(served_project, "--alias", "staging")
    assert result.exit_code == 1
    assert "weakflow models promote youtube-spam 1 --alias staging" in " ".join(
        result.output.split()
    )


def test_unknown_canary_version_fails_fast(served_project: Path, tmp_path: Path) -> None:
    project = copy_project(served_project, tmp_path / "p")
    set_serve_config(project, "[serve.canary]\nversion = 9\npercent = 10")
    result = _serve(project)
    assert result.exit_code == 1
    assert "[serve.canary] version = 9" in result.output


def test_bad_serve_config_names_the_key(served_project: Path, tmp_path: Path) -> None:
    project = copy_project(served_project, tmp_path / "p")
    set_serve_config(project, "[serve]\nrate_limt = 5")
    result = _serve(project)
    assert result.exit_code == 1
    assert "serve.rate_limt" in result.output
    assert "rate_limit" in result.output


@pytest.mark.slow
def test_two_workers_serve_and_metrics_add_up(
    served_project: Path, start_server: Any, tmp_path: Path
) -> None:
    project = copy_project(served_project, tmp_path / "p")
    server = start_server(project, dev=True, workers=2)
    with httpx.Client(base_url=server.url) as http:
        for i in range(40):
            r = http.post(f"/v1/models/{MODEL}/predict", json={"instances": [{"text": f"x {i}"}]})
            assert r.status_code == 200, r.text
        metrics = http.get("/metrics").text
    pids = set(re.findall(r"Started server process \[(\d+)\]", server.log()))
    assert len(pids) >= 2, server.log()
    count = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("weakflow_request_duration_seconds_count")
        and "/v1/models/{name}/predict" in line
    )
    assert count == 40  # every worker's requests, whichever worker answered /metrics
    assert 'weakflow_served_version{model="youtube-spam",variant="primary"} 1.0' in metrics
