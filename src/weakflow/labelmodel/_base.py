"""What every label model shares: input checks, class balance, the CI posterior, predict/score.

A label model turns an ``n x m`` matrix of LF votes into an ``n x k`` matrix of class
probabilities. All of weakflow's models except majority vote are *conditionally independent*
(CI) generative models: a class prior ``P(Y)`` and, for each LF, a table ``P(vote | Y)``
(:attr:`confusion_`). They differ only in how they estimate those tables, so the posterior,
the learned LF accuracies and prediction live here once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator

from weakflow._types import ABSTAIN, FloatArray, IntArray, LabelMatrixLike
from weakflow._validation import (
    check_cardinality,
    check_gold_labels,
    check_is_fitted,
    check_label_matrix,
)
from weakflow.errors import SchemaError
from weakflow.labeling import compress_votes
from weakflow.labelmodel._kernels import ci_log_joint, normalize_log, vote_one_hot

__all__ = ["BaseLabelModel", "CILabelModel", "score_predictions"]

#: Probabilities are clipped into [EPS, 1 - EPS] before taking logs.
EPS = 1e-6


class BaseLabelModel(BaseEstimator):  # type: ignore[misc]
    """Base class: scikit-learn conventions (params in ``__init__``, ``fit`` returns self).

    Parameters common to all models
    -------------------------------
    cardinality : int, optional
        Number of classes ``k``; inferred from the votes (and ``y_dev``) when omitted.
    class_balance : "auto", "dev", "learn", "majority", "uniform" or array-like of shape (k,)
        The class prior ``P(Y)``. ``"dev"`` estimates it from ``y_dev``; ``"majority"`` takes
        the shares of the majority-vote labels among rows with votes; ``"learn"`` lets the
        model estimate it from the votes; ``"auto"`` is ``"dev"`` when ``y_dev`` is given, else
        ``"learn"``. Rows where every LF abstains get this prior as their prediction.
    """

    def _check_fit_inputs(
        self, L: LabelMatrixLike, L_dev: LabelMatrixLike | None, y_dev: npt.ArrayLike | None
    ) -> tuple[IntArray, int, IntArray | None, IntArray | None]:
        k_given = getattr(self, "cardinality", None)
        arr = check_label_matrix(L, k_given)
        k = k_given
        if k is None:
            k = max(2, int(arr.max()) + 1)
            if L_dev is not None:
                k = max(k, int(np.asarray(L_dev).max()) + 1)
            if y_dev is not None and np.size(y_dev):
                k = max(k, int(np.max(np.asarray(y_dev))) + 1)
        k = check_cardinality(k)
        dev = None
        if L_dev is not None:
            dev = check_label_matrix(L_dev, k, name="L_dev")
            if dev.shape[1] != arr.shape[1]:
                raise SchemaError(
                    f"L_dev has {dev.shape[1]} LFs but L has {arr.shape[1]}; both must come "
                    "from the same labeling functions in the same order."
                )
        y = None
        if y_dev is not None:
            y = check_gold_labels(
                y_dev, k, n_rows=None if dev is None else dev.shape[0], name="y_dev"
            )
        self.lf_names_ = tuple(getattr(L, "lf_names", ())) or None
        self.n_lfs_ = int(arr.shape[1])
        self.cardinality_ = k
        return arr, k, dev, y

    def _fixed_class_balance(
        self, k: int, y_dev: IntArray | None, majority: Callable[[], FloatArray]
    ) -> FloatArray | None:
        """The class prior to hold fixed, or None when the model should learn it.

        ``majority`` computes the majority-vote label shares (each model has its cheapest way).
        """
        cb: Any = getattr(self, "class_balance", "auto")
        if isinstance(cb, str):
            mode = ("dev" if y_dev is not None else "learn") if cb == "auto" else cb
            if mode == "learn":
                return None
            if mode == "majority":
                return majority()
            if mode == "uniform":
                return np.full(k, 1.0 / k)
            if mode == "dev":
                if y_dev is None or y_dev.size == 0:
                    raise SchemaError(
                        "class_balance='dev' needs gold labels: pass y_dev to fit, or use "
                        "class_balance='learn'."
                    )
                counts = np.bincount(y_dev, minlength=k).astype(float)
                prior: FloatArray = (counts + 1.0) / (counts.sum() + k)  # add-one: none is 0
                return prior
            raise SchemaError(
                f"class_balance must be 'auto', 'dev', 'learn', 'majority', 'uniform' or {k} "
                f"probabilities, got {cb!r}."
            )
        arr = np.asarray(cb, dtype=float)
        if arr.shape != (k,) or np.any(arr <= 0) or not np.isfinite(arr).all():
            raise SchemaError(
                f"class_balance must hold {k} positive probabilities (one per class), got {cb!r}."
            )
        given: FloatArray = arr / arr.sum()
        return given

    # -- prediction --------------------------------------------------------------------------
    def predict_proba(self, L: LabelMatrixLike) -> FloatArray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_predict_input(self, L: LabelMatrixLike) -> IntArray:
        check_is_fitted(self, "cardinality_")
        arr = check_label_matrix(L, self.cardinality_, allow_empty=True)
        if arr.shape[1] != self.n_lfs_:
            raise SchemaError(
                f"L has {arr.shape[1]} LFs but the model was fitted on {self.n_lfs_}; pass the "
                "votes of the same labeling functions in the same order."
            )
        return arr

    def predict(self, L: LabelMatrixLike) -> IntArray:
        """The most probable class of each row (ties go to the lower class index)."""
        return np.asarray(self.predict_proba(L).argmax(axis=1), dtype=np.int64)

    def score(self, L: LabelMatrixLike, y: npt.ArrayLike, metric: str = "accuracy") -> float:
        """``metric`` ('accuracy', 'f1' for class 1 of a binary task, 'f1_macro') on gold ``y``."""
        pred = self.predict(L)
        gold = check_gold_labels(y, self.cardinality_, n_rows=pred.shape[0])
        return score_predictions(gold, pred, metric, self.cardinality_)


def score_predictions(y: IntArray, pred: IntArray, metric: str, k: int) -> float:
    """Accuracy, F1 of class 1 (binary) or macro F1; an abstained prediction (-1) is wrong."""
    if metric == "accuracy":
        return float(np.mean(pred == y)) if y.size else float("nan")
    if metric not in ("f1", "f1_macro"):
        raise SchemaError(f"metric must be 'accuracy', 'f1' or 'f1_macro', got {metric!r}.")
    classes = [1] if metric == "f1" else list(range(k))
    scores = []
    for c in classes:
        tp = float(np.sum((pred == c) & (y == c)))
        fp = float(np.sum((pred == c) & (y != c)))
        fn = float(np.sum((pred != c) & (y == c)))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else 0.0)
    return float(np.mean(scores))


class CILabelModel(BaseLabelModel):
    """A conditionally independent model: fitted ``class_balance_`` and ``confusion_``.

    Fitted attributes
    -----------------
    class_balance_ : ndarray of shape (k,)
        The class prior used for prediction.
    confusion_ : ndarray of shape (m, k, k + 1)
        ``confusion_[j, y, c]``: probability that LF ``j`` votes ``c`` when the true class is
        ``y``; the last column ``confusion_[j, y, k]`` is the probability that it abstains.
    lf_accuracies_ : ndarray of shape (m,)
        Learned accuracy of each LF where it votes: ``P(vote = Y | LF votes)``.

    Every CI model takes ``abstain_evidence`` (default True): whether an LF's abstention counts
    as evidence in the posterior of a row with votes. It is exact Bayes when LFs abstain
    independently given the class. With many sparse LFs each row carries dozens of abstentions,
    which compound small departures from independence; ``False`` then predicts more robustly
    (it is Snorkel's posterior). It changes predictions only, not the fitted tables. Rows on
    which every LF abstains get the class prior either way.
    """

    #: Default of the ``abstain_evidence`` parameter every CI model takes.
    abstain_evidence: bool = True
    #: Set by ``fit`` when too few LFs forced a fallback (see ``_fallback.py``).
    fallback_: str | None = None
    fallback_model_: BaseLabelModel | None = None

    def _set_model(self, class_balance: FloatArray, confusion: FloatArray) -> None:
        conf = np.clip(confusion, EPS, None)
        conf = conf / conf.sum(axis=2, keepdims=True)
        self.class_balance_ = class_balance / class_balance.sum()
        self.confusion_ = conf
        k = conf.shape[1]
        vote_mass = conf[:, :, :k]
        correct = np.einsum("y,jyy->j", self.class_balance_, vote_mass)
        covered = np.einsum("y,jyc->j", self.class_balance_, vote_mass)
        self.lf_accuracies_ = correct / np.maximum(covered, EPS)

    def _log_joint_rows(self, L: IntArray) -> FloatArray:
        k = self.cardinality_
        conf = self.confusion_
        log_vote = np.log(conf[:, :, :k])
        log_abstain = np.log(conf[:, :, k]) if self.abstain_evidence else None
        return ci_log_joint(vote_one_hot(L, k), np.log(self.class_balance_), log_vote, log_abstain)

    def predict_proba(self, L: LabelMatrixLike) -> FloatArray:
        """``P(Y = y | votes)`` for every row, shape (n, k); rows sum to 1."""
        check_is_fitted(self, "confusion_")
        arr = self._check_predict_input(L)
        if arr.shape[0] == 0:
            return np.empty((0, self.cardinality_))
        if self.fallback_model_ is not None:
            return self.fallback_model_.predict_proba(arr)
        vp = compress_votes(arr)
        post, _ = normalize_log(self._log_joint_rows(vp.patterns))
        # Rows on which every LF abstained get the class prior, as majority vote gives them.
        post[(vp.patterns == ABSTAIN).all(axis=1)] = self.class_balance_
        # patterns come back sorted even when every row is distinct (compressed is then False)
        return post[vp.inverse]

    def predict(self, L: LabelMatrixLike) -> IntArray:
        """The most probable class of each row (ties go to the lower class index)."""
        check_is_fitted(self, "confusion_")
        if self.fallback_model_ is not None:
            return self.fallback_model_.predict(self._check_predict_input(L))
        return super().predict(L)

    def log_likelihood(self, L: LabelMatrixLike) -> float:
        """Mean log-likelihood of the votes under the fitted model (higher fits better)."""
        check_is_fitted(self, "confusion_")
        arr = self._check_predict_input(L)
        vp = compress_votes(arr)
        _, log_z = normalize_log(self._log_joint_rows(vp.patterns))
        return float(np.dot(vp.counts, log_z) / vp.n_rows)


def has_votes(L: IntArray) -> npt.NDArray[np.bool_]:
    """Rows with at least one non-abstain vote."""
    return np.asarray((L != ABSTAIN).any(axis=1))
