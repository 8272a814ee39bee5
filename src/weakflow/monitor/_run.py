"""``weakflow monitor run``: one window of logged predictions against the serving version.

The reference is what the serving version was trained on (the project's train pool by default,
or its test set), scored now by that version and labeled by the LFs it was trained with, so the
reference and the window differ only in their data. Each signal that crosses its threshold
makes the window *bad* for that target (a column, an LF metric, the text, the estimated
accuracy); an *alert* is raised only when the same target was bad in the last
``[monitor] consecutive`` windows, and every alert says what moved, by how much, with example
rows. Windows are stored, so the history (and the K-window rule) survives restarts.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from weakflow.data import encode_labels, read_table, redact_pii
from weakflow.errors import ConfigError, WeakflowError
from weakflow.monitor._drift import ColumnDrift, feature_drift
from weakflow.monitor._estimate import (
    MIN_REFERENCE_ROWS,
    LabelFreeEstimator,
    estimate_performance,
    headline_estimate,
)
from weakflow.monitor._online import wilson
from weakflow.monitor._signals import lf_vote_drift, prediction_drift, text_drift
from weakflow.pipeline import Project
from weakflow.registry import Registry, VersionInfo, open_registry
from weakflow.serve._lfs import LFSet, load_lfs
from weakflow.store import Database
from weakflow.store._schema import Feedback, MonitorWindow, Prediction

__all__ = ["load_window", "parse_window", "run_monitor", "text_stats"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_window(text: str) -> dt.timedelta:
    """``"90s"``, ``"30m"``, ``"1h"``, ``"7d"``, ``"2w"`` as a timedelta.

    >>> parse_window("1h")
    datetime.timedelta(seconds=3600)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text or "")
    if not match:
        raise ConfigError(
            f"Window {text!r} is not a duration: use a number and a unit, e.g. 30m, 1h, 7d."
        )
    return dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def text_stats(texts: pd.Series) -> pd.DataFrame:
    """Numeric features of texts whose drift is easy to read (length, words, case, links)."""
    s = texts.fillna("").astype(str)
    length = s.str.len().astype(np.float64)
    safe = length.where(length > 0, 1.0)
    return pd.DataFrame(
        {
            "text_length": length,
            "text_words": s.map(lambda t: float(len(t.split()))),
            "text_upper_share": s.str.count(r"[A-Z]") / safe,
            "text_digit_share": s.str.count(r"[0-9]") / safe,
            "text_links": s.str.count(r"https?://|www\.").astype(np.float64),
            "text_exclamations": s.str.count("!").astype(np.float64),
        }
    )


def load_window(
    db: Database,
    name: str,
    *,
    since: dt.datetime | None = None,
    last: int | None = None,
    include_shadow: bool = False,
) -> pd.DataFrame:
    """Logged predictions of model ``name`` (newest ``last``, or since ``since``), oldest first."""
    query = select(Prediction).where(Prediction.model_name == name)
    if not include_shadow:
        query = query.where(Prediction.variant != "shadow")
    if since is not None:
        query = query.where(Prediction.created_at >= since)
    query = query.order_by(Prediction.created_at.desc())
    if last is not None:
        query = query.limit(last)
    with db.transaction() as s:
        rows = [
            {
                "id": p.id,
                "created_at": p.created_at,
                "model_version": p.model_version,
                "variant": p.variant,
                "inputs": p.inputs,
                "lf_votes": p.lf_votes,
                "label": p.label,
                "probabilities": p.probabilities,
            }
            for p in s.scalars(query)
        ]
    frame = pd.DataFrame(rows)
    return frame.iloc[::-1].reset_index(drop=True) if len(frame) else frame


@dataclass
class _Reference:
    frame: pd.DataFrame
    proba: np.ndarray
    votes: np.ndarray | None
    lf_names: tuple[str, ...]
    #: The LF-aware calibration fitted on the gold dev set (None: no usable dev labels).
    labelled: LabelFreeEstimator | None = None
    #: What the labelled reference is (table, rows) or why there is none.
    labelled_info: dict[str, Any] = field(default_factory=dict)


#: Fitted labelled references, keyed by project folder, version, dev table (path, size, mtime)
#: and the settings that change them: scoring the dev set and fitting its bootstrap takes about
#: a second, and a watch loop monitors the same version every few minutes.
_LABELLED: dict[tuple[Any, ...], tuple[LabelFreeEstimator | None, dict[str, Any]]] = {}
_LABELLED_KEEP = 8


def _labelled_reference(
    project: Project, info: VersionInfo, model: Any, lfs: LFSet | None
) -> tuple[LabelFreeEstimator | None, dict[str, Any]]:
    """The LF-aware calibration on the project's gold dev set, or None and the reason.

    Only the curated dev table (``[data] dev``), not the feedback rows the pipeline appends to
    it: feedback comes from whichever traffic got labelled (often a drifted slice, or the
    predictions users complained about), and it is what ``realized`` checks the estimate
    against, so the estimate must not have seen it. The dev rows are scored by the serving
    version and labelled by its LFs, exactly as the train pool is in ``_reference``.
    """
    cfg = project.config
    table = cfg.data.dev
    path = project.path(table)
    try:
        stat = path.stat()
    except OSError:
        return None, {"table": table, "used": False, "reason": f"no dev table at {table}"}
    if lfs is None:
        return None, {"table": table, "used": False, "reason": "the version's LFs do not load"}
    key = (
        str(project.root), info.name, info.version, str(path), stat.st_size, stat.st_mtime_ns,
        cfg.data.label_column, tuple(cfg.data.label_names), cfg.data.text_column,
        tuple(cfg.data.feature_columns), cfg.serve.redact_pii, cfg.data.pii_region, lfs.names,
        cfg.project.seed,
    )  # fmt: skip
    if key not in _LABELLED:
        while len(_LABELLED) >= _LABELLED_KEEP:
            _LABELLED.pop(next(iter(_LABELLED)))
        _LABELLED[key] = _fit_labelled(project, model, lfs, table)
    return _LABELLED[key]


def _fit_labelled(
    project: Project, model: Any, lfs: LFSet, table: str
) -> tuple[LabelFreeEstimator | None, dict[str, Any]]:
    cfg = project.config
    label_col = cfg.data.label_column
    frame = read_table(project.path(table))
    if label_col not in frame.columns:
        return None, {"table": table, "used": False, "reason": f"no {label_col!r} column"}
    try:
        y = np.asarray(
            encode_labels(frame[label_col], cfg.data.label_names, source=table, allow_missing=True),
            dtype=np.int64,
        )
    except WeakflowError as exc:
        return None, {"table": table, "used": False, "reason": str(exc)}
    keep = y >= 0
    frame, y = frame[keep].reset_index(drop=True), y[keep]
    if len(frame) < MIN_REFERENCE_ROWS:
        return None, {
            "table": table, "used": False, "rows": len(frame),
            "reason": f"{len(frame)} labelled rows; at least {MIN_REFERENCE_ROWS} are needed",
        }  # fmt: skip
    text_col = cfg.data.text_column
    if text_col and text_col in frame.columns and cfg.serve.redact_pii:
        frame[text_col] = redact_pii(
            frame[text_col].fillna("").astype(str), region=cfg.data.pii_region
        )
    from weakflow.pipeline import model_inputs

    proba = np.asarray(model.predict_proba(model_inputs(frame, cfg)), dtype=np.float64)
    records = [{str(c): v for c, v in row.items()} for row in frame.to_dict("records")]
    votes = lfs.votes(records)
    estimator = LabelFreeEstimator(random_state=cfg.project.seed).fit(proba, votes, y)
    return estimator, {
        "table": table, "used": True, "rows": len(frame),
        "accuracy": estimator.reference_accuracy_,
        "strata": {
            name: {"rows": int(c), "offset": float(b)}
            for name, c, b in zip(
                ("no_lf_vote", "lfs_for", "lfs_tied", "lfs_against"),
                estimator.stratum_counts_, estimator.offsets_, strict=True,
            )
        },
    }  # fmt: skip


def _reference(project: Project, registry: Registry, info: VersionInfo) -> _Reference:
    cfg = project.config
    table = cfg.data.train if cfg.monitor.reference == "train" else cfg.data.test
    frame = read_table(project.path(table))
    if len(frame) > cfg.monitor.max_reference_rows:
        frame = frame.sample(cfg.monitor.max_reference_rows, random_state=0)
    frame = frame.reset_index(drop=True)
    text_col = cfg.data.text_column
    if text_col and text_col in frame.columns and cfg.serve.redact_pii:
        # the prediction log holds redacted text: compare like with like
        frame[text_col] = redact_pii(
            frame[text_col].fillna("").astype(str), region=cfg.data.pii_region
        )
    model = registry.load_model(info.name, info.version)
    from weakflow.pipeline import model_inputs

    proba = np.asarray(model.predict_proba(model_inputs(frame, cfg)), dtype=np.float64)
    k = len(cfg.data.label_names)
    lfs = load_lfs(info.lineage, project, label=f"v{info.version}", k=k)
    records = [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]
    votes = lfs.votes(records) if lfs is not None else None
    labelled, labelled_info = _labelled_reference(project, info, model, lfs)
    return _Reference(
        frame, proba, votes, lfs.names if lfs is not None else (), labelled, labelled_info
    )


def _realized(db: Database, ids: list[str], pred: dict[str, int], k: int) -> dict[str, Any] | None:
    """Accuracy and macro F1 on the window's predictions that got feedback (latest label wins)."""
    labels: dict[str, int] = {}
    with db.transaction() as s:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            q = select(Feedback).where(Feedback.prediction_id.in_(chunk)).order_by(Feedback.id)
            for f in s.scalars(q):
                labels[f.prediction_id] = f.label
    if not labels:
        return None
    y = np.array(list(labels.values()))
    p = np.array([pred[i] for i in labels])
    n = y.size
    correct = int(np.sum(y == p))
    acc = correct / n
    from sklearn.metrics import f1_score

    f1 = float(f1_score(y, p, average="macro", labels=list(range(k)), zero_division=0))
    return {
        "n": n,
        "accuracy": acc,
        "f1_macro": f1,
        "interval": {"accuracy": list(wilson(correct, n))},
    }


def _statistic(c: ColumnDrift, alpha: float) -> tuple[str, float, float]:
    """What an alert reports: the effect against its floor (large samples), else the test.

    On small samples there is no effect floor (the test alone decides, see
    :func:`weakflow.monitor.feature_drift`), so the alert names the adjusted p-value and alpha.
    """
    if c.threshold > 0:
        return c.effect_name, c.effect, c.threshold
    return f"{c.method}_p_adjusted", c.p_adjusted, alpha


def _examples(window: pd.DataFrame, mask: np.ndarray, k: int) -> list[dict[str, Any]]:
    picked = window[mask].tail(k)
    return [{"prediction_id": r.id, "inputs": r.inputs} for r in picked.itertuples()]


def run_monitor(
    project: Project | str | Path,
    *,
    window: str | None = None,
    last: int | None = None,
    now: dt.datetime | None = None,
    save: bool = True,
) -> dict[str, Any]:
    """Monitor one window; returns the JSON that ``weakflow monitor run --json`` prints."""
    if not isinstance(project, Project):
        project = Project.load(project)
    cfg = project.config
    registry = open_registry(project.state_dir, cfg.store.url)
    try:
        return _run(project, registry, window=window, last=last, now=now, save=save)
    finally:
        registry.db.close()


def _run(
    project: Project,
    registry: Registry,
    *,
    window: str | None,
    last: int | None,
    now: dt.datetime | None,
    save: bool,
) -> dict[str, Any]:
    cfg, mcfg = project.config, project.config.monitor
    name = cfg.project.name
    info = registry.resolve(name, cfg.serve.alias)
    now = now or dt.datetime.now(dt.UTC)
    last = last if last is not None else (mcfg.last if window is None else None)
    spec = window or (None if last else mcfg.window)
    since = now - parse_window(spec) if spec else None
    frame = load_window(registry.db, name, since=since, last=last)
    out: dict[str, Any] = {
        "window": {"spec": spec or f"last {last}", "start": None, "end": None},
        "model": {"name": name, "version": info.version, "alias": cfg.serve.alias},
        "n": len(frame),
        "alerts": [],
        "signals": [],
        "estimated": None,
        "realized": None,
        "drift": {},
    }
    if len(frame) == 0:
        out["message"] = "No logged predictions in this window: nothing to monitor yet."
        return out
    out["window"]["start"] = frame["created_at"].min().isoformat()
    out["window"]["end"] = frame["created_at"].max().isoformat()
    if len(frame) < mcfg.min_rows:
        out["message"] = (
            f"Only {len(frame)} predictions in this window; [monitor] min_rows is "
            f"{mcfg.min_rows}. Widen the window (--window) or wait for more traffic."
        )
        return out

    ref = _reference(project, registry, info)
    k = len(cfg.data.label_names)
    inputs = pd.DataFrame(list(frame["inputs"]))
    proba = np.array(list(frame["probabilities"]), dtype=np.float64)
    pred = proba.argmax(axis=1)
    signals: list[dict[str, Any]] = []

    def signal(kind: str, target: str, statistic: str, value: float, threshold: float,
               message: str, examples: list[dict[str, Any]]) -> None:  # fmt: skip
        signals.append({
            "kind": kind, "target": target, "statistic": statistic, "value": float(value),
            "threshold": float(threshold), "message": message, "examples": examples,
        })  # fmt: skip

    # -- features (tabular columns, or text statistics) -------------------------------------
    text_col = cfg.data.text_column or ""
    has_text = bool(text_col) and text_col in inputs.columns and text_col in ref.frame.columns
    if cfg.data.feature_columns:
        cols = [c for c in cfg.data.feature_columns if c in inputs.columns]
        ref_feats, cur_feats = ref.frame[cols], inputs[cols]
    else:
        ref_feats = text_stats(ref.frame[text_col]) if has_text else pd.DataFrame()
        cur_feats = text_stats(inputs[text_col]) if has_text else pd.DataFrame()
    if len(ref_feats.columns):
        fd = feature_drift(ref_feats, cur_feats, alpha=mcfg.alpha, correction=mcfg.correction)
        out["drift"]["features"] = [c.to_dict() for c in fd.columns]
        for c in fd.drifted:
            col = cur_feats[c.column]
            if c.kind == "numeric":
                up = c.details["mean_current"] >= c.details["mean_reference"]
                cut = col.quantile(0.9 if up else 0.1)
                picked = ((col >= cut) if up else (col <= cut)).to_numpy(dtype=bool)
            else:
                top = c.details["moved"][0]["category"] if c.details["moved"] else None
                picked = (col.astype(str) == str(top)).to_numpy(dtype=bool)
            signal("feature_drift", c.column, *_statistic(c, mcfg.alpha), c.message,
                   _examples(frame, picked, mcfg.examples))  # fmt: skip

    # -- text -------------------------------------------------------------------------------
    if has_text:
        ref_texts = ref.frame[text_col].astype(str).tolist()
        td = text_drift(ref_texts, inputs[text_col].astype(str).tolist(), alpha=mcfg.alpha)
        out["drift"]["text"] = td.to_dict()
        if td.drifted:
            rising = [w["word"] for w in td.words if w["z"] > 0][:3]
            mask = (
                inputs[text_col]
                .astype(str)
                .str.lower()
                .str.contains("|".join(re.escape(w) for w in rising) or "$^", regex=True)
            )
            signal("text_drift", text_col, "domain_auc", td.auc, td.threshold, td.message,
                   _examples(frame, mask.to_numpy(), mcfg.examples))  # fmt: skip

    # -- predictions ------------------------------------------------------------------------
    pd_ = prediction_drift(ref.proba, proba, label_names=cfg.data.label_names, alpha=mcfg.alpha)
    out["drift"]["predictions"] = [d.to_dict() for d in pd_]
    for shift in pd_:
        if shift.drifted:
            everyone = np.ones(len(frame), dtype=bool)
            shown = _examples(frame, everyone, mcfg.examples)
            signal("prediction_drift", shift.column, *_statistic(shift, mcfg.alpha),
                   shift.message, shown)  # fmt: skip

    # -- LF votes ---------------------------------------------------------------------------
    has_votes = frame["lf_votes"].map(lambda v: isinstance(v, list) and len(v) > 0)
    L_cur = None
    if ref.votes is not None and has_votes.any():
        L_cur = np.array(list(frame.loc[has_votes, "lf_votes"]), dtype=np.int64)
        if L_cur.shape[1] == ref.votes.shape[1]:
            lfd = lf_vote_drift(
                ref.votes, L_cur, lf_names=ref.lf_names, model_reference=ref.proba.argmax(axis=1),
                model_current=pred[has_votes.to_numpy()], alpha=mcfg.alpha,
            )  # fmt: skip
            out["drift"]["lfs"] = [d.to_dict() for d in lfd]
            sub = frame[has_votes].reset_index(drop=True)
            for lf_shift in lfd:
                if lf_shift.drifted:
                    j = ref.lf_names.index(lf_shift.lf)
                    voted = L_cur[:, j] != -1
                    rows = voted if lf_shift.current >= lf_shift.reference else ~voted
                    signal("lf_drift", f"{lf_shift.lf}.{lf_shift.metric}", lf_shift.metric,
                           lf_shift.current, lf_shift.reference, lf_shift.message,
                           _examples(sub, rows, mcfg.examples))  # fmt: skip
        else:
            L_cur = None

    # -- performance ------------------------------------------------------------------------
    # Every estimate the inputs allow; the headline follows a rule fixed in advance (see
    # weakflow.monitor._estimate): lf_calibrated (gold dev set + LF votes) > calibrated (gold
    # dev set) > combined (LF votes) > cbpe.
    L_full = None
    if L_cur is not None and has_votes.all():
        L_full = L_cur
    estimates = estimate_performance(proba, L_full, cardinality=k, reference=ref.labelled)
    best = headline_estimate(estimates)
    disagreement: dict[str, float] = {}
    if "lf" in estimates:  # do the LFs and the model's confidence tell the same story?
        disagreement["lf_minus_cbpe"] = estimates["lf"].accuracy - estimates["cbpe"].accuracy
    if "lf_calibrated" in estimates and "calibrated" in estimates:
        disagreement["lf_calibrated_minus_calibrated"] = (
            estimates["lf_calibrated"].accuracy - estimates["calibrated"].accuracy
        )
    out["estimated"] = {
        "accuracy": best.accuracy,
        "f1_macro": best.f1_macro,
        "interval": {"accuracy": list(best.accuracy_interval), "f1_macro": list(best.f1_interval)},
        "method": best.method,
        "note": best.note,
        "by_method": {m: e.to_dict() for m, e in estimates.items()},
        "disagreement": disagreement,
        "reference": ref.labelled_info,
    }
    test_acc = info.metrics.get("end_model", {}).get("accuracy")
    floor = mcfg.accuracy_floor
    if floor is None and isinstance(test_acc, int | float):
        floor = float(test_acc) - 0.05
    out["estimated"]["floor"] = floor
    if floor is not None and best.accuracy_interval[1] < floor:
        low_conf = proba.max(axis=1) < np.quantile(proba.max(axis=1), 0.2)
        signal(
            "performance", "accuracy", f"estimated_accuracy_{best.method}", best.accuracy, floor,
            f"estimated accuracy {best.accuracy:.3f} (95% interval {best.accuracy_interval[0]:.3f}"
            f"-{best.accuracy_interval[1]:.3f}) is below the floor {floor:.3f} (test accuracy "
            f"{test_acc if test_acc is None else round(float(test_acc), 3)} - 0.05)",
            _examples(frame, low_conf, mcfg.examples),
        )  # fmt: skip
    ids = frame["id"].tolist()
    out["realized"] = _realized(registry.db, ids, dict(zip(ids, pred.tolist(), strict=True)), k)

    # -- alerts: K bad windows in a row -----------------------------------------------------
    bad = [f"{s['kind']}:{s['target']}" for s in signals]
    previous: list[list[str]] = []
    need = mcfg.consecutive - 1
    if need > 0:
        with registry.db.transaction() as s:
            rows = s.scalars(
                select(MonitorWindow)
                .where(MonitorWindow.model_name == name)
                .order_by(MonitorWindow.id.desc())
                .limit(need)
            ).all()
            previous = [list(r.bad_targets) for r in rows]
    for sig, target in zip(signals, bad, strict=True):
        streak = 1 + sum(1 for _ in _takewhile_contains(previous, target))
        sig["consecutive"] = streak
        if streak >= mcfg.consecutive:
            out["alerts"].append({k2: v for k2, v in sig.items()})
    out["signals"] = signals
    if save:
        with registry.db.transaction() as s:
            s.add(
                MonitorWindow(
                    model_name=name,
                    model_version=info.version,
                    window_start=frame["created_at"].min(),
                    window_end=frame["created_at"].max(),
                    n=len(frame),
                    bad_targets=bad,
                    alerts=out["alerts"],
                    result={k2: v for k2, v in out.items() if k2 != "signals"},
                )
            )
    return out


def _takewhile_contains(windows: list[list[str]], target: str) -> list[int]:
    run = []
    for i, targets in enumerate(windows):
        if target not in targets:
            break
        run.append(i)
    return run
