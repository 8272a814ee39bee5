"""Running the app under uvicorn: checks before start, workers, metrics across workers.

:func:`preflight` fails fast, before any worker starts, when there is nothing to serve, with the
command that fixes it. :func:`run_server` then starts uvicorn with its fast loop and parser
(uvloop and httptools, when installed) and hands the settings to the workers through the
environment: each worker is a fresh process that builds the app with :func:`app_from_env`.
With more than one worker it also points prometheus-client at a private temporary folder so
``/metrics`` adds up every worker's numbers. SIGTERM and SIGINT stop gracefully: requests in
flight finish, the prediction log is drained to the store, then the process exits.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from typing import TYPE_CHECKING, Any

from weakflow.errors import ConfigError, ModelNotFoundError
from weakflow.pipeline import Project
from weakflow.registry import VersionInfo, open_registry
from weakflow.serve._settings import ServeSettings, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["app_from_env", "preflight", "run_server"]

#: Seconds a graceful shutdown may take before uvicorn cancels the remaining requests.
GRACEFUL_SHUTDOWN = 15


def preflight(settings: ServeSettings) -> tuple[Project, VersionInfo]:
    """The project and the version it would serve; a clear error when there is none."""
    project = Project.load(settings.project)
    name = project.config.project.name
    alias = settings.alias or project.config.serve.alias
    registry = open_registry(project.state_dir, project.config.store.url)
    try:
        if name not in registry.models():
            raise ModelNotFoundError(
                f"Nothing is registered as {name!r} in {project.root}: run `weakflow run "
                f"--project {project.root}` first to train and register a version."
            )
        if registry.alias_version(name, alias) is None:
            versions = [v.version for v in registry.versions(name)]
            raise ModelNotFoundError(
                f"{name!r} has versions {versions} but no {alias!r} alias: promote a version "
                f"first (weakflow models promote {name} {versions[-1]} --alias {alias} "
                f"--project {project.root}) or serve another alias with --alias."
            )
        live = registry.resolve(name, alias)
        serve = project.config.serve
        for variant, cfg in (("canary", serve.canary), ("shadow", serve.shadow)):
            if cfg is not None:
                try:
                    info = registry.get(name, cfg.version)
                except ModelNotFoundError:
                    raise ConfigError(
                        f"[serve.{variant}] version = {cfg.version}, but {name!r} has no version "
                        f"{cfg.version}; fix weakflow.toml (`weakflow models list` shows them)."
                    ) from None
                if info.status == "archived":
                    raise ConfigError(
                        f"[serve.{variant}] version = {cfg.version} is archived and cannot be "
                        "served; pick another version in weakflow.toml."
                    )
        return project, live
    finally:
        registry.db.close()


def app_from_env() -> FastAPI:
    """The app of a worker process (uvicorn's factory), from the settings in the environment."""
    from weakflow.serve._app import create_app

    app = create_app(get_settings())
    app.state.freeze_gc = True  # a server process of its own: see weakflow.serve._app.freeze_gc
    return app


def _log_config(level: str) -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["weakflow"] = {"handlers": ["default"], "level": level.upper(),
                                     "propagate": False}  # fmt: skip
    return config


def run_server(
    settings: ServeSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    log_level: str = "info",
    access_log: bool = False,
    app_factory: str = "weakflow.serve._server:app_from_env",
) -> None:
    """Serve until SIGTERM/SIGINT (blocking).

    ``app_factory`` is the ``module:function`` each worker builds its app with; another one
    may wrap :func:`app_from_env` (``weakflow serve`` mounts the dashboard so, from the CLI).
    """
    import uvicorn

    os.environ.update(settings.to_env())
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="weakflow-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run(
            app_factory,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=_log_config(log_level),
            log_level=log_level,
            access_log=access_log,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
            server_header=False,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
