"""The label matrix: what LF engines produce and label models consume.

It is shared by three stages (the WRENCH loader in ``data`` reads one, the engines in
``labeling`` produce one, the models in ``labelmodel`` consume one), so it lives beside the other
shared modules; users import it as ``weakflow.labeling.LabelMatrix``.

A :class:`LabelMatrix` is an ``n x m`` array of small integers (``-1`` = ABSTAIN, classes
``0..k-1``) with the LF names as columns and the data's row ids as rows. Label models only need
its distinct rows: :func:`compress_votes` reduces it to ``(unique vote pattern, count)`` pairs so
that fitting costs do not grow with the number of rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from weakflow._types import IntArray
from weakflow._validation import check_label_matrix
from weakflow.errors import SchemaError

__all__ = ["LabelMatrix", "VotePatterns", "compress_votes"]


class LabelMatrix:
    """LF votes for every row: an integer array plus LF names and row ids.

    Parameters
    ----------
    values : array-like of shape (n_rows, n_lfs)
        Votes; ``-1`` abstains. Stored as the smallest integer dtype that fits (int8 for up to 127
        classes).
    lf_names : sequence of str, optional
        Column names; ``lf_0, lf_1, ...`` when omitted.
    row_ids : array-like, optional
        The id of each row (the data's index); ``0..n-1`` when omitted.
    cardinality : int, optional
        Number of classes, when known; validated against the values.
    fault_counts : mapping of str to int, optional
        Rows on which each LF raised and was counted as abstaining (``fault_tolerant=True``).
    lf_kinds : sequence of str, optional
        What kind each LF is (``keyword``, ``regex``, ``python``, ...), shown by ``lf_summary``.

    Examples
    --------
    >>> L = LabelMatrix([[1, -1], [0, 0]], lf_names=["a", "b"], row_ids=["r1", "r2"])
    >>> L.shape
    (2, 2)
    >>> L.to_frame().loc["r1", "a"]
    np.int8(1)
    """

    def __init__(
        self,
        values: npt.ArrayLike,
        lf_names: Sequence[str] | None = None,
        row_ids: npt.ArrayLike | pd.Index | None = None,
        *,
        cardinality: int | None = None,
        fault_counts: Mapping[str, int] | None = None,
        lf_kinds: Sequence[str] | None = None,
    ) -> None:
        arr = check_label_matrix(values, cardinality, allow_empty=True)
        n, m = arr.shape
        names = tuple(lf_names) if lf_names is not None else tuple(f"lf_{j}" for j in range(m))
        if len(names) != m:
            raise SchemaError(f"{len(names)} LF names for a label matrix with {m} columns.")
        dup = sorted({x for x in names if names.count(x) > 1})
        if dup:
            raise SchemaError(f"Duplicate LF names in the label matrix: {dup}.")
        ids = np.arange(n) if row_ids is None else np.asarray(row_ids)
        if ids.ndim != 1:
            raise SchemaError(f"row_ids must be one id per row ({n} rows), got {row_ids!r}.")
        if ids.shape[0] != n:
            raise SchemaError(f"{ids.shape[0]} row ids for a label matrix with {n} rows.")
        self.values: IntArray = arr
        self.lf_names: tuple[str, ...] = names
        self.row_ids: npt.NDArray[Any] = ids
        self.cardinality = cardinality
        self.fault_counts: dict[str, int] = {nm: 0 for nm in names}
        self.fault_counts.update(fault_counts or {})
        if lf_kinds is not None and len(lf_kinds) != m:
            raise SchemaError(f"{len(lf_kinds)} LF kinds for a label matrix with {m} columns.")
        self.lf_kinds: tuple[str, ...] | None = tuple(lf_kinds) if lf_kinds is not None else None

    # -- array protocol ----------------------------------------------------------------------
    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is None or np.dtype(dtype) == self.values.dtype:
            return self.values.copy() if copy else self.values
        return self.values.astype(dtype)

    @property
    def shape(self) -> tuple[int, int]:
        n, m = self.values.shape
        return int(n), int(m)

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_lfs(self) -> int:
        return int(self.values.shape[1])

    def __len__(self) -> int:
        return self.n_rows

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelMatrix):
            return NotImplemented
        return (
            self.lf_names == other.lf_names
            and np.array_equal(self.values, other.values)
            and np.array_equal(self.row_ids, other.row_ids)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        k = f", cardinality={self.cardinality}" if self.cardinality else ""
        return f"LabelMatrix(n_rows={self.n_rows}, n_lfs={self.n_lfs}{k})"

    # -- selection ---------------------------------------------------------------------------
    def rows(self, index: npt.ArrayLike) -> LabelMatrix:
        """The matrix restricted to some rows (positions, slice or boolean mask)."""
        idx = index if isinstance(index, slice) else np.asarray(index)
        return LabelMatrix(
            self.values[idx],
            self.lf_names,
            self.row_ids[idx],
            cardinality=self.cardinality,
            lf_kinds=self.lf_kinds,
        )

    def lfs(self, names: Iterable[str]) -> LabelMatrix:
        """The matrix restricted to some LFs, in the given order."""
        names = list(names)
        missing = [x for x in names if x not in self.lf_names]
        if missing:
            raise SchemaError(f"No LF named {missing}; the matrix has {list(self.lf_names)}.")
        cols = [self.lf_names.index(x) for x in names]
        return LabelMatrix(
            self.values[:, cols],
            names,
            self.row_ids,
            cardinality=self.cardinality,
            fault_counts={x: self.fault_counts[x] for x in names},
            lf_kinds=None if self.lf_kinds is None else [self.lf_kinds[c] for c in cols],
        )

    def to_frame(self) -> pd.DataFrame:
        """The votes as a DataFrame: one column per LF, indexed by row id."""
        return pd.DataFrame(self.values, columns=list(self.lf_names), index=self.row_ids)

    def compress(self) -> VotePatterns:
        """The distinct vote patterns with their counts (see :func:`compress_votes`)."""
        return compress_votes(self.values)


@dataclass(frozen=True)
class VotePatterns:
    """Distinct rows of a label matrix.

    Attributes
    ----------
    patterns : ndarray of shape (n_patterns, n_lfs)
        Each distinct vote pattern once.
    counts : ndarray of shape (n_patterns,)
        How many rows have each pattern.
    inverse : ndarray of shape (n_rows,)
        For every row, the index of its pattern: ``patterns[inverse]`` rebuilds the matrix.
    """

    patterns: IntArray
    counts: npt.NDArray[np.int64]
    inverse: npt.NDArray[np.intp]

    @property
    def n_rows(self) -> int:
        return int(self.inverse.shape[0])

    @property
    def compressed(self) -> bool:
        """True when there are fewer patterns than rows.

        False also when a sample showed distinct rows and compression was skipped;
        ``patterns[inverse]`` rebuilds the matrix either way.
        """
        return bool(self.patterns.shape[0] < self.inverse.shape[0])


#: Rows sampled to decide whether compressing is worth its cost.
_SAMPLE = 20_000


def compress_votes(L: npt.ArrayLike, *, force: bool = False) -> VotePatterns:
    """Reduce a label matrix to its distinct rows (vote patterns) and their counts.

    Real label matrices repeat a lot (with 10 LFs, a million rows hold a few thousand patterns),
    so label models fit on patterns at a cost independent of the row count. When a sample shows
    that rows are nearly all distinct, compression would cost more than it saves and is skipped
    (the result then has one pattern per row) unless ``force=True``.

    Examples
    --------
    >>> vp = compress_votes([[1, -1], [0, 0], [1, -1]], force=True)
    >>> vp.patterns.tolist(), vp.counts.tolist(), vp.inverse.tolist()
    ([[0, 0], [1, -1]], [1, 2], [1, 0, 1])
    """
    arr = np.ascontiguousarray(check_label_matrix(L, allow_empty=True))
    n = arr.shape[0]
    if not force and n > 2 * _SAMPLE:
        sample = _void_rows(arr[:_SAMPLE])
        if np.unique(sample).shape[0] > 0.5 * _SAMPLE:
            return VotePatterns(arr, np.ones(n, dtype=np.int64), np.arange(n))
    keys = _void_rows(arr)
    _, first, inverse, counts = np.unique(
        keys, return_index=True, return_inverse=True, return_counts=True
    )
    return VotePatterns(arr[first], counts.astype(np.int64), inverse.reshape(-1))


def _void_rows(arr: np.ndarray) -> np.ndarray:
    """Each row as one opaque bytes value, so that numpy sorts rows with memcmp."""
    arr = np.ascontiguousarray(arr)
    width = arr.dtype.itemsize * arr.shape[1]
    return arr.view(np.dtype((np.void, width))).reshape(-1)
