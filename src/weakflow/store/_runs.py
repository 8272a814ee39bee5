"""Run folders: ``runs/<run-id>/`` with the report, datasheet and provenance of one run."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from pathlib import Path
from typing import Any

from weakflow.errors import StoreError
from weakflow.store._artifacts import _json_default, atomic_write

__all__ = ["RunStore"]


class RunStore:
    """The runs of one project, one folder each, newest last when sorted by id."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def new_run_id(self) -> str:
        """A sortable, unique id: UTC time plus 6 random hex digits (``20261123-204512-3fa9c1``)."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        return f"{stamp}-{secrets.token_hex(3)}"

    def run_dir(self, run_id: str) -> Path:
        return self.root / run_id

    def write_text(self, run_id: str, name: str, text: str) -> Path:
        path = self.run_dir(run_id) / name
        try:
            atomic_write(path, text.encode("utf-8"))
        except OSError as exc:
            raise StoreError(f"Could not write {path}: {exc}.") from exc
        return path

    def write_json(self, run_id: str, name: str, obj: Any) -> Path:
        text = json.dumps(obj, indent=2, sort_keys=True, default=_json_default)
        return self.write_text(run_id, name, text + "\n")

    def list_runs(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())
