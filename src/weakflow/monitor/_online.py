"""Online metrics from feedback: realized accuracy per version and variant, and A/B verdicts.

Feedback arrives late and for a fraction of predictions; it is joined to the prediction log by
prediction id (the latest label per prediction wins). Accuracy comes with a Wilson interval,
which stays inside [0, 1] and behaves on small counts; the A/B verdict is a two-proportion z
test of the candidate against the primary, reported as the difference with its interval and a
one-sided confidence that the candidate is better.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sqlalchemy import select

from weakflow.store import Database
from weakflow.store._schema import Feedback, Prediction

__all__ = ["ABVerdict", "ab_verdict", "labeled_predictions", "online_metrics", "wilson"]


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion.

    >>> [round(x, 3) for x in wilson(45, 50)]
    [0.786, 0.957]
    """
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def labeled_predictions(
    db: Database, name: str, *, since: dt.datetime | None = None
) -> pd.DataFrame:
    """Predictions of ``name`` that got feedback: id, time, version, variant, label, gold."""
    query = (
        select(
            Prediction.id, Prediction.created_at, Prediction.model_version, Prediction.variant,
            Prediction.label, Feedback.label, Feedback.id,
        )
        .join(Feedback, Feedback.prediction_id == Prediction.id)
        .where(Prediction.model_name == name, Prediction.variant != "shadow")
    )  # fmt: skip
    if since is not None:
        query = query.where(Prediction.created_at >= since)
    with db.transaction() as s:
        rows = s.execute(query.order_by(Feedback.id)).all()
    frame = pd.DataFrame(
        rows, columns=["id", "created_at", "version", "variant", "label", "gold", "feedback_id"]
    )
    return frame.drop_duplicates("id", keep="last").reset_index(drop=True)


def online_metrics(
    frame: pd.DataFrame, *, by: tuple[str, ...] = ("version", "variant"), freq: str | None = None
) -> list[dict[str, Any]]:
    """Realized accuracy (with Wilson interval) and macro F1 per group (and time bucket)."""
    from sklearn.metrics import f1_score

    if frame.empty:
        return []
    keys = list(by)
    data = frame.copy()
    if freq:
        data["bucket"] = pd.to_datetime(data["created_at"], utc=True).dt.floor(freq)
        keys.append("bucket")
    out = []
    for key, group in data.groupby(keys, sort=True):
        values = key if isinstance(key, tuple) else (key,)
        correct = int((group["label"] == group["gold"]).sum())
        n = len(group)
        out.append(
            {
                **{
                    k: (v.isoformat() if hasattr(v, "isoformat") else v)
                    for k, v in zip(keys, values, strict=True)
                },
                "n": n,
                "accuracy": correct / n,
                "interval": list(wilson(correct, n)),
                "f1_macro": float(f1_score(group["gold"], group["label"], average="macro")),
            }
        )
    return out


@dataclass(frozen=True)
class ABVerdict:
    """Is the candidate better than the primary, on realized accuracy?"""

    primary_accuracy: float
    candidate_accuracy: float
    n_primary: int
    n_candidate: int
    difference: float
    interval: tuple[float, float]
    p_better: float  # one-sided confidence that the candidate is better
    verdict: str  # better | worse | inconclusive

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def ab_verdict(
    primary_correct: int, n_primary: int, candidate_correct: int, n_candidate: int,
    *, confidence: float = 0.95,
) -> ABVerdict:  # fmt: skip
    """Two-proportion z test of the candidate's realized accuracy against the primary's.

    >>> ab_verdict(850, 1000, 900, 1000).verdict
    'better'
    """
    p1 = primary_correct / n_primary if n_primary else float("nan")
    p2 = candidate_correct / n_candidate if n_candidate else float("nan")
    if not n_primary or not n_candidate:
        return ABVerdict(p1, p2, n_primary, n_candidate, float("nan"), (float("nan"),) * 2,
                         0.5, "inconclusive")  # fmt: skip
    diff = p2 - p1
    se = np.sqrt(p1 * (1 - p1) / n_primary + p2 * (1 - p2) / n_candidate)
    z_crit = float(stats.norm.ppf(0.5 + confidence / 2))
    interval = (float(diff - z_crit * se), float(diff + z_crit * se))
    p_better = float(stats.norm.cdf(diff / se)) if se > 0 else (1.0 if diff > 0 else 0.5)
    if interval[0] > 0:
        verdict = "better"
    elif interval[1] < 0:
        verdict = "worse"
    else:
        verdict = "inconclusive"
    return ABVerdict(p1, p2, n_primary, n_candidate, diff, interval, p_better, verdict)
