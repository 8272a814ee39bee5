"""The prediction log's retention policy, enforced by ``weakflow monitor watch`` on every tick.

Logged predictions hold (redacted) user content; keeping them forever is neither needed for
monitoring (windows look back hours or days) nor allowed by most privacy policies. With
``[privacy] retention_days = N``, each tick deletes predictions older than N days. Predictions
with feedback are kept by default (``keep_labeled``): with their labels they are training data,
removed per subject by ``weakflow privacy erase``. Each purge is audited with its counts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from weakflow.pipeline import Project
from weakflow.registry import Registry
from weakflow.store import purge_predictions

__all__ = ["enforce_retention"]


def enforce_retention(
    project: Project, registry: Registry, *, actor: str, now: dt.datetime | None = None
) -> dict[str, Any] | None:
    """Delete logged predictions older than ``[privacy] retention_days`` (audited).

    Returns None when no retention is configured, else ``{"days", "rows", ...}``.
    """
    days = project.config.privacy.retention_days
    if days is None:
        return None
    now = now or dt.datetime.now(dt.UTC)
    cutoff = now - dt.timedelta(days=days)
    keep = project.config.privacy.keep_labeled
    removed = purge_predictions(registry.db, cutoff, keep_labeled=keep)
    if not removed:
        return {"days": days, "rows": 0}
    details = {"days": days, "rows": removed, "before": cutoff.isoformat(), "kept_labeled": keep}
    registry.audit("retention_purge", f"model:{project.config.project.name}", details, actor=actor)
    return details
