"""Fixtures of the dashboard tests.

- ``served_project`` (session): the serving tests' trained YouTube example (v1 in production),
  re-exported from ``tests/serve/conftest.py``.
- ``ui_project`` (session): a copy of it with a history: 300 predictions logged over 12 hours
  with their LF votes, three stored monitor windows, and a second version (v2) registered but
  not promoted. Tests that change it use ``project_copy``.
- ``empty_project``: an initialized project that was never run (no model, no store content).
- ``ui_client(project, **kwargs)``: a started ``TestClient`` of ``create_ui_app``.

The browser tests' screenshots are listed at the end of the run (``pytest_terminal_summary``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from uikit import ARTIFACTS, SCREENSHOTS, build_history, copy_project, register_version

from weakflow.pipeline import init_project
from weakflow.ui import create_ui_app


def _serve_conftest() -> Any:
    path = Path(__file__).resolve().parent.parent / "serve" / "conftest.py"
    spec = importlib.util.spec_from_file_location("weakflow_tests_serve_conftest", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


served_project = _serve_conftest().served_project


@pytest.fixture(scope="session")
def ui_project(served_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained example with traffic, monitor windows and an unpromoted v2."""
    root = copy_project(served_project, tmp_path_factory.mktemp("ui") / "youtube")
    build_history(root)
    register_version(root, C=0.5)
    return root


@pytest.fixture
def project_copy(ui_project: Path, tmp_path: Path) -> Path:
    """A private copy of ``ui_project`` for a test that changes it."""
    return copy_project(ui_project, tmp_path / "youtube")


@pytest.fixture
def empty_project(tmp_path: Path) -> Path:
    """A project that was initialized and never run."""
    return init_project(tmp_path / "fresh", example="youtube").root


@pytest.fixture
def ui_client() -> Iterator[Callable[..., TestClient]]:
    """Factory: a started TestClient of the dashboard of ``project``."""
    clients: list[TestClient] = []

    def make(project: Path, **kwargs: Any) -> TestClient:
        client = TestClient(create_ui_app(project, **kwargs))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say where the browser tests' screenshots are (they are test artifacts)."""
    if SCREENSHOTS:
        terminalreporter.write_line(
            f"dashboard screenshots ({len(SCREENSHOTS)}): {ARTIFACTS}", bold=True
        )
