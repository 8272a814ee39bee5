"""Suspected label errors in the gold sets, by confident learning (Northcutt et al., JAIR 2021).

Out-of-sample class probabilities come from stratified cross-validation of a simple model (TF-IDF
+ logistic regression for text, histogram gradient boosting for tabular features); cleanlab's
``find_label_issues`` flags rows whose given label the other folds confidently disagree with.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from cleanlab.filter import find_label_issues
from scipy.stats import binomtest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline

from weakflow.data._context import CheckContext, plural
from weakflow.data._results import CheckResult, Dataset

__all__ = ["check_label_errors"]

_MAX_BINS = 255  # HistGradientBoosting's limit on a categorical feature's categories


def _tabular(frame: pd.DataFrame) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Features as floats (NaN where missing) and which columns are categorical codes."""
    columns: list[npt.NDArray[np.float64]] = []
    categorical: list[bool] = []
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            columns.append(series.to_numpy(dtype=np.float64, na_value=np.nan))
            categorical.append(False)
            continue
        cat = pd.Categorical(series.astype(str).where(series.notna()))
        codes = cat.codes.astype(np.float64)
        codes[codes < 0] = np.nan
        columns.append(codes)
        categorical.append(len(cat.categories) < _MAX_BINS)
    return np.column_stack(columns), np.array(categorical, dtype=bool)


def _probabilities(
    ctx: CheckContext, ds: Dataset, positions: npt.NDArray[np.int64], y: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64] | str:
    """Out-of-sample class probabilities, or the reason they cannot be computed."""
    n_splits = min(ctx.options.label_error_folds, int(np.bincount(y).min()))
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=ctx.random_state)
    features = [c for c in ctx.features(ds) if c != ctx.text_column]
    model: Any
    X: Any
    if ctx.has_text(ds):
        texts = ctx.texts(ds)
        X = np.array([texts[p] or "" for p in positions], dtype=object)
        if not any(t.strip() for t in X):
            return "every text is empty"
        model = make_pipeline(
            TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1),
            LogisticRegression(C=10.0, max_iter=2000),
        )
    elif features:
        X, categorical = _tabular(ds.frame[features].iloc[positions])
        model = HistGradientBoostingClassifier(
            categorical_features=categorical if categorical.any() else None,
            random_state=ctx.random_state,
        )
    else:
        return "there is no text column and no feature column to learn from"
    try:
        proba = cross_val_predict(model, X, y, cv=cv, method="predict_proba")
    except ValueError as exc:  # e.g. a fold whose texts have no word at all
        return f"the cross-validated model could not be fitted ({exc})"
    return np.asarray(proba, dtype=np.float64)


def check_label_errors(ctx: CheckContext) -> CheckResult:
    """Gold rows whose label the rest of the gold set confidently contradicts."""
    opts = ctx.options
    lines: list[str] = []
    found: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    clean: list[str] = []
    for ds in ctx.datasets:
        labels = ctx.labels(ds)
        if labels is None:
            continue
        positions = np.flatnonzero(labels.codes >= 0)
        present, y = np.unique(labels.codes[positions], return_inverse=True)
        counts = np.bincount(y, minlength=present.size)
        reason: str | None = None
        if present.size < 2:
            reason = "it has fewer than 2 labeled classes"
        elif counts.min() < opts.label_error_min_per_class:
            rare = ctx.label_name(int(present[counts.argmin()]))
            reason = (
                f"class {rare!r} has {plural(int(counts.min()), 'example')} "
                f"(needs {opts.label_error_min_per_class} for cross-validation)"
            )
        proba: npt.NDArray[np.float64] | str = (
            reason if reason is not None else _probabilities(ctx, ds, positions, y)
        )
        if not isinstance(proba, str):
            correct = int(np.sum(proba.argmax(axis=1) == y))
            majority = float(counts.max() / counts.sum())
            chance = binomtest(correct, y.size, majority, alternative="greater").pvalue
            if chance > 0.05:
                # A model no better than always guessing the majority class cannot tell a wrong
                # label from an unpredictable one: confident learning would flag rows at random.
                proba = (
                    "the cross-validated model is not significantly better than always "
                    f"predicting the majority class (accuracy {correct / y.size:.2f} vs "
                    f"{majority:.2f} on {y.size} rows), so it cannot tell wrong labels from "
                    "unpredictable ones"
                )
        if isinstance(proba, str):
            skipped.append({"dataset": ds.role, "source": ds.source, "reason": proba})
            lines.append(f"{ds.name}: skipped, {proba}.")
            continue
        ranked = find_label_issues(y, proba, return_indices_ranked_by="self_confidence", n_jobs=1)
        if not len(ranked):
            clean.append(ds.name)
            continue
        issue_rows = positions[ranked]
        given = present[y[ranked]]
        suggested = present[proba[ranked].argmax(axis=1)]
        confidence = proba[ranked, y[ranked]]
        examples = [
            {
                "row": ctx.row_ref(ds, int(p)),
                "given": ctx.label_name(int(g)),
                "suggested": ctx.label_name(int(s)),
                "given_label_probability": round(float(c), 4),
            }
            for p, g, s, c in zip(issue_rows, given, suggested, confidence, strict=True)
        ]
        shown = "; ".join(
            f"{ctx.ref_text(ds, int(p))} labeled {e['given']!r}, suggested {e['suggested']!r}"
            for p, e in zip(issue_rows[: opts.max_examples], examples, strict=False)
        )
        more = len(examples) - opts.max_examples
        lines.append(
            f"{ds.name}: {plural(len(examples), 'row')} of {positions.size} in column "
            f"{ctx.label_column!r} look mislabeled: {shown}"
            f"{f'; and {more} more' if more > 0 else ''}"
            f"{'' if ctx.uses_ids(ds) else ' (0-based)'}."
        )
        found.append(
            {
                "dataset": ds.role,
                "source": ds.source,
                "column": ctx.label_column,
                "count": len(examples),
                "rows": positions.size,
                "issues": examples,
            }
        )
    if clean:
        lines.append(f"No suspected label errors in {', '.join(clean)}.")
    details: dict[str, Any] = {"findings": found, "skipped": skipped}
    if not found:
        return ctx.result(
            "label_errors", "info", True, " ".join(lines) or "No gold set to check.", **details
        )
    lines.append(
        "Review those rows and correct the gold labels that are wrong (a suggestion is the "
        "model's guess, not a verdict): errors in the gold sets distort every score."
    )
    return ctx.result("label_errors", "warning", False, " ".join(lines), **details)
