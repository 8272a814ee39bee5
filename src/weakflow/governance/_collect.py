"""Collecting the evidence: every number in the governance report comes from a stored record.

Sources, all read-only:

- the registry (``model_versions``: lineage, metrics, gate verdicts, model cards;
  ``alias_history``: every promotion, rollback and removal with actor and reason);
- each version's run folder (``runs/<run id>/report.json``: data checks, PII scan, and the
  robustness and privacy results when the run produced them);
- the audit log (gate decisions, the loop's decisions, erasures, retention purges, feedback
  quarantines) and its hash-chain verification;
- the serving log (``predictions``, ``feedback``) and the monitor's ``monitor_windows``.

Nothing here writes, except that opening an existing store brings its schema to the newest
migration, as every weakflow command does. A project without a store is reported, not created.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import weakflow
from weakflow.errors import ModelNotFoundError
from weakflow.pipeline import Project
from weakflow.registry import Registry, VersionInfo, open_registry, store_url
from weakflow.store import verify_audit
from weakflow.store._schema import (
    AliasHistory,
    AuditEntry,
    Feedback,
    MonitorWindow,
    Prediction,
    RunRecord,
)

__all__ = ["FORMAT", "collect_evidence", "open_project_store"]

FORMAT = "weakflow-governance-report/1"
"""Identifies the layout of :func:`collect_evidence`'s dict."""

#: How many of the newest rows each detailed table keeps (counts always cover every row).
LIMIT = 200
#: How many days of feedback the over-time table shows (the newest days with feedback).
FEEDBACK_DAYS = 60
#: Scalar rows shown per robustness or privacy section.
SECTION_ROWS = 80

_ROBUSTNESS_KEYS = frozenset({"robustness"})
_PRIVACY_KEYS = frozenset({"privacy", "membership_inference", "membership"})
#: Parts of a report or card that describe configuration or lineage, not results.
_NOT_RESULTS = frozenset({"provenance", "config", "lineage", "params", "training_data"})

_NO_RUN_HINT = (
    "Run `weakflow run` in the project first: it trains, evaluates and registers a model "
    "version, which is what the governance report is built from."
)


def _iso(t: dt.datetime | None, *, exact: bool = False) -> str | None:
    """UTC ISO time; to the second for people, to the microsecond (``exact``) for ordering."""
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).isoformat(timespec="microseconds" if exact else "seconds")


def _seconds(text: str | None) -> str | None:
    """An ISO time from elsewhere (e.g. the registry), to the second like the rest."""
    if not text:
        return text
    try:
        return _iso(dt.datetime.fromisoformat(text))
    except ValueError:
        return text


def _summary(message: str, limit: int = 300) -> str:
    """A check's message without its examples (row ids and excerpts stay in the run report)."""
    cuts = [i for m in (" e.g.", ", e.g.", ": id '", "; id '") if (i := message.find(m)) > 0]
    if cuts:
        message = message[: min(cuts)].rstrip(",;:") + " (examples in the run report)"
    return message if len(message) <= limit else message[: limit - 1].rstrip() + "…"


def _redacted_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def open_project_store(project: Project) -> Registry:
    """The project's registry, or :class:`ModelNotFoundError` when it has no store yet.

    A default SQLite store that does not exist is never created just to look at it.
    """
    url = store_url(project.state_dir, project.config.store.url)
    if url.startswith("sqlite") and "///" in url:
        path = url.split("///", 1)[1]
        if path and path != ":memory:" and not Path(path).exists():
            raise ModelNotFoundError(
                f"No weakflow store in {project.root} (no {Path(path).name} under "
                f"{project.state_dir.name}/). {_NO_RUN_HINT}"
            )
    return open_registry(project.state_dir, project.config.store.url)


def _model_name(registry: Registry, project: Project, model: str | None) -> str:
    known = registry.models()
    name = model or project.config.project.name
    if name in known:
        return name
    if not known:
        raise ModelNotFoundError(f"Nothing is registered in {project.root}'s store. {_NO_RUN_HINT}")
    raise ModelNotFoundError(
        f"No registered model named {name!r}; registered: {', '.join(known)}. Pass --model NAME."
    )


# -- registry: versions, lineage, gates, aliases -----------------------------------------------


def _lineage(v: VersionInfo) -> dict[str, Any]:
    lin = v.lineage or {}
    lf_module = lin.get("lf_module") or {}
    git = lin.get("git")
    return {
        "version": v.version,
        "run_id": v.run_id,
        "created_at": _seconds(v.created_at),
        "created_by": v.created_by,
        "status": v.status,
        # set when an erasure removed records this version learned from (newer stores only)
        "retrain_reason": getattr(v, "retrain_reason", None),
        "aliases": list(v.aliases),
        "artifact_sha256": v.artifact_sha256,
        "inputs": [
            {k: d.get(k) for k in ("role", "source", "rows", "sha256")}
            for d in lin.get("inputs") or []
            if isinstance(d, Mapping)
        ],
        "lf_module": {"path": lf_module.get("path"), "sha256": lf_module.get("sha256")},
        "lfs": len(lin.get("lfs") or []),
        "label_model": (lin.get("label_model") or {}).get("selected"),
        "end_model": (lin.get("end_model") or {}).get("type"),
        "seeds": lin.get("seeds") or {},
        "git": git if isinstance(git, Mapping) else None,
        "packages": dict(lin.get("packages") or {}),
        "weakflow": lin.get("weakflow"),
        "config": lin.get("config") or {},
        "card": bool(v.card_markdown),
        "metrics": {
            "accuracy": (v.metrics.get("end_model") or {}).get("accuracy"),
            "f1_macro": (v.metrics.get("end_model") or {}).get("f1_macro"),
            "ece": (v.metrics.get("end_model") or {}).get("ece"),
            "n": (v.metrics.get("end_model") or {}).get("n"),
        },
        "complete": bool(
            lin.get("inputs")
            and all(isinstance(d, Mapping) and d.get("sha256") for d in lin.get("inputs") or [])
            and lf_module.get("sha256")
            and lin.get("packages")
            and lin.get("config")
        ),
    }


def _gate_versions(versions: list[VersionInfo]) -> list[dict[str, Any]]:
    out = []
    for v in versions:
        gates = [g for g in v.gates if isinstance(g, Mapping)]
        out.append(
            {
                "version": v.version,
                "passed": v.gates_passed,
                "rules": len(gates),
                "failed": [str(g.get("rule")) for g in gates if not g.get("passed")],
                "gates": [
                    {k: g.get(k) for k in ("rule", "passed", "value", "threshold", "reason")}
                    for g in gates
                ],
            }
        )
    return out


def _alias_moves(s: Session, name: str) -> list[dict[str, Any]]:
    rows = s.scalars(
        select(AliasHistory).where(AliasHistory.model_name == name).order_by(AliasHistory.id)
    )
    return [
        {
            "id": h.id,
            "at": _iso(h.at),
            "alias": h.alias,
            "action": h.action,
            "from": h.from_version,
            "to": h.to_version,
            "actor": h.actor,
            "reason": h.reason,
        }
        for h in rows
    ]


# -- the audit log ---------------------------------------------------------------------------


def _entry(e: AuditEntry) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": _iso(e.at),
        "actor": e.actor,
        "action": e.action,
        "subject": e.subject,
        "details": e.details or {},
    }


def _of_model(name: str) -> Any:
    return or_(
        AuditEntry.subject == name,
        AuditEntry.subject.startswith(f"{name}/", autoescape=True),
        AuditEntry.subject.startswith(f"{name}@", autoescape=True),
    )


def _audit(
    s: Session, actions: Iterable[str], *, model: str | None = None, limit: int = LIMIT
) -> tuple[int, list[dict[str, Any]]]:
    """How many entries have one of ``actions`` (of ``model``), and the newest ``limit``."""
    where = [AuditEntry.action.in_(list(actions))]
    if model is not None:
        where.append(_of_model(model))
    total = s.scalar(select(func.count(AuditEntry.seq)).where(*where)) or 0
    rows = s.scalars(select(AuditEntry).where(*where).order_by(AuditEntry.seq.desc()).limit(limit))
    return int(total), [_entry(e) for e in rows]


def _audit_summary(registry: Registry, s: Session) -> dict[str, Any]:
    check = verify_audit(registry.db)
    by_action = dict(
        s.execute(
            select(AuditEntry.action, func.count(AuditEntry.seq)).group_by(AuditEntry.action)
        ).all()
    )
    actors = dict(
        s.execute(
            select(AuditEntry.actor, func.count(AuditEntry.seq)).group_by(AuditEntry.actor)
        ).all()
    )
    head = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).first()
    return {
        "ok": check.ok,
        "checked": check.checked,
        "first_bad": check.first_bad,
        "reason": check.reason,
        "entries": int(sum(by_action.values())),
        "head": None if head is None else {"seq": head.seq, "at": _iso(head.at), "hash": head.hash},
        "by_action": {str(k): int(v) for k, v in sorted(by_action.items())},
        "actors": {str(k): int(v) for k, v in sorted(actors.items(), key=lambda kv: -kv[1])},
    }


def _gate_decisions(s: Session, name: str) -> dict[str, Any]:
    total, rows = _audit(s, ["gate_decision"], model=name)
    decisions = []
    for e in rows:
        d = e["details"]
        gates = [g for g in d.get("gates") or [] if isinstance(g, Mapping)]
        decisions.append(
            {
                "seq": e["seq"],
                "at": e["at"],
                "actor": e["actor"],
                "subject": e["subject"],
                "alias": d.get("alias"),
                "passed": d.get("passed"),
                "failed": [str(g.get("rule")) for g in gates if not g.get("passed")],
                "rules": len(gates),
            }
        )
    passed = sum(
        1
        for details in s.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "gate_decision", _of_model(name))
        )
        if (details or {}).get("passed")
    )
    return {"total": total, "passed": passed, "failed": total - passed, "decisions": decisions}


def _loop(s: Session, name: str) -> dict[str, Any]:
    total, rows = _audit(s, ["loop_decision"], model=name)
    # JSON columns do not group portably (SQLite vs PostgreSQL): count the actions here
    by_action: Counter[str] = Counter()
    for details in s.scalars(
        select(AuditEntry.details).where(AuditEntry.action == "loop_decision", _of_model(name))
    ):
        by_action[str((details or {}).get("action", "unknown"))] += 1
    decisions = [
        {
            "seq": e["seq"],
            "at": e["at"],
            "actor": e["actor"],
            "action": e["details"].get("action"),
            "reason": e["details"].get("summary") or e["details"].get("reason") or "",
            "alerts": list(e["details"].get("alerts") or []),
            "window_n": e["details"].get("window_n"),
            "version": e["details"].get("version"),
            "run_id": e["details"].get("run_id"),
        }
        for e in rows
    ]
    return {"total": total, "by_action": dict(sorted(by_action.items())), "decisions": decisions}


def _erased_rows(details: Mapping[str, Any]) -> dict[str, Any]:
    """What an erasure removed: ``rows``, or the per-table counts the erasure records."""
    rows = dict(details.get("rows") or {}) if isinstance(details.get("rows"), Mapping) else {}
    for key in ("predictions", "feedback", "monitor_examples"):
        if isinstance(details.get(key), int):
            rows[key] = details[key]
    for role, n in (details.get("dataset_rows") or {}).items():
        rows[f"{role} data"] = n
    return rows


def _project_wide(s: Session, actions: list[str], name: str) -> tuple[int, list[dict[str, Any]]]:
    """Entries of ``actions`` about model ``name`` (subject ``model:<name>``) or the project."""
    where = [
        AuditEntry.action.in_(actions),
        or_(
            AuditEntry.subject == f"model:{name}",
            ~AuditEntry.subject.startswith("model:"),
            _of_model(name),
        ),
    ]
    total = s.scalar(select(func.count(AuditEntry.seq)).where(*where)) or 0
    rows = s.scalars(select(AuditEntry).where(*where).order_by(AuditEntry.seq.desc()).limit(LIMIT))
    return int(total), [_entry(e) for e in rows]


def _erasures(s: Session, name: str) -> dict[str, Any]:
    n_erase, erase = _project_wide(s, ["privacy_erase"], name)
    n_purge, purge = _project_wide(s, ["retention_purge"], name)
    return {
        "erasures": n_erase,
        "purges": n_purge,
        "privacy_erase": [
            {
                "seq": e["seq"],
                "at": e["at"],
                "actor": e["actor"],
                "subject_sha256": e["details"].get("subject_sha256"),
                "rows": _erased_rows(e["details"]),
                "versions_marked": list(e["details"].get("versions_marked") or []),
            }
            for e in erase
        ],
        "retention_purge": [
            {
                "seq": e["seq"],
                "at": e["at"],
                "actor": e["actor"],
                "days": e["details"].get("days"),
                "before": e["details"].get("before"),
                "rows": e["details"].get("rows"),
            }
            for e in purge
        ],
    }


def _quarantine(s: Session) -> dict[str, Any]:
    total, rows = _audit(s, ["feedback_quarantine", "feedback_release"])
    events = [
        {
            "seq": e["seq"],
            "at": e["at"],
            "actor": e["actor"],
            "action": "quarantine" if e["action"] == "feedback_quarantine" else "release",
            "source": e["details"].get("source"),
            "reason": e["details"].get("reason") or "",
            "details": {k: v for k, v in e["details"].items() if k not in ("source", "reason")},
        }
        for e in rows
    ]
    state: dict[str, bool] = {}
    for e in s.scalars(
        select(AuditEntry)
        .where(AuditEntry.action.in_(["feedback_quarantine", "feedback_release"]))
        .order_by(AuditEntry.seq)
    ):
        source = (e.details or {}).get("source")
        if source is not None:
            state[str(source)] = e.action == "feedback_quarantine"
    return {
        "total": total,
        "events": events,
        "quarantined": sorted(src for src, on in state.items() if on),
    }


# -- the serving log: predictions, feedback, monitor windows ---------------------------------


def _predictions(s: Session, name: str) -> dict[str, Any]:
    rows = s.execute(
        select(
            Prediction.model_version,
            Prediction.variant,
            func.count(Prediction.id),
            func.min(Prediction.created_at),
            func.max(Prediction.created_at),
        )
        .where(Prediction.model_name == name)
        .group_by(Prediction.model_version, Prediction.variant)
        .order_by(Prediction.model_version, Prediction.variant)
    ).all()
    groups = [
        {"version": int(v), "variant": str(var), "n": int(n), "first": _iso(a), "last": _iso(b)}
        for v, var, n, a, b in rows
    ]
    firsts = [g["first"] for g in groups if g["first"]]
    lasts = [g["last"] for g in groups if g["last"]]
    return {
        "total": sum(g["n"] for g in groups),
        "by_version": groups,
        "first": min(firsts) if firsts else None,
        "last": max(lasts) if lasts else None,
    }


def _feedback(s: Session, name: str) -> dict[str, Any]:
    day = func.date(Feedback.created_at)
    disagree = case((Feedback.label != Prediction.label, 1), else_=0)
    rows = s.execute(
        select(
            Feedback.source,
            Feedback.token_name,
            day,
            func.count(Feedback.id),
            func.sum(disagree),
        )
        .join(Prediction, Prediction.id == Feedback.prediction_id)
        .where(Prediction.model_name == name)
        .group_by(Feedback.source, Feedback.token_name, day)
    ).all()
    by_source: Counter[str] = Counter()
    overruled: Counter[str] = Counter()
    who: dict[str, Counter[str]] = defaultdict(Counter)
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    for source, token, when, n, dis in rows:
        src = str(source)
        by_source[src] += int(n)
        overruled[src] += int(dis or 0)
        if token:
            who[src][str(token)] += int(n)
        per_day[str(when)[:10]][src] += int(n)
    days = sorted(per_day)
    shown = days[-FEEDBACK_DAYS:]
    orphaned = s.scalar(
        select(func.count(Feedback.id))
        .select_from(Feedback)
        .outerjoin(Prediction, Prediction.id == Feedback.prediction_id)
        .where(Prediction.id.is_(None))
    )
    sources = sorted(by_source, key=lambda k: (-by_source[k], k))
    return {
        "total": sum(by_source.values()),
        "sources": sources,
        "by_source": {k: by_source[k] for k in sources},
        "overruled": {k: overruled[k] for k in sources},
        "reviewers": {k: dict(who[k].most_common()) for k in sources if who[k]},
        "by_day": [{"day": d, **{k: per_day[d][k] for k in sources}} for d in shown],
        "days_with_feedback": len(days),
        "days_shown": len(shown),
        "first_day": days[0] if days else None,
        "last_day": days[-1] if days else None,
        "without_prediction": int(orphaned or 0),
    }


def _alert(a: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": a.get("kind"),
        "target": a.get("target"),
        "statistic": a.get("statistic"),
        "value": a.get("value"),
        "threshold": a.get("threshold"),
        "message": a.get("message"),
        "examples": len(a.get("examples") or []),  # counted, never copied: they are inputs
    }


def _monitoring(s: Session, name: str) -> dict[str, Any]:
    total = s.scalar(select(func.count(MonitorWindow.id)).where(MonitorWindow.model_name == name))
    windows = list(
        s.scalars(
            select(MonitorWindow)
            .where(MonitorWindow.model_name == name)
            .order_by(MonitorWindow.id.desc())
            .limit(LIMIT)
        )
    )
    kinds: Counter[str] = Counter()
    with_alerts = 0
    for alerts in s.scalars(select(MonitorWindow.alerts).where(MonitorWindow.model_name == name)):
        if alerts:
            with_alerts += 1
            kinds.update(str(a.get("kind")) for a in alerts if isinstance(a, Mapping))
    rows = []
    # the loop decisions recorded since the oldest window shown: what answered each window
    since = min((w.created_at for w in windows), default=None)
    ordered: list[dict[str, Any]] = []
    if since is not None:
        for e in s.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "loop_decision", _of_model(name), AuditEntry.at >= since)
            .order_by(AuditEntry.seq)
        ):
            d = e.details or {}
            ordered.append(
                {
                    "seq": e.seq,
                    "at_exact": _iso(e.at, exact=True) or "",
                    "action": d.get("action"),
                    "reason": d.get("summary") or d.get("reason") or "",
                }
            )
    later = None  # the next (newer) window's time: responses to a window come before it
    for w in windows:
        at = _iso(w.created_at, exact=True)
        responses = [
            {"seq": d["seq"], "action": d["action"], "reason": d["reason"]}
            for d in ordered
            if at is not None and d["at_exact"] >= at and (later is None or d["at_exact"] < later)
        ]
        estimated = (w.result or {}).get("estimated") or {}
        realized = (w.result or {}).get("realized") or {}
        rows.append(
            {
                "id": w.id,
                "at": _iso(w.created_at),
                "version": w.model_version,
                "n": w.n,
                "window_start": _iso(w.window_start),
                "window_end": _iso(w.window_end),
                "bad_targets": list(w.bad_targets or []),
                "alerts": [_alert(a) for a in w.alerts or [] if isinstance(a, Mapping)],
                "estimated_accuracy": estimated.get("accuracy"),
                "realized_accuracy": realized.get("accuracy"),
                "realized_n": realized.get("n"),
                "responses": responses,
            }
        )
        later = at
    return {
        "windows": int(total or 0),
        "windows_with_alerts": with_alerts,
        "alert_kinds": dict(sorted(kinds.items())),
        "recent": rows,
    }


# -- run reports: data checks, robustness, privacy -------------------------------------------


def _report_path(project: Project, run_id: str | None, record: RunRecord | None) -> Path | None:
    if run_id is None:
        return None
    candidates = []
    if record is not None and record.report_path:
        candidates.append(Path(record.report_path).with_name("report.json"))
    candidates.append(project.runs_dir / run_id / "report.json")
    for path in candidates:
        if path.is_file():
            return path
    return None


def _rel(project: Project, path: Path) -> str:
    try:
        return path.resolve().relative_to(project.root).as_posix()
    except ValueError:
        return str(path)


def _check_status(c: Mapping[str, Any]) -> str:
    if c.get("skipped"):
        return "skipped"
    if c.get("passed"):
        return "passed"
    return "failed" if c.get("severity") == "error" else "warning"


def _flatten(value: Any, path: str, out: list[dict[str, Any]]) -> None:
    if len(out) > SECTION_ROWS:
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(v, f"{path}.{k}" if path else str(k), out)
    elif isinstance(value, list | tuple) and any(isinstance(v, Mapping | list) for v in value):
        for i, v in enumerate(value):
            _flatten(v, f"{path}[{i}]", out)
    elif isinstance(value, list | tuple):
        out.append({"path": path, "value": ", ".join(str(v) for v in value)})
    else:
        out.append({"path": path, "value": value})


def _measured(value: Any) -> bool:
    """A result section that holds results (the model card says ``measured: false`` otherwise)."""
    if value in (None, {}, []):
        return False
    return not (isinstance(value, Mapping) and value.get("measured") is False)


def _find(obj: Any, keys: frozenset[str], path: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    """``(path, value)`` of every entry named one of ``keys`` (results only, not config)."""
    found: list[tuple[str, Any]] = []
    if depth > 4 or not isinstance(obj, Mapping):
        return found
    for k, v in obj.items():
        key = str(k)
        here = f"{path}.{key}" if path else key
        if key in _NOT_RESULTS:
            continue
        if key in keys and _measured(v):
            found.append((here, v))
        else:
            found.extend(_find(v, keys, here, depth + 1))
    return found


def _section(sources: list[tuple[str, Any]], keys: frozenset[str]) -> dict[str, Any] | None:
    for label, obj in sources:
        hits = _find(obj, keys)
        if hits:
            rows: list[dict[str, Any]] = []
            for path, value in hits:
                _flatten(value, path, rows)
            more = max(0, len(rows) - SECTION_ROWS)
            return {"source": label, "rows": rows[:SECTION_ROWS], "more": more}
    return None


def _robustness_summary(card: Mapping[str, Any]) -> dict[str, Any]:
    """The model card's robustness section as a table of attacks (when it has that shape)."""
    rb = card.get("robustness")
    if not isinstance(rb, Mapping) or not rb.get("measured") or not rb.get("attacks"):
        return {}
    attacks = [
        {
            "name": a.get("name"),
            "description": a.get("description"),
            "end_model_accuracy": a.get("end_model_accuracy"),
            "accuracy_drop": a.get("accuracy_drop"),
            "flip_rate": a.get("flip_rate"),
            "label_model_accuracy": a.get("label_model_accuracy"),
            "lf_votes_lost": a.get("lf_votes_lost"),
        }
        for a in rb.get("attacks") or []
        if isinstance(a, Mapping)
    ]
    return {
        "attacks": attacks,
        "clean_end_model_accuracy": rb.get("clean_end_model_accuracy"),
        "test_rows": rb.get("rows"),
        "skipped": dict(rb.get("skipped") or {}),
    }


def _membership_summary(card: Mapping[str, Any]) -> dict[str, Any]:
    """The model card's membership-inference result (when it has that shape)."""
    pv = card.get("privacy")
    if not isinstance(pv, Mapping) or not pv.get("measured") or "auc" not in pv:
        return {}
    keys = ("auc", "auc_se", "advantage", "risk", "members", "non_members")
    return {"membership": {k: pv.get(k) for k in keys}}


def _runs(
    project: Project, s: Session, versions: list[VersionInfo], focus: int | None
) -> dict[str, Any]:
    ids = [v.run_id for v in versions if v.run_id]
    records = {r.run_id: r for r in s.scalars(select(RunRecord).where(RunRecord.run_id.in_(ids)))}
    checks: dict[str, dict[str, Any]] = {}
    per_version: list[dict[str, Any]] = []
    robustness: dict[str, Any] | None = None
    privacy: dict[str, Any] | None = None
    robust_versions: list[int] = []
    privacy_versions: list[int] = []
    for v in versions:
        path = _report_path(project, v.run_id, records.get(v.run_id or ""))
        report: dict[str, Any] = {}
        if path is not None:
            try:
                report = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                report = {}
        html = path.with_name("report.html") if path is not None else None
        entry: dict[str, Any] = {
            "version": v.version,
            "run_id": v.run_id,
            "report_json": _rel(project, path) if path is not None and report else None,
            "report_html": _rel(project, html) if html is not None and html.is_file() else None,
            "datasheet": _rel(project, path.with_name("datasheet.md"))
            if path is not None and path.with_name("datasheet.md").is_file()
            else None,
            "checks": 0,
            "failed": 0,
            "warnings": 0,
            "pii": None,
        }
        data = report.get("data") or {}
        for c in data.get("checks") or []:
            if not isinstance(c, Mapping) or "name" not in c:
                continue
            status = _check_status(c)
            row = checks.setdefault(
                str(c["name"]),
                {"name": str(c["name"]), "severity": c.get("severity"), "by_version": {}},
            )
            row["by_version"][str(v.version)] = status
            row["message"] = _summary(str(c.get("message") or ""))
            entry["checks"] += 1
            entry["failed"] += status == "failed"
            entry["warnings"] += status == "warning"
        if data.get("pii") is not None:
            entry["pii"] = {
                str(k): {
                    "rows_affected": (f or {}).get("rows_affected"),
                    "entities": {
                        str(e): n for e, n in ((f or {}).get("counts") or {}).items() if n
                    },
                }
                for k, f in (data.get("pii") or {}).items()
            }
        per_version.append(entry)
        sources = [
            (f"model card of v{v.version}", v.card),
            (f"runs/{v.run_id}/report.json", report),
            (f"registered metrics of v{v.version}", v.metrics),
        ]
        rob, priv = _section(sources, _ROBUSTNESS_KEYS), _section(sources, _PRIVACY_KEYS)
        if rob is not None:
            robust_versions.append(v.version)
        if priv is not None:
            privacy_versions.append(v.version)
        if v.version == focus:
            card = v.card or {}
            if rob is not None:
                robustness = {"version": v.version, **rob, **_robustness_summary(card)}
            if priv is not None:
                privacy = {"version": v.version, **priv, **_membership_summary(card)}
    return {
        "data_checks": {
            "versions": [v.version for v in versions],
            "checks": list(checks.values()),
            "per_version": per_version,
            "missing_reports": [e["version"] for e in per_version if e["report_json"] is None],
        },
        "robustness": {"focus": robustness, "versions": robust_versions},
        "privacy_tests": {"focus": privacy, "versions": privacy_versions},
    }


# -- the model card --------------------------------------------------------------------------


def _card(v: VersionInfo) -> dict[str, Any]:
    card = v.card or {}
    use = card.get("intended_use") or {}
    ethics = card.get("ethical_considerations") or {}
    return {
        "version": v.version,
        "format": card.get("format"),
        "intended_use": use.get("description"),
        "intended_use_provided": bool(use.get("provided")),
        "out_of_scope": list(use.get("out_of_scope") or []),
        "limitations": [str(x) for x in card.get("limitations") or []],
        "ethical_notes": [str(x) for x in ethics.get("notes") or []],
        "pii": ethics.get("pii") or {},
        "slices": len((card.get("slices") or {}).get("rows") or []),
        "accuracy_margin_95": (card.get("metrics") or {}).get("accuracy_margin_95"),
        "calibration": {
            k: (card.get("calibration") or {}).get(k)
            for k in ("method", "kept", "ece_before", "ece_after")
        },
        "markdown": v.card_markdown,
    }


# -- everything ------------------------------------------------------------------------------


def collect_evidence(
    project: Project, *, model: str | None = None, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Every record the governance report shows, as plain JSON-ready values.

    Raises
    ------
    ModelNotFoundError
        The project has no store, nothing is registered, or ``model`` is not registered (the
        message says to run ``weakflow run`` first, or lists the registered models).
    """
    registry = open_project_store(project)
    try:
        name = _model_name(registry, project, model)
        registered = registry.models()
        versions = registry.versions(name)
        if not versions:
            raise ModelNotFoundError(f"Model {name!r} has no version yet. {_NO_RUN_HINT}")
        serve_alias = project.config.serve.alias
        serving = registry.alias_version(name, serve_alias)
        focus = serving if serving is not None else versions[-1].version
        focus_info = next(v for v in versions if v.version == focus)
        aliases = {a: v.version for v in versions for a in v.aliases}
        with registry.db.transaction() as s:
            audit = _audit_summary(registry, s)
            loop = _loop(s, name)
            evidence: dict[str, Any] = {
                "alias_history": _alias_moves(s, name),
                "gate_decisions": _gate_decisions(s, name),
                "loop": loop,
                "erasures": _erasures(s, name),
                "quarantine": _quarantine(s),
                "predictions": _predictions(s, name),
                "feedback": _feedback(s, name),
                "monitoring": _monitoring(s, name),
                **_runs(project, s, versions, focus),
            }
        evidence["audit"] = audit
    finally:
        registry.db.close()
    moves = evidence["alias_history"]
    evidence["alias_counts"] = dict(sorted(Counter(m["action"] for m in moves).items()))
    cfg = project.config
    return {
        "format": FORMAT,
        "generated_at": _iso(now or dt.datetime.now(dt.UTC)),
        "weakflow": weakflow.__version__,
        "project": {
            "name": cfg.project.name,
            "root": str(project.root),
            "store": _redacted_url(store_url(project.state_dir, cfg.store.url)),
            "intended_use": cfg.project.intended_use,
            "gate_rules": list(cfg.gates.rules),
            "gate_alias": cfg.gates.alias,
            "serve_alias": serve_alias,
            "feedback_to_dev": cfg.data.feedback_to_dev,
            "redact_pii_training": cfg.data.redact_pii,
            "redact_pii_serving": cfg.serve.redact_pii,
            "log_predictions": cfg.serve.log_predictions,
            "monitor_consecutive": cfg.monitor.consecutive,
        },
        "model": {
            "name": name,
            "registered_models": registered,
            "versions": len(versions),
            "archived": sum(1 for v in versions if v.status == "archived"),
            "aliases": dict(sorted(aliases.items())),
            "serving_alias": serve_alias,
            "serving_version": serving,
            "focus_version": focus,
            "latest_version": versions[-1].version,
        },
        "lineage": [_lineage(v) for v in versions],
        "gates": {
            "rules": list(cfg.gates.rules),
            "versions": _gate_versions(versions),
            **evidence.pop("gate_decisions"),
        },
        "model_card": _card(focus_info),
        **evidence,
    }
