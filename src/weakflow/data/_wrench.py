"""Read datasets in the WRENCH weak-supervision benchmark format.

A WRENCH folder holds ``train.json``, ``valid.json`` and ``test.json`` (each a dict
``id -> {"label": int, "weak_labels": [int per LF, -1 = abstain], "data": {"text": ...}}``) and
``label.json`` (``class index -> class name``). See Zhang et al., "WRENCH: A Comprehensive
Benchmark for Weak Supervision", NeurIPS 2021 Datasets and Benchmarks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from weakflow._label_matrix import LabelMatrix
from weakflow.errors import DatasetFormatError

__all__ = ["WRENCH_SPLITS", "WrenchDataset", "WrenchSplit", "load_wrench"]

WRENCH_SPLITS = ("train", "valid", "test")
_REQUIRED = ("label.json", *(f"{s}.json" for s in WRENCH_SPLITS))


@dataclass(frozen=True)
class WrenchSplit:
    """One split: the LF votes, the gold labels and the raw fields, row-aligned by id."""

    name: str
    L: LabelMatrix
    y: npt.NDArray[np.int64]
    data: pd.DataFrame

    @property
    def ids(self) -> npt.NDArray[Any]:
        return self.L.row_ids

    def __len__(self) -> int:
        return self.L.n_rows


@dataclass(frozen=True)
class WrenchDataset:
    """A WRENCH dataset: class names and the train / valid / test splits."""

    name: str
    label_names: tuple[str, ...]
    train: WrenchSplit
    valid: WrenchSplit
    test: WrenchSplit

    @property
    def n_classes(self) -> int:
        return len(self.label_names)

    @property
    def n_lfs(self) -> int:
        return self.train.L.n_lfs


def _read_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise DatasetFormatError(f"{path} is not valid JSON: {exc}.") from None


def _label_names(path: Path) -> tuple[str, ...]:
    raw = _read_json(path)
    if not isinstance(raw, dict) or not raw:
        raise DatasetFormatError(f"{path} must map class indices to names, e.g. {{'0': 'ham'}}.")
    try:
        table = {int(k): str(v) for k, v in raw.items()}
    except ValueError:
        raise DatasetFormatError(
            f"{path}: class indices must be integers, got {list(raw)}."
        ) from None
    if sorted(table) != list(range(len(table))):
        raise DatasetFormatError(
            f"{path}: class indices must be 0..{len(table) - 1}, got {sorted(table)}."
        )
    return tuple(table[i] for i in range(len(table)))


def _read_split(path: Path, name: str, k: int, n_lfs: int | None) -> WrenchSplit:
    raw = _read_json(path)
    if not isinstance(raw, dict) or not raw:
        raise DatasetFormatError(f"{path} must be a non-empty JSON object of id -> example.")
    ids, labels, votes, fields = [], [], [], []
    for key, ex in raw.items():
        if not isinstance(ex, dict) or "weak_labels" not in ex or "label" not in ex:
            raise DatasetFormatError(
                f"{path}: example {key!r} needs 'label' and 'weak_labels' (and 'data')."
            )
        wl = ex["weak_labels"]
        if not isinstance(wl, list) or (n_lfs is not None and len(wl) != n_lfs):
            raise DatasetFormatError(
                f"{path}: example {key!r} has {len(wl) if isinstance(wl, list) else wl!r} weak "
                f"labels; every example must have {n_lfs}."
            )
        n_lfs = len(wl)
        ids.append(key)
        labels.append(ex["label"])
        votes.append(wl)
        fields.append(ex.get("data") or {})
    L_raw: npt.NDArray[Any] = np.asarray(votes)
    if L_raw.dtype.kind not in "iu" or (L_raw.size and (L_raw.min() < -1 or L_raw.max() >= k)):
        raise DatasetFormatError(
            f"{path}: weak labels must be integers in -1..{k - 1} (label.json has {k} classes)."
        )
    y = np.asarray(labels)
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= k:
        bad = next(i for i, v in enumerate(labels) if not isinstance(v, int) or not 0 <= v < k)
        raise DatasetFormatError(
            f"{path}: example {ids[bad]!r} has label {labels[bad]!r}; labels must be 0..{k - 1}."
        )
    names = [f"lf_{j}" for j in range(L_raw.shape[1])]
    L = LabelMatrix(L_raw, names, np.asarray(ids, dtype=object), cardinality=k)
    data = pd.DataFrame(fields, index=pd.Index(ids, name="id"))
    return WrenchSplit(name, L, y.astype(np.int64), data)


def load_wrench(path: str | Path) -> WrenchDataset:
    """Load a WRENCH-format dataset folder.

    Parameters
    ----------
    path : str or Path
        A folder with ``label.json``, ``train.json``, ``valid.json`` and ``test.json``.

    Returns
    -------
    WrenchDataset

    Raises
    ------
    DatasetFormatError
        A file is missing or malformed; the message names the file (and the example).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DatasetFormatError(f"{folder} is not a folder; pass a WRENCH dataset folder.")
    missing = [f for f in _REQUIRED if not (folder / f).is_file()]
    if missing:
        raise DatasetFormatError(
            f"{folder} is not in WRENCH format: missing {', '.join(missing)}. A WRENCH folder "
            "holds label.json and train/valid/test.json (id -> label, weak_labels, data)."
        )
    names = _label_names(folder / "label.json")
    k = len(names)
    train = _read_split(folder / "train.json", "train", k, None)
    valid = _read_split(folder / "valid.json", "valid", k, train.L.n_lfs)
    test = _read_split(folder / "test.json", "test", k, train.L.n_lfs)
    return WrenchDataset(folder.name, names, train, valid, test)
