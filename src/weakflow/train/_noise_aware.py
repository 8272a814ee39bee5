"""Training an end model on probabilistic labels (noise-aware training).

The label model gives each training row a distribution over classes, not a label. Taking the
argmax throws away how sure it was. With ``method="expand"`` each row is repeated once per class
with that class's probability as its sample weight, so the classifier minimizes the expected loss
under the label distribution (for log-loss models this is exactly training on soft labels).
``"weighted"`` keeps one copy per row, labeled with its most likely class and weighted by that
class's probability: cheaper, and enough when labels are confident.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from weakflow._types import FloatArray
from weakflow.errors import SchemaError

__all__ = ["NoiseAwareFit", "end_model_proba", "fit_noise_aware"]

#: Expanded copies whose weight is below this are dropped (they cannot move the fit).
_MIN_WEIGHT = 1e-4


@dataclass(frozen=True)
class NoiseAwareFit:
    """A fitted end model and what went into it."""

    model: Any
    rows_used: int
    rows_dropped_abstained: int
    examples_fitted: int
    method: str


def _accepts_sample_weight(model: Any) -> bool:
    target = model.steps[-1][1] if isinstance(model, Pipeline) else model
    try:
        return "sample_weight" in inspect.signature(target.fit).parameters
    except (TypeError, ValueError):
        return False


def _take(X: Any, idx: npt.NDArray[np.intp]) -> Any:
    if isinstance(X, pd.DataFrame | pd.Series):
        return X.iloc[idx]
    return np.asarray(X)[idx] if not isinstance(X, list) else [X[i] for i in idx]


def fit_noise_aware(
    estimator: Any,
    X: Any,
    proba: FloatArray,
    *,
    covered: npt.NDArray[np.bool_] | None = None,
    method: str = "expand",
) -> NoiseAwareFit:
    """Fit a clone of ``estimator`` on inputs ``X`` with probabilistic labels ``proba``.

    Parameters
    ----------
    estimator : scikit-learn classifier or Pipeline
        Must accept ``sample_weight`` in ``fit`` (a Pipeline's last step must).
    X : DataFrame, Series, list or array
        One input per row of ``proba``.
    proba : ndarray of shape (n, k)
        Label distribution per row (rows sum to 1).
    covered : bool ndarray of shape (n,), optional
        Rows to train on; rows where every LF abstained are usually excluded (their label is
        only the class prior, which teaches the model nothing).
    method : {"expand", "weighted"}
        See the module docstring.
    """
    proba = np.asarray(proba, dtype=np.float64)
    n = proba.shape[0]
    if len(X) != n:
        raise SchemaError(f"{len(X)} inputs but {n} label distributions; they must align.")
    if not _accepts_sample_weight(estimator):
        raise SchemaError(
            f"{type(estimator).__name__}.fit does not take sample_weight, which noise-aware "
            "training needs. Choose an estimator that does (most scikit-learn classifiers)."
        )
    keep = np.ones(n, dtype=bool) if covered is None else np.asarray(covered, dtype=bool)
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        raise SchemaError(
            "No training row has a vote: every labeling function abstained everywhere. Write LFs "
            "that cover some of the train pool."
        )
    P = proba[rows]
    if method == "expand":
        r, c = np.nonzero(P >= _MIN_WEIGHT)
        idx, y, w = rows[r], c, P[r, c]
    elif method == "weighted":
        idx, y, w = rows, P.argmax(axis=1), P.max(axis=1)
    else:
        raise SchemaError(f"method must be 'expand' or 'weighted', got {method!r}.")
    if np.unique(y).size < 2:
        raise SchemaError(
            f"The probabilistic labels put (nearly) all weight on one class ({int(y[0])}); an "
            "end model needs at least two. Check the LFs' polarity and the class balance."
        )
    model = clone(estimator)
    weight_key = (
        f"{model.steps[-1][0]}__sample_weight" if isinstance(model, Pipeline) else "sample_weight"
    )
    model.fit(_take(X, idx), y, **{weight_key: w})
    return NoiseAwareFit(
        model=model,
        rows_used=int(rows.size),
        rows_dropped_abstained=int(n - rows.size),
        examples_fitted=int(idx.size),
        method=method,
    )


def end_model_proba(model: Any, X: Any, k: int) -> FloatArray:
    """``model.predict_proba(X)`` laid out on all ``k`` classes.

    A class that got no training weight is missing from ``model.classes_``; its column is 0.
    """
    raw = np.asarray(model.predict_proba(X), dtype=np.float64)
    classes = np.asarray(getattr(model, "classes_", np.arange(raw.shape[1])), dtype=np.int64)
    out = np.zeros((raw.shape[0], k))
    out[:, classes] = raw
    return out
