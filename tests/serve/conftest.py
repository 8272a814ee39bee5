"""Fixtures of the serving tests: a trained project and real ``weakflow serve`` processes.

Stable names (other test files, including the black-box suite, rely on them):

- ``served_project`` (session): the YouTube example after one ``weakflow run``, so v1 of
  ``youtube-spam`` is registered and ``production`` points at it. Tests that change the registry
  or the config work on a copy (``servekit.copy_project``).
- ``start_server``: a factory ``start_server(project, *, dev=False, workers=1, env=None,
  extra_args=()) -> Server`` that runs ``weakflow serve`` on a free port of 127.0.0.1 and
  returns once ``/v2/health/ready`` answers 200 (``Server``: ``url``, ``proc``, ``project``,
  ``stop()``, ``log()``). Every server is stopped at teardown (SIGTERM, then SIGKILL).
- ``start_module_server``: the same, for servers shared by the tests of one module.
- ``make_token(project, scopes, name=None) -> str`` (a plain function, here and in
  ``servekit``): a token created through the store API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from servekit import Server, launch_server, make_token

from weakflow.pipeline import init_project, run_project

__all__ = ["make_token"]


@pytest.fixture(scope="session")
def served_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The YouTube example, trained once: v1 registered and promoted to production."""
    root = tmp_path_factory.mktemp("served") / "youtube"
    init_project(root, example="youtube")
    run_project(root)
    return root


@pytest.fixture
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    """Factory: start ``weakflow serve`` for a project and wait until it is ready."""
    started: list[Server] = []

    def start(project: Path, **kwargs: Any) -> Server:
        server = launch_server(project, tmp_path_factory.mktemp("server-log"), **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def start_module_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., Server]]:
    """Like ``start_server``, for servers shared by the tests of one module."""
    started: list[Server] = []

    def start(project: Path, **kwargs: Any) -> Server:
        server = launch_server(project, tmp_path_factory.mktemp("server-log"), **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
