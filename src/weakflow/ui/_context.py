"""What the dashboard works on: one project, its store, and how reads are protected."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weakflow.pipeline import Project
from weakflow.registry import Registry, open_registry
from weakflow.store import Database

__all__ = ["UIContext", "UISettings"]


@dataclass(frozen=True)
class UISettings:
    """How a dashboard is started.

    Parameters
    ----------
    project : Path
        The project folder (holds ``weakflow.toml``).
    alias : str, optional
        The alias shown as "serving" and moved by promote/rollback; default ``[serve] alias``.
    open_reads : bool
        Pages are readable without signing in (``weakflow ui`` on 127.0.0.1, ``serve --dev``).
        Under ``weakflow serve`` they need a token of any scope. Changes always need a token.
    review_scan : int
        How many of the newest logged predictions the review queue picks from.
    """

    project: Path
    alias: str | None = None
    open_reads: bool = True
    review_scan: int = 2000


class UIContext:
    """A project and its store, opened on first use and shared by every request."""

    def __init__(self, settings: UISettings) -> None:
        self.settings = settings
        self.project = Project.load(settings.project)
        self._registry: Registry | None = None
        self._lock = threading.Lock()
        self.cache: dict[Any, Any] = {}

    @property
    def name(self) -> str:
        return self.project.config.project.name

    @property
    def alias(self) -> str:
        return self.settings.alias or self.project.config.serve.alias

    @property
    def label_names(self) -> list[str]:
        return list(self.project.config.data.label_names)

    @property
    def registry(self) -> Registry:
        with self._lock:
            if self._registry is None:
                self._registry = open_registry(
                    self.project.state_dir, self.project.config.store.url
                )
            return self._registry

    @property
    def db(self) -> Database:
        return self.registry.db

    def close(self) -> None:
        with self._lock:
            if self._registry is not None:
                self._registry.db.close()
                self._registry = None
