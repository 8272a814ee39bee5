"""Classification metrics of a model's probabilities on gold labels, as plain JSON-ready numbers.

One function, :func:`classification_metrics`, gives every number the report shows for a model on
a split (label model or end model, dev or test), so the two models are always scored the same way.
The numbers come from scikit-learn (``zero_division=0``), so they match what users compute
themselves; macro F1 equals :func:`weakflow.labelmodel.score_predictions`'s ``"f1_macro"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

from weakflow._types import FloatArray, IntArray
from weakflow._validation import check_gold_labels
from weakflow.errors import SchemaError
from weakflow.evaluate._inputs import check_label_names, check_proba_and_labels

__all__ = ["LOG_LOSS_EPS", "classification_metrics", "roc_auc"]

#: Probabilities are clipped into ``[LOG_LOSS_EPS, 1 - LOG_LOSS_EPS]`` before the log loss, so a
#: single confidently wrong row costs at most ``-log(1e-15) ~ 34.5`` instead of infinity.
LOG_LOSS_EPS = 1e-15


def roc_auc(y: IntArray, proba: FloatArray, label_names: Sequence[str]) -> tuple[float | None, str]:
    """ROC-AUC (binary: of class 1; multiclass: macro one-vs-rest) or ``None`` and the reason.

    ROC-AUC compares scores of rows with and without a class, so it is undefined when a class has
    no rows in ``y``; the reason says which one.
    """
    k = proba.shape[1]
    counts = np.bincount(y, minlength=k)
    absent = [label_names[c] for c in range(k) if counts[c] == 0]
    if absent:
        return None, (
            f"ROC-AUC is undefined: class(es) {absent} have no rows in y_true, so there is "
            "nothing to rank them against."
        )
    if k == 2:
        return float(roc_auc_score(y, proba[:, 1])), ""
    return float(roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=range(k))), ""


def classification_metrics(
    y_true: npt.ArrayLike,
    proba: npt.ArrayLike,
    *,
    label_names: Sequence[str],
    y_pred: npt.ArrayLike | None = None,
) -> dict[str, Any]:
    """Accuracy, precision/recall/F1 (macro and per class), ROC-AUC, log loss, confusion matrix.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Gold class indices ``0..k-1``.
    proba : array-like of shape (n, k)
        Predicted class probabilities; rows sum to 1.
    label_names : sequence of str
        One name per class, in class-index order; per-class numbers are keyed by these names so
        the report reads ``SPAM`` rather than ``1``.
    y_pred : array-like of shape (n,), optional
        Predicted classes. Default: the argmax of ``proba`` (ties go to the lower class index, as
        every weakflow model predicts). Pass it when the model predicts differently, e.g. with a
        decision threshold.

    Returns
    -------
    dict
        ``n``; ``accuracy``; ``precision_macro``, ``recall_macro``, ``f1_macro`` (unweighted mean
        over all ``k`` classes; a class never predicted counts 0); ``per_class``:
        ``{name: {precision, recall, f1, support}}``; ``support``: ``{name: rows}``; ``roc_auc``
        (``None`` plus ``roc_auc_reason`` when a class has no rows); ``log_loss`` (natural log,
        probabilities clipped to ``[1e-15, 1 - 1e-15]``); ``confusion_matrix``: list of lists,
        rows are true classes and columns predicted ones; ``label_names``. Only plain ``int``,
        ``float``, ``str``, ``None``, lists and dicts, so ``json.dumps`` takes it as is.

    Raises
    ------
    SchemaError
        Mismatched lengths, labels outside ``0..k-1``, probabilities that are not probabilities,
        or ``label_names`` of the wrong length.

    Examples
    --------
    >>> m = classification_metrics([0, 1, 1], [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]],
    ...                            label_names=["HAM", "SPAM"])
    >>> round(m["accuracy"], 3), m["confusion_matrix"], m["roc_auc"]
    (0.667, [[1, 0], [1, 1]], 1.0)
    >>> m["per_class"]["SPAM"]
    {'precision': 1.0, 'recall': 0.5, 'f1': 0.6666666666666666, 'support': 2}
    """
    names = check_label_names(label_names)
    y, p = check_proba_and_labels(y_true, proba, k=len(names))
    k = len(names)
    pred: IntArray
    if y_pred is None:
        pred = np.asarray(p.argmax(axis=1), dtype=np.int64)
    else:
        if np.shape(y_pred) != y.shape:
            raise SchemaError(
                f"y_pred has shape {np.shape(y_pred)} but y_true has {y.shape}; pass one "
                "predicted class per row."
            )
        pred = check_gold_labels(y_pred, k, name="y_pred")
    labels = list(range(k))
    prec, rec, f1, support = precision_recall_fscore_support(
        y, pred, labels=labels, zero_division=0
    )
    auc, reason = roc_auc(y, p, names)
    clipped = np.clip(p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    clipped /= clipped.sum(axis=1, keepdims=True)
    out: dict[str, Any] = {
        "n": int(y.size),
        "label_names": names,
        "accuracy": float(accuracy_score(y, pred)),
        "precision_macro": float(np.mean(prec)),
        "recall_macro": float(np.mean(rec)),
        "f1_macro": float(np.mean(f1)),
        "per_class": {
            names[c]: {
                "precision": float(prec[c]),
                "recall": float(rec[c]),
                "f1": float(f1[c]),
                "support": int(support[c]),
            }
            for c in labels
        },
        "support": {names[c]: int(support[c]) for c in labels},
        "roc_auc": auc,
        "log_loss": float(log_loss(y, clipped, labels=labels)),
        "confusion_matrix": [
            [int(v) for v in row] for row in confusion_matrix(y, pred, labels=labels)
        ],
    }
    if auc is None:
        out["roc_auc_reason"] = reason
    return out
