"""Slices: subsets of the test set where the model may do worse than overall.

An overall F1 of 0.9 can hide an F1 of 0.6 on short comments or on one country's users; that is
where bias shows up. Slices come from two places:

- *slicing functions* (SFs), written like labeling functions but returning True/False per row
  (or 1/0); :func:`slicing_function` builds them on the LF machinery, so row-wise and vectorized
  SFs, ``resources`` and ``pre`` behave exactly as for LFs, and an SF that raises is reported
  with its name and the row;
- :func:`auto_slices` by one column: each frequent value of a categorical column, quantile bins
  of a numeric one, length quartiles of a text one.

:func:`slice_metrics` then scores the model on each slice and gives its gap to the overall value.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from weakflow.errors import (
    LabelingFunctionDefinitionError,
    LabelingFunctionError,
    LabelingFunctionOutputError,
    SchemaError,
)
from weakflow.evaluate._inputs import check_label_names, check_proba_and_labels
from weakflow.evaluate._metrics import roc_auc
from weakflow.labeling import LabelingFunction, apply_lfs

__all__ = [
    "SLICE_METRICS",
    "SlicingFunction",
    "apply_slicing_functions",
    "auto_slices",
    "slice_metrics",
    "slicing_function",
]

Preprocessor = Callable[[Any], Any]
BoolArray = npt.NDArray[np.bool_]

#: Metrics ``slice_metrics`` can compare; all are higher-is-better, so a negative gap is worse.
SLICE_METRICS = ("accuracy", "f1_macro", "precision_macro", "recall_macro", "roc_auc")


def _member(value: Any) -> int:
    """One SF output as 1 (in the slice) or 0; anything but a boolean or 0/1 is an error."""
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, int | np.integer) and value in (0, 1):
        return int(value)
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        raise TypeError(
            f"a slicing function must return True/False (or 1/0), got {value!r} (a missing "
            "value in the data? Decide what it means, e.g. with .fillna(False))"
        )
    raise TypeError(
        f"a slicing function must return True/False (or 1/0), got {value!r} "
        f"({type(value).__name__})"
    )


def _members(values: Any) -> npt.NDArray[np.int8]:
    """A vectorized SF's output (bool/0-1 array-like, Series included) as an int8 array."""
    raw = values.to_numpy() if isinstance(values, pd.Series | pd.Index) else values
    arr = np.asarray(raw)
    if arr.dtype.kind == "b":
        return arr.astype(np.int8)
    if arr.dtype.kind in "iu" and np.isin(arr, (0, 1)).all():
        return arr.astype(np.int8)
    if arr.dtype.kind == "O" and arr.ndim == 1:
        return np.fromiter((_member(v) for v in arr), dtype=np.int8, count=arr.shape[0])
    bad = arr[~np.isin(arr, (0, 1))][:3].tolist() if arr.dtype.kind in "iuf" else str(arr.dtype)
    raise TypeError(
        f"a vectorized slicing function must return booleans (or 0/1), one per row; got {bad!r}"
    )


class SlicingFunction(LabelingFunction):
    """A named rule that says whether each row belongs to a slice.

    It is a :class:`~weakflow.labeling.LabelingFunction` whose function returns True/False (or
    1/0) instead of a class label, so :func:`apply_slicing_functions` can run it with the LF
    engine: batching, preprocessors, resources, vectorized SFs and errors that name the SF and
    the row all come for free.

    Parameters
    ----------
    name : str
        Unique name; it names the slice in the report.
    f : callable
        Row-wise: ``f(row, **resources) -> bool``. Vectorized: ``f(frame, **resources)``
        returning one boolean per row.
    resources, pre, vectorized
        As for :class:`~weakflow.labeling.LabelingFunction`.

    Examples
    --------
    >>> sf = SlicingFunction("short", lambda x: len(x.text) < 20)
    >>> sf.name, sf.kind
    ('short', 'slice')
    """

    kind = "slice"

    def __init__(
        self,
        name: str,
        f: Callable[..., Any],
        *,
        resources: Mapping[str, Any] | None = None,
        pre: Sequence[Preprocessor] | None = None,
        vectorized: bool = False,
    ) -> None:
        if not callable(f):
            raise LabelingFunctionDefinitionError(
                f"Slicing function {name!r}: f must be callable, got {type(f).__name__}."
            )
        self.sf = f
        if vectorized:

            def wrapped(x: Any, **kwargs: Any) -> Any:
                return _members(f(x, **kwargs))

        else:

            def wrapped(x: Any, **kwargs: Any) -> Any:
                return _member(f(x, **kwargs))

        super().__init__(name, wrapped, resources=resources, pre=pre, vectorized=vectorized)

    @property
    def source(self) -> str:
        """Source code of the slicing function itself (not of the 0/1 wrapper around it)."""
        try:
            return inspect.getsource(self.sf)
        except (OSError, TypeError):
            return repr(self)


@overload
def slicing_function(name: Callable[..., Any]) -> SlicingFunction: ...


@overload
def slicing_function(
    name: str | None = None,
    resources: Mapping[str, Any] | None = None,
    pre: Sequence[Preprocessor] | None = None,
    vectorized: bool = False,
) -> Callable[[Callable[..., Any]], SlicingFunction]: ...


def slicing_function(
    name: str | Callable[..., Any] | None = None,
    resources: Mapping[str, Any] | None = None,
    pre: Sequence[Preprocessor] | None = None,
    vectorized: bool = False,
) -> SlicingFunction | Callable[[Callable[..., Any]], SlicingFunction]:
    """Turn a function returning True/False per row into a :class:`SlicingFunction`.

    Spelled like ``@labeling_function``: ``@slicing_function()``, ``@slicing_function`` or with
    arguments (``name``, ``resources``, ``pre``, ``vectorized=True`` for a function of a whole
    DataFrame batch).

    Examples
    --------
    >>> @slicing_function()
    ... def short_comment(x):
    ...     return len(x.text.split()) < 3
    >>> @slicing_function(vectorized=True)
    ... def has_link(df):
    ...     return df.text.str.contains("http")
    >>> import pandas as pd
    >>> df = pd.DataFrame({"text": ["hi", "see http://x.y now please", "a long comment, ok"]})
    >>> {k: v.tolist() for k, v in apply_slicing_functions([short_comment, has_link], df).items()}
    {'short_comment': [True, False, False], 'has_link': [False, True, False]}
    """
    if callable(name) and not isinstance(name, str):
        return SlicingFunction(name.__name__, name)
    if name is not None and not isinstance(name, str):
        raise LabelingFunctionDefinitionError(
            f"slicing_function(name=...) must be a string, got {name!r}."
        )

    def decorate(f: Callable[..., Any]) -> SlicingFunction:
        if not callable(f):
            raise LabelingFunctionDefinitionError(
                f"@slicing_function decorates a function, got {type(f).__name__}."
            )
        return SlicingFunction(
            name or f.__name__, f, resources=resources, pre=pre, vectorized=vectorized
        )

    return decorate


def _as_slicing_function(obj: object) -> SlicingFunction:
    if isinstance(obj, SlicingFunction):
        return obj
    what = getattr(obj, "name", None) or getattr(obj, "__name__", None) or repr(obj)
    if isinstance(obj, LabelingFunction):
        raise LabelingFunctionDefinitionError(
            f"{what!r} is a labeling function, not a slicing function: it votes class labels. "
            "Define slices with @slicing_function(), returning True for rows in the slice."
        )
    raise LabelingFunctionDefinitionError(
        f"{what} is not a slicing function. Decorate it with @slicing_function() (or "
        "@slicing_function(vectorized=True) for a function of a DataFrame batch)."
    )


def apply_slicing_functions(
    sfs: Iterable[SlicingFunction], frame: pd.DataFrame
) -> dict[str, BoolArray]:
    """Slice membership of every row for each slicing function.

    Parameters
    ----------
    sfs : iterable of SlicingFunction
        Names must be unique; they become the slice names.
    frame : pandas.DataFrame
        The rows to slice (the test set), in the same order as the labels and probabilities
        later passed to :func:`slice_metrics`.

    Returns
    -------
    dict of str to bool ndarray of shape (len(frame),)
        In the order of ``sfs``; empty when ``sfs`` is.

    Raises
    ------
    LabelingFunctionError
        An SF raised on a row; the message names the SF and the row, the original exception is
        the ``__cause__``.
    LabelingFunctionOutputError
        A vectorized SF returned the wrong number of values.
    LabelingFunctionDefinitionError
        Something that is not a slicing function, or duplicate names.
    """
    checked = [_as_slicing_function(sf) for sf in sfs]
    if not checked:
        return {}
    try:
        L = apply_lfs(checked, frame, progress=False, cardinality=2)
    except (LabelingFunctionError, LabelingFunctionOutputError) as exc:
        message = str(exc).replace("Labeling function", "Slicing function", 1)
        message = (
            message.replace(", or pass fault_tolerant=True to count such rows as abstains.", ".")
            .replace("Fix the LF", "Fix the slicing function")
            .replace("a vectorized LF must", "a vectorized slicing function must")
        )
        raise type(exc)(
            message, lf_name=exc.lf_name, row_id=exc.row_id, position=exc.position
        ) from exc.__cause__
    values = L.values
    return {sf.name: np.asarray(values[:, j] == 1) for j, sf in enumerate(checked)}


# -- automatic slices ------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _quantile_slices(values: npt.NDArray[Any], label: str, bins: int) -> dict[str, BoolArray]:
    """Bins between the quantiles of ``values`` (NaN rows in none): ``[lo, hi)``, last closed."""
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        return {}
    edges = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, bins + 1)))
    if edges.size == 1:
        return {f"{label} = {_fmt(float(edges[0]))}": np.asarray(values == edges[0])}
    out: dict[str, BoolArray] = {}
    for i in range(edges.size - 1):
        lo, hi = float(edges[i]), float(edges[i + 1])
        last = i == edges.size - 2
        mask = (values >= lo) & ((values <= hi) if last else (values < hi))
        out[f"{label} in [{_fmt(lo)}, {_fmt(hi)}{']' if last else ')'}"] = np.asarray(mask)
    return out


def _categorical_slices(series: pd.Series, column: str, max_values: int) -> dict[str, BoolArray]:
    counts = series.value_counts(dropna=True)
    out: dict[str, BoolArray] = {}
    for value in counts.index[:max_values]:
        out[f"{column} = {value}"] = np.asarray(series == value, dtype=bool)
    if counts.size > max_values:
        rest = series.notna() & ~series.isin(list(counts.index[:max_values]))
        out[f"{column}: {counts.size - max_values} other values"] = np.asarray(rest, dtype=bool)
    return out


def _looks_like_text(series: pd.Series) -> bool:
    """Free text rather than a category: most values have several words."""
    words = series.dropna().astype(str).str.count(r"\S+")
    return bool(words.size) and float(words.median()) >= 3


def auto_slices(
    frame: pd.DataFrame,
    column: str,
    *,
    max_values: int = 20,
    bins: int = 4,
    kind: Literal["auto", "categorical", "numeric", "text"] = "auto",
) -> dict[str, BoolArray]:
    """Slices of ``frame`` by one column, so that bias along it shows up without writing SFs.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows to slice (the test set).
    column : str
        The column to slice by.
    max_values : int
        Categorical columns: one slice for each of the ``max_values`` most frequent values, the
        remaining values together in one more slice.
    bins : int
        Numeric columns: this many quantile bins (fewer when values repeat); text columns: this
        many bins of the text length in characters (4 = quartiles).
    kind : "auto", "categorical", "numeric" or "text"
        How to treat the column. ``"auto"``: booleans, categoricals and columns with at most
        ``max_values`` distinct values are categorical; other numeric columns numeric; other
        string columns text when their median value has three or more words, else categorical.

    Returns
    -------
    dict of str to bool ndarray
        Slice name (``"country = FR"``, ``"age in [18, 30)"``, ``"len(text) in [0, 42)"``) to
        membership. Rows with a missing value form a ``"<column> is missing"`` slice.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"n": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]})
    >>> list(auto_slices(df, "n", bins=2, max_values=3))
    ['n in [1, 4.5)', 'n in [4.5, 8]']
    """
    if column not in frame.columns:
        cols = ", ".join(repr(c) for c in list(frame.columns)[:20])
        raise SchemaError(f"auto_slices: the data has no column {column!r}; it has: {cols}.")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise SchemaError(f"bins must be a positive integer, got {bins!r}.")
    if isinstance(max_values, bool) or not isinstance(max_values, int) or max_values < 1:
        raise SchemaError(f"max_values must be a positive integer, got {max_values!r}.")
    series = frame[column]
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if kind == "auto":
        if (
            isinstance(series.dtype, pd.CategoricalDtype)
            or pd.api.types.is_bool_dtype(series)
            or series.nunique(dropna=True) <= max_values
        ):
            kind = "categorical"
        elif numeric:
            kind = "numeric"
        else:
            kind = "text" if _looks_like_text(series) else "categorical"
    if kind == "categorical":
        out = _categorical_slices(series, column, max_values)
    elif kind == "numeric":
        if not numeric:
            raise SchemaError(
                f"Column {column!r} has dtype {series.dtype}, not numbers; use kind='categorical'"
                " or kind='text'."
            )
        out = _quantile_slices(series.to_numpy(dtype=np.float64, na_value=np.nan), column, bins)
    elif kind == "text":
        lengths = series.astype("string").str.len().astype("Float64")
        out = _quantile_slices(
            lengths.to_numpy(dtype=np.float64, na_value=np.nan), f"len({column})", bins
        )
    else:
        raise SchemaError(f"kind must be 'auto', 'categorical', 'numeric' or 'text', got {kind!r}.")
    missing = np.asarray(series.isna(), dtype=bool)
    if missing.any():
        out[f"{column} is missing"] = missing
    return out


# -- metrics per slice -----------------------------------------------------------------------


def _score(metric: str, y: npt.NDArray[Any], proba: npt.NDArray[Any], names: list[str]) -> Any:
    pred = proba.argmax(axis=1)
    if metric == "accuracy":
        return float(accuracy_score(y, pred))
    if metric == "roc_auc":
        return roc_auc(y, proba, names)[0]
    score = {"f1_macro": f1_score, "precision_macro": precision_score, "recall_macro": recall_score}
    return float(score[metric](y, pred, average="macro", zero_division=0))


def slice_metrics(
    y_true: npt.ArrayLike,
    proba: npt.ArrayLike,
    slices: Mapping[str, npt.ArrayLike],
    *,
    label_names: Sequence[str],
    metric: str = "f1_macro",
    min_size: int = 5,
) -> list[dict[str, Any]]:
    """Score the model on each slice and give the gap to its overall score.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Gold labels of the evaluated rows.
    proba : array-like of shape (n, k)
        The model's probabilities on those rows; the prediction is the argmax.
    slices : mapping of str to bool array-like of shape (n,)
        Slice name to membership (from :func:`apply_slicing_functions`, :func:`auto_slices` or
        by hand). Slices may overlap.
    label_names : sequence of str
        One name per class.
    metric : str
        The metric whose gap is reported, one of ``SLICE_METRICS`` (all higher-is-better, so a
        negative gap means the model is worse on the slice).
    min_size : int
        Slices with fewer rows are reported with ``too_small=True`` and no gap: a gap measured on
        a handful of rows is noise.

    Returns
    -------
    list of dict
        One per slice, in the order given: ``name``, ``n``, ``share`` (of all rows),
        ``too_small``, ``accuracy``, ``f1_macro``, ``metric`` (its name), ``value`` (its value on
        the slice), ``overall`` (its value on all rows), ``gap`` (``value - overall``),
        ``accuracy_gap``, ``overall_accuracy``. Scores are ``None`` on an empty slice, gaps
        ``None`` on a too-small one. Macro averages on a slice run over the classes present in
        the slice (gold or predicted): a class absent from a slice says nothing about it.

    Examples
    --------
    >>> rows = slice_metrics([0, 0, 1, 1], [[.9, .1], [.2, .8], [.3, .7], [.4, .6]],
    ...                      {"first half": [True, True, False, False]},
    ...                      label_names=["a", "b"], metric="accuracy", min_size=1)
    >>> rows[0]["value"], rows[0]["overall"], rows[0]["gap"]
    (0.5, 0.75, -0.25)
    """
    names = check_label_names(label_names)
    y, p = check_proba_and_labels(y_true, proba, k=len(names))
    if metric not in SLICE_METRICS:
        raise SchemaError(f"metric must be one of {list(SLICE_METRICS)}, got {metric!r}.")
    if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 0:
        raise SchemaError(f"min_size must be a non-negative integer, got {min_size!r}.")
    n = y.size
    overall = _score(metric, y, p, names)
    overall_acc = _score("accuracy", y, p, names)
    rows: list[dict[str, Any]] = []
    for name, members in slices.items():
        mask = np.asarray(members)
        if mask.shape != (n,) or mask.dtype.kind not in "biu" or not np.isin(mask, (0, 1)).all():
            raise SchemaError(
                f"Slice {name!r} must be {n} booleans (one per row), got an array of shape "
                f"{mask.shape} and dtype {mask.dtype}."
            )
        mask = mask.astype(bool)
        size = int(mask.sum())
        row: dict[str, Any] = {
            "name": str(name),
            "n": size,
            "share": size / n,
            "too_small": size < min_size,
            "metric": metric,
            "overall": overall,
            "overall_accuracy": overall_acc,
            "value": None,
            "accuracy": None,
            "f1_macro": None,
            "gap": None,
            "accuracy_gap": None,
        }
        if size:
            ys, ps = y[mask], p[mask]
            row["accuracy"] = _score("accuracy", ys, ps, names)
            row["f1_macro"] = _score("f1_macro", ys, ps, names)
            row["value"] = _score(metric, ys, ps, names)
        if not row["too_small"] and size:
            if row["value"] is not None and overall is not None:
                row["gap"] = row["value"] - overall
            row["accuracy_gap"] = row["accuracy"] - overall_acc
        rows.append(row)
    return rows
