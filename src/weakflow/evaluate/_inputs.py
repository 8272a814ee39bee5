"""Input checks shared by the evaluation modules: class probabilities and gold labels.

Every evaluation function takes the same pair, ``y_true`` (gold class indices) and ``proba`` (an
``n x k`` matrix of class probabilities), so the checks and their error messages live here once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from weakflow._types import FloatArray, IntArray
from weakflow._validation import check_gold_labels
from weakflow.errors import SchemaError

__all__ = ["check_label_names", "check_proba", "check_proba_and_labels"]

#: How far a row of probabilities may be from summing to 1 before it is an error (not rounding).
SUM_TOLERANCE = 1e-3


def check_proba(proba: npt.ArrayLike, *, k: int | None = None, name: str = "proba") -> FloatArray:
    """Validate class probabilities and return them as float64 rows that sum to exactly 1.

    Rows that sum to 1 up to rounding (``SUM_TOLERANCE``) are renormalized, because scikit-learn's
    ``log_loss`` and multiclass ROC-AUC insist on exact sums; anything further off is an error, as
    it usually means scores or logits were passed instead of probabilities.

    Raises
    ------
    SchemaError
        Not 2-D, fewer than 2 columns, a column count other than ``k``, non-finite or negative
        values, or rows that do not sum to 1.
    """
    try:
        arr = np.asarray(proba, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"{name} could not be read as an array of floats: {exc}") from exc
    if arr.ndim != 2:
        hint = (
            " For a binary task pass both columns: np.column_stack([1 - p, p])."
            if arr.ndim == 1
            else ""
        )
        raise SchemaError(
            f"{name} must be 2-D (n_rows x n_classes), got an array of shape {arr.shape}.{hint}"
        )
    if arr.shape[1] < 2:
        raise SchemaError(
            f"{name} has {arr.shape[1]} column(s); class probabilities need one column per class "
            "(at least 2)."
        )
    if k is not None and arr.shape[1] != k:
        raise SchemaError(
            f"{name} has {arr.shape[1]} columns but there are {k} classes; pass one probability "
            "column per class, in label order."
        )
    if not np.isfinite(arr).all():
        row = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise SchemaError(f"{name} has a non-finite value in row {row}: {arr[row].tolist()}.")
    if (arr < 0).any() or (arr > 1 + SUM_TOLERANCE).any():
        row = int(np.argwhere((arr < 0) | (arr > 1 + SUM_TOLERANCE))[0][0])
        raise SchemaError(
            f"{name} row {row} holds {arr[row].tolist()}, outside [0, 1]. Pass probabilities "
            "(predict_proba), not scores or logits."
        )
    sums = arr.sum(axis=1)
    off = np.abs(sums - 1.0) > SUM_TOLERANCE
    if off.any():
        row = int(np.flatnonzero(off)[0])
        raise SchemaError(
            f"{name} row {row} sums to {sums[row]:.6g}, not 1 ({int(off.sum())} such rows). Pass "
            "probabilities (predict_proba), not scores; normalize with p / p.sum(1, keepdims=True)."
        )
    out: FloatArray = arr / sums[:, None] if arr.shape[0] else arr
    return out


def check_label_names(label_names: Sequence[str], k: int | None = None) -> list[str]:
    """Label names as a list of distinct strings, one per class."""
    if isinstance(label_names, str):
        raise SchemaError(
            f"label_names must be a sequence of names, one per class, got the string "
            f"{label_names!r}. Pass e.g. ['HAM', 'SPAM']."
        )
    names = [str(n) for n in label_names]
    if k is not None and len(names) != k:
        raise SchemaError(
            f"{len(names)} label names {names} for {k} classes; pass one name per probability "
            "column, in label order."
        )
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise SchemaError(f"label_names must be distinct, {dup} appear more than once.")
    return names


def check_proba_and_labels(
    y_true: npt.ArrayLike, proba: npt.ArrayLike, *, k: int | None = None, allow_empty: bool = False
) -> tuple[IntArray, FloatArray]:
    """Gold labels and probabilities for the same rows, checked together."""
    p = check_proba(proba, k=k)
    n_true = np.shape(y_true)[0] if np.ndim(y_true) else 0
    if np.ndim(y_true) == 1 and n_true != p.shape[0]:
        raise SchemaError(
            f"y_true has {n_true} labels but proba has {p.shape[0]} rows; they must describe the "
            "same rows in the same order."
        )
    y = check_gold_labels(y_true, p.shape[1], name="y_true")
    if y.size == 0 and not allow_empty:
        raise SchemaError("y_true has no rows: there is nothing to evaluate.")
    return y, p
