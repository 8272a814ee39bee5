"""Erasure of one data subject (GDPR art. 17, the right to erasure).

An erasure request names a subject; weakflow removes every record about them that it keeps:

- **prediction log**: predictions whose subject id is theirs (stored as a digest when PII is
  redacted, see :func:`weakflow.store.subject_digest`, so the request's id is hashed to find
  them), the feedback on those predictions, and the example rows that monitoring windows kept
  of them;
- **datasets**: the rows of the project's train, dev and test files whose
  ``[privacy] subject_column`` (default ``[data] id_column``) equals the id, rewritten in place
  (atomically, in their own format);
- **models**: a trained model cannot forget, so every registered version that may have learned
  from those rows (trained on a file that held them, or after feedback from them arrived) is
  marked for retraining, with the reason, and the next ``weakflow run`` trains without them.

The audit log records the erasure with a digest of the subject id and the counts, never the
id or the data itself. ``dry_run`` reports what would go without touching anything.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select

from weakflow.pipeline import Project
from weakflow.registry import Registry, open_registry
from weakflow.store import append_audit, atomic_write, subject_digest
from weakflow.store._schema import Feedback, ModelVersion, MonitorWindow, Prediction

__all__ = ["Erasure", "erase_subject"]

ROLES = ("train", "dev", "test")


@dataclass
class Erasure:
    """What an erasure removed (or, with ``dry_run``, would remove)."""

    subject_sha256: str
    predictions: int = 0
    feedback: int = 0
    monitor_examples: int = 0
    dataset_rows: dict[str, int] = field(default_factory=dict)
    versions_marked: list[int] = field(default_factory=list)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def total(self) -> int:
        return self.predictions + self.feedback + sum(self.dataset_rows.values())


def _utc(t: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes for what was stored as UTC."""
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


def _without_subject(path: Path, column: str, subject: str) -> tuple[bytes | None, int]:
    """The file's bytes without the subject's rows (None when it has none), and how many."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept_lines = [
            line for line in lines
            if not line.strip() or str(json.loads(line).get(column)) != subject
        ]  # fmt: skip
        removed = len(lines) - len(kept_lines)
        return ("".join(kept_lines).encode() if removed else None), removed
    if suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if column not in frame.columns:
        return None, 0
    mask = frame[column].astype(str) == subject
    removed = int(mask.sum())
    if not removed:
        return None, 0
    kept = frame[~mask]
    buffer = io.BytesIO()
    if suffix in (".parquet", ".pq"):
        kept.to_parquet(buffer, index=False)
    else:
        kept.to_csv(buffer, index=False)
    return buffer.getvalue(), removed


def _scrub_examples(value: Any, ids: set[str]) -> tuple[Any, int]:
    """``value`` with every example row whose prediction id is in ``ids`` removed."""
    if isinstance(value, dict):
        out, n = {}, 0
        for k, v in value.items():
            if k == "examples" and isinstance(v, list):
                kept = [e for e in v if not (isinstance(e, dict) and e.get("prediction_id") in ids)]
                out[k], n = kept, n + len(v) - len(kept)
            else:
                out[k], m = _scrub_examples(v, ids)
                n += m
        return out, n
    if isinstance(value, list):
        items = [_scrub_examples(v, ids) for v in value]
        return [v for v, _ in items], sum(m for _, m in items)
    return value, 0


def erase_subject(
    project: Project | str | Path, subject_id: str, *, actor: str, dry_run: bool = False
) -> Erasure:
    """Erase ``subject_id`` from the prediction log, feedback and datasets (module docstring)."""
    if not isinstance(project, Project):
        project = Project.load(project)
    subject = str(subject_id).strip()
    if not subject:
        raise ValueError("--subject-id is empty: name the data subject whose records to erase.")
    cfg = project.config
    column = cfg.privacy.subject_column or cfg.data.id_column
    report = Erasure(subject_digest(subject).removeprefix("sha256:"), dry_run=dry_run)
    rewrites: dict[Path, bytes] = {}
    for role in ROLES:
        path = project.path(getattr(cfg.data, role))
        if column and path.is_file():
            data, removed = _without_subject(path, column, subject)
            if data is not None:
                rewrites[path] = data
                report.dataset_rows[str(getattr(cfg.data, role))] = removed
    registry = open_registry(project.state_dir, cfg.store.url)
    try:
        _erase_in_store(registry, project, subject, rewrites, report, actor)
    finally:
        registry.db.close()
    if not dry_run:
        for path, data in rewrites.items():
            atomic_write(path, data)
    return report


def _erase_in_store(
    registry: Registry, project: Project, subject: str, rewrites: dict[Path, bytes],
    report: Erasure, actor: str,
) -> None:  # fmt: skip
    cfg = project.config
    name = cfg.project.name
    keys = [subject, subject_digest(subject)]
    with registry.db.transaction(exclusive=True) as s:
        ids = set(s.scalars(select(Prediction.id).where(Prediction.subject_id.in_(keys))))
        first_label = s.scalars(
            select(Feedback.created_at).where(Feedback.prediction_id.in_(ids))
            .order_by(Feedback.created_at).limit(1)
        ).first()  # fmt: skip
        report.predictions = len(ids)
        report.feedback = int(
            s.scalar(select(func.count(Feedback.id)).where(Feedback.prediction_id.in_(ids))) or 0
        )
        windows = list(s.scalars(select(MonitorWindow))) if ids else []
        for w in windows:
            alerts, n_alerts = _scrub_examples(w.alerts, ids)
            result, n_result = _scrub_examples(w.result, ids)
            report.monitor_examples += n_alerts + n_result
            if n_alerts + n_result and not report.dry_run:
                w.alerts, w.result = alerts, result
        sources = {str(p.relative_to(project.root)) for p in rewrites}
        marked = []
        for v in s.scalars(select(ModelVersion).where(ModelVersion.model_name == name)):
            if v.status == "archived":
                continue
            inputs = {str(i.get("source")) for i in (v.lineage or {}).get("inputs", [])}
            after_feedback = first_label is not None and _utc(v.created_at) >= _utc(first_label)
            if inputs & sources or after_feedback:
                marked.append(v)
        report.versions_marked = sorted(v.version for v in marked)
        if report.dry_run:
            s.rollback()
            return
        s.execute(delete(Feedback).where(Feedback.prediction_id.in_(ids)))
        s.execute(delete(Prediction).where(Prediction.id.in_(ids)))
        when = dt.datetime.now(dt.UTC).date().isoformat()
        for v in marked:
            v.retrain_reason = (
                f"trained on records of a data subject erased on {when} "
                f"(subject sha256 {report.subject_sha256[:12]}...): retrain without them"
            )
        append_audit(
            s, actor=actor, action="privacy_erase", subject=f"model:{name}",
            details={k: v for k, v in report.to_dict().items() if k != "dry_run"},
        )  # fmt: skip
