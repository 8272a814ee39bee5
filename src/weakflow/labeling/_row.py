"""Row objects handed to row-wise labeling functions.

Snorkel passes each row as a ``pandas.Series``, which costs about 20 µs to build. weakflow passes a
:class:`Row`: a named tuple (about 0.2 µs) that reads like a Series, so ported LFs work unchanged:
``x.text``, ``x["text"]``, ``x.get("text")``, ``x.keys()``.

LFs with preprocessors (``pre=``) get a :class:`MutableRow` instead, because Snorkel-style
preprocessors add fields in place (``x.words = x.text.split(); return x``).
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

__all__ = ["MutableRow", "Row", "row_type"]


class Row(tuple[Any, ...]):
    """Base of the per-schema named-tuple row types (see :func:`row_type`)."""

    __slots__ = ()
    #: Original column name -> position (column names need not be identifiers).
    _index: ClassVar[dict[object, int]] = {}
    _columns: ClassVar[tuple[object, ...]] = ()

    def __getitem__(self, key: Any) -> Any:
        # Column labels first (as a pandas Series does), then positions for ints and slices.
        if isinstance(key, slice):
            return tuple.__getitem__(self, key)
        pos = self._index.get(key)
        if pos is not None:
            return tuple.__getitem__(self, pos)
        if isinstance(key, int) and not isinstance(key, bool):
            return tuple.__getitem__(self, key)
        raise KeyError(key)

    def get(self, key: object, default: Any = None) -> Any:
        """The field's value, or ``default`` when the row has no such field."""
        pos = self._index.get(key)
        return default if pos is None else tuple.__getitem__(self, pos)

    def keys(self) -> tuple[object, ...]:
        return self._columns

    def items(self) -> Iterator[tuple[object, Any]]:
        return zip(self._columns, self, strict=True)

    def to_dict(self) -> dict[object, Any]:
        return dict(self.items())

    def __contains__(self, key: object) -> bool:
        return key in self._index


class MutableRow(dict[str, Any]):
    """A dict with attribute access; what preprocessors receive and may modify."""

    __slots__ = ()

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __delattr__(self, key: str) -> None:
        try:
            del self[key]
        except KeyError:
            raise AttributeError(key) from None

    def copy(self) -> MutableRow:
        return MutableRow(self)

    def to_dict(self) -> dict[str, Any]:
        return dict(self)


@functools.lru_cache(maxsize=256)
def _row_type(columns: tuple[object, ...]) -> type[Row]:
    base = namedtuple("_RowBase", [str(c) for c in columns], rename=True)  # type: ignore[misc]
    index = {c: i for i, c in enumerate(columns)}
    return type("Row", (Row, base), {"__slots__": (), "_index": index, "_columns": columns})


def row_type(columns: Sequence[object]) -> type[Row]:
    """The Row class for a frame's columns (cached per schema).

    Every column is reachable as ``x["name"]``; columns whose names are identifiers also as
    ``x.name`` (others get the attribute ``_<position>``).
    """
    return _row_type(tuple(columns))
