"""Input checks shared by the stages: label matrices, gold labels, fitted state, seeds.

They turn whatever the caller passed into the canonical array (smallest integer dtype that holds the
labels) and raise :class:`~weakflow.errors.SchemaError` naming the bad value and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from weakflow._types import ABSTAIN, IntArray, RandomStateLike
from weakflow.errors import NotFittedError, SchemaError

__all__ = [
    "check_cardinality",
    "check_gold_labels",
    "check_is_fitted",
    "check_label_matrix",
    "check_random_state",
    "label_dtype",
]


def label_dtype(cardinality: int) -> np.dtype[Any]:
    """Smallest signed integer dtype that holds ``-1 .. cardinality - 1``."""
    if cardinality <= np.iinfo(np.int8).max:
        return np.dtype(np.int8)
    if cardinality <= np.iinfo(np.int16).max:
        return np.dtype(np.int16)
    return np.dtype(np.int32)


def check_cardinality(cardinality: object) -> int:
    """Return ``cardinality`` as an int >= 2 or raise a SchemaError that says why."""
    if isinstance(cardinality, bool) or not isinstance(cardinality, int | np.integer):
        raise SchemaError(f"cardinality must be an integer >= 2, got {cardinality!r}.")
    if cardinality < 2:
        raise SchemaError(
            f"cardinality must be >= 2 (the number of classes), got {cardinality}. "
            "A task with one class needs no label model."
        )
    return int(cardinality)


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def check_label_matrix(
    L: object, cardinality: int | None = None, *, name: str = "L", allow_empty: bool = False
) -> IntArray:
    """Validate a label matrix and return it as a C-contiguous 2-D integer array.

    Parameters
    ----------
    L : LabelMatrix or array-like of shape (n_rows, n_lfs)
        Votes in ``-1 .. cardinality - 1``; ``-1`` (ABSTAIN) means the LF did not vote.
    cardinality : int, optional
        Number of classes. When omitted, it is inferred as ``max(L) + 1`` (at least 2).
    name : str
        What to call the matrix in error messages.
    allow_empty : bool
        Accept a matrix with no rows.

    Returns
    -------
    ndarray of int8 (int16/int32 for very many classes)

    Raises
    ------
    SchemaError
        Wrong number of dimensions, non-integer values, values outside ``[-1, cardinality)``,
        or no rows / no LFs.
    """
    values = getattr(L, "values", L) if type(L).__name__ == "LabelMatrix" else L
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"{name} could not be read as an array: {exc}") from exc
    if arr.ndim != 2:
        raise SchemaError(
            f"{name} must be 2-D (n_rows x n_lfs), got an array of shape {arr.shape}. "
            "Reshape a single LF's votes with L.reshape(-1, 1)."
        )
    if arr.shape[1] == 0:
        raise SchemaError(f"{name} has no columns: at least one labeling function is needed.")
    if arr.shape[0] == 0 and not allow_empty:
        raise SchemaError(f"{name} has no rows: there is nothing to label.")
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise SchemaError(
            f"{name} must hold integer labels (ABSTAIN = -1, classes 0..k-1), "
            f"got dtype {arr.dtype}."
        )
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            where = _first_bad(bad)
            raise SchemaError(
                f"{name} holds a non-integer value {arr[where]!r} at (row, lf) = {where}. "
                "Votes must be whole numbers: -1 for abstain, 0..k-1 for classes."
            )
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
    else:
        lo, hi = ABSTAIN, ABSTAIN
    if cardinality is None:
        cardinality = max(2, hi + 1)
    k = check_cardinality(cardinality)
    if lo < ABSTAIN or hi >= k:
        bad = (arr < ABSTAIN) | (arr >= k)
        where = _first_bad(bad)
        seen = sorted({int(v) for v in np.unique(arr[bad])[:5]})
        raise SchemaError(
            f"{name} has values {seen} outside -1..{k - 1}, first at (row, lf) = {where}. "
            f"Pass cardinality={max(hi + 1, k)} if there are more classes, "
            "or fix the labeling functions that emit them."
        )
    return np.ascontiguousarray(arr, dtype=label_dtype(k))


def check_gold_labels(
    y: object, cardinality: int, *, n_rows: int | None = None, name: str = "y"
) -> IntArray:
    """Validate gold labels: 1-D integers in ``0 .. cardinality - 1`` (no abstains)."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise SchemaError(f"{name} must be 1-D, got shape {arr.shape}.")
    if n_rows is not None and arr.shape[0] != n_rows:
        raise SchemaError(
            f"{name} has {arr.shape[0]} labels but the label matrix has {n_rows} rows; "
            "they must describe the same rows in the same order."
        )
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise SchemaError(f"{name} must hold integer class labels, got dtype {arr.dtype}.")
    if arr.size and (arr.min() < 0 or arr.max() >= cardinality):
        bad = np.flatnonzero((arr < 0) | (arr >= cardinality))
        raise SchemaError(
            f"{name} has label {int(arr[bad[0]])} at row {int(bad[0])} "
            f"({bad.size} bad rows in all); "
            f"gold labels must be in 0..{cardinality - 1}."
        )
    return arr.astype(np.int64, copy=False)


def check_is_fitted(estimator: object, attributes: str | Sequence[str]) -> None:
    """Raise NotFittedError unless every named fitted attribute is set on ``estimator``."""
    names = [attributes] if isinstance(attributes, str) else list(attributes)
    if not all(hasattr(estimator, a) for a in names):
        cls = type(estimator).__name__
        raise NotFittedError(
            f"This {cls} instance is not fitted yet. Call 'fit' with a label matrix first."
        )


def check_random_state(random_state: RandomStateLike) -> np.random.Generator:
    """A local Generator from a seed, ``None`` (fresh entropy) or an existing Generator.

    weakflow never touches numpy's global RNG: results depend only on the seed passed.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, int | np.integer):
        return np.random.default_rng(None if random_state is None else int(random_state))
    raise SchemaError(
        f"random_state must be None, an int or a numpy Generator, got {random_state!r}."
    )
