"""The run report: ``report.json`` (every number) and ``report.html`` (one self-contained page).

The HTML is meant to be opened from a laptop with no network, mailed, or attached to a ticket,
so it is one file: CSS inline, plots as inline SVG (see :mod:`weakflow.evaluate._plots`), no
script, font or stylesheet fetched from anywhere. It is rendered by the Jinja2 template
``templates/report.html.j2`` shipped in this package, with autoescaping on (LF names, slice
names and data-check messages come from users' code and data).

Rendering is split from writing: :func:`report_to_json` and :func:`render_report_html` return
strings; :func:`write_report` only writes them next to each other.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
from collections.abc import Mapping
from functools import cache
from pathlib import Path, PurePath
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from weakflow.errors import SchemaError
from weakflow.store import atomic_write

__all__ = ["render_report_html", "report_to_json", "to_jsonable", "write_report"]

#: Top-level report keys with a section of their own in the HTML; others go under "More data".
KNOWN_KEYS = frozenset(
    {
        "run_id",
        "created_at",
        "project",
        "headline",
        "data",
        "labeling",
        "label_model",
        "end_model",
        "provenance",
        "label_names",
        "robustness",
        "privacy",
    }
)


def to_jsonable(obj: Any, path: str = "report") -> Any:
    """``obj`` as plain JSON types: NaN and infinities become None, numpy scalars and arrays
    Python numbers and lists, DataFrames lists of records, paths and dates strings.

    Raises
    ------
    SchemaError
        A value JSON cannot hold; the message gives its path in the report.
    """
    if obj is None or isinstance(obj, bool | str):
        return obj
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if not isinstance(k, str | int | float | bool | np.integer):
                raise SchemaError(
                    f"{path} has a key {k!r} of type {type(k).__name__}; use strings."
                )
            out[str(k)] = to_jsonable(v, f"{path}[{str(k)!r}]")
        return out
    if isinstance(obj, pd.DataFrame):
        frame = obj.reset_index() if obj.index.name is not None else obj
        return to_jsonable(frame.to_dict("records"), path)
    if isinstance(obj, pd.Series):
        return to_jsonable(obj.to_dict(), path)
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), path)
    if isinstance(obj, list | tuple):
        return [to_jsonable(v, f"{path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, set | frozenset):
        return [to_jsonable(v, f"{path}[{i}]") for i, v in enumerate(sorted(obj, key=str))]
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, dt.datetime | dt.date):
        return obj.isoformat()
    if isinstance(obj, np.generic):  # datetime64, str_, complex...: the Python equivalent
        return to_jsonable(obj.item(), path)
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value, path)
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_jsonable(to_dict(), path)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj), path)
    raise SchemaError(
        f"{path} holds a {type(obj).__name__} ({obj!r:.80}) that JSON cannot store; convert it "
        "to numbers, strings, lists or dicts before writing the report."
    )


def _checked(report: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(report, Mapping):
        raise SchemaError(f"The report must be a mapping, got {type(report).__name__}.")
    run_id = report.get("run_id")
    if not isinstance(run_id, str) or not run_id.strip():
        raise SchemaError(f"The report needs a non-empty string 'run_id', got {run_id!r}.")
    clean: dict[str, Any] = to_jsonable(report)
    return clean


def report_to_json(report: Mapping[str, Any]) -> str:
    """The report as JSON text: sorted keys, indent 2, NaN and infinities as ``null``."""
    return json.dumps(_checked(report), sort_keys=True, indent=2, allow_nan=False) + "\n"


# -- HTML ------------------------------------------------------------------------------------


def _num(value: Any, digits: int = 3) -> str:
    """A number for a table cell: ints with thousands separators, floats rounded; '—' if absent."""
    if value is None or isinstance(value, jinja2.Undefined):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}" if math.isfinite(value) else "—"
    return str(value)


def _pct(value: Any, digits: int = 1) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    return f"{100 * value:.{digits}f}%"


def _signed(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    return f"{value:+.{digits}f}".replace("-", "−")


def _pretty(value: Any) -> str:
    if isinstance(value, jinja2.Undefined):
        return ""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _all_keys(rows: Any) -> list[Any]:
    """Every key of a list of mappings, in first-seen order (rows need not share keys)."""
    keys: dict[Any, None] = {}
    for row in rows:
        if isinstance(row, Mapping):
            keys.update(dict.fromkeys(row))
    return list(keys)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("weakflow.evaluate", "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=_num, pct=_pct, signed=_signed, pretty=_pretty, all_keys=_all_keys)
    env.tests["scalar"] = _is_scalar
    env.tests["mapping"] = lambda v: isinstance(v, Mapping)
    return env


def _get(d: Any, *keys: str) -> Any:
    """``d[k1][k2]...`` or None when any level is missing or not a mapping."""
    for k in keys:
        if not isinstance(d, Mapping):
            return None
        d = d.get(k)
    return d


#: Rows of the model comparison table: (key in a metrics dict, label, decimals).
METRIC_ROWS = (
    ("accuracy", "Accuracy", 3),
    ("precision_macro", "Precision (macro)", 3),
    ("recall_macro", "Recall (macro)", 3),
    ("f1_macro", "F1 (macro)", 3),
    ("roc_auc", "ROC-AUC", 3),
    ("log_loss", "Log loss", 3),
    ("n", "Rows", 0),
)
CALIBRATION_ROWS = (
    ("ece", "ECE", 4),
    ("mce", "MCE", 4),
    ("brier", "Brier score", 4),
    ("accuracy", "Accuracy", 3),
    ("mean_confidence", "Mean confidence", 3),
    ("n", "Rows", 0),
)


def _comparison(r: Mapping[str, Any]) -> dict[str, Any]:
    """Columns (model, split) present in the report, and one row per metric across them."""
    columns = [
        (f"{label} · {split}", _get(r, model, split))
        for model, label in (("label_model", "Label model"), ("end_model", "End model"))
        for split in ("test", "dev")
    ]
    columns = [(name, m) for name, m in columns if isinstance(m, Mapping)]
    rows = [
        (label, digits, [_get(m, key) for _, m in columns])
        for key, label, digits in METRIC_ROWS
        if any(_get(m, key) is not None for _, m in columns)
    ]
    calib = [
        (label, digits, [_get(m, "calibration", key) for _, m in columns])
        for key, label, digits in CALIBRATION_ROWS[:3]
        if any(_get(m, "calibration", key) is not None for _, m in columns)
    ]
    return {"columns": [name for name, _ in columns], "rows": rows + calib}


def _plots(r: Mapping[str, Any]) -> dict[str, Markup]:
    """Every plot the report has data for, as inline SVG markup."""
    from weakflow.evaluate import _plots as plots  # matplotlib only loads when rendering

    out: dict[str, Markup] = {}
    names = r.get("label_names")
    lf_rows = _get(r, "labeling", "lf_summary")
    if isinstance(lf_rows, list) and lf_rows:
        out["lf_summary"] = plots.lf_summary_svg([x for x in lf_rows if isinstance(x, Mapping)])
    votes = _get(r, "labeling", "votes_per_row")
    if isinstance(votes, list) and votes:
        out["votes"] = plots.votes_svg(votes)
    panels = []
    for model, label in (("label_model", "Label model"), ("end_model", "End model")):
        cm = _get(r, model, "test", "confusion_matrix")
        if isinstance(cm, list) and cm:
            panels.append((f"{label} (test)", cm))
    if panels:
        k = len(panels[0][1])
        labels = _get(r, "end_model", "test", "label_names") or names
        if not isinstance(labels, list) or len(labels) != k:
            labels = [str(i) for i in range(k)]
        out["confusion"] = plots.confusion_svg(panels, [str(x) for x in labels])
    curves = _reliability_curves(r)
    if curves:
        out["reliability"] = plots.reliability_svg(curves)
    slices = _get(r, "end_model", "slices")
    if isinstance(slices, list) and slices:
        out["slices"] = plots.slices_svg([s for s in slices if isinstance(s, Mapping)])
    robustness = r.get("robustness")
    if isinstance(robustness, Mapping) and robustness.get("attacks"):
        from weakflow.evaluate._robustness import robustness_svg

        out["robustness"] = robustness_svg(robustness)
    return out


#: Where ``end_model.calibration`` keeps its summaries: (key, split, before or after). ``before``
#: and ``after`` are the test set's (``test_before``/``test_after`` are accepted too).
CALIBRATION_KEYS = (
    ("dev_before", "dev", "before"),
    ("dev_after", "dev", "after"),
    ("before", "test", "before"),
    ("after", "test", "after"),
    ("test_before", "test", "before"),
    ("test_after", "test", "after"),
)


def _reliability_curves(r: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Before/after curves on test when the report has them, else on dev, else the end model's
    test calibration alone. The "after" curve is drawn only when the calibration was kept."""
    cal = _get(r, "end_model", "calibration")
    method = _get(cal, "method") or "calibration"
    kept = bool(_get(cal, "kept"))
    for split in ("test", "dev"):
        found = {
            when: s
            for key, sp, when in CALIBRATION_KEYS
            if sp == split and isinstance(s := _get(cal, key), Mapping) and _get(s, "bins")
        }
        if "before" in found:
            curves = [(f"before calibration ({split})", found["before"])]
            if kept and "after" in found:
                curves.append((f"after {method} ({split})", found["after"]))
            return curves
    test = _get(r, "end_model", "test", "calibration")
    if isinstance(test, Mapping) and _get(test, "bins"):
        return [("end model (test)", test)]
    return []


def _sections(r: Mapping[str, Any], plots: Mapping[str, Markup]) -> list[tuple[str, str]]:
    """(anchor, title) of each section the page will have, for the navigation list."""
    present = [
        ("headline", "Headline", isinstance(r.get("headline"), Mapping)),
        ("data", "Data", isinstance(r.get("data"), Mapping)),
        ("labeling", "Labeling functions", isinstance(r.get("labeling"), Mapping)),
        ("label-model", "Label model", isinstance(r.get("label_model"), Mapping)),
        ("end-model", "End model and metrics", isinstance(r.get("end_model"), Mapping)),
        (
            "calibration",
            "Calibration",
            isinstance(_get(r, "end_model", "calibration"), Mapping) or "reliability" in plots,
        ),
        ("slices", "Slices", bool(_get(r, "end_model", "slices"))),
        ("robustness", "Robustness", isinstance(r.get("robustness"), Mapping)),
        ("privacy", "Privacy", isinstance(_get(r, "privacy", "membership"), Mapping)),
        ("provenance", "Provenance", bool(r.get("provenance"))),
        ("more", "More data", any(k not in KNOWN_KEYS for k in r)),
    ]
    return [(anchor, title) for anchor, title, shown in present if shown]


def render_report_html(report: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML page (sections without data are left out)."""
    r = _checked(report)
    template = _environment().get_template("report.html.j2")
    plots = _plots(r)
    return template.render(
        r=r,
        plots=plots,
        sections=_sections(r, plots),
        comparison=_comparison(r),
        calibration_rows=CALIBRATION_ROWS,
        calibration_keys=[
            (key, f"{when.capitalize()} ({split}{', out-of-fold' if key == 'dev_after' else ''})")
            for key, split, when in CALIBRATION_KEYS
        ],
        extra={k: v for k, v in r.items() if k not in KNOWN_KEYS},
    )


def _write_atomic(path: Path, text: str) -> None:
    """Write via the store's temporary file and rename: a crash never leaves half a report."""
    atomic_write(path, text.encode("utf-8"))


def write_report(report: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir`` (created if missing).

    Parameters
    ----------
    report : mapping
        Only ``run_id`` is required; every section present is rendered, absent ones are
        skipped. Keys the HTML knows: ``created_at``, ``project``, ``headline``, ``data``
        (``datasets``, ``checks``, ``pii``), ``labeling`` (``lf_summary``, ``totals``,
        ``votes_per_row``), ``label_model`` and ``end_model`` (``dev``/``test`` metrics from
        :func:`~weakflow.evaluate.classification_metrics`, optionally with a
        :func:`~weakflow.evaluate.calibration_summary` under ``"calibration"``), the end model's
        ``calibration`` (:meth:`CalibrationChoice.to_dict`: ``method``, ``kept``, ``reason``,
        ``candidates``, dev summaries ``dev_before``/``dev_after``; plus test summaries
        ``before``/``after``, which the reliability diagram prefers over dev) and
        ``slices`` (:func:`~weakflow.evaluate.slice_metrics` rows), ``robustness``
        (:func:`~weakflow.evaluate.evaluate_robustness`), ``privacy`` (``{"membership":``
        :func:`~weakflow.evaluate.membership_inference` ``}``), ``provenance`` and
        ``label_names``. Other top-level keys are shown as JSON under "More data".
    out_dir : path
        Folder of the run, e.g. ``runs/<run-id>``.

    Returns
    -------
    (json_path, html_path)

    Raises
    ------
    SchemaError
        No ``run_id``, or a value JSON cannot hold (the message gives its path).

    Notes
    -----
    The JSON is written first, so the numbers are on disk even if rendering the HTML fails.
    """
    out = Path(out_dir)
    text = report_to_json(report)
    out.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out / "report.json", out / "report.html"
    _write_atomic(json_path, text)
    _write_atomic(html_path, render_report_html(report))
    return json_path, html_path
