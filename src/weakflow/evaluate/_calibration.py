"""Calibration: how far confidence is from accuracy (ECE, MCE, Brier), and post-hoc fixes.

A model is *calibrated* when, among the rows it predicts with confidence 0.8, 80% are right.
Models trained on probabilistic labels rarely are (they inherit the label model's over- or
under-confidence), and downstream thresholds, abstention and monitoring all read the
probabilities, so weakflow measures calibration and fixes it after training with one of three
calibrators that share scikit-learn's conventions (``fit(proba, y)`` returns self,
``transform(proba)`` / ``predict_proba(proba)`` return calibrated probabilities):

- :class:`TemperatureScaling`: one scalar divides the log-probabilities (Guo et al. 2017). One
  parameter, so it needs little data and never changes the predicted class.
- :class:`IsotonicCalibration`: a monotone step function per class (Zadrozny & Elkan 2002).
  Flexible, hence data hungry; it can change the predicted class in multiclass tasks.
- :class:`PlattScaling`: logistic regression on the log-odds (Platt 1999), multinomial on the
  log-probabilities for more than two classes.

:func:`~weakflow.evaluate.choose_calibration` picks among them on the dev set.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, logsumexp
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss

from weakflow._types import FloatArray, IntArray
from weakflow.errors import NotFittedError, SchemaError
from weakflow.evaluate._inputs import check_proba, check_proba_and_labels

__all__ = [
    "CALIBRATORS",
    "Calibrator",
    "IsotonicCalibration",
    "PlattScaling",
    "TemperatureScaling",
    "calibration_summary",
    "make_calibrator",
]

#: Probabilities are clipped to at least this before taking logs (log(1e-12) ~ -27.6).
LOG_EPS = 1e-12


def _bin_index(confidence: FloatArray, n_bins: int) -> IntArray:
    """Bin of each confidence among ``n_bins`` equal-width bins ``(lower, upper]`` on [0, 1].

    Right-closed bins, as in Guo et al.: a confidence of exactly 0.2 with 5 bins falls in
    ``(0.0, 0.2]``, and 0 (impossible for a top-class confidence) falls in the first bin.
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.searchsorted(edges[1:-1], confidence, side="left")
    return np.asarray(idx, dtype=np.int64)


def calibration_summary(
    y_true: npt.ArrayLike, proba: npt.ArrayLike, *, n_bins: int = 15
) -> dict[str, Any]:
    """ECE, MCE and Brier score, plus the per-bin numbers behind a reliability diagram.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Gold class indices.
    proba : array-like of shape (n, k)
        Predicted class probabilities.
    n_bins : int
        Number of equal-width confidence bins on [0, 1]; 15 is the usual choice (Guo et al.
        2017), so numbers are comparable with published ones.

    Returns
    -------
    dict
        - ``ece``: expected calibration error, the standard top-label definition
          ``sum_b (n_b / n) * |accuracy_b - confidence_b|`` where the confidence is the
          probability of the predicted (argmax) class and bins are ``(lower, upper]``;
        - ``mce``: maximum calibration error, ``max_b |accuracy_b - confidence_b|`` over
          non-empty bins;
        - ``brier``: for two classes, ``mean((p_1 - [y == 1]) ** 2)`` (scikit-learn's
          ``brier_score_loss``, range [0, 1]); for more, the multiclass Brier score: the mean
          over rows of the squared error against the one-hot label *summed over classes*
          (range [0, 2]), as scikit-learn computes it for multiclass input;
        - ``accuracy``, ``mean_confidence``, ``n``, ``n_bins``;
        - ``bins``: one ``{lower, upper, count, confidence, accuracy}`` per bin (confidence
          and accuracy are ``None`` for empty bins).

    Examples
    --------
    >>> s = calibration_summary([1, 1, 0, 0], [[0.1, 0.9], [0.1, 0.9], [0.9, 0.1], [0.4, 0.6]],
    ...                         n_bins=5)
    >>> round(s["ece"], 3), round(s["mce"], 3), round(s["brier"], 3)
    (0.225, 0.6, 0.097)
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise SchemaError(f"n_bins must be a positive integer, got {n_bins!r}.")
    y, p = check_proba_and_labels(y_true, proba)
    n, k = p.shape
    pred = p.argmax(axis=1)
    conf = p[np.arange(n), pred]
    correct = (pred == y).astype(np.float64)
    idx = _bin_index(conf, n_bins)
    counts = np.bincount(idx, minlength=n_bins)
    conf_sum = np.bincount(idx, weights=conf, minlength=n_bins)
    acc_sum = np.bincount(idx, weights=correct, minlength=n_bins)
    filled = counts > 0
    mean_conf = np.divide(conf_sum, counts, out=np.zeros(n_bins), where=filled)
    mean_acc = np.divide(acc_sum, counts, out=np.zeros(n_bins), where=filled)
    gaps = np.abs(mean_acc - mean_conf)
    ece = float(np.sum(counts * gaps) / n)
    mce = float(gaps[filled].max())
    if k == 2:
        brier = float(brier_score_loss(y, p[:, 1], labels=[0, 1]))
    else:
        brier = float(brier_score_loss(y, p, labels=list(range(k))))
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = [
        {
            "lower": float(edges[b]),
            "upper": float(edges[b + 1]),
            "count": int(counts[b]),
            "confidence": float(mean_conf[b]) if filled[b] else None,
            "accuracy": float(mean_acc[b]) if filled[b] else None,
        }
        for b in range(n_bins)
    ]
    return {
        "n": int(n),
        "n_bins": n_bins,
        "ece": ece,
        "mce": mce,
        "brier": brier,
        "accuracy": float(correct.mean()),
        "mean_confidence": float(conf.mean()),
        "bins": bins,
    }


def _normalize_rows(out: FloatArray) -> FloatArray:
    """Clip into [0, 1] and make rows sum to 1; a row with no mass becomes uniform."""
    out = np.clip(out, 0.0, 1.0)
    sums = out.sum(axis=1, keepdims=True)
    empty = sums[:, 0] <= 0
    if empty.any():
        out[empty] = 1.0 / out.shape[1]
        sums[empty] = 1.0
    normalized: FloatArray = out / sums
    return normalized


class Calibrator(BaseEstimator):  # type: ignore[misc]
    """Base class: maps a model's class probabilities to calibrated ones.

    Subclasses implement ``_fit(proba, y)`` and ``_transform(proba)``; this class checks inputs,
    records ``n_classes_`` and guarantees the output contract: finite values in [0, 1], rows that
    sum to 1.

    Attributes
    ----------
    n_classes_ : int
        Number of classes seen in ``fit`` (columns of ``proba``).
    """

    def fit(self, proba: npt.ArrayLike, y: npt.ArrayLike) -> Calibrator:
        """Learn the mapping from dev-set probabilities ``proba`` and gold labels ``y``.

        Returns
        -------
        self
        """
        y_arr, p = check_proba_and_labels(y, proba)
        self._fit(p, y_arr)
        self.n_classes_ = int(p.shape[1])
        return self

    def transform(self, proba: npt.ArrayLike) -> FloatArray:
        """Calibrated probabilities for ``proba``, shape (n, k); rows sum to 1."""
        if not hasattr(self, "n_classes_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with dev-set "
                "probabilities and gold labels first."
            )
        p = check_proba(proba, k=self.n_classes_)
        if p.shape[0] == 0:
            return p
        return _normalize_rows(self._transform(p))

    def predict_proba(self, proba: npt.ArrayLike) -> FloatArray:
        """Same as :meth:`transform` (the name scikit-learn's classifiers use)."""
        return self.transform(proba)

    def _fit(self, proba: FloatArray, y: IntArray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _transform(self, proba: FloatArray) -> FloatArray:  # pragma: no cover - abstract
        raise NotImplementedError


class TemperatureScaling(Calibrator):
    """Divide the log-probabilities by one temperature ``T``, then softmax.

    ``T > 1`` softens an over-confident model, ``T < 1`` sharpens an under-confident one. Since
    every row's logits are divided by the same positive number, the predicted class never
    changes, so accuracy and F1 are untouched. ``T`` minimizes the negative log-likelihood on the
    dev set; the NLL is convex in ``1 / T``, so a bounded scalar search finds the optimum.

    Parameters
    ----------
    bounds : tuple of float
        Smallest and largest temperature allowed. The bounds keep a degenerate dev set (e.g. all
        rows right) from pushing ``T`` to 0 and the probabilities to exactly 0 or 1.

    Attributes
    ----------
    temperature_ : float
        The fitted temperature.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.99, 0.01], [0.01, 0.99], [0.99, 0.01], [0.01, 0.99]])
    >>> ts = TemperatureScaling().fit(p, [0, 1, 0, 0])  # 99% sure, but 1 in 4 is wrong
    >>> round(ts.temperature_, 1), ts.transform(p).round(2)[0].tolist()
    (4.2, [0.75, 0.25])
    """

    def __init__(self, *, bounds: tuple[float, float] = (0.05, 20.0)) -> None:
        self.bounds = bounds

    def _fit(self, proba: FloatArray, y: IntArray) -> None:
        lo, hi = (float(b) for b in self.bounds)
        if not 0 < lo < hi:
            raise SchemaError(
                f"bounds must be (lowest, highest) temperatures with 0 < lowest < highest, got "
                f"{self.bounds!r}."
            )
        logits = np.log(np.clip(proba, LOG_EPS, 1.0))
        true_logit = logits[np.arange(logits.shape[0]), y]

        def nll(beta: float) -> float:
            return float(np.mean(logsumexp(beta * logits, axis=1) - beta * true_logit))

        # Search over beta = 1 / T, in which the NLL is convex.
        res = minimize_scalar(nll, bounds=(1.0 / hi, 1.0 / lo), method="bounded")
        self.temperature_ = float(1.0 / res.x)

    def _transform(self, proba: FloatArray) -> FloatArray:
        logits = np.log(np.clip(proba, LOG_EPS, 1.0))
        out: FloatArray = np.exp(log_softmax(logits / self.temperature_, axis=1))
        return out


class IsotonicCalibration(Calibrator):
    """A monotone (non-decreasing) step function per class, fitted one-vs-rest.

    Binary: one isotonic regression of ``[y == 1]`` on ``P(class 1)``. Multiclass: one per class
    on that class's probability, then each row is renormalized to sum to 1 (Zadrozny & Elkan
    2002). Isotonic regression makes no assumption on the shape of the miscalibration, which is
    why it needs more data than temperature or Platt scaling and overfits small dev sets.

    Attributes
    ----------
    regressors_ : list of sklearn.isotonic.IsotonicRegression
        One (binary) or ``k`` fitted regressions.
    """

    def __init__(self) -> None:
        pass

    def _fit(self, proba: FloatArray, y: IntArray) -> None:
        k = proba.shape[1]
        columns = [1] if k == 2 else list(range(k))
        self.regressors_ = [
            IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
                proba[:, c], (y == c).astype(np.float64)
            )
            for c in columns
        ]

    def _transform(self, proba: FloatArray) -> FloatArray:
        if proba.shape[1] == 2:
            p1 = np.asarray(self.regressors_[0].predict(proba[:, 1]), dtype=np.float64)
            return np.column_stack([1.0 - p1, p1])
        return np.column_stack(
            [
                np.asarray(r.predict(proba[:, c]), dtype=np.float64)
                for c, r in enumerate(self.regressors_)
            ]
        )


class PlattScaling(Calibrator):
    """Logistic regression on the model's log-odds (binary) or log-probabilities (multiclass).

    Binary: ``P(y = 1) = sigmoid(a * log(p1 / p0) + b)`` (Platt 1999), two parameters.
    Multiclass: a multinomial logistic regression on the ``k`` log-probabilities (``k^2 + k``
    parameters, lightly L2-regularized through ``C``), which can correct class-specific biases
    that one temperature cannot.

    Parameters
    ----------
    C : float
        Inverse L2 regularization strength of the logistic regression (scikit-learn's ``C``).
    max_iter : int
        Iterations of the L-BFGS solver.

    Attributes
    ----------
    model_ : sklearn.linear_model.LogisticRegression
        The fitted regression.
    """

    def __init__(self, *, C: float = 1.0, max_iter: int = 1000) -> None:
        self.C = C
        self.max_iter = max_iter

    @staticmethod
    def _features(proba: FloatArray) -> FloatArray:
        # 1e-7 rather than LOG_EPS: a probability of exactly 0 would otherwise become an
        # extreme feature value that dominates the fit.
        logp = np.log(np.clip(proba, 1e-7, 1.0))
        if proba.shape[1] == 2:
            return logp[:, 1:] - logp[:, :1]
        return logp

    def _fit(self, proba: FloatArray, y: IntArray) -> None:
        present = np.unique(y)
        if present.size < 2:
            raise SchemaError(
                f"PlattScaling needs gold labels of at least two classes, got only class "
                f"{int(present[0]) if present.size else None}. Use TemperatureScaling, or add dev "
                "rows of the other classes."
            )
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(
            self._features(proba), y
        )

    def _transform(self, proba: FloatArray) -> FloatArray:
        raw = np.asarray(self.model_.predict_proba(self._features(proba)), dtype=np.float64)
        # Classes missing from the dev labels get probability 0.
        out = np.zeros((proba.shape[0], proba.shape[1]))
        out[:, np.asarray(self.model_.classes_, dtype=np.int64)] = raw
        return out


#: The calibration methods by the name ``choose_calibration`` and the pipeline config use.
CALIBRATORS: dict[str, type[Calibrator]] = {
    "temperature": TemperatureScaling,
    "isotonic": IsotonicCalibration,
    "platt": PlattScaling,
}


def make_calibrator(method: str) -> Calibrator:
    """A new, unfitted calibrator for ``method`` ('temperature', 'isotonic' or 'platt')."""
    try:
        return CALIBRATORS[method]()
    except (KeyError, TypeError):
        raise SchemaError(
            f"Unknown calibration method {method!r}; choose from {sorted(CALIBRATORS)}."
        ) from None
