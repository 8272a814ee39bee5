"""What every data check needs: the datasets, their columns, and how to quote rows in messages."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from weakflow.data._labels import LabelCodes, label_codes
from weakflow.data._results import CheckResult, DataCheckOptions, Dataset, Severity

__all__ = ["CheckContext", "normalize_text", "plural"]


def normalize_text(text: str) -> str | None:
    """``text`` stripped, case-folded, Unicode-normalized (NFKC), with runs of whitespace made one
    space; ``None`` when nothing is left. Two texts equal after this count as exact duplicates."""
    normalized = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return normalized or None


def plural(n: int, word: str, words: str | None = None) -> str:
    """``"1 row"``, ``"3 rows"``."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def is_missing(value: object) -> bool:
    """Whether a cell is missing (None, NaN, NA, NaT); lists and dicts are not."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return isinstance(value, np.datetime64 | np.timedelta64) and bool(np.isnat(value))


@dataclass
class CheckContext:
    """The inputs of :func:`~weakflow.data.run_data_checks`, with per-dataset caches."""

    datasets: Sequence[Dataset]
    label_column: str
    label_names: list[str]
    text_column: str | None
    id_column: str | None
    feature_columns: list[str]
    options: DataCheckOptions
    random_state: int
    duplicate_columns: dict[str, list[str]] = field(default_factory=dict)
    _texts: dict[str, list[str | None]] = field(default_factory=dict, repr=False)
    _normalized: dict[str, list[str | None]] = field(default_factory=dict, repr=False)
    _labels: dict[str, LabelCodes | None] = field(default_factory=dict, repr=False)

    def by_role(self, role: str) -> Dataset | None:
        """The dataset playing ``role``, if any."""
        return next((ds for ds in self.datasets if ds.role == role), None)

    def result(
        self, name: str, severity: Severity, passed: bool, message: str, **details: Any
    ) -> CheckResult:
        """A result whose severity, when it failed, may be overridden by the options."""
        if not passed:
            severity = self.options.severities.get(name, severity)
        return CheckResult(name, severity, passed, message, details)

    # --- rows ----------------------------------------------------------------------------

    def uses_ids(self, ds: Dataset) -> bool:
        """Whether rows of ``ds`` are quoted by their id (an id column exists) or by position."""
        return self.id_column is not None and self.id_column in ds.frame.columns

    def row_ref(self, ds: Dataset, pos: int | np.integer[Any]) -> Any:
        """How row ``pos`` of ``ds`` is quoted: its id, or its 0-based position."""
        if self.uses_ids(ds):
            assert self.id_column is not None
            value = ds.frame[self.id_column].iloc[int(pos)]
            if isinstance(value, np.generic):
                value = value.item()
            return None if is_missing(value) else value
        return int(pos)

    def row_refs(self, ds: Dataset, positions: Sequence[int] | npt.NDArray[Any]) -> list[Any]:
        """The first ``max_examples`` rows of ``positions``, quoted."""
        return [self.row_ref(ds, p) for p in list(positions)[: self.options.max_examples]]

    def rows_text(self, ds: Dataset, positions: Sequence[int] | npt.NDArray[Any]) -> str:
        """``"rows 3, 8 (0-based)"`` or ``"ids 'a', 'b'"``, with ``"and N more"``."""
        positions = list(positions)
        refs = self.row_refs(ds, positions)
        extra = len(positions) - len(refs)
        more = f" and {extra} more" if extra > 0 else ""
        if self.uses_ids(ds):
            noun = "id" if len(positions) == 1 else "ids"
            return f"{noun} {', '.join(repr(r) for r in refs)}{more}"
        noun = "row" if len(positions) == 1 else "rows"
        return f"{noun} {', '.join(str(r) for r in refs)}{more} (0-based)"

    def ref_text(self, ds: Dataset, pos: int | np.integer[Any]) -> str:
        """One row, quoted: ``"row 3"`` or ``"id 'a'"``."""
        if self.uses_ids(ds):
            return f"id {self.row_ref(ds, pos)!r}"
        return f"row {int(pos)}"

    # --- columns -------------------------------------------------------------------------

    def has_text(self, ds: Dataset) -> bool:
        return self.text_column is not None and self.text_column in ds.frame.columns

    def texts(self, ds: Dataset) -> list[str | None]:
        """The text column as str (non-string values converted), None where missing."""
        if ds.role not in self._texts:
            out: list[str | None] = []
            if self.has_text(ds):
                assert self.text_column is not None
                for value in ds.frame[self.text_column].array:
                    if isinstance(value, str):
                        out.append(value)
                    else:
                        out.append(None if is_missing(value) else str(value))
            self._texts[ds.role] = out
        return self._texts[ds.role]

    def normalized(self, ds: Dataset) -> list[str | None]:
        """The texts normalized for duplicate detection (see :func:`normalize_text`)."""
        if ds.role not in self._normalized:
            self._normalized[ds.role] = [
                None if t is None else normalize_text(t) for t in self.texts(ds)
            ]
        return self._normalized[ds.role]

    def features(self, ds: Dataset) -> list[str]:
        """The feature columns present in ``ds``."""
        return [c for c in self.feature_columns if c in ds.frame.columns]

    def labels(self, ds: Dataset) -> LabelCodes | None:
        """The gold labels of a labeled dataset as codes (None without a label column)."""
        if ds.role not in self._labels:
            if ds.labeled and self.label_column in ds.frame.columns:
                codes = label_codes(ds.frame[self.label_column], self.label_names)
                self._labels[ds.role] = codes
            else:
                self._labels[ds.role] = None
        return self._labels[ds.role]

    def label_name(self, code: int) -> str:
        return self.label_names[code] if 0 <= code < len(self.label_names) else "(none)"
