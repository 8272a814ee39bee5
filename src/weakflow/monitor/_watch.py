"""``weakflow monitor watch``: the closed loop, one decision at a time, every decision audited.

Each tick:

1. **Monitor** the latest window (``run_monitor``): drift, LF-vote drift, estimated accuracy.
2. **Roll back** when the version promoted within ``[loop] watch`` does worse than the one it
   replaced: its realized accuracy on feedback (when ``min_feedback`` labels arrived; Wilson
   interval entirely below the previous version's accuracy minus ``rollback_drop``), else its
   estimated accuracy (interval below the same bound). Rolling back ends the tick.
3. **Decide on a running canary**: once each side has ``canary_min_feedback`` labels, an A/B
   test on realized accuracy promotes the candidate unless it is worse, or ends the canary when
   it is.
4. **Retrain on a trigger** (a drift or accuracy alert, enough new feedback, the model's age):
   the pipeline re-runs with feedback labels in the dev set, the gates decide, and a passing
   version goes to the ``canary`` alias (or straight to production without canaries).
5. **Retention**: with ``[privacy] retention_days``, delete older logged predictions.

Every decision, including "no action", is appended to the audit log with its evidence, under
the actor ``weakflow-loop``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from weakflow.monitor._online import ab_verdict, labeled_predictions, wilson
from weakflow.monitor._retention import enforce_retention
from weakflow.monitor._run import parse_window, run_monitor
from weakflow.pipeline import Project, run_project
from weakflow.registry import Registry, open_registry
from weakflow.store._schema import Feedback, Prediction

__all__ = ["LOOP_ACTOR", "watch_once"]

LOOP_ACTOR = "weakflow-loop"
_DRIFT_KINDS = {"feature_drift", "text_drift", "prediction_drift", "lf_drift"}


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


def _parse_time(text: str | None) -> dt.datetime | None:
    return None if text is None else _aware(dt.datetime.fromisoformat(text))


def _canary_alias(project: Project) -> str:
    """The alias a retrained version goes to first: the one ``weakflow serve`` follows."""
    return project.config.serve.canary_alias or "canary"


def _accuracy(frame: Any) -> tuple[int, int]:
    return int((frame["label"] == frame["gold"]).sum()), len(frame)


def _check_regression(
    project: Project, registry: Registry, monitored: dict[str, Any], now: dt.datetime
) -> dict[str, Any] | None:
    cfg = project.config
    name, alias = cfg.project.name, cfg.serve.alias
    history = registry.history(name, alias)
    if not history:
        return None
    move = history[-1]
    at = _parse_time(move.at)
    if (
        move.action in ("rollback", "remove")
        or move.from_version is None
        or move.to_version is None
        or at is None
        or now - at > parse_window(cfg.loop.watch)
    ):
        return None
    previous = registry.get(name, move.from_version)
    before = labeled_predictions(registry.db, name)
    prev_rows = before[(before["version"] == move.from_version)]
    prev_correct, prev_n = _accuracy(prev_rows)
    if prev_n >= cfg.loop.min_feedback:
        baseline, basis = prev_correct / prev_n, f"realized on {prev_n} labels"
    else:
        baseline = float(previous.metrics.get("end_model", {}).get("accuracy", float("nan")))
        basis = "test set"
    bound = baseline - cfg.loop.rollback_drop
    since = labeled_predictions(registry.db, name, since=at)
    cur_rows = since[(since["version"] == move.to_version) & (since["variant"] == "primary")]
    correct, n = _accuracy(cur_rows)
    evidence: dict[str, Any] = {
        "promoted": {"from": move.from_version, "to": move.to_version, "at": move.at},
        "baseline_accuracy": baseline,
        "baseline_basis": basis,
        "bound": bound,
    }
    if n >= cfg.loop.min_feedback:
        low, high = wilson(correct, n)
        evidence.update(realized={"n": n, "accuracy": correct / n, "interval": [low, high]})
        regressed = high < bound
        what = f"realized accuracy {correct / n:.3f} (95% CI {low:.3f}-{high:.3f}, n={n})"
    else:
        est = monitored.get("estimated") or {}
        if not est:
            return None
        low, high = est["interval"]["accuracy"]
        evidence.update(estimated={"accuracy": est["accuracy"], "interval": [low, high]})
        regressed = high < bound
        what = f"estimated accuracy {est['accuracy']:.3f} (95% interval {low:.3f}-{high:.3f})"
    if not regressed:
        return None
    reason = (
        f"automatic rollback: v{move.to_version} {what} is below v{move.from_version}'s "
        f"{baseline:.3f} ({basis}) - {cfg.loop.rollback_drop} within {cfg.loop.watch} of its "
        "promotion"
    )
    back = registry.rollback(name, alias, actor=LOOP_ACTOR, reason=reason)
    return {"action": "rollback", "from": back.from_version, "to": back.to_version,
            "reason": reason, "evidence": evidence}  # fmt: skip


def _check_canary(project: Project, registry: Registry) -> dict[str, Any] | None:
    cfg = project.config
    name = cfg.project.name
    canary_alias = _canary_alias(project)
    version = registry.alias_version(name, canary_alias)
    if version is None:
        return None
    moves = [m for m in registry.history(name, canary_alias) if m.to_version == version]
    started = _parse_time(moves[-1].at) if moves else None
    frame = labeled_predictions(registry.db, name, since=started)
    cand = frame[(frame["variant"] == "canary") & (frame["version"] == version)]
    prim = frame[frame["variant"] == "primary"]
    (c_ok, c_n), (p_ok, p_n) = _accuracy(cand), _accuracy(prim)
    need = cfg.loop.canary_min_feedback
    if min(c_n, p_n) < need:
        return {"action": "wait", "reason": f"canary v{version}: {c_n} candidate and {p_n} "
                f"primary labels so far, {need} needed on each side"}  # fmt: skip
    verdict = ab_verdict(p_ok, p_n, c_ok, c_n)
    evidence = {"canary_version": version, "ab": verdict.to_dict()}
    if verdict.verdict == "worse":
        reason = (
            f"canary v{version} ended: realized accuracy {verdict.candidate_accuracy:.3f} vs "
            f"{verdict.primary_accuracy:.3f} (difference CI {verdict.interval[0]:+.3f}.."
            f"{verdict.interval[1]:+.3f})"
        )
        registry.remove_alias(name, canary_alias, actor=LOOP_ACTOR, reason=reason)
        return {"action": "reject_canary", "reason": reason, "evidence": evidence}
    reason = (
        f"canary v{version} promoted: realized accuracy {verdict.candidate_accuracy:.3f} vs "
        f"{verdict.primary_accuracy:.3f} ({verdict.verdict}; P(better) {verdict.p_better:.2f})"
    )
    registry.promote(name, version, cfg.serve.alias, actor=LOOP_ACTOR, reason=reason)
    registry.remove_alias(name, canary_alias, actor=LOOP_ACTOR, reason="promoted to production")
    return {"action": "promote_canary", "version": version, "reason": reason, "evidence": evidence}


def _triggers(
    project: Project, registry: Registry, monitored: dict[str, Any], now: dt.datetime
) -> list[str]:
    cfg, loop = project.config, project.config.loop
    name = cfg.project.name
    info = registry.resolve(name, cfg.serve.alias)
    born = _parse_time(info.created_at) or now
    reasons = []
    kinds = {a["kind"] for a in monitored.get("alerts", [])}
    if loop.on_drift and kinds & _DRIFT_KINDS:
        reasons.append(f"drift alert ({', '.join(sorted(kinds & _DRIFT_KINDS))})")
    if loop.on_accuracy and "performance" in kinds:
        reasons.append("estimated accuracy below its floor")
    if loop.feedback_count is not None:
        with registry.db.transaction() as s:
            count = s.scalar(
                select(func.count(Feedback.id))
                .join(Prediction, Prediction.id == Feedback.prediction_id)
                .where(Prediction.model_name == name, Feedback.created_at >= born)
            )
        if int(count or 0) >= loop.feedback_count:
            reasons.append(f"{count} new feedback labels (>= {loop.feedback_count})")
    if loop.max_age and now - born >= parse_window(loop.max_age):
        reasons.append(f"v{info.version} is older than {loop.max_age}")
    return reasons


def watch_once(
    project: Project | str | Path, *, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """One tick of the loop (see the module docstring); returns the decisions taken."""
    if not isinstance(project, Project):
        project = Project.load(project)
    now = now or dt.datetime.now(dt.UTC)
    monitored = run_monitor(project, now=now)
    registry = open_registry(project.state_dir, project.config.store.url)
    name = project.config.project.name
    decisions: list[dict[str, Any]] = []
    try:
        rollback = _check_regression(project, registry, monitored, now)
        if rollback:
            decisions.append(rollback)
        else:
            canary = _check_canary(project, registry)
            if canary:
                decisions.append(canary)
            acted = canary is not None and canary["action"] != "wait"  # one change per tick
            running = registry.alias_version(name, _canary_alias(project)) is not None
            reasons = _triggers(project, registry, monitored, now)
            if reasons and not running and not acted:
                decisions.append(_retrain(project, reasons))
            elif reasons and not acted:
                why = "; ".join(reasons)
                decisions.append(
                    {"action": "wait", "reason": f"retrain triggered ({why}); a canary is running"}
                )
        if not decisions:
            decisions.append({"action": "none", "reason": "no alert, no trigger, no regression"})
        purged = enforce_retention(project, registry, actor=LOOP_ACTOR, now=now)
        if purged and purged["rows"]:
            why = f"deleted {purged['rows']} predictions older than {purged['days']} days"
            decisions.append({"action": "retention_purge", "reason": why, **purged})
        for d in decisions:
            registry.audit(
                "loop_decision", f"{name}", {**d, "window_n": monitored.get("n"),
                "alerts": [a["kind"] + ":" + a["target"] for a in monitored.get("alerts", [])]},
                actor=LOOP_ACTOR,
            )  # fmt: skip
    finally:
        registry.db.close()
    return decisions


def _retrain(project: Project, reasons: list[str]) -> dict[str, Any]:
    loop = project.config.loop
    alias = _canary_alias(project) if loop.canary else project.config.serve.alias
    result = run_project(project, alias=alias, actor=LOOP_ACTOR)
    model = result.summary()["model"]
    verdict = f"-> {alias}" if model["promoted"] else "rejected by the gates"
    return {
        "action": "retrain",
        "reason": "; ".join(reasons),
        "run_id": result.run_id,
        "version": model["version"],
        "alias": alias,
        "promoted": model["promoted"],
        "gates": [{"rule": g["rule"], "passed": g["passed"]} for g in model["gates"]],
        "summary": f"retrained v{model['version']} {verdict}",
    }
