"""Vectorized builders for the common kinds of labeling function.

Each returns a :class:`~weakflow.labeling.LabelingFunction` that labels a whole batch at once and
records its parameters (shown by ``lf_summary`` and hashed for provenance):

- :func:`keyword_lf`: any of some keywords occurs in a text column;
- :func:`regex_lf`: a regular expression matches (Python ``re.search`` semantics);
- :func:`threshold_lf`: a numeric column compared with a threshold;
- :func:`lookup_lf`: a column's value looked up in a table (domain lists, known senders, ...);
- :func:`model_lf`: any scikit-learn-like model or callable, voting when confident enough.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from weakflow._types import ABSTAIN
from weakflow.errors import LabelingFunctionDefinitionError, SchemaError
from weakflow.labeling._batch import Batch
from weakflow.labeling._lf import LabelingFunction
from weakflow.labeling._text import contains_keywords, regex_search

__all__ = ["keyword_lf", "lookup_lf", "model_lf", "regex_lf", "threshold_lf"]


def _check_label(label: object, lf_name: str, what: str = "label") -> int:
    if isinstance(label, bool) or not isinstance(label, int | np.integer) or label < 0:
        raise LabelingFunctionDefinitionError(
            f"Labeling function {lf_name!r}: {what} must be a class index >= 0, got {label!r}."
        )
    return int(label)


def _slug(text: str) -> str:
    return re.sub(r"\W+", "_", text.strip().lower()).strip("_")[:40] or "lf"


class _BuilderLF(LabelingFunction):
    """A vectorized LF made by a builder: its parameters are part of its identity."""

    def __init__(self, name: str, kind: str, params: dict[str, Any]) -> None:
        super().__init__(name, self._apply_frame, vectorized=True)
        self.kind = kind
        self.params = params

    def _apply_frame(self, frame: pd.DataFrame) -> npt.NDArray[np.int64]:
        return self.apply_batch(Batch(frame))  # type: ignore[no-any-return]

    @property
    def fields(self) -> tuple[str, ...] | None:
        field = self.params.get("field")
        if field is None:
            return None
        return tuple(field) if isinstance(field, list | tuple) else (field,)

    @property
    def source(self) -> str:
        return f"{self.kind}_lf(" + json.dumps(self.params, sort_keys=True, default=repr) + ")"

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.kind}_lf(name={self.name!r}, {args})"


def _vote(mask: npt.NDArray[np.bool_], label: int) -> npt.NDArray[np.int64]:
    return np.where(mask, label, ABSTAIN)


class _KeywordLF(_BuilderLF):
    def apply_batch(self, batch: Batch) -> npt.NDArray[np.int64]:
        p = self.params
        hit = contains_keywords(
            batch.text(p["field"]),
            tuple(p["keywords"]),
            case_sensitive=p["case_sensitive"],
            whole_word=p["whole_word"],
        )
        return _vote(hit, p["label"])


def keyword_lf(
    keywords: str | Sequence[str],
    label: int,
    *,
    name: str | None = None,
    field: str = "text",
    case_sensitive: bool = False,
    whole_word: bool = False,
) -> LabelingFunction:
    """Vote ``label`` when any keyword occurs in ``field``; abstain otherwise.

    Parameters
    ----------
    keywords : str or sequence of str
        Substrings to look for.
    label : int
        The class to vote.
    name : str, optional
        Defaults to ``keyword_<first keyword>``.
    field : str
        The text column.
    case_sensitive : bool
        By default case is ignored (Unicode case folding).
    whole_word : bool
        Match only where the keyword is not part of a longer word (no letter, digit or underscore
        right before or after it).

    Examples
    --------
    >>> import pandas as pd
    >>> lf = keyword_lf(["subscribe", "my channel"], label=1)
    >>> lf(pd.DataFrame({"text": ["Please SUBSCRIBE", "great song"]})).tolist()
    [1, -1]
    """
    kws = [keywords] if isinstance(keywords, str) else list(keywords)
    first = kws[0] if kws and isinstance(kws[0], str) else "none"
    lf_name = name or f"keyword_{_slug(first)}"
    if not kws or not all(isinstance(k, str) and k for k in kws):
        raise LabelingFunctionDefinitionError(
            f"keyword_lf {lf_name!r} needs one or more non-empty keyword strings, got {keywords!r}."
        )
    params = {
        "keywords": kws,
        "label": _check_label(label, lf_name),
        "field": field,
        "case_sensitive": bool(case_sensitive),
        "whole_word": bool(whole_word),
    }
    return _KeywordLF(lf_name, "keyword", params)


class _RegexLF(_BuilderLF):
    def apply_batch(self, batch: Batch) -> npt.NDArray[np.int64]:
        p = self.params
        hit = regex_search(batch.text(p["field"]), p["pattern"], p["flags"])
        return _vote(hit, p["label"])


def regex_lf(
    pattern: str,
    label: int,
    *,
    name: str | None = None,
    field: str = "text",
    flags: int | re.RegexFlag = 0,
) -> LabelingFunction:
    """Vote ``label`` when ``re.search(pattern, row[field], flags)`` finds a match.

    Patterns that RE2 runs exactly like Python (no ``\\w``/``\\d``/``\\s``/``\\b``, ``$`` or
    lookarounds) run in Arrow's compiled engine; the others in Python's ``re``. The result is the
    same either way.

    Examples
    --------
    >>> import pandas as pd, re
    >>> lf = regex_lf(r"check.*out", label=1, flags=re.I)
    >>> lf(pd.DataFrame({"text": ["Check it out!", "out of check"]})).tolist()
    [1, -1]
    """
    lf_name = name or f"regex_{_slug(pattern)}"
    try:
        re.compile(pattern, flags)
    except (re.error, TypeError) as exc:
        raise LabelingFunctionDefinitionError(
            f"regex_lf {lf_name!r}: pattern {pattern!r} is not a valid regular expression: {exc}."
        ) from None
    params = {
        "pattern": pattern,
        "label": _check_label(label, lf_name),
        "field": field,
        "flags": int(flags),
    }
    return _RegexLF(lf_name, "regex", params)


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class _ThresholdLF(_BuilderLF):
    def apply_batch(self, batch: Batch) -> npt.NDArray[np.int64]:
        p = self.params
        col = batch.column(p["field"])
        try:
            values = pd.to_numeric(col, errors="raise").to_numpy(dtype=float, na_value=np.nan)
        except (ValueError, TypeError):
            raise SchemaError(
                f"threshold_lf {self.name!r} needs a numeric column, but {p['field']!r} has "
                f"dtype {col.dtype} with non-numeric values. Convert it with pd.to_numeric."
            ) from None
        with np.errstate(invalid="ignore"):
            hit = _OPS[p["op"]](values, p["threshold"])
        return _vote(hit & ~np.isnan(values), p["label"])


def threshold_lf(
    field: str,
    threshold: float,
    label: int,
    *,
    op: str = ">=",
    name: str | None = None,
) -> LabelingFunction:
    """Vote ``label`` when ``row[field] <op> threshold``; abstain otherwise and on missing values.

    Examples
    --------
    >>> import pandas as pd
    >>> lf = threshold_lf("n_links", 2, label=1)
    >>> lf(pd.DataFrame({"n_links": [0, 3, None]})).tolist()
    [-1, 1, -1]
    """
    op_name = {">": "gt", ">=": "ge", "<": "lt", "<=": "le"}.get(op)
    lf_name = name or f"threshold_{_slug(field)}_{op_name}_{threshold}"
    if op_name is None:
        raise LabelingFunctionDefinitionError(
            f"threshold_lf {lf_name!r}: op must be one of {list(_OPS)}, got {op!r}."
        )
    try:
        thr = float(threshold)
    except (TypeError, ValueError):
        raise LabelingFunctionDefinitionError(
            f"threshold_lf {lf_name!r}: threshold must be a number, got {threshold!r}."
        ) from None
    params = {"field": field, "threshold": thr, "op": op, "label": _check_label(label, lf_name)}
    return _ThresholdLF(lf_name, "threshold", params)


class _LookupLF(_BuilderLF):
    def __init__(self, name: str, params: dict[str, Any], table: dict[Any, int]) -> None:
        super().__init__(name, "lookup", params)
        self.table = table

    def apply_batch(self, batch: Batch) -> npt.NDArray[np.int64]:
        col = batch.column(self.params["field"])
        mapped = col.map(self.table)
        return mapped.fillna(self.params["default"]).to_numpy(dtype=np.int64)


def lookup_lf(
    field: str,
    mapping: Mapping[Any, int],
    *,
    default: int = ABSTAIN,
    name: str | None = None,
) -> LabelingFunction:
    """Vote ``mapping[row[field]]``; ``default`` (abstain) for values not in the table.

    Examples
    --------
    >>> import pandas as pd
    >>> lf = lookup_lf("domain", {"spam.biz": 1, "school.edu": 0})
    >>> lf(pd.DataFrame({"domain": ["spam.biz", "other.org"]})).tolist()
    [1, -1]
    """
    lf_name = name or f"lookup_{_slug(field)}"
    if not isinstance(mapping, Mapping) or not mapping:
        raise LabelingFunctionDefinitionError(
            f"lookup_lf {lf_name!r} needs a non-empty mapping of value -> label, got {mapping!r}."
        )
    table = {k: _check_label(v, lf_name, f"mapping[{k!r}]") for k, v in mapping.items()}
    if default != ABSTAIN:
        default = _check_label(default, lf_name, "default")
    digest = {"n_entries": len(table), "labels": sorted(set(table.values()))}
    params = {"field": field, "default": int(default), "table": digest}
    return _LookupLF(lf_name, params, table)


class _ModelLF(_BuilderLF):
    def __init__(self, name: str, params: dict[str, Any], model: Any) -> None:
        super().__init__(name, "model", params)
        self.model = model

    def _inputs(self, batch: Batch) -> Any:
        field = self.params["field"]
        if field is None:
            return batch.frame
        if isinstance(field, list):
            for f in field:
                batch.column(f)  # raises a SchemaError naming a missing column
            return batch.frame[field]
        return batch.column(field)

    def apply_batch(self, batch: Batch) -> npt.NDArray[np.int64]:
        p = self.params
        X = self._inputs(batch)
        model = self.model
        if hasattr(model, "predict_proba"):
            out = np.asarray(model.predict_proba(X))
        elif hasattr(model, "predict"):
            out = np.asarray(model.predict(X))
        else:
            out = np.asarray(model(X))
        classes = p["classes"]
        if out.ndim == 1 and out.dtype.kind == "f":  # binary scores: P(class 1)
            out = np.column_stack([1.0 - out, out])
        if out.ndim == 1:  # hard labels; with classes=, model labels index into it (-1 abstains)
            if out.dtype.kind not in "iub":
                raise SchemaError(
                    f"model_lf {self.name!r}: the model predicted {out.dtype} labels "
                    f"(e.g. {out[:3].tolist()}); map them to class indices with classes=[...] or "
                    "make the model predict integers."
                )
            labels = out.astype(np.int64)
            if classes is not None:
                table = np.asarray(classes, dtype=np.int64)
                ok = (labels >= 0) & (labels < table.shape[0])
                labels = np.where(ok, table[np.where(ok, labels, 0)], ABSTAIN)
            return labels
        if out.ndim != 2 or out.shape[0] != len(batch):
            raise SchemaError(
                f"model_lf {self.name!r}: the model returned shape {out.shape} for "
                f"{len(batch)} rows; expected ({len(batch)}, n_classes) probabilities."
            )
        cls = np.asarray(
            classes if classes is not None else getattr(model, "classes_", range(out.shape[1]))
        )
        if cls.dtype.kind not in "iu":
            raise SchemaError(
                f"model_lf {self.name!r}: the model's classes are {cls.tolist()[:5]}, not class "
                "indices; pass classes=[...] giving the label (0..k-1) of each probability column."
            )
        if cls.shape[0] != out.shape[1]:
            raise SchemaError(
                f"model_lf {self.name!r}: {out.shape[1]} probability columns but "
                f"{cls.shape[0]} classes; pass classes=[...] mapping columns to labels."
            )
        best = out.argmax(axis=1)
        confident = out[np.arange(out.shape[0]), best] >= p["threshold"]
        return np.where(confident, cls.astype(np.int64)[best], ABSTAIN)


def model_lf(
    model: Any,
    *,
    name: str,
    field: str | Sequence[str] | None = "text",
    threshold: float = 0.5,
    classes: Sequence[int] | None = None,
) -> LabelingFunction:
    """Use a model as a labeling function: vote its top class when it is confident enough.

    Parameters
    ----------
    model : estimator or callable
        Anything with ``predict_proba`` (scikit-learn), else ``predict``, else a callable. It gets
        ``frame[field]`` (one column), ``frame[list]`` (several) or the whole batch (``None``).
        Probabilities of shape (n, n_classes) are thresholded; a 1-D float output is read as
        P(class 1); a 1-D integer output as labels.
    name : str
        The LF's name.
    threshold : float
        Minimum probability of the top class to vote; below it the LF abstains.
    classes : sequence of int, optional
        The label of each probability column; defaults to ``model.classes_`` or ``0..n-1``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"score": [0.0, 1.0, 2.0, 3.0]})
    >>> clf = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> lf = model_lf(clf, name="score_model", field=["score"], threshold=0.7)
    >>> lf(pd.DataFrame({"score": [-2.0, 1.5, 5.0]})).tolist()
    [0, -1, 1]
    """
    if not (hasattr(model, "predict_proba") or hasattr(model, "predict") or callable(model)):
        raise LabelingFunctionDefinitionError(
            f"model_lf {name!r}: model must have predict_proba/predict or be callable, "
            f"got {type(model).__name__}."
        )
    if not 0.0 <= float(threshold) <= 1.0:
        raise LabelingFunctionDefinitionError(
            f"model_lf {name!r}: threshold is a probability in [0, 1], got {threshold!r}."
        )
    if classes is not None:
        classes = [_check_label(c, name, "classes entry") for c in classes]
    field_param: str | list[str] | None = (
        field if field is None or isinstance(field, str) else list(field)
    )
    params = {
        "model": type(model).__name__,
        "field": field_param,
        "threshold": float(threshold),
        "classes": classes,
    }
    return _ModelLF(name, params, model)
