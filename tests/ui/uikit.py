"""Helpers of the dashboard tests: logged traffic, stored monitor windows, tokens.

A uniquely named module (like ``tests/serve/servekit.py``, which it builds on) so test files can
import it whatever other ``conftest`` modules pytest has loaded.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "serve"))

from servekit import MODEL, copy_project, launch_server, make_token, register_version

from weakflow.pipeline import Project, model_inputs

__all__ = [
    "ARTIFACTS",
    "MODEL",
    "SCREENSHOTS",
    "build_history",
    "copy_project",
    "feedback_rows",
    "launch_server",
    "log_traffic",
    "make_token",
    "register_version",
]


#: Where the browser tests save their screenshots (git-ignored), and what they saved this session.
ARTIFACTS = Path(os.environ.get("WEAKFLOW_UI_ARTIFACTS") or Path(__file__).parent / "artifacts")
SCREENSHOTS: list[Path] = []


def log_traffic(
    project: Path,
    *,
    n: int = 100,
    hours_ago: tuple[float, float] = (12.0, 0.0),
    offset: int = 0,
    version: int = 1,
) -> int:
    """Log ``n`` predictions of ``version`` (test texts from row ``offset`` on) spread between
    ``hours_ago[0]`` and ``hours_ago[1]`` hours ago, with the version's LF votes, as
    ``weakflow serve`` logs them."""
    from weakflow.registry import open_registry
    from weakflow.serve._lfs import load_lfs
    from weakflow.store import write_predictions

    proj = Project.load(project)
    cfg = proj.config
    frame = pd.read_csv(project / "data" / "test.csv")
    frame = pd.concat([frame] * ((offset + n) // len(frame) + 1), ignore_index=True)
    frame = frame.iloc[offset : offset + n].reset_index(drop=True)
    registry = open_registry(proj.state_dir, cfg.store.url)
    try:
        info = registry.get(MODEL, version)
        proba = registry.load_model(MODEL, version).predict_proba(model_inputs(frame, cfg))
        lfs = load_lfs(info.lineage, proj, label=f"v{version}", k=len(cfg.data.label_names))
        records = [{"text": str(t)} for t in frame["text"]]
        votes = lfs.votes(records) if lfs is not None else None
        now = dt.datetime.now(dt.UTC)
        first, last = hours_ago
        rows: list[dict[str, Any]] = [
            {
                "id": uuid.uuid4().hex,
                "created_at": now - dt.timedelta(hours=first + (last - first) * i / n),
                "model_name": MODEL,
                "model_version": version,
                "variant": "primary",
                "inputs": record,
                "lf_votes": None if votes is None else [int(v) for v in votes[i]],
                "label": int(proba[i].argmax()),
                "probabilities": [float(p) for p in proba[i]],
                "latency_ms": 1.0,
            }
            for i, record in enumerate(records)
        ]
        return write_predictions(registry.db, rows)
    finally:
        registry.db.close()


def build_history(project: Path, *, windows: int = 3, per_window: int = 100) -> None:
    """``windows`` rounds of: ``per_window`` predictions over 4 hours, then a monitor run at
    the end of them (as ``weakflow monitor watch`` would have done), ending now."""
    from weakflow.monitor import run_monitor

    now = dt.datetime.now(dt.UTC)
    for i in range(windows):
        start, end = 4.0 * (windows - i), 4.0 * (windows - i - 1)
        log_traffic(project, n=per_window, hours_ago=(start, end), offset=i * per_window)
        run_monitor(project, window="4h", now=now - dt.timedelta(hours=end))


def feedback_rows(project: Path) -> list[dict[str, Any]]:
    """Every feedback row of the project's store: prediction id, label, source, token name."""
    from sqlalchemy import select

    from weakflow.registry import open_registry
    from weakflow.store._schema import Feedback

    proj = Project.load(project)
    registry = open_registry(proj.state_dir, proj.config.store.url)
    try:
        with registry.db.transaction() as s:
            return [
                {"prediction_id": f.prediction_id, "label": f.label, "source": f.source,
                 "token_name": f.token_name}
                for f in s.scalars(select(Feedback).order_by(Feedback.id))
            ]  # fmt: skip
    finally:
        registry.db.close()
