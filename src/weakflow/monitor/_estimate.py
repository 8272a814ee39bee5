"""Label-free estimates of a served model's accuracy and macro F1 on an unlabeled window.

Estimators that fail in different ways, two of them using a small **labelled reference** (the
project's gold dev set: model probabilities, LF votes and gold labels on the same rows):

- **CBPE** (confidence-based performance estimation, as in NannyML): with calibrated
  probabilities, the chance that the prediction on a row is right is its probability, so the
  expected confusion matrix, hence accuracy and F1, follow from the probabilities alone. It is
  exact while calibration holds (covariate shift within the training support) and blind when
  the model is confidently wrong on something new.
- **LF-based** (``lf``): the labeling functions keep voting in production. A Dawid-Skene model is
  fitted on the window's LF votes *with the end model's prediction as one more voter*: it learns
  the model's confusion matrix from its agreement with the LFs, and gives each row a posterior
  over its true class that weighs both. Leaving the model out would underestimate it (on a
  synthetic window with 70% model accuracy, LFs alone estimated 0.62, with the model as a voter
  0.70). It sees new errors the model is confident about, as long as LFs cover them. Two known
  failures: the model learned from these same LFs, so its errors coincide with theirs and the
  fit takes their agreement for independent evidence (**optimistic**: +0.04 on the youtube
  benchmark with no shift); and on a sparse window with a rare class the fit can swap or
  collapse the classes (sms with 3% spam: off by 0.47). A **degeneracy guard** catches the
  second: when the fitted model voter is no better than chance (accuracy below ``1/k``) or the
  fitted class shares are :data:`DEGENERATE_SHARE_GAP` or more away from the predicted shares,
  ``lf`` is still reported (with a note) but ``combined`` falls back to CBPE.
- **Combined**: the LF-based posterior on rows where an LF voted, CBPE's on the others (CBPE's
  everywhere when the Dawid-Skene fit is degenerate).
- **Calibrated** (reference, no LFs): the model's probabilities re-calibrated on the labelled
  reference with one isotonic regression per class (as NannyML's CBPE does), then CBPE. It
  repairs a calibration that does not hold (temperature scaling is one parameter; the isotonic
  map is not restricted to a shape).
- **LF-calibrated** (reference + LFs, :class:`LabelFreeEstimator`): the re-calibrated
  probability of the predicted class, shifted in logit space by an offset per *LF agreement
  stratum* of the row (no LF vote / more LF votes for the prediction than against / as many /
  more against), each offset learned from the reference's gold labels. This uses what only a
  weak-supervision system has: on the reference, the model's confident predictions that the LFs
  contradict are right far less often than their confidence says, and the ones the LFs back
  slightly more often; the gold labels measure by how much *including* the dependence between
  model and LFs, which the Dawid-Skene fit cannot see. A window where more rows fall in the
  contradicted stratum gets a lower estimate even if the model stays confident. Each offset
  has a normal prior (mean 0, scale ``prior_scale`` = 1 logit, fixed in advance, not tuned), so
  a stratum with few reference rows keeps the calibrated probability.

**The headline** (:func:`headline_estimate`, the monitor's ``estimated``) follows a rule fixed
in advance, not a comparison with any benchmark's truth: an estimator checked against gold
labels beats one that is not, and using the LF votes beats ignoring them, so
``lf_calibrated`` > ``calibrated`` > ``combined`` > ``cbpe``, the first available.
``lf_calibrated`` needs a reference and the window's votes, ``calibrated`` a reference,
``combined`` the votes. The others stay in the output; the gap between ``lf`` and ``cbpe`` says
whether the LFs and the model's confidence disagree about the window, which is worth reading
even when neither is the headline.

Intervals come from sampling labels from the per-row probabilities (Monte Carlo, seeded). For
``cbpe``, ``lf`` and ``combined`` they cover the sampling noise of a finite window given the
estimator's probabilities, not the estimator's own bias. For the reference-based estimators each
draw also uses a different bootstrap refit of the reference, so the intervals include the
uncertainty of a small reference (a 120-row dev set with 9 errors pins an accuracy only to a
few points). The realized metrics, once feedback arrives, are the check on all of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from weakflow._types import RandomStateLike
from weakflow._validation import check_gold_labels, check_label_matrix, check_random_state
from weakflow.errors import NotFittedError, SchemaError

__all__ = [
    "DEGENERATE_SHARE_GAP",
    "HEADLINE_ORDER",
    "MIN_REFERENCE_ROWS",
    "STRATA",
    "LabelFreeEstimator",
    "PerformanceEstimate",
    "estimate_performance",
    "expected_metrics",
    "headline_estimate",
    "label_free_posteriors",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The headline is the first of these that was estimated (see the module docstring).
HEADLINE_ORDER: tuple[str, ...] = ("lf_calibrated", "calibrated", "combined", "cbpe")
#: A Dawid-Skene fit whose class shares are this far (or more) from the model's predicted
#: shares is treated as degenerate (label switching or collapse): ``combined`` falls back to CBPE.
DEGENERATE_SHARE_GAP = 0.25
#: A labelled reference needs at least this many rows (fewer pin nothing down).
MIN_REFERENCE_ROWS = 20
#: The LF agreement strata of a row, relative to the model's prediction on it.
STRATA: tuple[str, ...] = (
    "no LF vote",
    "more LF votes for the prediction",
    "as many LF votes for as against",
    "more LF votes against the prediction",
)
#: The re-calibrated probability of the predicted class is clipped into [EPS, 1 - EPS] before
#: taking its logit (isotonic regression on a small reference returns exact 0s and 1s).
_EPS = 1e-3


@dataclass(frozen=True)
class PerformanceEstimate:
    """One estimator's accuracy and macro F1 with 95% intervals.

    ``method`` is one of ``cbpe``, ``lf``, ``combined``, ``calibrated``, ``lf_calibrated``;
    ``coverage`` the share of rows with at least one LF vote (1.0 for estimators that use no
    LFs); ``note`` says when the estimate fell back or is known to be unreliable.
    """

    method: str
    accuracy: float
    f1_macro: float
    accuracy_interval: tuple[float, float]
    f1_interval: tuple[float, float]
    n: int
    coverage: float = 1.0
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "accuracy": self.accuracy,
            "f1_macro": self.f1_macro,
            "interval": {
                "accuracy": list(self.accuracy_interval),
                "f1_macro": list(self.f1_interval),
            },
            "n": self.n,
            "coverage": self.coverage,
            "note": self.note,
        }


def expected_metrics(truth_proba: npt.ArrayLike, predicted: npt.ArrayLike) -> tuple[float, float]:
    """Expected accuracy and macro F1 of ``predicted`` when row i's class is ~ ``truth_proba[i]``.

    Examples
    --------
    >>> acc, f1 = expected_metrics([[0.9, 0.1], [0.2, 0.8]], [0, 1])
    >>> round(acc, 3), round(f1, 3)
    (0.85, 0.85)
    """
    P = np.asarray(truth_proba, dtype=np.float64)
    pred = np.asarray(predicted, dtype=np.int64)
    n, k = P.shape
    hit = P[np.arange(n), pred]
    accuracy = float(hit.mean())
    f1s = []
    for j in range(k):
        mine = pred == j
        tp = float(P[mine, j].sum())
        fp = float((1 - P[mine, j]).sum())
        fn = float(P[~mine, j].sum())
        if 2 * tp + fp + fn > 0:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    return round(accuracy, 12), round(float(np.mean(f1s)) if f1s else 0.0, 12)


def _sampled_metrics(
    P: FloatArray, pred: IntArray, rng: np.random.Generator
) -> tuple[float, float]:
    """Accuracy and macro F1 of ``pred`` against labels drawn from the rows of ``P``."""
    n, k = P.shape
    cum = np.cumsum(P, axis=1)
    cum[:, -1] = 1.0
    y = (rng.random((n, 1)) > cum).sum(axis=1)
    per = []
    for j in range(k):
        tp = np.sum((pred == j) & (y == j))
        fp = np.sum((pred == j) & (y != j))
        fn = np.sum((pred != j) & (y == j))
        if 2 * tp + fp + fn:
            per.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(y == pred)), float(np.mean(per)) if per else 0.0


def _quantiles(values: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    arr = np.asarray(values, dtype=np.float64)
    return tuple(
        (float(np.quantile(arr[:, c], 0.025)), float(np.quantile(arr[:, c], 0.975)))
        for c in range(2)
    )


def _interval(
    P: FloatArray, pred: IntArray, draws: int, seed: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    rng = np.random.default_rng(seed)
    a, f = _quantiles([_sampled_metrics(P, pred, rng) for _ in range(max(draws, 1))])
    return a, f


# -- input checks --------------------------------------------------------------------------------
def _check_proba(proba: npt.ArrayLike, *, name: str, k: int | None = None) -> FloatArray:
    try:
        P = np.asarray(proba, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"{name} could not be read as an array of floats: {exc}") from exc
    if P.ndim != 2 or P.shape[1] < 2:
        raise SchemaError(
            f"{name} must be 2-D with one column per class (n_rows x k, k >= 2), got shape "
            f"{P.shape}."
        )
    if k is not None and P.shape[1] != k:
        raise SchemaError(
            f"{name} has {P.shape[1]} columns but the reference has {k} classes; pass the same "
            "model's probabilities, one column per class in label order."
        )
    if not np.isfinite(P).all() or (P < 0).any():
        row = int(np.argwhere(~np.isfinite(P) | (P < 0))[0][0])
        raise SchemaError(f"{name} has a negative or non-finite value in row {row}.")
    return P


def _check_votes(L: npt.ArrayLike, n: int, k: int, *, name: str) -> IntArray:
    votes = np.asarray(check_label_matrix(L, k, name=name, allow_empty=True), dtype=np.int64)
    if votes.shape[0] != n:
        raise SchemaError(
            f"{name} has {votes.shape[0]} rows but the probabilities have {n}; they must describe "
            "the same rows in the same order."
        )
    return votes


def _strata(pred: IntArray, votes: IntArray) -> IntArray:
    """Each row's LF agreement stratum, an index into :data:`STRATA`."""
    voted = votes != -1
    agree = (votes == pred[:, None]).sum(axis=1)
    against = (voted & (votes != pred[:, None])).sum(axis=1)
    out = np.where(agree > against, 1, np.where(agree < against, 3, 2))
    return np.asarray(np.where(voted.any(axis=1), out, 0), dtype=np.int64)


# -- isotonic re-calibration (one regression per class, one-vs-rest) ------------------------------
def _fit_isotonic(P: FloatArray, y: IntArray) -> list[tuple[FloatArray, FloatArray]]:
    """Knots of a non-decreasing step function per class: ``P[:, c]`` -> P(y = c)."""
    from sklearn.isotonic import IsotonicRegression

    k = P.shape[1]
    columns = [1] if k == 2 else list(range(k))
    knots = []
    for c in columns:
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(P[:, c], (y == c).astype(np.float64))
        knots.append(
            (
                np.asarray(iso.X_thresholds_, dtype=np.float64),
                np.asarray(iso.y_thresholds_, dtype=np.float64),
            )
        )
    return knots


def _apply_isotonic(P: FloatArray, knots: list[tuple[FloatArray, FloatArray]]) -> FloatArray:
    if P.shape[1] == 2:
        x, v = knots[0]
        p1 = np.interp(P[:, 1], x, v)
        return np.column_stack([1.0 - p1, p1])
    R = np.column_stack([np.interp(P[:, c], x, v) for c, (x, v) in enumerate(knots)])
    sums = R.sum(axis=1, keepdims=True)
    empty = sums[:, 0] <= 0
    R[empty] = P[empty]  # no calibrated mass anywhere: keep the model's own probabilities
    sums[empty] = 1.0
    return np.asarray(R / sums, dtype=np.float64)


def _offset(z: FloatArray, hit: FloatArray, scale: float) -> float:
    """MAP logit offset b: Bernoulli(hit | sigmoid(z + b)) likelihood, normal(0, scale) prior."""
    b = 0.0
    for _ in range(100):
        p = expit(z + b)
        grad = float(np.sum(p - hit)) + b / scale**2
        hess = float(np.sum(p * (1 - p))) + 1 / scale**2
        step = float(np.clip(grad / hess, -2.0, 2.0))
        b -= step
        if abs(step) < 1e-10:
            break
    return b


def _with_correct(R: FloatArray, pred: IntArray, p_correct: FloatArray) -> FloatArray:
    """Rows of ``R`` with the predicted class set to ``p_correct``, the rest scaled to fill."""
    n, k = R.shape
    rows = np.arange(n)
    rest = R.copy()
    rest[rows, pred] = 0.0
    mass = rest.sum(axis=1, keepdims=True)
    uniform = np.full((1, k), 1.0 / (k - 1))
    rest = np.where(mass > 0, rest / np.where(mass > 0, mass, 1.0), uniform)
    rest[rows, pred] = 0.0
    Q = rest * (1.0 - p_correct)[:, None]
    Q[rows, pred] = p_correct
    return np.asarray(Q, dtype=np.float64)


@dataclass(frozen=True)
class _Fit:
    knots: list[tuple[FloatArray, FloatArray]]
    offsets: FloatArray  # one per stratum


class LabelFreeEstimator:
    """LF-aware calibration learned on a labelled reference, applied to unlabeled windows.

    ``fit(proba, L, y)`` on the reference (the gold dev set: the served model's probabilities,
    the LF votes and the gold labels of the same rows) learns one isotonic re-calibration per
    class and one logit offset per LF agreement stratum (:data:`STRATA`); ``estimate(proba, L)``
    on a window gives the ``lf_calibrated`` estimate (``calibrated`` when ``L`` is None: the
    isotonic part only). The module docstring says why.

    Parameters
    ----------
    prior_scale : float
        Scale (in logits) of the normal prior on each stratum's offset: 1.0, fixed in advance.
        Smaller trusts the calibrated probabilities more, larger the reference's strata.
    n_bootstrap : int
        Bootstrap refits of the reference kept for the intervals (0: sampling noise only).
    random_state : int, Generator or None
        Seeds the bootstrap (and the intervals' draws); the same seed gives the same numbers.

    Attributes
    ----------
    n_classes_, n_lfs_, n_reference_ : int
        Classes, LFs and rows of the reference.
    offsets_ : ndarray of shape (4,)
        The logit offset of each stratum (0 where the reference had no row in it).
    stratum_counts_ : ndarray of shape (4,)
        Reference rows per stratum.
    stratum_accuracy_ : ndarray of shape (4,)
        The model's accuracy on the reference per stratum (NaN where empty).
    reference_accuracy_ : float
        The model's accuracy on the whole reference.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 400)
    >>> p1 = np.clip(np.where(y == 1, 0.8, 0.2) + rng.normal(0, 0.1, 400), 0.01, 0.99)
    >>> proba = np.c_[1 - p1, p1]
    >>> L = np.where(rng.random((400, 3)) < 0.8, y[:, None], 1 - y[:, None])
    >>> est = LabelFreeEstimator(random_state=0).fit(proba, L, y)
    >>> est.estimate(proba, L).method
    'lf_calibrated'
    """

    def __init__(
        self,
        *,
        prior_scale: float = 1.0,
        n_bootstrap: int = 200,
        random_state: RandomStateLike = 0,
    ) -> None:
        self.prior_scale = prior_scale
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------------------------
    def _fit_once(self, P: FloatArray, votes: IntArray, y: IntArray) -> _Fit:
        knots = _fit_isotonic(P, y)
        pred = P.argmax(axis=1)
        rows = np.arange(P.shape[0])
        r = np.clip(_apply_isotonic(P, knots)[rows, pred], _EPS, 1 - _EPS)
        z = np.log(r / (1 - r))
        hit = (pred == y).astype(np.float64)
        strata = _strata(pred, votes)
        offsets = np.zeros(len(STRATA))
        for s in range(len(STRATA)):
            mine = strata == s
            if mine.any():
                offsets[s] = _offset(z[mine], hit[mine], self.prior_scale)
        return _Fit(knots, offsets)

    def fit(self, proba: npt.ArrayLike, L: npt.ArrayLike, y: npt.ArrayLike) -> LabelFreeEstimator:
        """Learn the calibration from the labelled reference; returns self.

        Raises
        ------
        SchemaError (a ValueError)
            ``proba`` not 2-D, ``L`` or ``y`` of another length than ``proba``, LF votes outside
            ``-1..k-1``, labels outside ``0..k-1``, fewer than :data:`MIN_REFERENCE_ROWS` rows, or
            a ``prior_scale`` / ``n_bootstrap`` that is not positive / non-negative.
        """
        if not (isinstance(self.prior_scale, int | float) and self.prior_scale > 0):
            raise SchemaError(f"prior_scale must be a positive number, got {self.prior_scale!r}.")
        if isinstance(self.n_bootstrap, bool) or not (
            isinstance(self.n_bootstrap, int | np.integer) and self.n_bootstrap >= 0
        ):
            raise SchemaError(f"n_bootstrap must be an integer >= 0, got {self.n_bootstrap!r}.")
        P = _check_proba(proba, name="proba")
        n, k = P.shape
        if n < MIN_REFERENCE_ROWS:
            raise SchemaError(
                f"proba has {n} rows: a labelled reference needs at least {MIN_REFERENCE_ROWS} "
                "(gold dev rows) to calibrate anything."
            )
        votes = _check_votes(L, n, k, name="L")
        gold = np.asarray(check_gold_labels(y, k, n_rows=n, name="y"), dtype=np.int64)
        rng = check_random_state(self.random_state)
        main = self._fit_once(P, votes, gold)
        boot = []
        for _ in range(int(self.n_bootstrap)):
            idx = rng.integers(0, n, n)
            boot.append(self._fit_once(P[idx], votes[idx], gold[idx]))
        self.fit_ = main
        self.bootstrap_ = boot
        self.interval_seed_ = int(rng.integers(0, 2**31 - 1))
        pred = P.argmax(axis=1)
        strata = _strata(pred, votes)
        hit = pred == gold
        self.n_classes_, self.n_lfs_, self.n_reference_ = k, int(votes.shape[1]), n
        self.offsets_ = main.offsets.copy()
        self.stratum_counts_ = np.bincount(strata, minlength=len(STRATA)).astype(np.int64)
        self.stratum_accuracy_ = np.array(
            [float(hit[strata == s].mean()) if (strata == s).any() else np.nan for s in range(4)]
        )
        self.reference_accuracy_ = float(hit.mean())
        return self

    # -- applying --------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "fit_"):
            raise NotFittedError(
                "This LabelFreeEstimator is not fitted yet. Call 'fit' with the labelled "
                "reference's probabilities, LF votes and gold labels first."
            )

    def _window(
        self, proba: npt.ArrayLike, L: npt.ArrayLike | None
    ) -> tuple[FloatArray, IntArray, IntArray | None]:
        self._check_fitted()
        P = _check_proba(proba, name="proba", k=self.n_classes_)
        if P.shape[0] == 0:
            raise SchemaError("proba has no rows: the window holds no predictions to estimate.")
        strata = None
        pred = np.asarray(P.argmax(axis=1), dtype=np.int64)
        if L is not None:
            votes = _check_votes(L, P.shape[0], self.n_classes_, name="L")
            if votes.shape[1] != self.n_lfs_:
                raise SchemaError(
                    f"L has {votes.shape[1]} LF columns but the reference had {self.n_lfs_}; "
                    "the window's votes must come from the same LFs, in the same order."
                )
            strata = _strata(pred, votes)
        return P, pred, strata

    @staticmethod
    def _posterior(fit: _Fit, P: FloatArray, pred: IntArray, strata: IntArray | None) -> FloatArray:
        R = _apply_isotonic(P, fit.knots)
        rows = np.arange(P.shape[0])
        r = np.clip(R[rows, pred], _EPS, 1 - _EPS)
        if strata is None:
            return _with_correct(R, pred, r)
        z = np.log(r / (1 - r)) + fit.offsets[strata]
        return _with_correct(R, pred, np.asarray(expit(z), dtype=np.float64))

    def posterior(self, proba: npt.ArrayLike, L: npt.ArrayLike | None = None) -> FloatArray:
        """Per-row probability of each true class (n x k), from the main (not bootstrap) fit.

        Column ``argmax(proba)`` is the probability that the served prediction is right.
        """
        P, pred, strata = self._window(proba, L)
        return self._posterior(self.fit_, P, pred, strata)

    def _draw_posteriors(
        self, P: FloatArray, pred: IntArray, strata: IntArray | None
    ) -> Iterator[FloatArray]:
        fits = self.bootstrap_ or [self.fit_]
        i = 0
        while True:
            yield self._posterior(fits[i % len(fits)], P, pred, strata)
            i += 1

    def estimate(
        self,
        proba: npt.ArrayLike,
        L: npt.ArrayLike | None = None,
        *,
        draws: int = 200,
        random_state: int | None = None,
    ) -> PerformanceEstimate:
        """``lf_calibrated`` accuracy and macro F1 on a window (``calibrated`` without ``L``).

        Each of the ``draws`` interval draws uses the next bootstrap refit of the reference and
        labels sampled from its posterior; ``random_state`` seeds the labels (default: a seed
        derived from the estimator's own ``random_state``).
        """
        P, pred, strata = self._window(proba, L)
        Q = self._posterior(self.fit_, P, pred, strata)
        acc, f1 = expected_metrics(Q, pred)
        seed = self.interval_seed_ if random_state is None else random_state
        rng = np.random.default_rng(seed)
        source = self._draw_posteriors(P, pred, strata)
        values = [_sampled_metrics(next(source), pred, rng) for _ in range(max(draws, 1))]
        ai, fi = _quantiles(values)
        method = "calibrated" if strata is None else "lf_calibrated"
        coverage = 1.0 if strata is None else float(np.mean(strata != 0))
        return PerformanceEstimate(method, acc, f1, ai, fi, P.shape[0], coverage)


# -- the window-only estimators ------------------------------------------------------------------
def _dawid_skene(
    pred: IntArray, votes: IntArray, k: int, random_state: int
) -> tuple[FloatArray, str | None]:
    """Dawid-Skene posterior with the model as a voter, and why it is degenerate (or None)."""
    from weakflow.labelmodel import DawidSkene

    with_model = np.c_[votes, pred]
    ds = DawidSkene(cardinality=k, random_state=random_state).fit(with_model)
    Q = np.asarray(ds.predict_proba(with_model), dtype=np.float64)
    model_acc = float(np.asarray(ds.lf_accuracies_)[-1])
    shares = np.bincount(pred, minlength=k) / pred.size
    gap = float(np.abs(np.asarray(ds.class_balance_, dtype=np.float64) - shares).max())
    note = None
    if model_acc < 1.0 / k:
        note = (
            f"degenerate Dawid-Skene fit: it puts the model's accuracy at {model_acc:.2f}, no "
            "better than chance (classes swapped?)"
        )
    elif gap >= DEGENERATE_SHARE_GAP:
        note = (
            f"degenerate Dawid-Skene fit: its class shares are {gap:.2f} away from the model's "
            "predicted shares (classes swapped or collapsed?)"
        )
    return Q, note


def label_free_posteriors(
    proba: npt.ArrayLike,
    L: npt.ArrayLike | None = None,
    *,
    cardinality: int | None = None,
    reference: LabelFreeEstimator | None = None,
    random_state: int = 0,
) -> dict[str, tuple[FloatArray, float, str | None]]:
    """Per-row class probabilities behind each estimate: method -> (Q, LF coverage, note).

    ``estimate_performance`` computes its point estimates from these (``expected_metrics(Q,
    argmax(proba))``); they are public so that other metrics (a one-class F1, say) come from the
    same numbers.
    """
    P = _check_proba(proba, name="proba")
    n, k = P.shape
    if n == 0:
        raise SchemaError("No predictions in the window (proba has no rows): nothing to estimate.")
    if cardinality is not None and cardinality != k:
        raise SchemaError(
            f"cardinality is {cardinality} but proba has {k} columns (one per class)."
        )
    pred = np.asarray(P.argmax(axis=1), dtype=np.int64)
    out: dict[str, tuple[FloatArray, float, str | None]] = {"cbpe": (P, 1.0, None)}
    votes = None if L is None else _check_votes(L, n, k, name="L")
    if reference is not None:
        Q = reference.posterior(P, None)
        out["calibrated"] = (Q, 1.0, None)
        if votes is not None:
            Q = reference.posterior(P, votes)
            out["lf_calibrated"] = (Q, float((votes != -1).any(axis=1).mean()), None)
    if votes is None:
        return out
    covered = (votes != -1).any(axis=1)
    if covered.sum() < 10 or votes.shape[1] < 2:
        return out
    Q, note = _dawid_skene(pred, votes, k, random_state)
    coverage = float(covered.mean())
    out["lf"] = (Q, coverage, note)
    if note is None:
        mixed = P.copy()
        mixed[covered] = Q[covered]
        out["combined"] = (mixed, coverage, None)
    else:
        out["combined"] = (P, coverage, f"CBPE used instead: {note}")
    return out


_ORDER = ("cbpe", "lf", "combined", "calibrated", "lf_calibrated")


def estimate_performance(
    proba: npt.ArrayLike,
    L: npt.ArrayLike | None = None,
    *,
    cardinality: int | None = None,
    reference: LabelFreeEstimator
    | tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike]
    | None = None,
    draws: int = 200,
    random_state: int = 0,
) -> dict[str, PerformanceEstimate]:
    """Every label-free estimate the inputs allow, by method; :func:`headline_estimate` picks one.

    Parameters
    ----------
    proba : array (n, k)
        The served model's calibrated probabilities on the window.
    L : array (n, m), optional
        The LF votes logged with the same predictions (-1 = abstain): adds ``lf`` and
        ``combined`` (from 10 LF-covered rows and 2 LFs up), and ``lf_calibrated`` with a
        reference.
    reference : LabelFreeEstimator or (proba_ref, L_ref, y_ref), optional
        A labelled reference (the gold dev set), fitted or to fit: adds ``calibrated`` and, with
        ``L``, ``lf_calibrated``. Fit it once and pass the estimator when estimating many
        windows.
    draws, random_state
        Monte Carlo draws for the 95% intervals, and their seed.

    Raises
    ------
    SchemaError (a ValueError)
        An empty window, ``L`` with another number of rows than ``proba``, votes outside
        ``-1..k-1``, or a reference for another number of classes or LFs.
    """
    if isinstance(reference, tuple):
        if len(reference) != 3:
            raise SchemaError(
                "reference must be a fitted LabelFreeEstimator or (proba_ref, L_ref, y_ref), got "
                f"a tuple of {len(reference)}."
            )
        reference = LabelFreeEstimator(random_state=random_state).fit(*reference)
    post = label_free_posteriors(
        proba, L, cardinality=cardinality, reference=reference, random_state=random_state
    )
    P = post["cbpe"][0]
    n = P.shape[0]
    pred = np.asarray(P.argmax(axis=1), dtype=np.int64)
    out: dict[str, PerformanceEstimate] = {}
    for method in _ORDER:
        if method not in post:
            continue
        Q, coverage, note = post[method]
        if method in ("calibrated", "lf_calibrated"):
            assert reference is not None
            votes = None if method == "calibrated" else L
            est = reference.estimate(P, votes, draws=draws, random_state=random_state)
            out[method] = PerformanceEstimate(
                method, est.accuracy, est.f1_macro, est.accuracy_interval, est.f1_interval, n,
                coverage, note,
            )  # fmt: skip
            continue
        acc, f1 = expected_metrics(Q, pred)
        ai, fi = _interval(Q, pred, draws, random_state)
        out[method] = PerformanceEstimate(method, acc, f1, ai, fi, n, coverage, note)
    return out


def headline_estimate(estimates: Mapping[str, PerformanceEstimate]) -> PerformanceEstimate:
    """The estimate to report: the first of :data:`HEADLINE_ORDER` present in ``estimates``.

    The order is fixed in advance (see the module docstring), never chosen per window by which
    estimate looks better.
    """
    for method in HEADLINE_ORDER:
        if method in estimates:
            return estimates[method]
    raise SchemaError(
        f"estimates holds none of {', '.join(HEADLINE_ORDER)}: pass estimate_performance's output."
    )
