"""A batch of rows as vectorized LFs see it, with per-batch caches shared between LFs.

Several builder LFs usually read the same text column; :class:`Batch` converts it to Arrow once
per batch (a no-op for pandas' Arrow-backed string dtype) instead of once per LF.
"""

from __future__ import annotations

import threading
from typing import Any

import pandas as pd
import pyarrow as pa

from weakflow.errors import SchemaError

__all__ = ["Batch"]


class Batch:
    """Rows ``start .. start + len(frame)`` of the data being labeled."""

    def __init__(self, frame: pd.DataFrame, start: int = 0) -> None:
        self.frame = frame
        self.start = start
        self._arrow: dict[object, pa.Array] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.frame)

    def column(self, field: object) -> pd.Series:
        """The column ``field``; a SchemaError listing the columns there are when it is missing."""
        try:
            return self.frame[field]
        except KeyError:
            cols = ", ".join(repr(c) for c in list(self.frame.columns)[:20])
            raise SchemaError(
                f"The data has no column {field!r}; it has: {cols}. "
                "Rename the column or pass field=... to the labeling function."
            ) from None

    def text(self, field: object) -> pa.Array:
        """Column ``field`` as an Arrow string array (nulls for missing values), cached."""
        with self._lock:
            cached = self._arrow.get(field)
            if cached is not None:
                return cached
        series = self.column(field)
        arr = _to_arrow_text(series, field)
        with self._lock:
            self._arrow[field] = arr
        return arr


def _to_arrow_text(series: pd.Series, field: object) -> pa.Array:
    try:
        arr: Any = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SchemaError(
            f"Column {field!r} must hold text for this labeling function, but it mixes types "
            f"({exc}). Convert it with df[{field!r}].astype(str)."
        ) from None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.large_string())
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        raise SchemaError(
            f"Column {field!r} must hold text for this labeling function, got {series.dtype}. "
            f"Convert it with df[{field!r}].astype(str) or use threshold_lf/lookup_lf."
        )
    return arr
