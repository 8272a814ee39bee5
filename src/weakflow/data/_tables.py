"""Read a project's data files (CSV, Parquet, JSON Lines) into DataFrames, and fingerprint them.

``weakflow run`` takes a train pool, a dev set and a test set as files; this module is the one place
that turns such a file into a :class:`pandas.DataFrame`, with errors that name the file (and, where
the parser says, the line) instead of a parser traceback.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Final, Literal

import pandas as pd

from weakflow.errors import DatasetFormatError

__all__ = ["TABLE_FORMATS", "TableFormat", "content_hash", "read_table"]

TableFormat = Literal["csv", "parquet", "jsonl"]

#: File suffixes read by :func:`read_table` and the format each one means.
TABLE_FORMATS: Final[dict[str, TableFormat]] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_FORMAT_NAMES: Final = ("csv", "parquet", "jsonl")


def _infer_format(path: Path) -> TableFormat:
    fmt = TABLE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        supported = ", ".join(TABLE_FORMATS)
        raise DatasetFormatError(
            f"{path}: cannot tell the format from the suffix {path.suffix or '(none)'!r}. "
            f"Supported suffixes: {supported}; rename the file or pass format='csv', "
            "'parquet' or 'jsonl'."
        )
    return fmt


def _string_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns that hold only strings (and missing values) as pandas' string dtype."""
    for col in frame.columns:
        series = frame[col]
        if series.dtype != object:
            continue
        values = series.dropna()
        if len(values) and all(isinstance(v, str) for v in values):
            frame[col] = series.astype(pd.StringDtype(na_value=float("nan")))
    return frame


def _first_bad_json_line(path: Path) -> tuple[int, str] | None:
    """The 1-based number and the error of the first line that is not a JSON object."""
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                return number, exc.msg
            if not isinstance(value, dict):
                return number, f"expected a JSON object, got {type(value).__name__}"
    return None


def _read_jsonl(path: Path) -> pd.DataFrame:
    try:
        # dtype=False keeps JSON's own types: "007" stays a string, dates are not guessed.
        return pd.read_json(path, lines=True, dtype=False, encoding="utf-8")
    except (ValueError, TypeError) as exc:
        bad = _first_bad_json_line(path)
        if bad is None:
            raise ValueError(str(exc)) from exc
        number, reason = bad
        raise DatasetFormatError(
            f"{path}: line {number} is not valid JSON Lines ({reason}). Each line must be one "
            'JSON object, e.g. {"text": "...", "label": "spam"}.'
        ) from None


def _read(path: Path, fmt: TableFormat) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(path, encoding="utf-8")
    if fmt == "parquet":
        return pd.read_parquet(path)
    return _read_jsonl(path)


def read_table(path: str | Path, *, format: TableFormat | None = None) -> pd.DataFrame:
    """Read a CSV, Parquet or JSON Lines file into a DataFrame.

    Why: the run's data stage reads three files that users export from anywhere; one reader with
    the same dtypes for every format (text as pandas' string dtype) and errors naming the file
    keeps the checks and messages that follow independent of the file format.

    Parameters
    ----------
    path : str or Path
        The file.
    format : {"csv", "parquet", "jsonl"}, optional
        The file format; by default inferred from the suffix (``.csv``, ``.parquet``/``.pq``,
        ``.jsonl``/``.ndjson``).

    Returns
    -------
    pandas.DataFrame
        One row per record, a fresh ``RangeIndex``; text columns have pandas' default string dtype.

    Raises
    ------
    DatasetFormatError
        The file does not exist, its format is unknown, or its content cannot be parsed (the
        message names the file and, where the parser reports it, the line).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "dev.csv"
    ...     _ = path.write_text("text,label\\nhello,ham\\n")
    ...     df = read_table(path)
    >>> df.dtypes.astype(str).tolist()
    ['str', 'str']
    """
    file = Path(path)
    if format is not None and format not in _FORMAT_NAMES:
        raise DatasetFormatError(
            f"{file}: unknown format {format!r}; pass 'csv', 'parquet' or 'jsonl'."
        )
    if not file.exists():
        raise DatasetFormatError(
            f"{file} does not exist; check the path (relative paths start at {Path.cwd()})."
        )
    if not file.is_file():
        raise DatasetFormatError(f"{file} is not a file; pass the path of a data file.")
    fmt = format or _infer_format(file)
    try:
        frame = _read(file, fmt)
    except DatasetFormatError:
        raise
    except pd.errors.EmptyDataError:
        raise DatasetFormatError(
            f"{file} is empty (no header line); a CSV needs a header naming the columns."
        ) from None
    except UnicodeDecodeError as exc:
        raise DatasetFormatError(
            f"{file} is not UTF-8 text (byte {exc.start}: {exc.reason}); re-save it as UTF-8"
            f"{' or check that it is really a ' + fmt + ' file' if fmt != 'parquet' else ''}."
        ) from None
    except (ValueError, OSError) as exc:
        # pandas' ParserError and pyarrow's ArrowInvalid are ValueErrors; their text names the
        # line ("Expected 2 fields in line 3, saw 3") or the problem ("magic bytes not found").
        raise DatasetFormatError(
            f"{file} could not be read as {fmt}: {_first_line(exc)}. Check that the file is a "
            f"complete, valid {fmt} file."
        ) from exc
    frame = _string_columns(frame)
    frame.index = pd.RangeIndex(len(frame))
    return frame


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(".") if text else type(exc).__name__


def content_hash(path: str | Path, *, chunk_size: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes, read in chunks, as 64 hex digits.

    Why: a run records which exact input files it was trained on (provenance), whatever their
    size, without holding them in memory.

    Parameters
    ----------
    path : str or Path
        The file.
    chunk_size : int
        Bytes read at a time.

    Returns
    -------
    str
        Lowercase hex digest.

    Raises
    ------
    DatasetFormatError
        The file does not exist or is not a regular file.
    """
    file = Path(path)
    if not file.is_file():
        raise DatasetFormatError(f"{file} does not exist or is not a file; cannot hash it.")
    digest = hashlib.sha256()
    with file.open("rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
