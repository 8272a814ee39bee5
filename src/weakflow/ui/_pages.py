"""Each page's content as a template context (blocking: called from FastAPI's thread pool).

The numbers come from :mod:`weakflow.ui._data`; the run report's plots are drawn by
:mod:`weakflow.evaluate._plots` and the time charts by :mod:`weakflow.ui._charts` (SVG, plus
their data as JSON for the interactive uPlot version). A page without data gets an ``empty``
message that says what to run to fill it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup
from sqlalchemy import select

from weakflow.errors import ModelNotFoundError
from weakflow.evaluate._report import _get, _reliability_curves
from weakflow.registry import VersionInfo
from weakflow.registry._gates import END_MODEL_METRICS
from weakflow.store._schema import Feedback, Prediction
from weakflow.ui._auth import UIError
from weakflow.ui._charts import Series, time_chart
from weakflow.ui._context import UIContext
from weakflow.ui._data import (
    accuracy_series,
    conflict_examples,
    feedback_counts,
    label_counts,
    lf_names,
    monitor_windows,
    named_votes,
    production_calibration,
    run_report,
    serving_version,
    traffic,
    versions,
)
from weakflow.ui._review import REASONS, REVIEW_SOURCE, review_queue

__all__ = ["labeling", "model_detail", "models", "monitoring", "overview", "review"]

#: Aliases always offered in the promote form (beside the serving one and those in use).
COMMON_ALIASES = ("staging", "canary")


def _cmd(ctx: UIContext, command: str) -> str:
    return f"{command} --project {ctx.project.root}"


def _no_model(ctx: UIContext) -> str:
    return (
        f"Nothing is registered as {ctx.name!r} yet. Train and register a first version with "
        f"`{_cmd(ctx, 'weakflow run')}`."
    )


def _no_traffic(ctx: UIContext) -> str:
    return (
        "No prediction has been logged yet. Start the server (`"
        + _cmd(ctx, "weakflow serve")
        + "`) and send requests to /v1/models/"
        + ctx.name
        + "/predict; each one is logged here."
    )


# -- overview --------------------------------------------------------------------------------------
def overview(ctx: UIContext) -> dict[str, Any]:
    serving = serving_version(ctx)
    all_versions = versions(ctx)
    flow = traffic(ctx)
    windows = monitor_windows(ctx)
    accuracy = accuracy_series(ctx, windows)
    latest = windows[-1] if windows else None
    charts: dict[str, Markup] = {}
    if flow["hourly"]:
        charts["traffic"] = time_chart(
            [
                Series(
                    "predictions per hour",
                    [t for t, _ in flow["hourly"]],
                    [float(n) for _, n in flow["hourly"]],
                )
            ],
            key="chart-traffic",
            title=f"Predictions per hour, last {flow['days']} days",
            ylabel="predictions",
            bars=True,
        )
    series = []
    if accuracy["estimated"]:
        est = accuracy["estimated"]
        series.append(
            Series(
                "estimated without labels (per monitor window)",
                [e["at"] for e in est],
                [e["accuracy"] for e in est],
                [e["interval"]["accuracy"][0] for e in est],
                [e["interval"]["accuracy"][1] for e in est],
            )
        )
    if accuracy["realized"]:
        real = accuracy["realized"]
        unit = "hour" if accuracy["freq"] == "1h" else "day"
        series.append(
            Series(
                f"realized on feedback labels (per {unit})",
                [r["at"] for r in real],
                [r["accuracy"] for r in real],
                [r["interval"][0] for r in real],
                [r["interval"][1] for r in real],
            )
        )
    test_acc = _get(serving.metrics if serving else None, "end_model", "accuracy")
    if series:
        charts["accuracy"] = time_chart(
            series,
            key="chart-accuracy",
            title="Accuracy over time",
            ylabel="accuracy",
            reference=(float(test_acc), f"test accuracy of v{serving.version}")
            if serving is not None and isinstance(test_acc, int | float)
            else None,
        )
    return {
        "serving": serving,
        "versions": all_versions,
        "traffic": flow,
        "feedback": feedback_counts(ctx),
        "accuracy": accuracy,
        "latest_window": latest,
        "alerts": latest["alerts"] if latest else [],
        "charts": charts,
        "test_accuracy": test_acc,
        "empty": {
            "model": _no_model(ctx) if not all_versions else None,
            "serving": None
            if serving is not None or not all_versions
            else f"No version is on the {ctx.alias!r} alias: promote one on the Models page.",
            "traffic": _no_traffic(ctx) if not flow["total"] else None,
            "monitor": None
            if windows
            else "No monitor window yet: run `"
            + _cmd(ctx, "weakflow monitor run")
            + "` (or `weakflow monitor watch`) once predictions are logged.",
        },
    }


# -- labeling --------------------------------------------------------------------------------------
def _described(ctx: UIContext) -> VersionInfo | None:
    """The serving version, else the newest one."""
    serving = serving_version(ctx)
    if serving is not None:
        return serving
    found = versions(ctx)
    return found[-1] if found else None


def labeling(ctx: UIContext) -> dict[str, Any]:
    from weakflow.evaluate._plots import lf_summary_svg, votes_svg

    info = _described(ctx)
    report = run_report(ctx, info)
    lab = _get(report, "labeling") or {}
    card_sources = _get(info.card if info else None, "weak_sources") or {}
    lf_rows = lab.get("lf_summary") or card_sources.get("lfs") or []
    totals = lab.get("totals") or card_sources.get("totals") or {}
    names = ctx.label_names
    k = len(names)
    served = label_counts(ctx)
    served_total = sum(served.values())
    balance = _get(report, "label_model", "class_balance")
    train = lab.get("train_label_distribution") or {}
    distribution = [
        {
            "name": n,
            "train": train.get(n),
            "prior": balance[i] if isinstance(balance, list) and len(balance) == k else None,
            "served": served.get(i, 0) / served_total if served_total else None,
            "served_n": served.get(i, 0),
        }
        for i, n in enumerate(names)
    ]
    charts: dict[str, Markup] = {}
    if lf_rows:
        charts["lf_summary"] = lf_summary_svg(lf_rows)
    if lab.get("votes_per_row"):
        charts["votes"] = votes_svg(lab["votes_per_row"])
    return {
        "info": info,
        "report_found": report is not None,
        "lf_rows": lf_rows,
        "totals": totals,
        "distribution": distribution,
        "served_total": served_total,
        "conflicts": conflict_examples(ctx, scan=ctx.settings.review_scan),
        "text_column": ctx.project.config.data.text_column,
        "charts": charts,
        "empty": _no_model(ctx) if info is None else None,
        "no_traffic": _no_traffic(ctx),
    }


# -- models ----------------------------------------------------------------------------------------
def _histories(ctx: UIContext, found: Sequence[VersionInfo]) -> dict[str, list[Any]]:
    aliases = sorted({a for v in found for a in v.aliases} | {ctx.alias})
    if not found:
        return {}
    return {a: ctx.registry.history(ctx.name, a)[::-1] for a in aliases}


def _alias_choices(ctx: UIContext, found: Sequence[VersionInfo]) -> list[str]:
    chosen = [ctx.alias, ctx.project.config.gates.alias, *COMMON_ALIASES]
    chosen += sorted({a for v in found for a in v.aliases})
    return list(dict.fromkeys(chosen))


def models(ctx: UIContext) -> dict[str, Any]:
    found = versions(ctx)
    histories = _histories(ctx, found)
    return {
        "versions": found[::-1],
        "serving": serving_version(ctx),
        "histories": histories,
        "rollback_aliases": [a for a in histories if any(a in v.aliases for v in found)],
        "empty": _no_model(ctx) if not found else None,
    }


def model_detail(ctx: UIContext, version: int) -> dict[str, Any]:
    from markdown_it import MarkdownIt

    try:
        info = ctx.registry.get(ctx.name, version)
    except ModelNotFoundError as exc:
        raise UIError(404, str(exc), field="version") from None
    found = versions(ctx)
    serving = serving_version(ctx)
    md = MarkdownIt("js-default")  # raw HTML in the card is shown as text, never rendered
    tokens = md.parse(info.card_markdown or "")
    for token in tokens:  # the page has its own h1: the card's headings go one level down
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
    end = info.metrics.get("end_model", {})
    live = serving.metrics.get("end_model", {}) if serving else {}
    metrics = [
        {
            "key": k,
            "value": end.get(k),
            "label_model": info.metrics.get("label_model", {}).get(k),
            "serving": live.get(k),
        }
        for k in END_MODEL_METRICS
        if end.get(k) is not None or info.metrics.get("label_model", {}).get(k) is not None
    ]
    return {
        "info": info,
        "serving": serving,
        "metrics": metrics,
        "lineage": info.lineage,
        "card_html": Markup(md.renderer.render(tokens, md.options, {})),
        "histories": _histories(ctx, found),
        "alias_choices": _alias_choices(ctx, found),
    }


# -- monitoring ------------------------------------------------------------------------------------
#: Most LFs drawn in one drift chart (the table lists them all).
MAX_LF_LINES = 6
_LF_TITLES = {
    "coverage": "LF coverage per window",
    "conflict": "LF conflicts per window",
    "agreement_with_model": "LF agreement with the model per window",
}


def _points(pts: Sequence[tuple[Any, float]]) -> tuple[list[Any], list[float]]:
    return [t for t, _ in pts], [v for _, v in pts]


def _lf_table(latest: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The latest window's LF drift, one row per LF: {lf, metrics: {metric: entry}, moved}."""
    rows: dict[str, dict[str, Any]] = {}
    for entry in _get(latest, "result", "drift", "lfs") or []:
        row = rows.setdefault(str(entry.get("lf")), {"lf": str(entry.get("lf")), "metrics": {}})
        row["metrics"][str(entry.get("metric"))] = entry
    for row in rows.values():
        changes = [
            abs(float(e["current"]) - float(e["reference"]))
            for e in row["metrics"].values()
            if isinstance(e.get("current"), int | float)
            and isinstance(e.get("reference"), int | float)
        ]
        row["moved"] = max(changes, default=0.0)
        row["drifted"] = [m for m, e in row["metrics"].items() if e.get("drifted")]
    return sorted(rows.values(), key=lambda r: (-len(r["drifted"]), -r["moved"]))


def monitoring(ctx: UIContext) -> dict[str, Any]:
    from weakflow.evaluate._plots import reliability_svg, slices_svg

    windows = monitor_windows(ctx)
    latest = windows[-1] if windows else None
    charts: dict[str, Markup] = {}
    features: dict[str, list[tuple[Any, float]]] = {}
    thresholds: set[float] = set()
    lf_metrics: dict[str, dict[str, list[tuple[Any, float]]]] = {}
    text_auc: list[tuple[Any, float]] = []
    for w in windows:
        drift = w["result"].get("drift") or {}
        for entry in drift.get("features") or []:
            if isinstance(entry.get("effect"), int | float):
                features.setdefault(str(entry.get("column")), []).append((w["at"], entry["effect"]))
                thresholds.add(float(entry.get("threshold") or 0.0))
        for entry in drift.get("lfs") or []:
            metric, lf = str(entry.get("metric")), str(entry.get("lf"))
            if isinstance(entry.get("current"), int | float):
                per_lf = lf_metrics.setdefault(metric, {})
                per_lf.setdefault(lf, []).append((w["at"], entry["current"]))
        auc = _get(drift, "text", "auc")
        if isinstance(auc, int | float):
            text_auc.append((w["at"], float(auc)))
    if features:
        common = next(iter(thresholds)) if len(thresholds) == 1 else 0.0
        charts["features"] = time_chart(
            [Series(c, *_points(pts)) for c, pts in features.items()],
            key="chart-feature-drift",
            title="Feature drift per window (effect size)",
            ylabel="effect size",
            reference=(common, "drift threshold") if common > 0 else None,
        )
    if text_auc:
        threshold = _get(latest, "result", "drift", "text", "threshold")
        charts["text"] = time_chart(
            [Series("domain classifier AUC", *_points(text_auc))],
            key="chart-text-drift",
            title="Text drift per window",
            ylabel="AUC",
            reference=(float(threshold), "drift threshold")
            if isinstance(threshold, int | float)
            else None,
        )
    lf_rows = _lf_table(latest)
    shown = [r["lf"] for r in lf_rows[:MAX_LF_LINES]]
    for metric, per_lf in lf_metrics.items():
        picked = [lf for lf in shown if lf in per_lf] or list(per_lf)[:MAX_LF_LINES]
        charts[f"lf-{metric}"] = time_chart(
            [Series(lf, *_points(per_lf[lf])) for lf in picked],
            key=f"chart-lf-{metric.replace('_', '-')}",
            title=_LF_TITLES.get(metric, metric),
            ylabel=metric.replace("_", " "),
        )
    info = _described(ctx)
    report = run_report(ctx, info)
    curves = list(_reliability_curves(report)) if report else []
    live = production_calibration(ctx)
    if live is not None:
        curves.append((f"production, on {live['n']} feedback labels", live))
    if curves:
        charts["reliability"] = reliability_svg(curves)
    slice_rows = _get(report, "end_model", "slices") or _get(
        info.card if info else None, "slices", "rows"
    )
    if slice_rows:
        charts["slices"] = slices_svg(slice_rows)
    return {
        "windows": windows,
        "latest": latest,
        "charts": charts,
        "info": info,
        "slices": slice_rows or [],
        "live_calibration": live,
        "lf_rows": lf_rows,
        "lf_lines": min(len(lf_rows), MAX_LF_LINES),
        "empty": _no_model(ctx)
        if info is None
        else None
        if windows
        else "No monitor window yet: once predictions are logged, run `"
        + _cmd(ctx, "weakflow monitor run")
        + "` (or `weakflow monitor watch`) to compare them with the training data.",
    }


# -- review ----------------------------------------------------------------------------------------
def recent_reviews(ctx: UIContext, limit: int = 8) -> list[dict[str, Any]]:
    with ctx.db.transaction() as s:
        rows = s.execute(
            select(Feedback.prediction_id, Feedback.label, Feedback.token_name, Feedback.created_at)
            .join(Prediction, Prediction.id == Feedback.prediction_id)
            .where(Prediction.model_name == ctx.name, Feedback.source == REVIEW_SOURCE)
            .order_by(Feedback.id.desc())
            .limit(limit)
        ).all()
    return [{"id": p, "label": int(lab), "by": who, "at": at} for p, lab, who, at in rows]


def review(ctx: UIContext, position: int) -> dict[str, Any]:
    queue = review_queue(ctx.db, ctx.name, scan=ctx.settings.review_scan)
    position = min(max(position, 0), max(len(queue) - 1, 0))
    item = queue[position] if queue else None
    votes = None
    if item is not None and item.lf_votes is not None:
        votes = named_votes(item.lf_votes, lf_names(ctx, item.model_version))
    text_column = ctx.project.config.data.text_column
    return {
        "queue_size": len(queue),
        "position": position,
        "item": item,
        "votes": votes,
        "reasons": REASONS,
        "text": item.inputs.get(text_column) if item is not None and text_column else None,
        "text_column": text_column,
        "recent": recent_reviews(ctx),
        "empty": None
        if item is not None
        else _no_traffic(ctx)
        if not traffic(ctx)["total"]
        else f"Nothing to review: none of the newest {ctx.settings.review_scan:,} predictions "
        "is uncertain, contested by the LFs or unlabeled. Come back when more traffic is logged.",
    }
