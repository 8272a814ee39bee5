"""Properties over random inputs: calibrated probabilities are always probabilities, and the
calibration summary is always consistent."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from weakflow.evaluate import CALIBRATORS, calibration_summary, make_calibrator


@st.composite
def proba_and_labels(draw, min_rows=6, max_rows=60):
    """Row-stochastic matrices (with exact 0s and 1s allowed) and labels with >= 2 classes."""
    k = draw(st.integers(2, 4))
    n = draw(st.integers(min_rows, max_rows))
    weights = draw(
        arrays(
            np.float64,
            (n, k),
            elements=st.one_of(st.just(0.0), st.floats(1e-9, 1.0), st.floats(0.5, 1e3)),
        )
    )
    weights[weights.sum(axis=1) == 0, 0] = 1.0
    proba = weights / weights.sum(axis=1, keepdims=True)
    y = draw(arrays(np.int64, n, elements=st.integers(0, k - 1)))
    y[: min(n, 2)] = [0, 1][: min(n, 2)]  # Platt scaling needs two classes
    return proba, y


@settings(max_examples=60, deadline=None)
@given(data=proba_and_labels(), method=st.sampled_from(sorted(CALIBRATORS)), seed=st.integers(0, 9))
def test_calibrated_probabilities_are_probabilities(data, method, seed):
    proba, y = data
    cal = make_calibrator(method).fit(proba, y)
    # transform rows the calibrator did not see, including extreme ones
    rng = np.random.default_rng(seed)
    fresh = rng.dirichlet(np.full(proba.shape[1], 0.3), size=25)
    fresh[0] = np.eye(proba.shape[1])[0]
    for p in (proba, fresh):
        out = cal.transform(p)
        assert out.shape == p.shape
        assert np.isfinite(out).all()
        assert np.all((out >= 0) & (out <= 1))
        np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(data=proba_and_labels(min_rows=1), n_bins=st.integers(1, 20))
def test_summary_is_consistent(data, n_bins):
    proba, y = data
    s = calibration_summary(y, proba, n_bins=n_bins)
    assert 0 <= s["ece"] <= s["mce"] + 1e-12 <= 1 + 1e-12
    assert sum(b["count"] for b in s["bins"]) == s["n"] == len(y)
    assert 0 <= s["brier"] <= 2
    for b in s["bins"]:
        if b["count"]:
            assert b["lower"] - 1e-12 <= b["confidence"] <= b["upper"] + 1e-12
