"""Fewer than 3 LFs: the CI models warn and fall back to a majority-vote-equivalent model."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from weakflow.errors import FallbackWarning
from weakflow.labelmodel import LabelModel, MajorityVote

from .models import CI_MODELS, make
from .synth import make_synthetic

CI = list(CI_MODELS)


def clear_winner_rows(L: np.ndarray, k: int) -> np.ndarray:
    counts = np.stack([(c == L).sum(axis=1) for c in range(k)], axis=1)
    return (counts == counts.max(axis=1, keepdims=True)).sum(axis=1) == 1


@pytest.mark.parametrize("name", CI)
@pytest.mark.parametrize("m", [1, 2])
def test_warns_and_records_the_fallback(name, m):
    d = make_synthetic(500, m, 3, seed=m)
    with pytest.warns(FallbackWarning, match=rf"needs at least 3 labeling functions.*got {m}"):
        model = make(name).fit(d.L)
    assert model.fallback_ == "majority_vote"
    assert model.confusion_.shape == (m, 3, 4)


@pytest.mark.parametrize("name", CI)
def test_three_lfs_do_not_fall_back(name):
    d = make_synthetic(500, 3, 2, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = make(name).fit(d.L)
    assert model.fallback_ is None


def test_fallback_attributes():
    d = make_synthetic(300, 2, 2, seed=1)
    with pytest.warns(FallbackWarning):
        ds = make("ds").fit(d.L)
    with pytest.warns(FallbackWarning):
        mc = make("mc").fit(d.L)
    with pytest.warns(FallbackWarning):
        tr = make("triplet").fit(d.L)
    assert ds.n_iter_ == 0
    assert np.isnan(ds.log_likelihood_)
    assert mc.n_iter_ == 0
    assert np.isnan(mc.loss_)
    np.testing.assert_array_equal(tr.n_triplets_, [0, 0])


@pytest.mark.parametrize("name", CI)
@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("cb", ["uniform", "near-uniform"])
def test_decides_like_majority_vote_where_one_class_leads(name, k, cb):
    d = make_synthetic(800, 2, k, seed=k, coverage=(0.5, 0.9))
    prior = "uniform" if cb == "uniform" else np.linspace(1.0, 1.2, k)
    with pytest.warns(FallbackWarning):
        model = make(name, class_balance=prior).fit(d.L)
    mv = MajorityVote(class_balance=model.class_balance_, tie_break="prior").fit(d.L)
    clear = clear_winner_rows(d.L, k)
    assert clear.sum() > 300
    np.testing.assert_array_equal(model.predict(d.L)[clear], mv.predict(d.L)[clear])


@pytest.mark.parametrize("name", CI)
def test_rows_without_votes_get_the_prior(name):
    # the fallback's abstention rate does not depend on the class, so abstaining is no evidence
    d = make_synthetic(400, 2, 3, seed=4)
    with pytest.warns(FallbackWarning):
        model = make(name, class_balance=[0.5, 0.3, 0.2]).fit(d.L)
    np.testing.assert_allclose(model.predict_proba([[-1, -1]]), [[0.5, 0.3, 0.2]], rtol=1e-12)
    np.testing.assert_allclose(model.lf_accuracies_, 0.7, rtol=1e-9)


def test_label_model_warns_with_and_without_dev():
    d = make_synthetic(600, 2, 2, seed=6)
    with pytest.warns(FallbackWarning):
        lm = LabelModel().fit(d.L)
    assert lm.model_.fallback_ == "majority_vote"
    with pytest.warns(FallbackWarning):
        LabelModel().fit(d.L[:400], L_dev=d.L[400:], y_dev=d.y[400:])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LabelModel("mv").fit(d.L)  # majority vote has nothing to fall back from


@pytest.mark.parametrize("name", CI)
def test_decides_like_majority_vote_with_a_skewed_prior(name):
    L = np.array([[1, -1], [0, 0], [1, 1], [-1, 1], [0, 1]] * 20)
    with pytest.warns(FallbackWarning):
        model = make(name, class_balance=[0.85, 0.15]).fit(L)
    mv = MajorityVote(class_balance=model.class_balance_, tie_break="prior").fit(L)
    # row [1, -1]: MV says 1; the fallback posterior is 0.85*0.3 : 0.15*0.7, i.e. class 0
    np.testing.assert_array_equal(model.predict(L), mv.predict(L))


@pytest.mark.parametrize("k", [2, 3])
def test_ties_are_broken_like_majority_vote(k):
    tied_rows = np.array([[a, b] for a in range(k) for b in range(k) if a != b])
    mismatches = []
    # LF 0 votes on a of 40 rows, LF 1 on b: over these 225 coverage pairs about 30% of the
    # tie-breaks disagree with MV (numbers from numpy 2.4 on x86-64)
    for a in range(1, 31, 2):
        for b in range(1, 31, 2):
            L = np.full((40, 2), -1)
            L[:a, 0] = 0
            L[:b, 1] = 1
            with pytest.warns(FallbackWarning):
                model = make("ds", cardinality=k, class_balance="uniform").fit(L)
            proba = model.predict_proba(tied_rows)
            top = np.sort(proba, axis=1)[:, -2:]
            np.testing.assert_allclose(top[:, 0], top[:, 1], rtol=1e-12)  # genuinely tied
            mv = MajorityVote(cardinality=k, class_balance="uniform").fit(L)
            if not np.array_equal(model.predict(tied_rows), mv.predict(tied_rows)):
                mismatches.append((a, b))
    assert mismatches == []
