"""Helpers of the loop tests (monitor, feedback, privacy): a simulated prediction log.

``log_predictions`` scores texts with a registered version and writes them to the store the way
``weakflow serve``'s log writer does (model, LF votes, subject id), without starting a server;
the tests that need a real server use ``tests/serve``'s fixtures instead.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import numpy as np

from weakflow.pipeline import Project
from weakflow.registry import open_registry
from weakflow.serve._lfs import load_lfs
from weakflow.store import write_predictions

MODEL = "youtube-spam"


def log_predictions(
    project: Project,
    texts: Sequence[str],
    *,
    minutes_ago: float = 1.0,
    alias: str = "production",
    variant: str = "primary",
    subject_ids: Sequence[str | None] | None = None,
) -> list[str]:
    """Score ``texts`` with the model behind ``alias`` and log them as the server would."""
    registry = open_registry(project.state_dir, project.config.store.url)
    try:
        info = registry.resolve(MODEL, alias)
        model = registry.load_model(info.name, info.version)
        proba = np.asarray(model.predict_proba(list(texts)))
        lfs = load_lfs(info.lineage, project, label="t", k=2)
        assert lfs is not None
        votes = lfs.votes([{"text": t} for t in texts])
        at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
        subjects = list(subject_ids) if subject_ids is not None else [None] * len(texts)
        rows = [
            {
                "id": uuid.uuid4().hex, "created_at": at + dt.timedelta(milliseconds=i),
                "model_name": info.name, "model_version": info.version, "variant": variant,
                "inputs": {"text": t}, "lf_votes": [int(v) for v in votes[i]],
                "label": int(proba[i].argmax()), "probabilities": proba[i].tolist(),
                "latency_ms": 1.0, "client_key": None, "subject_id": subjects[i],
            }
            for i, t in enumerate(texts)
        ]  # fmt: skip
        write_predictions(registry.db, rows)
        return [r["id"] for r in rows]
    finally:
        registry.db.close()
