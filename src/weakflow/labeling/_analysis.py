"""LF analysis: coverage, overlaps, conflicts and accuracies per labeling function.

The definitions are Snorkel's ``LFAnalysis`` ones, so numbers carry over:

- coverage: share of rows the LF votes on;
- overlaps: share of rows the LF votes on together with at least one other LF;
- conflicts: share of rows the LF votes on where the non-abstain votes disagree;
- with gold labels: correct / incorrect vote counts and empirical accuracy among votes;
- with a fitted label model: the accuracy it learned for each LF.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from weakflow._types import ABSTAIN, LabelMatrixLike
from weakflow._validation import check_gold_labels, check_label_matrix
from weakflow.errors import SchemaError

__all__ = ["label_stats", "lf_summary"]


def _names(L: object, m: int) -> list[str]:
    names = getattr(L, "lf_names", None)
    return list(names) if names is not None else [f"lf_{j}" for j in range(m)]


def _row_stats(
    arr: np.ndarray, k: int
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    voted = arr != ABSTAIN
    n_votes = voted.sum(axis=1)
    n_distinct = np.zeros(arr.shape[0], dtype=np.int64)
    for c in range(k):
        n_distinct += (arr == c).any(axis=1)
    return voted, n_votes, n_distinct > 1


def label_stats(L: LabelMatrixLike, cardinality: int | None = None) -> dict[str, float]:
    """Totals over the matrix: coverage (>= 1 vote), overlap (>= 2), conflict (disagreeing votes).

    Examples
    --------
    >>> label_stats([[1, 1], [0, 1], [-1, -1], [0, -1]])
    {'coverage': 0.75, 'overlap': 0.5, 'conflict': 0.25}
    """
    arr = check_label_matrix(L, cardinality)
    k = int(cardinality or max(2, int(arr.max()) + 1))
    _, n_votes, conflicted = _row_stats(arr, k)
    return {
        "coverage": float((n_votes > 0).mean()),
        "overlap": float((n_votes > 1).mean()),
        "conflict": float(conflicted.mean()),
    }


def _learned_accuracies(model: Any, m: int) -> np.ndarray:
    acc = getattr(model, "lf_accuracies_", None)
    if acc is None and hasattr(model, "get_weights"):  # a Snorkel LabelModel
        acc = model.get_weights()
    if acc is None:
        raise SchemaError(
            f"{type(model).__name__} has no learned LF accuracies: pass a fitted label model "
            "(it sets lf_accuracies_)."
        )
    acc = np.asarray(acc, dtype=float)
    if acc.shape != (m,):
        raise SchemaError(f"The model has {acc.shape[0]} LF accuracies but L has {m} LFs.")
    return acc


def lf_summary(
    L: LabelMatrixLike,
    Y: npt.ArrayLike | None = None,
    model: Any = None,
    *,
    cardinality: int | None = None,
) -> pd.DataFrame:
    """One row per LF: polarity, coverage, overlaps, conflicts (+ accuracies when known).

    Parameters
    ----------
    L : LabelMatrix or array-like of shape (n_rows, n_lfs)
    Y : array-like of shape (n_rows,), optional
        Gold labels: adds ``correct``, ``incorrect`` and ``emp_accuracy``.
    model : fitted label model, optional
        Adds ``learned_accuracy`` (its ``lf_accuracies_``).
    cardinality : int, optional
        Number of classes (inferred when omitted).

    Returns
    -------
    DataFrame indexed by LF name. ``summary.attrs["totals"]`` holds :func:`label_stats`.

    Examples
    --------
    >>> s = lf_summary([[1, 1], [0, 1], [-1, -1], [0, -1]], Y=[1, 1, 0, 0])
    >>> s[["coverage", "overlaps", "conflicts"]].to_dict("list")
    {'coverage': [0.75, 0.5], 'overlaps': [0.5, 0.5], 'conflicts': [0.25, 0.25]}
    >>> s["emp_accuracy"].round(2).tolist()
    [0.67, 1.0]
    """
    arr = check_label_matrix(L, cardinality)
    n, m = arr.shape
    k = int(cardinality or max(2, int(arr.max()) + 1))
    voted, n_votes, conflicted = _row_stats(arr, k)
    polarity = [sorted(int(v) for v in np.unique(arr[voted[:, j], j])) for j in range(m)]
    frame = pd.DataFrame(
        {
            "kind": [None] * m,
            "polarity": polarity,
            "coverage": voted.mean(axis=0),
            "overlaps": (voted & (n_votes > 1)[:, None]).mean(axis=0),
            "conflicts": (voted & conflicted[:, None]).mean(axis=0),
        },
        index=pd.Index(_names(L, m), name="name"),
    )
    kinds = getattr(L, "lf_kinds", None)
    if kinds is not None:
        frame["kind"] = list(kinds)
    else:
        frame = frame.drop(columns="kind")
    if Y is not None:
        y = check_gold_labels(Y, k, n_rows=n, name="Y")
        hit = voted & (arr == y[:, None])
        correct = hit.sum(axis=0)
        incorrect = voted.sum(axis=0) - correct
        frame["correct"] = correct
        frame["incorrect"] = incorrect
        with np.errstate(invalid="ignore", divide="ignore"):
            frame["emp_accuracy"] = np.where(
                correct + incorrect > 0, correct / np.maximum(correct + incorrect, 1), np.nan
            )
    if model is not None:
        frame["learned_accuracy"] = _learned_accuracies(model, m)
    frame.attrs["totals"] = label_stats(arr, k)
    return frame
