"""The review queue: which logged predictions a person should label next, and why.

Automation bias is the tendency to accept what a model says; the queue is where people overrule
it, so it shows them the predictions most likely to be wrong, not a random sample. An item is
picked from the newest ``scan`` logged predictions (shadow ones excluded: nobody saw them) when:

- **low confidence**: the model's top probability is under ``low_confidence`` (0.7);
- **LF conflict**: the labeling functions that voted did not all vote the same class;
- **model vs LFs**: the LFs' majority (ties give none) is not the model's label;
- **uncertainty sampling**: it is among the ``uncertain_share`` (10%) of the scanned predictions
  with the highest normalized entropy, the classic active-learning pick.

Predictions that already have a label (from anyone: reviewers, the API) are skipped. The queue is
ordered by priority: the number of reasons plus the normalized entropy (0-1), newest first on
ties. Each label a reviewer gives is stored with :func:`weakflow.store.add_feedback` (source
``review``), so it joins the dev set of the next ``weakflow run`` and counts for the loop's
feedback trigger.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from weakflow.monitor import load_window
from weakflow.store import Database
from weakflow.store._schema import Feedback

__all__ = [
    "REASONS",
    "ReviewItem",
    "build_queue",
    "labeled_ids",
    "review_queue",
    "vote_analysis",
]

REVIEW_SOURCE = "review"

#: Reason keys and how the page says them.
REASONS = {
    "low_confidence": "low confidence",
    "lf_conflict": "the labeling functions disagree",
    "model_vs_lfs": "the model disagrees with the LFs' majority",
    "uncertain": "among the most uncertain predictions (uncertainty sampling)",
}


def vote_analysis(votes: Sequence[int] | None) -> tuple[bool, int | None]:
    """(do the LFs that voted conflict?, their majority class or None on a tie/no vote).

    >>> vote_analysis([-1, 1, 1, 0])
    (True, 1)
    >>> vote_analysis([0, -1, 1])
    (True, None)
    """
    cast = [int(v) for v in votes or () if int(v) >= 0]
    if not cast:
        return False, None
    counts = Counter(cast).most_common()
    majority = counts[0][0] if len(counts) == 1 or counts[0][1] > counts[1][1] else None
    return len(counts) > 1, majority


@dataclass(frozen=True)
class ReviewItem:
    """One logged prediction waiting for a person's label."""

    prediction_id: str
    created_at: Any
    model_version: int
    inputs: dict[str, Any]
    label: int
    probabilities: list[float]
    lf_votes: list[int] | None
    reasons: tuple[str, ...]
    priority: float

    @property
    def confidence(self) -> float:
        return max(self.probabilities) if self.probabilities else float("nan")


def _entropy(proba: np.ndarray) -> np.ndarray:
    """Entropy of each row divided by log(k): 0 (certain) to 1 (uniform)."""
    k = proba.shape[1]
    p = np.clip(proba, 1e-12, 1.0)
    return np.asarray(-(p * np.log(p)).sum(axis=1) / np.log(max(k, 2)))


def build_queue(
    frame: pd.DataFrame,
    reviewed: set[str],
    *,
    low_confidence: float = 0.7,
    uncertain_share: float = 0.1,
) -> list[ReviewItem]:
    """The review queue of a prediction-log window (:func:`weakflow.monitor.load_window`)."""
    if frame.empty:
        return []
    todo = frame[~frame["id"].isin(reviewed)].reset_index(drop=True)
    if todo.empty:
        return []
    proba = np.array([list(p) for p in todo["probabilities"]], dtype=np.float64)
    entropy = _entropy(proba)
    cut = float(np.quantile(entropy, 1.0 - uncertain_share)) if len(entropy) else 1.0
    items = []
    for i, row in enumerate(todo.to_dict("records")):
        votes = row["lf_votes"] if isinstance(row["lf_votes"], list) else None
        conflict, majority = vote_analysis(votes)
        reasons = []
        if float(proba[i].max()) < low_confidence:
            reasons.append("low_confidence")
        if conflict:
            reasons.append("lf_conflict")
        if majority is not None and majority != int(row["label"]):
            reasons.append("model_vs_lfs")
        if entropy[i] >= cut and entropy[i] > 0:
            reasons.append("uncertain")
        if reasons:
            items.append(
                ReviewItem(
                    prediction_id=str(row["id"]),
                    created_at=row["created_at"],
                    model_version=int(row["model_version"]),
                    inputs=dict(row["inputs"] or {}),
                    label=int(row["label"]),
                    probabilities=[float(p) for p in proba[i]],
                    lf_votes=None if votes is None else [int(v) for v in votes],
                    reasons=tuple(reasons),
                    priority=len(reasons) + float(entropy[i]),
                )
            )
    # newest first, then a stable sort by priority keeps that order on ties
    items.reverse()
    return sorted(items, key=lambda it: -it.priority)


def labeled_ids(db: Database, ids: Iterable[str]) -> set[str]:
    """The ids among ``ids`` that have at least one feedback label."""
    wanted = list(dict.fromkeys(ids))
    out: set[str] = set()
    with db.transaction() as s:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            out.update(
                s.scalars(select(Feedback.prediction_id).where(Feedback.prediction_id.in_(chunk)))
            )
    return out


def review_queue(db: Database, name: str, *, scan: int = 2000) -> list[ReviewItem]:
    """The current review queue of model ``name`` (see the module docstring)."""
    frame = load_window(db, name, last=scan)
    if frame.empty:
        return []
    return build_queue(frame, labeled_ids(db, frame["id"].tolist()))
