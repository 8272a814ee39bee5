"""Step cache: a finished step's outputs, found again by the hash of everything it used.

A step's key hashes its name, weakflow's version and its inputs (content hashes of the data, the
LF module's source, the config values it reads, seeds). Its outputs are artifacts; the cache
entry maps output names to artifact hashes. Change any input and the key changes, so a stale
result is never reused; change nothing and a re-run reuses the step instead of computing it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import weakflow
from weakflow.store._artifacts import ArtifactStore, _json_default, atomic_write

__all__ = ["StepCache", "step_key"]


def step_key(step: str, inputs: dict[str, Any]) -> str:
    """The cache key of ``step`` for these inputs (any JSON-serializable values)."""
    payload = {"step": step, "weakflow": weakflow.__version__, "inputs": inputs}
    text = json.dumps(payload, sort_keys=True, default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()


class StepCache:
    """Cache entries (``root/<key>.json``) pointing at artifacts in an ArtifactStore."""

    def __init__(self, root: str | Path, artifacts: ArtifactStore) -> None:
        self.root = Path(root)
        self.artifacts = artifacts

    def get(self, key: str) -> dict[str, str] | None:
        """The outputs stored for ``key``, or None when absent or any artifact is gone."""
        path = self.root / f"{key}.json"
        try:
            entry = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        outputs: dict[str, str] = entry.get("outputs", {})
        if not all(self.artifacts.exists(d) for d in outputs.values()):
            return None
        return outputs

    def put(self, key: str, step: str, outputs: dict[str, str]) -> None:
        entry = {"step": step, "outputs": outputs}
        atomic_write(self.root / f"{key}.json", json.dumps(entry, sort_keys=True).encode())
