"""Does the train pool look like the gold sets? Per-column distances, train vs dev and test.

Numeric columns: the Kolmogorov-Smirnov statistic (largest gap between the two CDFs). Categorical
columns: the Jensen-Shannon distance (base 2, 0..1) of the category frequencies, with a
chi-square test of homogeneity. Text: KS on lengths in words; the share of dev/test tokens never
seen in train; and the Jensen-Shannon distance of the frequencies of the most common tokens.
A statistic fires when it is above its threshold and (for the tested ones) significant.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp

from weakflow.data._context import CheckContext
from weakflow.data._results import CheckResult, Dataset

__all__ = ["check_representativeness"]

_TOKEN = re.compile(r"\w+")


def _ks(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size < 2 or y.size < 2:
        return None
    # The asymptotic p-value: exact p-values cost O(n m) and only gate an effect-size threshold.
    res = ks_2samp(x, y, method="asymp")
    return float(res.statistic), float(res.pvalue)


def _distance(
    counts_a: Counter[Any], counts_b: Counter[Any], keys: list[Any]
) -> tuple[float, float]:
    """Jensen-Shannon distance (base 2) of two count tables over ``keys`` and a chi-square p."""
    a = np.array([counts_a.get(k, 0) for k in keys], dtype=np.float64)
    b = np.array([counts_b.get(k, 0) for k in keys], dtype=np.float64)
    if a.sum() == 0 or b.sum() == 0:
        return 1.0, 0.0
    distance = float(jensenshannon(a / a.sum(), b / b.sum(), base=2))
    table = np.vstack([a, b])
    table = table[:, table.sum(axis=0) > 0]
    p_value = 1.0 if table.shape[1] < 2 else float(chi2_contingency(table).pvalue)
    return distance, p_value


def _numeric(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _column_stats(ctx: CheckContext, train: Dataset, other: Dataset, column: str) -> dict[str, Any]:
    opts = ctx.options
    a, b = train.frame[column], other.frame[column]
    base = {"dataset": other.role, "column": column}
    if _is_numeric(a) and _is_numeric(b):
        ks = _ks(_numeric(a), _numeric(b))
        if ks is None:
            return {**base, "kind": "numeric", "skipped": "fewer than 2 values on a side"}
        stat, p = ks
        fired = stat > opts.numeric_ks_threshold and p < opts.drift_p_value
        return {
            **base,
            "kind": "numeric",
            "statistic": "ks",
            "value": stat,
            "p_value": p,
            "threshold": opts.numeric_ks_threshold,
            "fired": fired,
        }
    va, vb = a.dropna().astype(str), b.dropna().astype(str)
    if va.empty or vb.empty:
        return {**base, "kind": "categorical", "skipped": "no values on a side"}
    counts_a, counts_b = Counter(va.tolist()), Counter(vb.tolist())
    keys = sorted(set(counts_a) | set(counts_b))
    if len(keys) > opts.max_categories and len(counts_b) > 0.5 * len(vb):
        return {
            **base,
            "kind": "categorical",
            "skipped": f"{len(keys)} distinct values, mostly unique: not a categorical column",
        }
    distance, p = _distance(counts_a, counts_b, keys)
    fired = distance > opts.categorical_js_threshold and p < opts.drift_p_value
    return {
        **base,
        "kind": "categorical",
        "statistic": "jensen_shannon",
        "value": distance,
        "p_value": p,
        "threshold": opts.categorical_js_threshold,
        "fired": fired,
    }


def _text_stats(ctx: CheckContext, train: Dataset, other: Dataset) -> list[dict[str, Any]]:
    opts = ctx.options
    column = ctx.text_column
    tokens_a = [_TOKEN.findall(t.casefold()) for t in ctx.texts(train) if t is not None]
    tokens_b = [_TOKEN.findall(t.casefold()) for t in ctx.texts(other) if t is not None]
    base = {"dataset": other.role, "column": column}
    out: list[dict[str, Any]] = []
    ks = _ks(
        np.array([len(t) for t in tokens_a], dtype=np.float64),
        np.array([len(t) for t in tokens_b], dtype=np.float64),
    )
    if ks is None:
        return [{**base, "kind": "text", "skipped": "fewer than 2 texts on a side"}]
    out.append(
        {
            **base,
            "kind": "text_length",
            "statistic": "ks",
            "value": ks[0],
            "p_value": ks[1],
            "threshold": opts.length_ks_threshold,
            "fired": ks[0] > opts.length_ks_threshold and ks[1] < opts.drift_p_value,
        }
    )
    counts_a = Counter(tok for toks in tokens_a for tok in toks)
    counts_b = Counter(tok for toks in tokens_b for tok in toks)
    total_b = sum(counts_b.values())
    if not counts_a or not total_b:
        out.append({**base, "kind": "text_vocabulary", "skipped": "no tokens on a side"})
        return out
    unseen = sum(c for tok, c in counts_b.items() if tok not in counts_a) / total_b
    out.append(
        {
            **base,
            "kind": "text_unseen_tokens",
            "statistic": "unseen_share",
            "value": unseen,
            "threshold": opts.unseen_token_threshold,
            "fired": unseen > opts.unseen_token_threshold,
        }
    )
    top = {tok for tok, _ in counts_a.most_common(opts.top_tokens)}
    top |= {tok for tok, _ in counts_b.most_common(opts.top_tokens)}
    distance, p = _distance(counts_a, counts_b, sorted(top))
    out.append(
        {
            **base,
            "kind": "text_top_tokens",
            "statistic": "jensen_shannon",
            "value": distance,
            "p_value": p,
            "threshold": opts.token_js_threshold,
            "fired": distance > opts.token_js_threshold and p < opts.drift_p_value,
        }
    )
    return out


_DESCRIBE = {
    "numeric": "KS statistic",
    "categorical": "Jensen-Shannon distance of category frequencies",
    "text_length": "KS statistic of lengths in words",
    "text_unseen_tokens": "share of tokens never seen in train",
    "text_top_tokens": "Jensen-Shannon distance of top-token frequencies",
}


def _describe(stat: dict[str, Any]) -> str:
    p = f", p={stat['p_value']:.2g}" if "p_value" in stat else ""
    return (
        f"column {stat['column']!r}: {_DESCRIBE[stat['kind']]} {stat['value']:.2f} > "
        f"{stat['threshold']:g}{p}"
    )


def check_representativeness(ctx: CheckContext) -> CheckResult:
    """Train vs test and train vs dev, column by column."""
    train = ctx.by_role("train")
    others = [ctx.by_role(role) for role in ("test", "dev")]
    pairs = [o for o in others if o is not None and len(o.frame)]
    if train is None or not len(train.frame) or not pairs:
        return ctx.result(
            "representativeness",
            "warning",
            True,
            "Skipped: needs a non-empty train set and a non-empty dev or test set.",
        )
    stats: list[dict[str, Any]] = []
    lines: list[str] = []
    for other in pairs:
        mine: list[dict[str, Any]] = []
        for column in ctx.features(train):
            if column in other.frame.columns and column != ctx.text_column:
                mine.append(_column_stats(ctx, train, other, column))
        if ctx.has_text(train) and ctx.has_text(other):
            mine += _text_stats(ctx, train, other)
        stats += mine
        fired = [s for s in mine if s.get("fired")]
        if fired:
            lines.append(
                f"{other.name} differs from {train.name}: "
                + "; ".join(_describe(s) for s in fired)
                + "."
            )
    if not lines:
        return ctx.result(
            "representativeness",
            "warning",
            True,
            "The dev/test columns are distributed like the train pool's.",
            columns=stats,
        )
    lines.append(
        "Labeling functions and models tuned on train may not transfer: check that the sets "
        "come from the same source and period, and resample or collect train data like the "
        "gold sets."
    )
    return ctx.result("representativeness", "warning", False, " ".join(lines), columns=stats)
