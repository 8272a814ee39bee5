"""Label-free estimates: right when calibration holds, LFs catch what confidence misses."""

from __future__ import annotations

import numpy as np
import pytest

from weakflow.errors import NotFittedError, SchemaError
from weakflow.monitor import estimate_performance
from weakflow.monitor._estimate import (
    STRATA,
    LabelFreeEstimator,
    headline_estimate,
    label_free_posteriors,
)


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


def _sliced(rng: np.random.Generator, n: int, slice_share: float):
    """A model calibrated on most rows but confidently wrong on a slice that 3 LFs cover.

    Outside the slice the model is right with probability equal to its confidence (0.9-0.99)
    and no LF votes; on the slice it has the same confidence but is right 40% of the time, and
    each LF votes on 90% of the slice rows, 90% accurately. A window with more of the slice
    than the reference has is what CBPE cannot see.
    """
    y = rng.integers(0, 2, n)
    in_slice = rng.random(n) < slice_share
    conf = rng.uniform(0.9, 0.99, n)
    right = np.where(in_slice, rng.random(n) < 0.4, rng.random(n) < conf)
    pred = np.where(right, y, 1 - y)
    p1 = np.where(pred == 1, conf, 1 - conf)
    L = np.full((n, 3), -1)
    for j in range(3):
        on = in_slice & (rng.random(n) < 0.9)
        good = rng.random(n) < 0.9
        L[on, j] = np.where(good[on], y[on], 1 - y[on])
    return y, pred, np.c_[1 - p1, p1], L


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
    assert d["note"] is None  # a healthy Dawid-Skene fit: no fallback


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


# -- the labelled reference: LF-aware calibration ------------------------------------------------
def test_lf_calibration_recovers_accuracy_where_cbpe_is_fooled() -> None:
    """Reference: 20% of rows from the slice; window: 50%. Tolerance: 0.03 of the truth."""
    rng = np.random.default_rng(0)
    reference = LabelFreeEstimator(random_state=0).fit(*_reference_arrays(rng, 4000, 0.2))
    y, pred, proba, L = _sliced(rng, 2000, 0.5)
    realized = float(np.mean(pred == y))
    est = estimate_performance(proba, L, reference=reference)
    assert est["cbpe"].accuracy - realized > 0.2  # the confidence says ~0.95
    assert est["calibrated"].accuracy - realized > 0.1  # re-calibration alone: still fooled
    assert abs(est["lf_calibrated"].accuracy - realized) < 0.03
    low, high = est["lf_calibrated"].accuracy_interval
    assert low <= est["lf_calibrated"].accuracy <= high
    # the reference taught it that contradicted predictions are mostly wrong
    against = STRATA.index("more LF votes against the prediction")
    assert reference.offsets_[against] < -2.0
    assert reference.stratum_accuracy_[against] < 0.3
    assert headline_estimate(est).method == "lf_calibrated"


def _reference_arrays(
    rng: np.random.Generator, n: int, share: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y, _, proba, L = _sliced(rng, n, share)
    return proba, L, y


def test_reference_without_a_shift_stays_close_to_the_truth() -> None:
    """Calibrated probabilities, LFs independent of the model, no shift: nothing to correct."""
    rng = np.random.default_rng(3)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        P = rng.dirichlet([1, 1], n)
        y = (rng.random(n) < P[:, 1]).astype(int)  # labels drawn from the probabilities
        L = np.where(rng.random((n, 4)) < 0.8, y[:, None], 1 - y[:, None])
        L[rng.random((n, 4)) < 0.5] = -1
        return P, L, y

    P_ref, L_ref, y_ref = draw(2000)
    proba, L, y = draw(2000)
    est = estimate_performance(proba, L, reference=(P_ref, L_ref, y_ref))
    realized = float(np.mean(proba.argmax(axis=1) == y))
    for method in ("cbpe", "calibrated", "lf_calibrated"):
        assert abs(est[method].accuracy - realized) < 0.03, method


def test_degenerate_dawid_skene_fit_falls_back_to_cbpe() -> None:
    """A rare class and five class-1 rules keyed on a common word: the fit swaps the classes."""
    rng = np.random.default_rng(0)
    n = 300
    y = (rng.random(n) < 0.03).astype(int)
    conf = rng.uniform(0.9, 0.99, n)
    p1 = np.where(y == 1, conf, 1 - conf)  # the model is right on every row
    proba = np.c_[1 - p1, p1]
    L = np.full((n, 6), -1)
    block = rng.random(n) < 0.5
    for j in range(5):
        L[block & (rng.random(n) < 0.9), j] = 1
    L[rng.random(n) < 0.1, 5] = 0
    est = estimate_performance(proba, L)
    assert est["lf"].note is not None
    assert "degenerate" in est["lf"].note
    assert est["lf"].accuracy < 0.7  # what the guard protects against (the truth is 1.0)
    combined = est["combined"]
    assert combined.note is not None
    assert combined.note.startswith("CBPE used instead")
    assert combined.accuracy == est["cbpe"].accuracy
    assert combined.accuracy_interval == est["cbpe"].accuracy_interval
    assert headline_estimate(est).method == "combined"


def test_healthy_fit_is_not_flagged() -> None:
    _, _, proba, L = _window(np.random.default_rng(5), 1000, 0.8, confident=True)
    est = estimate_performance(proba, L)
    assert est["lf"].note is None
    assert est["combined"].note is None
    assert est["combined"].accuracy != est["cbpe"].accuracy


def test_fit_and_estimate_are_reproducible_with_a_seed() -> None:
    rng = np.random.default_rng(7)
    P_ref, L_ref, y_ref = _reference_arrays(rng, 500, 0.2)
    _, _, proba, L = _sliced(rng, 300, 0.4)
    a = LabelFreeEstimator(random_state=11).fit(P_ref, L_ref, y_ref)
    b = LabelFreeEstimator(random_state=11).fit(P_ref, L_ref, y_ref)
    c = LabelFreeEstimator(random_state=12).fit(P_ref, L_ref, y_ref)
    np.testing.assert_array_equal(a.offsets_, b.offsets_)
    assert a.estimate(proba, L) == b.estimate(proba, L)
    np.testing.assert_array_equal(a.posterior(proba, L), c.posterior(proba, L))  # no randomness
    assert a.estimate(proba, L).accuracy_interval != c.estimate(proba, L).accuracy_interval
    again = estimate_performance(proba, L, reference=(P_ref, L_ref, y_ref), random_state=4)
    assert again == estimate_performance(proba, L, reference=(P_ref, L_ref, y_ref), random_state=4)


def test_bootstrap_widens_the_interval_of_a_small_reference() -> None:
    rng = np.random.default_rng(8)
    P_ref, L_ref, y_ref = _reference_arrays(rng, 80, 0.3)
    _, _, proba, L = _sliced(rng, 1000, 0.3)
    with_boot = LabelFreeEstimator(random_state=0).fit(P_ref, L_ref, y_ref).estimate(proba, L)
    without = LabelFreeEstimator(n_bootstrap=0).fit(P_ref, L_ref, y_ref).estimate(proba, L)
    assert with_boot.accuracy == without.accuracy  # the point estimate is the main fit's
    width = with_boot.accuracy_interval[1] - with_boot.accuracy_interval[0]
    assert width > 1.5 * (without.accuracy_interval[1] - without.accuracy_interval[0])


def test_headline_rule_is_fixed_in_advance() -> None:
    rng = np.random.default_rng(2)
    P_ref, L_ref, y_ref = _reference_arrays(rng, 300, 0.2)
    _, _, proba, L = _sliced(rng, 300, 0.2)
    ref = LabelFreeEstimator(n_bootstrap=10).fit(P_ref, L_ref, y_ref)
    assert headline_estimate(estimate_performance(proba)).method == "cbpe"
    assert headline_estimate(estimate_performance(proba, L)).method == "combined"
    assert headline_estimate(estimate_performance(proba, reference=ref)).method == "calibrated"
    both = estimate_performance(proba, L, reference=ref)
    assert set(both) == {"cbpe", "lf", "combined", "calibrated", "lf_calibrated"}
    assert headline_estimate(both).method == "lf_calibrated"
    with pytest.raises(SchemaError, match="estimates holds none"):
        headline_estimate({})


def test_posteriors_are_what_the_estimates_come_from() -> None:
    rng = np.random.default_rng(4)
    P_ref, L_ref, y_ref = _reference_arrays(rng, 300, 0.2)
    _, pred, proba, L = _sliced(rng, 300, 0.4)
    ref = LabelFreeEstimator(n_bootstrap=5).fit(P_ref, L_ref, y_ref)
    est = estimate_performance(proba, L, reference=ref)
    post = label_free_posteriors(proba, L, reference=ref)
    assert set(post) == set(est)
    for method, (Q, _, _) in post.items():
        np.testing.assert_allclose(Q.sum(axis=1), 1.0)
        assert float(Q[np.arange(len(pred)), pred].mean()) == pytest.approx(est[method].accuracy)


# -- bad inputs ----------------------------------------------------------------------------------
@pytest.fixture
def arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _reference_arrays(np.random.default_rng(9), 200, 0.2)


def test_fit_names_the_bad_argument(arrays: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    P, L, y = arrays
    with pytest.raises(SchemaError, match=r"^L has 199 rows but the probabilities have 200"):
        LabelFreeEstimator().fit(P, L[:-1], y)
    with pytest.raises(SchemaError, match=r"^y has 199 labels"):
        LabelFreeEstimator().fit(P, L, y[:-1])
    bad_y = y.copy()
    bad_y[3] = 2
    with pytest.raises(SchemaError, match=r"^y has label 2 at row 3"):
        LabelFreeEstimator().fit(P, L, bad_y)
    bad_L = L.copy()
    bad_L[0, 0] = 5
    with pytest.raises(SchemaError, match=r"^L has values \[5\] outside -1\.\.1"):
        LabelFreeEstimator().fit(P, bad_L, y)
    with pytest.raises(SchemaError, match=r"^proba must be 2-D"):
        LabelFreeEstimator().fit(P[:, 1], L, y)
    with pytest.raises(SchemaError, match=r"^proba has 5 rows: a labelled reference needs"):
        LabelFreeEstimator().fit(P[:5], L[:5], y[:5])
    with pytest.raises(SchemaError, match=r"^prior_scale must be a positive number"):
        LabelFreeEstimator(prior_scale=0.0).fit(P, L, y)
    with pytest.raises(SchemaError, match=r"^n_bootstrap must be an integer"):
        LabelFreeEstimator(n_bootstrap=-1).fit(P, L, y)


def test_estimate_names_the_bad_argument(
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    P, L, y = arrays
    with pytest.raises(NotFittedError, match="not fitted yet"):
        LabelFreeEstimator().estimate(P, L)
    ref = LabelFreeEstimator(n_bootstrap=3).fit(P, L, y)
    with pytest.raises(SchemaError, match=r"^proba has no rows"):
        ref.estimate(P[:0], L[:0])
    with pytest.raises(SchemaError, match=r"^L has 10 rows but the probabilities have 20"):
        ref.estimate(P[:20], L[:10])
    with pytest.raises(SchemaError, match=r"^L has 2 LF columns but the reference had 3"):
        ref.estimate(P[:20], L[:20, :2])
    with pytest.raises(SchemaError, match=r"^proba has 3 columns but the reference has 2"):
        ref.estimate(np.full((20, 3), 1 / 3), L[:20])
    with pytest.raises(SchemaError, match=r"^No predictions in the window \(proba has no rows\)"):
        estimate_performance(P[:0], L[:0], reference=ref)
    with pytest.raises(SchemaError, match=r"^L has 10 rows but the probabilities have 20"):
        estimate_performance(P[:20], L[:10])
    with pytest.raises(SchemaError, match=r"^reference must be a fitted LabelFreeEstimator"):
        estimate_performance(P, L, reference=(P, L))  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match=r"^cardinality is 3 but proba has 2 columns"):
        estimate_performance(P, L, cardinality=3)
