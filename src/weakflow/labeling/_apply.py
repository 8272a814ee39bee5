"""``apply_lfs``: run labeling functions over data and return a :class:`LabelMatrix`.

The local engine walks the data in batches. Inside a batch, vectorized LFs run column-wise on a
small thread pool (Arrow and pandas kernels release the GIL) while row-wise LFs run on the calling
thread over one shared list of :class:`~weakflow.labeling.Row` objects. Every LF's output is checked
(integer labels in ``[-1, k)``, one per row) and any problem is reported with the LF's name and the
row's id and position. The Dask engine (:mod:`weakflow.labeling._dask`) runs this same per-batch
code on each partition, so both engines give the identical matrix.
"""

from __future__ import annotations

import functools
import gc
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
from pandas.arrays import ArrowExtensionArray, ArrowStringArray

from weakflow._label_matrix import LabelMatrix
from weakflow._types import ABSTAIN
from weakflow._validation import check_cardinality, label_dtype
from weakflow.errors import (
    LabelingFunctionDefinitionError,
    LabelingFunctionError,
    LabelingFunctionOutputError,
    SchemaError,
)
from weakflow.labeling._batch import Batch
from weakflow.labeling._lf import LabelingFunction, _SnorkelLF, as_labeling_function
from weakflow.labeling._progress import progress_bar
from weakflow.labeling._row import MutableRow, row_type

__all__ = ["apply_lfs", "check_lfs"]

#: Rows per batch: large enough to amortize per-batch work across threads (measured best).
DEFAULT_BATCH_SIZE = 262_144


def check_lfs(lfs: Iterable[object]) -> list[LabelingFunction]:
    """Normalize LFs (weakflow or Snorkel objects) and reject duplicate names."""
    out = [as_labeling_function(lf) for lf in lfs]
    if not out:
        raise LabelingFunctionDefinitionError("No labeling functions given: pass at least one.")
    seen: dict[str, int] = {}
    for i, lf in enumerate(out):
        if lf.name in seen:
            raise LabelingFunctionDefinitionError(
                f"Two labeling functions are named {lf.name!r} (positions {seen[lf.name]} and "
                f"{i}). LF names become label-matrix columns and must be unique; rename one."
            )
        seen[lf.name] = i
    return out


def _check_frame(data: object) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, pd.Series):
        frame = data.to_frame()
    else:
        raise SchemaError(
            f"apply_lfs needs a pandas DataFrame (or a dask DataFrame with engine='dask'), "
            f"got {type(data).__name__}. Build one with pd.DataFrame(records)."
        )
    if len(frame) == 0:
        raise SchemaError("The data has no rows: there is nothing to label.")
    if not frame.columns.is_unique:
        dup = frame.columns[frame.columns.duplicated()].tolist()
        raise SchemaError(f"The data has duplicate column names {dup}; rename them first.")
    return frame


class _Labeler:
    """Applies a fixed list of LFs to batches; shared by the local and Dask engines."""

    def __init__(
        self,
        lfs: Sequence[LabelingFunction],
        *,
        cardinality: int | None,
        fault_tolerant: bool,
        n_threads: int,
    ) -> None:
        self.lfs = list(lfs)
        self.cardinality = cardinality
        self.fault_tolerant = fault_tolerant
        self.n_threads = n_threads
        self.dtype = label_dtype(cardinality) if cardinality is not None else np.dtype(np.int16)
        self.faults = dict.fromkeys((lf.name for lf in self.lfs), 0)

    # -- one batch ---------------------------------------------------------------------------
    def label_batch(self, batch: Batch, pool: ThreadPoolExecutor | None) -> np.ndarray:
        out = np.empty((len(batch), len(self.lfs)), dtype=self.dtype)
        vec = [j for j, lf in enumerate(self.lfs) if lf.vectorized]
        row = [j for j, lf in enumerate(self.lfs) if not lf.vectorized]
        errors: dict[int, BaseException] = {}  # LF position -> its error
        futures: dict[int, Future[np.ndarray]] = {}
        if pool is not None and (len(vec) > 1 or (vec and row)):
            futures = {j: pool.submit(self._vectorized, self.lfs[j], batch) for j in vec}
        else:
            for j in vec:
                try:
                    out[:, j] = self._vectorized(self.lfs[j], batch)
                except Exception as exc:
                    errors[j] = exc
        if row:
            rows = _rows(batch.frame)
            for j in row:
                try:
                    out[:, j] = self._rowwise(self.lfs[j], batch, rows)
                except Exception as exc:
                    errors[j] = exc
        for j, fut in futures.items():
            try:
                out[:, j] = fut.result()
            except Exception as exc:
                errors[j] = exc
        if errors:  # the error of the first LF in the list wins, however the work was scheduled
            raise errors[min(errors)]
        return out

    # -- vectorized --------------------------------------------------------------------------
    def _vectorized(self, lf: LabelingFunction, batch: Batch) -> np.ndarray:
        try:
            raw = lf.apply_batch(batch)
        except SchemaError as exc:
            raise SchemaError(f"Labeling function {lf.name!r}: {exc}") from None
        except Exception as exc:
            if not self.fault_tolerant:
                self._raise_located(lf, batch, exc)
            return self._isolate_faults(lf, batch)
        return self._check_output(lf, batch, raw)

    def _raise_located(self, lf: LabelingFunction, batch: Batch, exc: Exception) -> None:
        pos = _bisect_failure(lf, batch)
        frame = batch.frame
        where = (
            f"row {frame.index[pos]!r} (position {batch.start + pos})"
            if pos is not None
            else f"the batch of rows {batch.start}..{batch.start + len(batch) - 1}"
        )
        raise LabelingFunctionError(
            f"Labeling function {lf.name!r} raised {type(exc).__name__}: {exc} on {where}. "
            "Fix the LF, or pass fault_tolerant=True to count such rows as abstains.",
            lf_name=lf.name,
            row_id=frame.index[pos] if pos is not None else None,
            position=batch.start + pos if pos is not None else None,
        ) from exc

    def _isolate_faults(self, lf: LabelingFunction, batch: Batch) -> np.ndarray:
        """Label what can be labeled; rows on which the LF raises alone abstain (counted)."""
        out = np.full(len(batch), ABSTAIN, dtype=self.dtype)
        stack = [(0, len(batch))]
        while stack:
            lo, hi = stack.pop()
            sub = Batch(batch.frame.iloc[lo:hi], batch.start + lo)
            try:
                raw = lf.apply_batch(sub)
            except Exception:
                if hi - lo == 1:
                    self.faults[lf.name] += 1
                else:
                    mid = (lo + hi) // 2
                    stack += [(mid, hi), (lo, mid)]
                continue
            out[lo:hi] = self._check_output(lf, sub, raw)
        return out

    # -- row-wise ----------------------------------------------------------------------------
    def _rowwise(self, lf: LabelingFunction, batch: Batch, rows: list[Any]) -> np.ndarray:
        call = _row_caller(lf, batch.frame)
        if self.fault_tolerant:
            results: list[Any] = []
            append = results.append
            faults = 0
            for r in rows:
                try:
                    append(call(r))
                except Exception:
                    append(ABSTAIN)
                    faults += 1
            self.faults[lf.name] += faults
            return self._check_output(lf, batch, results)
        try:
            return self._check_output(lf, batch, list(map(call, rows)))
        except Exception as exc:
            if isinstance(exc, LabelingFunctionOutputError):
                raise
            pos = _first_raising_row(call, rows)
            where = (
                f"row {batch.frame.index[pos]!r} (position {batch.start + pos})"
                if pos is not None
                else f"a row of the batch {batch.start}..{batch.start + len(batch) - 1}"
            )
            raise LabelingFunctionError(
                f"Labeling function {lf.name!r} raised {type(exc).__name__}: {exc} on {where}. "
                "Fix the LF, or pass fault_tolerant=True to count such rows as abstains.",
                lf_name=lf.name,
                row_id=batch.frame.index[pos] if pos is not None else None,
                position=batch.start + pos if pos is not None else None,
            ) from exc

    # -- output checks -----------------------------------------------------------------------
    def _check_output(self, lf: LabelingFunction, batch: Batch, raw: Any) -> np.ndarray:
        n = len(batch)
        values = raw.to_numpy() if isinstance(raw, pd.Series | pd.Index) else raw
        if isinstance(values, list) and not _only_numbers(values):
            # np.asarray would read [-1, "x"] as strings and [-1, True] as integers.
            arr = np.asarray(values, dtype=object)
        else:
            try:
                arr = np.asarray(values)
            except (TypeError, ValueError):
                arr = np.asarray(values, dtype=object)
        if arr.ndim != 1 or arr.shape[0] != n:
            got = f"{arr.shape[0]} labels" if arr.ndim == 1 else f"an array of shape {arr.shape}"
            raise LabelingFunctionOutputError(
                f"Labeling function {lf.name!r} returned {got} for a batch of {n} rows "
                f"(rows {batch.start}..{batch.start + n - 1}); a vectorized LF must return "
                "one integer label per row.",
                lf_name=lf.name,
            )
        if arr.dtype.kind not in "iu":
            arr = self._coerce_integers(lf, batch, arr)
        lo = ABSTAIN
        k = self.cardinality
        hi_limit = k if k is not None else np.iinfo(self.dtype).max
        bad = (arr < lo) | (arr >= hi_limit)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            allowed = f"-1..{k - 1}" if k is not None else f">= -1 and < {hi_limit}"
            raise LabelingFunctionOutputError(
                f"Labeling function {lf.name!r} returned label {int(arr[pos])} on row "
                f"{batch.frame.index[pos]!r} (position {batch.start + pos}); labels must be in "
                f"{allowed} (-1 = ABSTAIN). Fix the LF"
                + (f" or pass cardinality={int(arr.max()) + 1}." if k is not None else "."),
                lf_name=lf.name,
                row_id=batch.frame.index[pos],
                position=batch.start + pos,
            )
        return arr

    def _coerce_integers(self, lf: LabelingFunction, batch: Batch, arr: np.ndarray) -> np.ndarray:
        if arr.dtype.kind == "f":
            ok = np.isfinite(arr) & (arr == np.round(arr))
            if ok.all():
                return arr.astype(np.int64)
            pos = int(np.flatnonzero(~ok)[0])
        else:
            found = next((i for i, v in enumerate(arr.tolist()) if not _is_whole_number(v)), None)
            if found is None:  # e.g. an object array of ints
                return arr.astype(np.int64)
            pos = found
        value = arr[pos]
        hint = (
            "return ABSTAIN (-1) when the LF does not vote"
            if value is None or (isinstance(value, float) and np.isnan(value))
            else "return an int class label (0..k-1) or ABSTAIN (-1)"
        )
        raise LabelingFunctionOutputError(
            f"Labeling function {lf.name!r} returned {value!r} ({type(value).__name__}) on row "
            f"{batch.frame.index[pos]!r} (position {batch.start + pos}); {hint}.",
            lf_name=lf.name,
            row_id=batch.frame.index[pos],
            position=batch.start + pos,
        )


def _only_numbers(values: list[Any]) -> bool:
    """Whether every value is an int or a float (numpy's included) and none is a bool."""
    return all(
        t is int or t is float or issubclass(t, np.integer | np.floating)
        for t in set(map(type, values))
    )


def _is_whole_number(v: object) -> bool:
    """An int or a float with a whole value (numpy's included); never a bool."""
    if isinstance(v, bool | np.bool_):
        return False
    if isinstance(v, int | np.integer):
        return True
    return isinstance(v, float | np.floating) and bool(np.isfinite(v)) and float(v).is_integer()


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause cyclic garbage collection while allocating one object per row.

    A million row tuples trigger hundreds of collections that each walk the growing list (this
    more than doubles the cost of building rows). Reference counting still frees everything; the
    collector runs again as soon as the block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _column_values(series: pd.Series) -> list[Any]:
    """A column as Python objects; Arrow-backed columns convert fastest through Arrow."""
    if isinstance(series.array, ArrowExtensionArray | ArrowStringArray):
        return pa.array(series.array).to_pylist()  # type: ignore[no-any-return]
    values: list[Any] = series.to_numpy(dtype=object).tolist()
    return values


def _rows(frame: pd.DataFrame) -> list[Any]:
    """One Row per data row (named tuples: ~0.2 µs each, vs ~20 µs for a pandas Series)."""
    new_row = functools.partial(tuple.__new__, row_type(list(frame.columns)))
    with _gc_paused():
        columns = [_column_values(frame[c]) for c in frame.columns]
        return list(map(new_row, zip(*columns, strict=True)))


def _row_caller(lf: LabelingFunction, frame: pd.DataFrame) -> Callable[[Any], Any]:
    if isinstance(lf, _SnorkelLF):  # Snorkel LFs see pandas Series rows, exactly as in Snorkel
        columns = list(frame.columns)
        series = pd.Series

        def call_snorkel(r: Any) -> Any:
            return lf.f(series(tuple(r), index=columns))

        return call_snorkel
    if lf.pre:

        def call_with_pre(r: Any) -> Any:
            return lf(MutableRow(r.items()))

        return call_with_pre
    if lf.resources:
        return lf
    return lf.f


def _first_raising_row(call: Callable[[Any], Any], rows: list[Any]) -> int | None:
    """Where a row-wise LF raises: the fast path runs it with ``map``, which loses the position,
    so on failure (only then) the rows are run again one by one until it raises."""
    for i, r in enumerate(rows):
        try:
            call(r)
        except Exception:
            return i
    return None


def _bisect_failure(lf: LabelingFunction, batch: Batch) -> int | None:
    """Position of a row on which a vectorized LF raises by itself, or None if none does."""
    lo, hi = 0, len(batch)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        for a, b in ((lo, mid), (mid, hi)):
            try:
                lf.apply_batch(Batch(batch.frame.iloc[a:b], batch.start + a))
            except Exception:
                lo, hi = a, b
                break
        else:
            return None
    return lo


def _default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def apply_local(
    lfs: Sequence[LabelingFunction],
    frame: pd.DataFrame,
    *,
    cardinality: int | None,
    fault_tolerant: bool,
    progress: bool,
    batch_size: int,
    n_threads: int | None = None,
    start: int = 0,
) -> tuple[np.ndarray, dict[str, int]]:
    """Label ``frame`` on this process; returns the votes and per-LF fault counts."""
    labeler = _Labeler(
        lfs,
        cardinality=cardinality,
        fault_tolerant=fault_tolerant,
        n_threads=n_threads or _default_threads(),
    )
    n = len(frame)
    out = np.empty((n, len(lfs)), dtype=labeler.dtype)
    use_pool = labeler.n_threads > 1 and sum(lf.vectorized for lf in lfs) > 0
    pool = ThreadPoolExecutor(labeler.n_threads) if use_pool else None
    try:
        with progress_bar(n, "Applying labeling functions", enabled=progress) as advance:
            for s in range(0, n, batch_size):
                e = min(n, s + batch_size)
                out[s:e] = labeler.label_batch(Batch(frame.iloc[s:e], start + s), pool)
                advance(e - s)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return out, labeler.faults


def _finish(
    values: np.ndarray,
    lfs: Sequence[LabelingFunction],
    row_ids: npt.ArrayLike,
    cardinality: int | None,
    faults: dict[str, int],
) -> LabelMatrix:
    if cardinality is None:
        top = int(values.max()) if values.size else 0
        values = values.astype(label_dtype(max(2, top + 1)), copy=False)
    return LabelMatrix(
        values,
        [lf.name for lf in lfs],
        row_ids,
        cardinality=cardinality,
        fault_counts=faults,
        lf_kinds=[lf.kind for lf in lfs],
    )


def apply_lfs(
    lfs: Iterable[object],
    data: Any,
    engine: Any = "local",
    progress: bool = True,
    fault_tolerant: bool = False,
    *,
    cardinality: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    n_threads: int | None = None,
) -> LabelMatrix:
    """Apply labeling functions to every row and return the label matrix.

    Parameters
    ----------
    lfs : iterable of LabelingFunction
        weakflow LFs (row-wise or vectorized) or ``snorkel.labeling.LabelingFunction`` objects.
        Names must be unique; they become the matrix's columns, in this order.
    data : pandas.DataFrame or dask.dataframe.DataFrame
        One row per item to label. Its index gives the row ids.
    engine : "local", "dask", a ``dask.distributed.Client`` or a scheduler address
        ``"local"`` runs in this process. ``"dask"`` starts a LocalCluster for the call; a Client
        or an address (``"tcp://host:8786"``) uses that cluster. Both give the identical matrix.
    progress : bool
        Show a progress bar (only when stderr is a terminal).
    fault_tolerant : bool
        When False (default), an LF that raises stops the run with an error naming the LF and the
        row. When True, the LF abstains on that row and the faults are counted in
        ``LabelMatrix.fault_counts``.
    cardinality : int, optional
        Number of classes; when given, any label outside ``-1..cardinality-1`` is an error.
    batch_size : int
        Rows per batch (the unit of progress and of a Dask task's inner loop).
    n_threads : int, optional
        Threads for vectorized LFs (default: up to 4).

    Returns
    -------
    LabelMatrix

    Raises
    ------
    LabelingFunctionError
        An LF raised (the original exception is the ``__cause__``).
    LabelingFunctionOutputError
        An LF returned a label out of range, a non-integer, or the wrong number of labels.
    LabelingFunctionDefinitionError
        Duplicate LF names or something that is not an LF.
    SchemaError
        Empty data, or an LF reads a column the data does not have.

    Examples
    --------
    >>> import pandas as pd
    >>> from weakflow.labeling import keyword_lf, labeling_function
    >>> @labeling_function()
    ... def short(x):
    ...     return 0 if len(x.text.split()) < 3 else -1
    >>> df = pd.DataFrame({"text": ["subscribe to my channel", "nice"]})
    >>> L = apply_lfs([keyword_lf("subscribe", 1), short], df, progress=False)
    >>> L.values.tolist()
    [[1, -1], [-1, 0]]
    """
    checked = check_lfs(lfs)
    k = check_cardinality(cardinality) if cardinality is not None else None
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise SchemaError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if _is_dask_collection(data) or engine != "local":
        from weakflow.labeling._dask import apply_dask

        values, row_ids, faults = apply_dask(
            checked,
            data,
            engine,
            cardinality=k,
            fault_tolerant=fault_tolerant,
            progress=progress,
            batch_size=batch_size,
            n_threads=n_threads,
        )
        return _finish(values, checked, row_ids, k, faults)
    frame = _check_frame(data)
    values, faults = apply_local(
        checked,
        frame,
        cardinality=k,
        fault_tolerant=fault_tolerant,
        progress=progress,
        batch_size=batch_size,
        n_threads=n_threads,
    )
    return _finish(values, checked, frame.index.to_numpy(), k, faults)


def _is_dask_collection(data: object) -> bool:
    return type(data).__module__.startswith("dask.")
