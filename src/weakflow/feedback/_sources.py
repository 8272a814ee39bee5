"""Who sends feedback, how much they agree with everyone else, and quarantine for outliers.

Feedback is the loop's most direct lever on the next model (its labels train it as gold), so
it is also the cheapest way to poison it: one token that submits many flipped labels. weakflow
keeps per-source statistics and quarantines a source that

- **floods**: sends more than ``max_share`` of the labels while other sources exist, or
- **disagrees far more than its peers**: its agreement with the model's prediction, or with
  the majority of the LF votes logged with the prediction, is lower than the other sources'
  pooled agreement by at least ``min_gap``, and a one-sided two-proportion z test says so at
  ``alpha`` after a Benjamini-Hochberg correction over sources.

Comparing a source with its *peers*, not with a fixed bar, is what keeps an honest source
labeling a drifted slice (where the model is often wrong) from looking like an attacker, as
long as the peers see similar traffic; the LF agreement is a second, model-independent view.
A quarantined source's labels are kept (nothing accepted is ever dropped) but left out of
training until an admin releases it; both decisions are audited with their evidence.

A source is the API token that sent the labels (``token:<name>``), since the ``source`` field
of a request is whatever the client writes; without a token (``--dev``, or the Python API) it
is that field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sqlalchemy import select

from weakflow.store import Database, append_audit
from weakflow.store._schema import Feedback, FeedbackSource, Prediction

__all__ = [
    "SourceStats",
    "feedback_frame",
    "quarantined_sources",
    "release_source",
    "screen_feedback",
    "screen_sources",
    "set_quarantine",
    "source_of",
    "source_stats",
]


def source_of(token_name: str | None, source: str | None) -> str:
    """The identity a label is attributed to: its token, else its ``source`` field."""
    return f"token:{token_name}" if token_name else str(source or "api")


def feedback_frame(db: Database, name: str) -> pd.DataFrame:
    """Every label on ``name``'s predictions: prediction, label, source, the model's prediction,
    the LF votes and their majority (``lf_major``, -1 when none)."""
    query = (
        select(
            Feedback.id, Feedback.prediction_id, Feedback.label, Feedback.source,
            Feedback.token_name, Feedback.created_at, Prediction.label, Prediction.lf_votes,
        )
        .join(Prediction, Prediction.id == Feedback.prediction_id)
        .where(Prediction.model_name == name, Prediction.variant != "shadow")
        .order_by(Feedback.id)
    )  # fmt: skip
    with db.transaction() as s:
        rows = s.execute(query).all()
    frame = pd.DataFrame(
        rows,
        columns=[
            "id",
            "prediction_id",
            "label",
            "field_source",
            "token_name",
            "created_at",
            "predicted",
            "lf_votes",
        ],
    )
    frame["source"] = [
        source_of(t, f) for t, f in zip(frame["token_name"], frame["field_source"], strict=True)
    ]
    frame["lf_major"] = [_lf_majority(v) for v in frame["lf_votes"]]
    return frame


def _lf_majority(votes: Any) -> int:
    if not isinstance(votes, list):
        return -1
    cast = [int(v) for v in votes if v is not None and int(v) >= 0]
    if not cast:
        return -1
    values, counts = np.unique(cast, return_counts=True)
    top = values[counts == counts.max()]
    return int(top[0]) if len(top) == 1 else -1


def _latest(frame: pd.DataFrame) -> pd.DataFrame:
    """Each source's latest label per prediction, with the LF majority (-1: none) of its row."""
    latest = frame.drop_duplicates(["prediction_id", "source"], keep="last")
    if "lf_major" not in latest.columns:
        latest = latest.assign(lf_major=[_lf_majority(v) for v in latest["lf_votes"]])
    return latest


@dataclass
class SourceStats:
    """One source's volume, agreement and label distribution, and its standing."""

    source: str
    n: int
    share: float
    agree_model: float
    agree_lfs: float | None
    n_lfs: int
    agree_peers: float | None
    n_peers: int
    labels: dict[str, float]
    status: str = "active"  # active | quarantined | released
    flags: list[str] = field(default_factory=list)
    p_model: float | None = None
    p_lfs: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def source_stats(
    frame: pd.DataFrame, *, label_names: Sequence[str], standing: dict[str, str] | None = None
) -> list[SourceStats]:
    """Per-source statistics over ``frame`` (from :func:`feedback_frame`; latest label wins)."""
    if frame.empty:
        return []
    latest = _latest(frame)
    total = len(latest)
    out = []
    for source, group in latest.groupby("source", sort=True):
        labels = group["label"].to_numpy()
        lf_rows = group["lf_major"].to_numpy() >= 0
        others = latest[latest["source"] != source]
        shared = others.merge(group[["prediction_id", "label"]], on="prediction_id")
        counts = np.bincount(labels[(labels >= 0) & (labels < len(label_names))],
                             minlength=len(label_names))  # fmt: skip
        out.append(
            SourceStats(
                source=str(source),
                n=len(group),
                share=len(group) / total,
                agree_model=float(np.mean(labels == group["predicted"].to_numpy())),
                agree_lfs=float(np.mean(labels[lf_rows] == group["lf_major"].to_numpy()[lf_rows]))
                if lf_rows.any()
                else None,
                n_lfs=int(lf_rows.sum()),
                agree_peers=float(np.mean(shared["label_x"] == shared["label_y"]))
                if len(shared)
                else None,
                n_peers=len(shared),
                labels={
                    n: float(c / max(1, len(group)))
                    for n, c in zip(label_names, counts, strict=True)
                },
                status=(standing or {}).get(str(source), "active"),
            )
        )
    return out


def _lower_p(x1: int, n1: int, x2: int, n2: int) -> float:
    """One-sided p-value that proportion 1 is lower than proportion 2 (pooled z test)."""
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    return float(stats.norm.cdf((x1 / n1 - x2 / n2) / se))


def screen_sources(
    frame: pd.DataFrame,
    found: list[SourceStats],
    *,
    alpha: float = 0.01,
    min_labels: int = 20,
    max_share: float = 0.5,
    min_gap: float = 0.15,
) -> list[SourceStats]:
    """Set ``flags`` on the sources that flood or disagree (see the module docstring)."""
    latest = _latest(frame)
    big = [s for s in found if s.n >= min_labels]
    tests: list[tuple[SourceStats, str, float, float]] = []
    for s in big:
        me, rest = latest[latest["source"] == s.source], latest[latest["source"] != s.source]
        if len(rest) < min_labels:
            continue
        if s.share > max_share:
            s.flags.append(f"floods: {s.share:.0%} of all labels ({s.n} of {len(latest)})")
        for what, col in (("model", "predicted"), ("lfs", "lf_major")):
            mine = me[me[col] >= 0] if col == "lf_major" else me
            theirs = rest[rest[col] >= 0] if col == "lf_major" else rest
            if len(mine) < min_labels or len(theirs) < min_labels:
                continue
            a = int((mine["label"] == mine[col]).sum())
            b = int((theirs["label"] == theirs[col]).sum())
            gap = b / len(theirs) - a / len(mine)
            tests.append((s, what, _lower_p(a, len(mine), b, len(theirs)), gap))
    if tests:
        from scipy.stats import false_discovery_control

        adjusted = false_discovery_control([t[2] for t in tests], method="bh")
        for (s, what, _p, gap), p_adj in zip(tests, adjusted, strict=True):
            setattr(s, f"p_{what}", float(p_adj))
            if p_adj < alpha and gap >= min_gap:
                agree = (s.agree_model if what == "model" else s.agree_lfs) or 0.0
                s.flags.append(
                    f"agrees with the {'model' if what == 'model' else 'LF majority'} on "
                    f"{agree:.0%} of its labels, {gap:.0%} less than the other sources "
                    f"(p={p_adj:.2g} adjusted)"
                )
    return found


def quarantined_sources(db: Database) -> set[str]:
    """The sources whose labels are not trained on."""
    with db.transaction() as s:
        rows = s.scalars(select(FeedbackSource).where(FeedbackSource.status == "quarantined"))
        return {r.source for r in rows}


def standing(db: Database) -> dict[str, str]:
    with db.transaction() as s:
        return {r.source: r.status for r in s.scalars(select(FeedbackSource))}


def set_quarantine(
    db: Database, source: str, *, reason: str, actor: str, evidence: dict[str, Any] | None = None
) -> None:
    """Quarantine ``source`` (its labels stay stored but are left out of training); audited."""
    _set(db, source, "quarantined", "feedback_quarantine", reason, actor, evidence or {})


def release_source(db: Database, source: str, *, reason: str, actor: str) -> None:
    """Let a quarantined source's labels train again; audited. A reason is required."""
    if not reason.strip():
        raise ValueError(
            "Releasing a quarantined source needs a reason (it goes to the audit log)."
        )
    with db.transaction() as s:
        row = s.get(FeedbackSource, source)
        if row is None or row.status != "quarantined":
            raise ValueError(
                f"{source!r} is not quarantined (quarantined: "
                f"{', '.join(sorted(quarantined_sources(db))) or 'none'})."
            )
    _set(db, source, "released", "feedback_release", reason, actor, {})


def _set(
    db: Database, source: str, status: str, action: str, reason: str, actor: str,
    evidence: dict[str, Any],
) -> None:  # fmt: skip
    with db.transaction(exclusive=True) as s:
        row = s.get(FeedbackSource, source)
        if row is None:
            row = FeedbackSource(source=source)
            s.add(row)
        row.status, row.reason, row.actor = status, reason, actor
        row.updated_at, row.evidence = dt.datetime.now(dt.UTC), evidence
        append_audit(
            s, actor=actor, action=action, subject=f"feedback_source:{source}",
            details={"source": source, "reason": reason, **evidence},
        )  # fmt: skip


def screen_feedback(
    db: Database,
    name: str,
    *,
    label_names: Sequence[str],
    actor: str,
    alpha: float = 0.01,
    min_labels: int = 20,
    max_share: float = 0.5,
    min_gap: float = 0.15,
) -> list[SourceStats]:
    """Screen every source of ``name``'s feedback and quarantine the new offenders (audited).

    A source an admin released stays released: that decision is theirs, and it is in the log.
    """
    frame = feedback_frame(db, name)
    found = source_stats(frame, label_names=label_names, standing=standing(db))
    screen_sources(
        frame, found, alpha=alpha, min_labels=min_labels, max_share=max_share, min_gap=min_gap
    )
    for s in found:
        if s.flags and s.status == "active":
            evidence = {k: v for k, v in s.to_dict().items() if k not in ("status", "source")}
            set_quarantine(db, s.source, reason="; ".join(s.flags), actor=actor, evidence=evidence)
            s.status = "quarantined"
    return found
