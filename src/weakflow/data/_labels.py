"""Gold labels as class indices, whether the file holds names (``"spam"``) or indices (``1``)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from weakflow._types import ABSTAIN
from weakflow.errors import SchemaError

__all__ = ["LabelCodes", "check_label_names", "encode_labels", "label_codes"]


@dataclass(frozen=True)
class LabelCodes:
    """Labels read against the class names: codes, and which rows were missing or invalid.

    ``codes`` holds the class index of each row, ``ABSTAIN`` (-1) where the label is missing or
    invalid.
    """

    codes: npt.NDArray[np.int64]
    missing: npt.NDArray[np.bool_]
    invalid: npt.NDArray[np.bool_]


def check_label_names(label_names: Sequence[str]) -> list[str]:
    if isinstance(label_names, str):
        raise SchemaError(
            f"label_names must be a sequence of class names, got the string {label_names!r}; "
            "pass e.g. ['ham', 'spam']."
        )
    names = [str(n) for n in label_names]
    if len(names) < 2:
        raise SchemaError(f"label_names needs at least two classes, got {names}.")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise SchemaError(f"label_names must be distinct, {dup} appear more than once.")
    return names


def _code(value: object, lookup: dict[str, int], k: int) -> int | None:
    """The class index of one non-missing label value, or None when it is not a valid label."""
    if isinstance(value, str):
        if value in lookup:
            return lookup[value]
        text = value.strip()
        if text in lookup:
            return lookup[text]
        return int(text) if text.isascii() and text.isdigit() and int(text) < k else None
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, numbers.Integral):
        return int(value) if 0 <= int(value) < k else None
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isfinite(number) and number.is_integer() and 0 <= number < k:
            return int(number)
    return None


def label_codes(series: pd.Series, label_names: Sequence[str]) -> LabelCodes:
    """Read every label of ``series`` as a class index, marking missing and invalid ones.

    A string is looked up among ``label_names`` (then, if it is not a name, read as an index);
    a number must be a whole number in ``0 .. k-1``. Booleans are never labels.
    """
    names = check_label_names(label_names)
    k = len(names)
    lookup = {name: i for i, name in enumerate(names)}
    n = len(series)
    missing = series.isna().to_numpy(dtype=bool)
    codes = np.full(n, ABSTAIN, dtype=np.int64)
    invalid = np.zeros(n, dtype=bool)
    # Keyed by type too: True == 1 == 1.0 hash alike, but only the numbers are labels.
    cache: dict[tuple[type, object], int | None] = {}
    for pos, value in enumerate(series.array):
        if missing[pos]:
            continue
        try:
            key = (type(value), value)
            if key not in cache:
                cache[key] = _code(value, lookup, k)
            code = cache[key]
        except TypeError:  # unhashable (a list from JSON)
            code = None
        if code is None:
            invalid[pos] = True
        else:
            codes[pos] = code
    return LabelCodes(codes=codes, missing=missing, invalid=invalid)


def encode_labels(
    series: pd.Series | Sequence[Any] | npt.NDArray[Any],
    label_names: Sequence[str],
    *,
    source: str | None = None,
    allow_missing: bool = False,
) -> npt.NDArray[np.int64]:
    """Gold labels as class indices ``0 .. k-1``, from class names or indices.

    Why: users write gold labels either as names (``"spam"``) or as indices (``1``); every later
    stage needs indices, and a typo (``"spma"``) must stop the run with the file, column and
    rows, not become a silently wrong class.

    Parameters
    ----------
    series : pandas.Series (or array-like)
        The label column. Strings are looked up among ``label_names`` (a string that is not a
        name but a whole number, as CSV files hold, is read as an index); numbers must be whole
        numbers in ``0 .. k-1``.
    label_names : sequence of str
        Class names in index order.
    source : str, optional
        File the column comes from, named in errors.
    allow_missing : bool
        Encode missing labels as ``ABSTAIN`` (-1) instead of raising.

    Returns
    -------
    ndarray of int64

    Raises
    ------
    SchemaError
        A label is neither a class name nor an index (or is missing and ``allow_missing`` is
        False); the message names the file, column, first bad rows and the allowed values.

    Examples
    --------
    >>> encode_labels(pd.Series(["ham", "spam", 1, 0.0]), ["ham", "spam"]).tolist()
    [0, 1, 1, 0]
    """
    if not isinstance(series, pd.Series):
        series = pd.Series(series)
    names = check_label_names(label_names)
    result = label_codes(series, names)
    where = f"{source}: " if source else ""
    column = f"column {series.name!r}" if series.name is not None else "the label column"
    if result.invalid.any():
        bad = np.flatnonzero(result.invalid)
        shown = ", ".join(f"row {series.index[i]!r} = {series.iloc[i]!r}" for i in bad[:5])
        more = f" (and {bad.size - 5} more)" if bad.size > 5 else ""
        raise SchemaError(
            f"{where}{column} has {bad.size} labels that are not classes: {shown}{more}. "
            f"Allowed: the names {names} or the indices 0..{len(names) - 1}; fix those rows or "
            "the label_names."
        )
    if result.missing.any() and not allow_missing:
        bad = np.flatnonzero(result.missing)
        shown = ", ".join(repr(series.index[i]) for i in bad[:5])
        more = f" (and {bad.size - 5} more)" if bad.size > 5 else ""
        raise SchemaError(
            f"{where}{column} has {bad.size} missing labels, at rows {shown}{more}. Gold sets "
            "need a label on every row: fill them in or drop those rows."
        )
    return result.codes
