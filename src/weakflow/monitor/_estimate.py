"""Label-free estimates of a served model's accuracy and macro F1 on an unlabeled window.

Two estimators that fail in different ways, and their combination:

- **CBPE** (confidence-based performance estimation, as in NannyML): with calibrated
  probabilities, the chance that the prediction on a row is right is its probability, so the
  expected confusion matrix, hence accuracy and F1, follow from the probabilities alone. It is
  exact while calibration holds (covariate shift within the training support) and blind when
  the model is confidently wrong on something new.
- **LF-based**: the labeling functions keep voting in production. A Dawid-Skene model is fitted
  on the window's LF votes *with the end model's prediction as one more voter*: it learns the
  model's confusion matrix from its agreement with the LFs, and gives each row a posterior over
  its true class that weighs both. Leaving the model out would underestimate it: the posterior
  from the LFs alone ignores that the prediction itself is evidence about the class (on a
  synthetic window with 70% model accuracy, LFs alone estimated 0.62, with the model as a
  voter 0.70). It sees new errors the model is confident about, as long as LFs cover them.
- **Combined**: the LF-based posterior on rows where an LF voted, CBPE's on the others.

Intervals come from sampling labels from the per-row probabilities (Monte Carlo, seeded): they
cover the sampling noise of a finite window given the estimator's probabilities, not the
estimator's own bias; the realized metrics, once feedback arrives, are the check on that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["PerformanceEstimate", "estimate_performance", "expected_metrics"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PerformanceEstimate:
    """One estimator's accuracy and macro F1 with 95% intervals."""

    method: str  # cbpe | lf | combined
    accuracy: float
    f1_macro: float
    accuracy_interval: tuple[float, float]
    f1_interval: tuple[float, float]
    n: int
    coverage: float = 1.0

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


def _interval(
    P: FloatArray, pred: npt.NDArray[np.int64], draws: int, seed: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    rng = np.random.default_rng(seed)
    n, k = P.shape
    cum = np.cumsum(P, axis=1)
    cum[:, -1] = 1.0
    accs, f1s = np.empty(draws), np.empty(draws)
    for b in range(draws):
        y = (rng.random((n, 1)) > cum).sum(axis=1)
        accs[b] = float(np.mean(y == pred))
        per = []
        for j in range(k):
            tp = np.sum((pred == j) & (y == j))
            fp = np.sum((pred == j) & (y != j))
            fn = np.sum((pred != j) & (y == j))
            if 2 * tp + fp + fn:
                per.append(2 * tp / (2 * tp + fp + fn))
        f1s[b] = float(np.mean(per)) if per else 0.0
    a = (float(np.quantile(accs, 0.025)), float(np.quantile(accs, 0.975)))
    f = (float(np.quantile(f1s, 0.025)), float(np.quantile(f1s, 0.975)))
    return a, f


def estimate_performance(
    proba: npt.ArrayLike,
    L: npt.ArrayLike | None = None,
    *,
    cardinality: int | None = None,
    draws: int = 200,
    random_state: int = 0,
) -> dict[str, PerformanceEstimate]:
    """CBPE, LF-based (when ``L`` is given) and combined estimates for one window.

    Parameters
    ----------
    proba : array (n, k)
        The served model's calibrated probabilities on the window.
    L : array (n, m), optional
        The LF votes logged with the same predictions (-1 = abstain).
    """
    P = np.asarray(proba, dtype=np.float64)
    n, k = P.shape
    if n == 0:
        raise ValueError("No predictions in the window: nothing to estimate.")
    pred = P.argmax(axis=1)
    out: dict[str, PerformanceEstimate] = {}
    acc, f1 = expected_metrics(P, pred)
    ai, fi = _interval(P, pred, draws, random_state)
    out["cbpe"] = PerformanceEstimate("cbpe", acc, f1, ai, fi, n)
    if L is None:
        return out
    votes = np.asarray(L, dtype=np.int64)
    covered = (votes != -1).any(axis=1)
    if covered.sum() < 10 or votes.shape[1] < 2:
        return out
    from weakflow.labelmodel import DawidSkene

    with_model = np.c_[votes, pred]
    ds = DawidSkene(cardinality=cardinality or k, random_state=random_state).fit(with_model)
    Q = np.asarray(ds.predict_proba(with_model), dtype=np.float64)
    acc, f1 = expected_metrics(Q, pred)
    ai, fi = _interval(Q, pred, draws, random_state)
    coverage = float(covered.mean())
    out["lf"] = PerformanceEstimate("lf", acc, f1, ai, fi, n, coverage)
    mixed = P.copy()
    mixed[covered] = Q[covered]
    acc, f1 = expected_metrics(mixed, pred)
    ai, fi = _interval(mixed, pred, draws, random_state)
    out["combined"] = PerformanceEstimate("combined", acc, f1, ai, fi, n, coverage)
    return out
