"""``LabelModel``: one entry point that picks the label model for the data at hand.

No label model wins everywhere. Snorkel's users keep finding that its LabelModel loses to
majority vote (snorkel issues 1073 and 1713); method-of-moments models shine when LFs overlap a
lot and fail when they barely do; a class prior can collapse a model. ``method="auto"`` fits a
small set of candidates, majority vote always among them, and keeps the best:

- with gold dev labels (``L_dev``, ``y_dev``): the candidate with the best dev score, after
  fitting a decision threshold for binary tasks; ties go to the simpler candidate (majority vote
  first), so ``auto`` only leaves majority vote when the dev set says so. Every generative
  candidate is tried with both posteriors, with and without abstentions as evidence
  (``abstain_evidence``), which costs no extra fit;
- without: Dawid-Skene shrunk toward majority vote (``prior_strength=1e4``) with the
  majority-vote class shares as prior. No label-free criterion we tried picks well: the
  held-out likelihood of the votes, and of each LF's vote given the others, always favour the
  least regularized model, which lost to majority vote on three of the five WRENCH datasets.
  Strong shrinkage moves away from majority vote only where the votes clearly support it (the
  prior counts as 10,000 rows per class, light on a million rows, decisive on five thousand),
  and beat majority vote on all five.

Gold labels are only ever used to choose among fitted candidates, set the class prior and the
decision threshold; the candidates themselves learn from the train votes alone.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from weakflow._types import FloatArray, IntArray, LabelMatrixLike, RandomStateLike
from weakflow._validation import check_is_fitted
from weakflow.errors import SchemaError
from weakflow.labelmodel._base import BaseLabelModel, CILabelModel, score_predictions
from weakflow.labelmodel._dawid_skene import DawidSkene
from weakflow.labelmodel._majority import MajorityVote
from weakflow.labelmodel._matrix_completion import MatrixCompletion
from weakflow.labelmodel._triplet import Triplet

__all__ = ["METHODS", "LabelModel"]

#: Short names accepted by ``LabelModel(method=...)`` and ``weakflow wrench --method``.
METHODS = ("auto", "mv", "ds", "mc", "triplet")

_METRICS = ("accuracy", "f1", "f1_macro")


@dataclass
class Candidate:
    """One fitted candidate and how it scored during selection."""

    name: str
    model: BaseLabelModel
    score: float = float("nan")
    threshold: float | None = None


def _candidates(
    method: str, k: int, class_balance: Any, random_state: RandomStateLike
) -> list[tuple[str, BaseLabelModel]]:
    common = {"cardinality": k, "class_balance": class_balance}
    mv = ("mv", MajorityVote(**common, tie_break="prior", random_state=random_state))
    if method == "mv":
        return [mv]
    if method == "ds":
        return [("ds", DawidSkene(**common))]
    if method == "mc":
        return [("mc", MatrixCompletion(**common))]
    if method == "triplet":
        return [("triplet", Triplet(**common))]
    return [
        mv,
        *[
            (f"ds(prior_strength={b:g})", DawidSkene(**common, prior_strength=b))
            for b in (10.0, 1e3, 1e4)
        ],
        ("mc", MatrixCompletion(**common)),
        ("triplet", Triplet(**common)),
    ]


def _without_abstain_evidence(cands: list[Candidate]) -> list[Candidate]:
    """Each fitted CI candidate again, predicting with Snorkel's posterior (no refit needed)."""
    twins = []
    for c in cands:
        if isinstance(c.model, CILabelModel):
            twin = copy.copy(c.model)
            twin.abstain_evidence = False
            twins.append(
                Candidate(
                    f"{c.name[:-1]}, abstain_evidence=False)"
                    if c.name.endswith(")")
                    else f"{c.name}(abstain_evidence=False)",
                    twin,
                )
            )
    return twins


def _best_threshold(p1: FloatArray, y: IntArray, metric: str) -> tuple[float, float]:
    """The threshold on P(class 1) that maximizes ``metric`` on (p1, y), and that score.

    Among thresholds that tie for the best score, the middle of the widest optimal run of
    candidate thresholds is taken, which is less sensitive to a single dev example.
    """
    cuts = np.unique(p1)
    if cuts.size < 2:
        return 0.5, score_predictions(y, (p1 >= 0.5).astype(np.int64), metric, 2)
    mids = np.concatenate([[cuts[0] - 1e-9], (cuts[1:] + cuts[:-1]) / 2, [cuts[-1] + 1e-9]])
    scores = np.array([score_predictions(y, (p1 >= t).astype(np.int64), metric, 2) for t in mids])
    best = scores.max()
    on = np.flatnonzero(np.isclose(scores, best))
    runs = np.split(on, np.flatnonzero(np.diff(on) > 1) + 1)
    widest = max(runs, key=len)
    return float(mids[widest[len(widest) // 2]]), float(best)


class LabelModel(BaseLabelModel):
    """The label model to use by default: ``method="auto"`` picks the best for the data.

    Parameters
    ----------
    method : {"auto", "mv", "ds", "mc", "triplet"}
        ``"auto"`` chooses among majority vote, Dawid-Skene (three prior strengths), matrix
        completion and triplet; the others fit that one method (see :data:`METHODS`).
    cardinality : int, optional
        Number of classes (inferred when omitted).
    class_balance : "auto", "dev", "learn", "uniform" or array-like of shape (k,)
        Passed to every candidate.
    metric : {"accuracy", "f1", "f1_macro"}
        What dev selection maximizes (``"f1"`` is the F1 of class 1 of a binary task).
    tune_threshold : bool
        For binary tasks with a dev set, also fit the threshold on P(class 1) that maximizes
        ``metric`` on dev; :meth:`predict` uses it.
    random_state : int, Generator or None
        Passed to the candidates (all of weakflow's label models are deterministic).

    Attributes
    ----------
    model_ : BaseLabelModel
        The chosen, fitted model.
    method_ : str
        Its name.
    threshold_ : float or None
        Decision threshold on P(class 1), when one was fitted.
    selection_ : list of dict
        Every candidate with its dev score (one entry, score NaN, without dev labels).
    class_balance_, lf_accuracies_
        Those of the chosen model (``lf_accuracies_`` is NaN for majority vote).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 3000)
    >>> L = np.stack([np.where(rng.random(3000) < a, y, 1 - y) for a in (0.9, 0.8, 0.6)], 1)
    >>> lm = LabelModel().fit(L[:2500], L_dev=L[2500:], y_dev=y[2500:])
    >>> lm.method_ != "mv", bool(lm.score(L[2500:], y[2500:]) > 0.85)
    (True, True)
    """

    def __init__(
        self,
        method: str = "auto",
        *,
        cardinality: int | None = None,
        class_balance: str | npt.ArrayLike = "auto",
        metric: str = "accuracy",
        tune_threshold: bool = True,
        random_state: RandomStateLike = None,
    ) -> None:
        self.method = method
        self.cardinality = cardinality
        self.class_balance = class_balance
        self.metric = metric
        self.tune_threshold = tune_threshold
        self.random_state = random_state

    def fit(
        self,
        L: LabelMatrixLike,
        *,
        L_dev: LabelMatrixLike | None = None,
        y_dev: npt.ArrayLike | None = None,
    ) -> LabelModel:
        """Fit the candidates on ``L`` and keep the best (see the class docstring)."""
        if self.method not in METHODS:
            raise SchemaError(f"method must be one of {METHODS}, got {self.method!r}.")
        if self.metric not in _METRICS:
            raise SchemaError(f"metric must be one of {_METRICS}, got {self.metric!r}.")
        arr, k, dev, y = self._check_fit_inputs(L, L_dev, y_dev)
        if self.metric == "f1" and k != 2:
            raise SchemaError("metric='f1' is the F1 of class 1 of a binary task; use 'f1_macro'.")
        cands = [
            Candidate(name, model)
            for name, model in _candidates(self.method, k, self.class_balance, self.random_state)
        ]
        if len(cands) == 1:
            chosen = cands[0]
            chosen.model.fit(arr, L_dev=dev, y_dev=y)
        elif dev is not None and y is not None and y.size:
            for c in cands:
                c.model.fit(arr, L_dev=dev, y_dev=y)
            cands = [*cands, *_without_abstain_evidence(cands)]
            for c in cands:
                self._score_on_dev(c, dev, y, k)
            chosen = max(cands, key=lambda c: c.score)  # max keeps the first of equal scores
        else:
            chosen = _label_free_choice(k, self.class_balance, arr, y)
            chosen.model.fit(arr, L_dev=dev, y_dev=y)
            cands = [chosen]
        self.model_ = chosen.model
        self.method_ = chosen.name
        self.threshold_ = chosen.threshold
        self.class_balance_ = chosen.model.class_balance_
        self.selection_ = [
            {"method": c.name, "score": c.score, "threshold": c.threshold} for c in cands
        ]
        return self

    def _score_on_dev(self, c: Candidate, dev: IntArray, y: IntArray, k: int) -> None:
        proba = c.model.predict_proba(dev)
        if k == 2 and self.tune_threshold:
            c.threshold, c.score = _best_threshold(proba[:, 1], y, self.metric)
        else:
            c.score = score_predictions(y, c.model.predict(dev), self.metric, k)

    # -- prediction --------------------------------------------------------------------------
    def predict_proba(self, L: LabelMatrixLike) -> FloatArray:
        """The chosen model's class probabilities."""
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(L)

    def predict(self, L: LabelMatrixLike) -> IntArray:
        """The chosen model's labels, with the fitted threshold for binary tasks."""
        check_is_fitted(self, "model_")
        if self.threshold_ is None:
            return self.model_.predict(L)
        p1 = self.model_.predict_proba(L)[:, 1]
        return np.asarray(p1 >= self.threshold_, dtype=np.int64)

    @property
    def lf_accuracies_(self) -> FloatArray:
        check_is_fitted(self, "model_")
        acc = getattr(self.model_, "lf_accuracies_", None)
        out: FloatArray = np.full(self.n_lfs_, np.nan) if acc is None else np.asarray(acc)
        return out


#: Shrinkage of the label-free choice, in rows per class (see the module docstring).
LABEL_FREE_PRIOR_STRENGTH = 1e4


def _label_free_choice(
    k: int, class_balance: Any, L: IntArray, y_dev: IntArray | None
) -> Candidate:
    """Without dev votes: Dawid-Skene shrunk toward majority vote.

    The prior comes from ``y_dev`` when given (``"auto"``), else from the majority-vote shares.
    """
    prior = class_balance
    learn = class_balance == "learn" or (class_balance == "auto" and y_dev is None)
    if isinstance(class_balance, str) and learn:
        prior = "majority"
    name = f"ds(prior_strength={LABEL_FREE_PRIOR_STRENGTH:g})"
    model = DawidSkene(cardinality=k, class_balance=prior, prior_strength=LABEL_FREE_PRIOR_STRENGTH)
    return Candidate(name, model, score=float("nan"))
