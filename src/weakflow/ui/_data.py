"""What each page shows, read from the store and the run folders (nothing is computed twice).

Sources: the registry (versions, aliases, history, model cards), the run's ``report.json`` (LF
table, label distribution, reliability, slices; the model card's copy when the run folder is
gone), the prediction log and feedback (traffic, realized accuracy, conflicts, the production
reliability curve) and the stored monitor windows (estimated accuracy, drift, alerts). Every
function copes with a project that has none of these yet.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from weakflow.errors import ModelNotFoundError
from weakflow.monitor import labeled_predictions, load_window, online_metrics
from weakflow.registry import VersionInfo
from weakflow.store._schema import Feedback, MonitorWindow, Prediction, RunRecord
from weakflow.ui._context import UIContext
from weakflow.ui._review import vote_analysis

__all__ = [
    "accuracy_series",
    "conflict_examples",
    "feedback_counts",
    "label_counts",
    "lf_names",
    "monitor_windows",
    "named_votes",
    "production_calibration",
    "run_report",
    "serving_version",
    "traffic",
    "versions",
]


def _aware(t: Any) -> dt.datetime:
    when: dt.datetime = pd.Timestamp(t).to_pydatetime()
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def versions(ctx: UIContext) -> list[VersionInfo]:
    """Every version of the project's model, oldest first ([] before the first run)."""
    try:
        return ctx.registry.versions(ctx.name)
    except ModelNotFoundError:
        return []


def serving_version(ctx: UIContext) -> VersionInfo | None:
    """The version the serving alias points at, or None."""
    if ctx.name not in ctx.registry.models():
        return None
    version = ctx.registry.alias_version(ctx.name, ctx.alias)
    return None if version is None else ctx.registry.get(ctx.name, version)


def run_report(ctx: UIContext, info: VersionInfo | None) -> dict[str, Any] | None:
    """The ``report.json`` of the run that trained ``info`` (None when it is not on disk)."""
    if info is None or not info.run_id:
        return None
    candidates = [ctx.project.runs_dir / info.run_id / "report.json"]
    with ctx.db.transaction() as s:
        record = s.get(RunRecord, info.run_id)
        if record is not None and record.report_path:
            candidates.append(ctx.project.path(record.report_path).with_name("report.json"))
    for path in candidates:
        if path.is_file():
            key = ("report", str(path), path.stat().st_mtime_ns)
            if key not in ctx.cache:
                ctx.cache[key] = json.loads(path.read_text(encoding="utf-8"))
            report: dict[str, Any] = ctx.cache[key]
            return report
    return None


def lf_names(ctx: UIContext, version: int) -> list[str]:
    """The names of the LFs version ``version`` was trained with, in vote order."""
    key = ("lf_names", version)
    if key not in ctx.cache:
        try:
            lineage = ctx.registry.get(ctx.name, version).lineage
        except ModelNotFoundError:
            lineage = {}
        ctx.cache[key] = [str(lf.get("name")) for lf in lineage.get("lfs") or []]
    names: list[str] = ctx.cache[key]
    return names


def _hour(db_dialect: str) -> Any:
    if db_dialect == "sqlite":
        return func.strftime("%Y-%m-%d %H:00:00", Prediction.created_at)
    return func.date_trunc("hour", Prediction.created_at)


def traffic(ctx: UIContext, *, days: int = 7) -> dict[str, Any]:
    """Prediction counts: total, last 24 h, and per hour over the last ``days`` days."""
    now = dt.datetime.now(dt.UTC)
    since = now - dt.timedelta(days=days)
    base = (Prediction.model_name == ctx.name, Prediction.variant != "shadow")
    bucket = _hour(ctx.db.dialect).label("bucket")
    with ctx.db.transaction() as s:
        total = s.scalar(select(func.count(Prediction.id)).where(*base)) or 0
        day = s.scalar(
            select(func.count(Prediction.id)).where(
                *base, Prediction.created_at >= now - dt.timedelta(days=1)
            )
        )
        rows = s.execute(
            select(bucket, func.count(Prediction.id))
            .where(*base, Prediction.created_at >= since)
            .group_by(bucket)
            .order_by(bucket)
        ).all()
    hours = [(_aware(b), int(n)) for b, n in rows if b is not None]
    return {"total": int(total), "last_24h": int(day or 0), "hourly": hours, "days": days}


def feedback_counts(ctx: UIContext) -> dict[str, int]:
    """Feedback labels on the model's predictions, by source (``review``, ``api``, ...)."""
    with ctx.db.transaction() as s:
        rows = s.execute(
            select(Feedback.source, func.count(Feedback.id))
            .join(Prediction, Prediction.id == Feedback.prediction_id)
            .where(Prediction.model_name == ctx.name)
            .group_by(Feedback.source)
        ).all()
    return {str(source): int(n) for source, n in rows}


def label_counts(ctx: UIContext) -> dict[int, int]:
    """How many logged predictions went to each class."""
    with ctx.db.transaction() as s:
        rows = s.execute(
            select(Prediction.label, func.count(Prediction.id))
            .where(Prediction.model_name == ctx.name, Prediction.variant != "shadow")
            .group_by(Prediction.label)
        ).all()
    return {int(label): int(n) for label, n in rows}


def monitor_windows(ctx: UIContext, *, limit: int = 60) -> list[dict[str, Any]]:
    """The newest ``limit`` stored monitor windows of the model, oldest first."""
    with ctx.db.transaction() as s:
        rows = s.scalars(
            select(MonitorWindow)
            .where(MonitorWindow.model_name == ctx.name)
            .order_by(MonitorWindow.id.desc())
            .limit(limit)
        ).all()
        out = [
            {
                "id": r.id,
                "at": _aware(r.window_end or r.created_at),
                "created_at": _aware(r.created_at),
                "version": r.model_version,
                "n": r.n,
                "alerts": list(r.alerts or []),
                "bad_targets": list(r.bad_targets or []),
                "result": dict(r.result or {}),
            }
            for r in rows
        ]
    return out[::-1]


def accuracy_series(ctx: UIContext, windows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Estimated accuracy per monitor window and realized accuracy per time bucket."""
    estimated = [
        {"at": w["at"], "version": w["version"], **w["result"]["estimated"]}
        for w in windows
        if isinstance(w["result"].get("estimated"), dict)
    ]
    frame = labeled_predictions(ctx.db, ctx.name)
    realized: list[dict[str, Any]] = []
    freq = None
    if not frame.empty:
        times = pd.to_datetime(frame["created_at"], utc=True)
        freq = "1h" if times.max() - times.min() <= pd.Timedelta(days=2) else "1D"
        realized = online_metrics(frame, by=(), freq=freq)
        for r in realized:
            r["at"] = _aware(r["bucket"])
    return {"estimated": estimated, "realized": realized, "freq": freq, "labeled": len(frame)}


def production_calibration(ctx: UIContext, *, n_bins: int = 10) -> dict[str, Any] | None:
    """Calibration of the served probabilities against feedback labels (None under 20 labels)."""
    from weakflow.evaluate import calibration_summary

    query = (
        select(Prediction.id, Prediction.probabilities, Feedback.label)
        .join(Feedback, Feedback.prediction_id == Prediction.id)
        .where(Prediction.model_name == ctx.name, Prediction.variant != "shadow")
        .order_by(Feedback.id)
    )
    with ctx.db.transaction() as s:
        latest = {pid: (proba, gold) for pid, proba, gold in s.execute(query)}
    k = len(ctx.label_names)
    rows = [(p, g) for p, g in latest.values() if len(p) == k and 0 <= int(g) < k]
    if len(rows) < 20:
        return None
    proba = np.array([p for p, _ in rows], dtype=np.float64)
    gold = np.array([int(g) for _, g in rows])
    return calibration_summary(gold, proba, n_bins=n_bins)


def conflict_examples(ctx: UIContext, *, scan: int = 2000, limit: int = 10) -> dict[str, Any]:
    """The newest logged predictions on which the LFs that voted disagree."""
    frame = load_window(ctx.db, ctx.name, last=scan)
    if frame.empty:
        return {"scanned": 0, "with_votes": 0, "conflicts": 0, "examples": []}
    examples: list[dict[str, Any]] = []
    with_votes = conflicts = 0
    for row in frame.iloc[::-1].to_dict("records"):
        votes = row["lf_votes"] if isinstance(row["lf_votes"], list) and row["lf_votes"] else None
        if votes is None:
            continue
        with_votes += 1
        conflict, majority = vote_analysis(votes)
        if not conflict:
            continue
        conflicts += 1
        if len(examples) < limit:
            names = lf_names(ctx, int(row["model_version"]))
            examples.append(
                {
                    "id": row["id"],
                    "at": _aware(row["created_at"]),
                    "inputs": dict(row["inputs"] or {}),
                    "votes": named_votes(votes, names),
                    "majority": majority,
                    "label": int(row["label"]),
                    "confidence": float(max(row["probabilities"])),
                }
            )
    return {
        "scanned": len(frame),
        "with_votes": with_votes,
        "conflicts": conflicts,
        "examples": examples,
    }


def named_votes(votes: Sequence[int], names: Sequence[str]) -> list[tuple[str, int]]:
    """``[(lf name, vote)]`` (``lf_<i>`` when the lineage has no names for them)."""
    if len(names) != len(votes):
        names = [f"lf_{i}" for i in range(len(votes))]
    return [(n, int(v)) for n, v in zip(names, votes, strict=True)]
