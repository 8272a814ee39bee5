"""Majority vote: the baseline every label model must beat, and sometimes the right answer."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from weakflow._types import ABSTAIN, FloatArray, IntArray, LabelMatrixLike, RandomStateLike
from weakflow._validation import check_is_fitted, check_random_state
from weakflow.errors import SchemaError
from weakflow.labelmodel._base import BaseLabelModel
from weakflow.labelmodel._kernels import vote_class_counts

__all__ = ["MajorityVote", "majority_class_shares", "shares_from_counts"]

_TIE_BREAKS = ("prior", "random", "first", "abstain")


def majority_class_shares(L: IntArray, k: int) -> FloatArray:
    """Class prior estimated as the share of majority-vote labels among rows with votes.

    Tied rows count fractionally for each tied class; add-one smoothing keeps every class
    possible. Robust where likelihood-based estimates are not (see MatrixCompletion).
    """
    return shares_from_counts(vote_class_counts(L, k), None)


def shares_from_counts(counts: npt.NDArray[Any], weights: npt.NDArray[Any] | None) -> FloatArray:
    """:func:`majority_class_shares` from per-row vote counts (rows weighted by ``weights``)."""
    k = counts.shape[1]
    top = counts.max(axis=1, keepdims=True)
    winners = (counts == top) & (top > 0)
    # Count (class, number of tied winners) pairs exactly, then divide: summing 1/w over rows
    # in float would depend on the row order, which MatrixCompletion amplifies.
    rows, cols = np.nonzero(winners)
    n_win = winners.sum(axis=1)[rows]
    w = None if weights is None else np.asarray(weights)[rows]
    pairs = np.bincount(cols * (k + 1) + n_win, weights=w, minlength=k * (k + 1))
    share = pairs.reshape(k, k + 1)[:, 1:] @ (1.0 / np.arange(1, k + 1))
    return np.asarray((share + 1.0) / (share.sum() + k), dtype=np.float64)


class MajorityVote(BaseLabelModel):
    """Each row gets the class most LFs voted for.

    Parameters
    ----------
    cardinality : int, optional
        Number of classes (inferred when omitted).
    class_balance : "auto", "dev", "learn", "uniform" or array-like of shape (k,)
        Prior for rows without votes and for breaking ties. ``"learn"`` uses the shares of the
        majority-vote labels on rows with votes.
    tie_break : {"prior", "random", "first", "abstain"}
        How :meth:`predict` settles a tie between the most-voted classes, and what it returns
        for rows where every LF abstained:

        - ``"prior"`` (default): the tied class with the highest class prior; rows without votes
          get the most likely class. Deterministic.
        - ``"random"``: a tied class chosen uniformly at random (a random class for rows without
          votes), seeded by ``random_state``. This is the convention of the WRENCH and Snorkel
          baseline figures.
        - ``"first"``: the lowest tied class index.
        - ``"abstain"``: ``-1`` (ABSTAIN) for ties and rows without votes.

        :meth:`predict_proba` always splits a tie by the prior (uniformly for ``"random"``) and
        gives rows without votes the class prior.
    random_state : int, Generator or None
        Seed for ``tie_break="random"``.

    Examples
    --------
    >>> mv = MajorityVote(class_balance=[0.7, 0.3]).fit([[1, 1, 0], [0, -1, -1], [-1, -1, -1]])
    >>> mv.predict([[1, 1, 0], [1, 0, -1], [-1, -1, -1]]).tolist()
    [1, 0, 0]
    >>> mv.predict_proba([[1, 0, -1]]).round(2).tolist()
    [[0.7, 0.3]]
    """

    def __init__(
        self,
        *,
        cardinality: int | None = None,
        class_balance: str | npt.ArrayLike = "auto",
        tie_break: str = "prior",
        random_state: RandomStateLike = None,
    ) -> None:
        self.cardinality = cardinality
        self.class_balance = class_balance
        self.tie_break = tie_break
        self.random_state = random_state

    def fit(
        self,
        L: LabelMatrixLike,
        *,
        L_dev: LabelMatrixLike | None = None,
        y_dev: npt.ArrayLike | None = None,
    ) -> MajorityVote:
        """Set the class prior (majority vote has nothing else to learn).

        ``L_dev`` is accepted for a uniform interface and not used.
        """
        if self.tie_break not in _TIE_BREAKS:
            raise SchemaError(f"tie_break must be one of {_TIE_BREAKS}, got {self.tie_break!r}.")
        arr, k, _, y = self._check_fit_inputs(L, L_dev, y_dev)
        prior = self._fixed_class_balance(k, y, lambda: majority_class_shares(arr, k))
        self.class_balance_ = majority_class_shares(arr, k) if prior is None else prior
        return self

    def _winners(self, L: IntArray) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        counts = vote_class_counts(L, self.cardinality_)
        top = counts.max(axis=1, keepdims=True)
        no_votes = top[:, 0] == 0
        return counts == top, no_votes

    def predict_proba(self, L: LabelMatrixLike) -> FloatArray:
        """Tied winners share the probability (by prior); rows without votes get the prior."""
        check_is_fitted(self, "class_balance_")
        arr = self._check_predict_input(L)
        winners, no_votes = self._winners(arr)
        weights = np.ones(self.cardinality_) if self.tie_break == "random" else self.class_balance_
        probs = winners * weights
        probs[no_votes] = self.class_balance_
        out: FloatArray = probs / probs.sum(axis=1, keepdims=True)
        return out

    def predict(self, L: LabelMatrixLike) -> IntArray:
        """The majority class of each row, ties settled by ``tie_break``."""
        check_is_fitted(self, "class_balance_")
        arr = self._check_predict_input(L)
        winners, no_votes = self._winners(arr)
        k = self.cardinality_
        if self.tie_break == "first":
            return np.asarray(winners.argmax(axis=1), dtype=np.int64)
        if self.tie_break == "prior":
            score = winners * (1.0 + self.class_balance_)  # prior only orders tied winners
            return np.asarray(score.argmax(axis=1), dtype=np.int64)
        if self.tie_break == "abstain":
            pred = np.asarray(winners.argmax(axis=1), dtype=np.int64)
            pred[(winners.sum(axis=1) > 1) | no_votes] = ABSTAIN
            return pred
        rng = check_random_state(self.random_state)
        noise = rng.random((arr.shape[0], k))
        return np.asarray((winners * (1.0 + noise)).argmax(axis=1), dtype=np.int64)
