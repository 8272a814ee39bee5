"""Label-free estimates: right when calibration holds, LFs catch what confidence misses."""

from __future__ import annotations

import numpy as np
import pytest

from weakflow.monitor import estimate_performance


def _window(rng: np.random.Generator, n: int, model_acc: float, confident: bool):
    """Truth, a model with the given accuracy, its probabilities and 5 LFs (80% accurate)."""
    y = rng.integers(0, 2, n)
    right = rng.random(n) < model_acc
    pred = np.where(right, y, 1 - y)
    if confident:  # overconfident: says 0.95 whatever its real accuracy
        conf = np.full(n, 0.95)
    else:  # calibrated: confidence drawn so that P(right | conf) = conf
        conf = np.where(right, rng.beta(9, 1, n), rng.beta(6, 4, n))
        conf = np.clip(conf, 0.501, 0.999)
    p1 = np.where(pred == 1, conf, 1 - conf)
    proba = np.c_[1 - p1, p1]
    L = np.full((n, 5), -1)
    for j in range(5):
        on = rng.random(n) < 0.5
        good = rng.random(n) < 0.8
        L[on, j] = np.where(good[on], y[on], 1 - y[on])
    return y, pred, proba, L


def test_cbpe_interval_covers_the_truth_when_calibrated() -> None:
    rng = np.random.default_rng(0)
    P = rng.dirichlet([2, 2], 4000)
    y = (rng.random(4000) < P[:, 1]).astype(int)  # labels drawn from the probabilities
    est = estimate_performance(P)["cbpe"]
    realized = float(np.mean(P.argmax(axis=1) == y))
    low, high = est.accuracy_interval
    assert low <= realized <= high
    assert abs(est.accuracy - realized) < 0.02


def test_lf_estimate_sees_the_drop_that_confidence_hides() -> None:
    rng = np.random.default_rng(1)
    y, pred, proba, L = _window(rng, 3000, model_acc=0.7, confident=True)
    estimates = estimate_performance(proba, L)
    realized = float(np.mean(pred == y))
    assert estimates["cbpe"].accuracy == pytest.approx(0.95)  # fooled by confidence
    assert abs(estimates["lf"].accuracy - realized) < 0.05
    assert abs(estimates["combined"].accuracy - realized) < abs(
        estimates["cbpe"].accuracy - realized
    )
    assert 0.9 < estimates["lf"].coverage <= 1.0
    d = estimates["combined"].to_dict()
    assert set(d["interval"]) == {"accuracy", "f1_macro"}


def test_small_or_uncovered_windows_fall_back_to_cbpe() -> None:
    proba = np.array([[0.8, 0.2]] * 20)
    only = estimate_performance(proba, np.full((20, 4), -1))
    assert set(only) == {"cbpe"}
    with pytest.raises(ValueError, match="No predictions"):
        estimate_performance(np.zeros((0, 2)))


@pytest.mark.parametrize(
    ("seed", "model_acc", "confident"),
    [(1, 0.7, True), (2, 0.9, True), (3, 0.6, False), (4, 0.85, False)],
)
def test_lf_estimate_tracks_realized_accuracy(seed: int, model_acc: float, confident: bool) -> None:
    y, _, proba, L = _window(np.random.default_rng(seed), 3000, model_acc, confident)
    realized = float(np.mean(proba.argmax(axis=1) == y))  # what was served
    lf = estimate_performance(proba, L)["lf"]
    assert abs(lf.accuracy - realized) < 0.03
    low, high = lf.accuracy_interval
    assert low - 0.02 <= realized <= high + 0.02
