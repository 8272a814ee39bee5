"""Opening a project's store: its database URL, artifact folder and the acting user."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from weakflow.registry._registry import Registry
from weakflow.store import ArtifactStore, Database, default_url

__all__ = ["current_actor", "open_registry", "store_url"]


def store_url(state_dir: Path, configured: str | None = None) -> str:
    """``$WEAKFLOW_STORE_URL``, else the project's ``[store] url``, else SQLite in state_dir."""
    return os.environ.get("WEAKFLOW_STORE_URL") or configured or default_url(state_dir)


def open_registry(state_dir: Path, configured_url: str | None = None) -> Registry:
    """The registry of a project: its database (migrated on open) and artifact folder."""
    db = Database(store_url(state_dir, configured_url))
    return Registry(db, ArtifactStore(state_dir / "artifacts"))


def current_actor() -> str:
    """Who is acting, for the audit log: ``$WEAKFLOW_ACTOR``, else the OS user."""
    actor = os.environ.get("WEAKFLOW_ACTOR")
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
