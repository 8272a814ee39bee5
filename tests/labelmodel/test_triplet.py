"""Triplet: recovery, exactness on population moments (one-sided LFs too), triplet bookkeeping."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from weakflow.labelmodel import Triplet

from .synth import make_synthetic, make_with_accuracies, population_matrix, recipe_confusion


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [2, 3])
def test_recovers_known_accuracies(k, seed):
    d = make_synthetic(20_000, 10, k, seed=seed, coverage=(0.2, 0.6), accuracy=(0.6, 0.9))
    learned = Triplet().fit(d.L).lf_accuracies_
    err = np.abs(learned - d.accuracy)
    assert err.max() < 0.03, (
        f"LF {err.argmax()}: learned {learned.round(4)} vs {d.accuracy.round(4)}"
    )


@pytest.mark.parametrize("k", [2, 3])
def test_exact_on_population_moments(k):
    # errors spread evenly over the other classes: the one-vs-rest reduction is exact
    rng = np.random.default_rng(10 + k)
    cov, acc = rng.uniform(0.2, 0.6, 5), rng.uniform(0.6, 0.9, 5)
    conf = recipe_confusion(cov, acc, k)
    model = Triplet().fit(population_matrix(np.full(k, 1 / k), conf, 1_000_000))
    np.testing.assert_allclose(model.confusion_, conf, atol=5e-4)


def test_exact_for_one_sided_lfs():
    # The module's claim: covariances keep the triplet identity exact for one-sided LFs (with the
    # prior given; moments do not identify it). Raw second moments would call them all perfect.
    conf = np.zeros((5, 2, 3))
    for j, (c, p_on, p_off) in enumerate(
        [(1, 0.5, 0.1), (1, 0.4, 0.05), (1, 0.3, 0.1), (0, 0.5, 0.1), (0, 0.4, 0.08)]
    ):
        conf[j, c, c], conf[j, 1 - c, c] = p_on, p_off
        conf[j, :, 2] = 1 - conf[j, :, :2].sum(axis=1)
    prior = np.array([0.4, 0.6])
    model = Triplet(class_balance=prior).fit(population_matrix(prior, conf, 1_000_000))
    np.testing.assert_allclose(model.confusion_, conf, atol=5e-4)
    assert np.all(model.lf_accuracies_ < 0.95)


@pytest.mark.parametrize(("m", "k"), [(5, 2), (6, 3), (4, 4)])
def test_every_lf_uses_all_triplets_when_lfs_overlap(m, k):
    d = make_synthetic(3000, m, k, seed=m, coverage=(0.8, 0.9))
    model = Triplet().fit(d.L)
    # per class, LF i pairs up with every 2 of the other m - 1 LFs
    np.testing.assert_array_equal(model.n_triplets_, np.full(m, k * comb(m - 1, 2)))


@pytest.mark.parametrize("init", [0.7, 0.8])
def test_lf_without_overlap_keeps_init_accuracy(init):
    # LF 4 votes (both classes) only on rows where LFs 0-3 all abstain: it overlaps with no one
    d = make_with_accuracies(4000, 2, [0.8, 0.75, 0.85, 0.7], [0.5, 0.5, 0.5, 0.5], seed=2)
    alone = np.flatnonzero((d.L == -1).all(axis=1))[:200]
    lf4 = np.full((4000, 1), -1)
    lf4[alone, 0] = np.arange(200) % 2
    L = np.hstack([d.L, lf4])
    model = Triplet(init_accuracy=init).fit(L)
    assert model.n_triplets_[4] == 0
    assert model.lf_accuracies_[4] == pytest.approx(init, abs=1e-4)
    np.testing.assert_array_equal(model.n_triplets_[:4], 2 * comb(3, 2))
    np.testing.assert_allclose(model.lf_accuracies_[:4], d.accuracy, atol=0.04)


def test_min_overlap_above_every_pair_falls_back_to_the_anchor():
    d = make_synthetic(2000, 5, 3, seed=3)
    model = Triplet(min_overlap=10**6, init_accuracy=0.65).fit(d.L)
    assert np.all(model.n_triplets_ == 0)
    np.testing.assert_allclose(model.lf_accuracies_, 0.65, atol=1e-6)
