"""DawidSkene: recovery of known accuracies, the Bayes posterior, EM behaviour, the anchor prior."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from weakflow.labelmodel import DawidSkene, MajorityVote

from .synth import make_synthetic, make_with_accuracies, population_matrix, recipe_confusion


def one_sided(n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Binary LFs that only ever vote one class; firing depends on the class (still CI).

    Returns the votes and each LF's true accuracy where it votes.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    specs = [(1, 0.5, 0.1), (1, 0.4, 0.05), (1, 0.3, 0.1), (0, 0.5, 0.1), (0, 0.4, 0.08)]
    L = np.full((n, len(specs)), -1)
    truth = []
    for j, (c, p_on, p_off) in enumerate(specs):
        fire = rng.random(n) < np.where(y == c, p_on, p_off)
        L[:, j] = np.where(fire, c, -1)
        # P(Y = c | LF fires) with a balanced class prior
        truth.append(p_on / (p_on + p_off))
    return L, np.array(truth)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [2, 3])
def test_recovers_known_accuracies(k, seed):
    d = make_synthetic(20_000, 10, k, seed=seed, coverage=(0.2, 0.6), accuracy=(0.6, 0.9))
    learned = DawidSkene().fit(d.L).lf_accuracies_
    err = np.abs(learned - d.accuracy)
    assert err.max() < 0.03, (
        f"LF {err.argmax()}: learned {learned.round(4)} vs {d.accuracy.round(4)}"
    )


def test_recovers_one_sided_lfs():
    L, truth = one_sided()
    np.testing.assert_allclose(DawidSkene().fit(L).lf_accuracies_, truth, atol=0.03)


def test_posterior_is_the_brute_force_bayes_posterior():
    # A tiny matrix: enumerate rows, multiply prior and confusion entries by hand.
    L = np.array(
        [
            [0, 1, 2, -1],
            [2, 2, -1, 1],
            [-1, -1, -1, -1],
            [1, 1, 1, 1],
            [0, -1, 0, 2],
            [1, 0, -1, -1],
            [2, 1, 0, 0],
            [0, 0, 0, -1],
        ]
    )
    model = DawidSkene(class_balance="learn").fit(L)
    prior, conf = model.class_balance_, model.confusion_
    k = 3
    # every possible vote pattern of 4 LFs (4**4 = 256), not only the training rows
    rows = np.array(list(itertools.product(range(-1, k), repeat=4)))
    expected = np.empty((len(rows), k))
    for r, row in enumerate(rows):
        for y in range(k):
            p = prior[y]
            for j, vote in enumerate(row):
                p *= conf[j, y, k if vote == -1 else vote]
            expected[r, y] = p
    expected /= expected.sum(axis=1, keepdims=True)
    expected[(rows == -1).all(axis=1)] = prior  # rows without votes get the prior by contract
    np.testing.assert_allclose(model.predict_proba(rows), expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(model.predict(rows), expected.argmax(axis=1))


class TestEM:
    def test_plain_em_never_decreases_the_likelihood(self):
        # prior_strength=0 is maximum likelihood, where each EM step cannot lower it
        d = make_synthetic(2000, 6, 3, seed=8)
        lls = [
            DawidSkene(prior_strength=0.0, max_iter=i, tol=0.0, accelerate=False)
            .fit(d.L)
            .log_likelihood_
            for i in range(1, 12)
        ]
        assert np.all(np.diff(lls) >= -1e-12), lls
        assert lls[-1] > lls[0]

    def test_plain_em_runs_exactly_max_iter_with_zero_tolerance(self):
        d = make_synthetic(500, 4, 2, seed=2)
        ds = DawidSkene(max_iter=7, tol=0.0, accelerate=False).fit(d.L)
        assert ds.n_iter_ == 7

    def test_accelerated_em_respects_max_iter(self):
        d = make_synthetic(3000, 6, 3, seed=4)
        assert DawidSkene(max_iter=3, tol=0.0).fit(d.L).n_iter_ <= 3

    def test_accelerated_em_overshoots_max_iter_by_at_most_one(self):
        d = make_synthetic(3000, 6, 3, seed=4)
        for max_iter in (1, 2, 3, 6):
            assert DawidSkene(max_iter=max_iter, tol=0.0).fit(d.L).n_iter_ <= max_iter + 1

    def test_squarem_reaches_the_plain_em_solution(self):
        d = make_synthetic(5000, 8, 3, seed=6)
        fast = DawidSkene(tol=1e-10, max_iter=2000).fit(d.L)
        slow = DawidSkene(tol=1e-10, max_iter=2000, accelerate=False).fit(d.L)
        np.testing.assert_allclose(fast.confusion_, slow.confusion_, atol=2e-4)
        assert fast.log_likelihood_ == pytest.approx(slow.log_likelihood_, abs=1e-7)

    def test_log_likelihood_attribute_matches_the_method(self):
        d = make_synthetic(3000, 5, 2, seed=3)
        ds = DawidSkene().fit(d.L)
        assert ds.log_likelihood(d.L) == pytest.approx(ds.log_likelihood_, abs=1e-6)


class TestPriorStrength:
    @pytest.mark.parametrize("k", [2, 3])
    def test_strong_prior_decides_like_majority_vote(self, k):
        d = make_synthetic(5000, 8, k, seed=1)
        counts = np.stack([(c == d.L).sum(axis=1) for c in range(k)], axis=1)
        clear = (counts == counts.max(axis=1, keepdims=True)).sum(axis=1) == 1
        ds = DawidSkene(prior_strength=1e6, class_balance="uniform").fit(d.L)
        mv = MajorityVote(class_balance="uniform").fit(d.L)
        np.testing.assert_array_equal(ds.predict(d.L)[clear], mv.predict(d.L)[clear])

    def test_strong_prior_pins_every_lf_at_init_accuracy(self):
        d = make_synthetic(5000, 6, 3, seed=2)
        for init in (0.6, 0.8):
            ds = DawidSkene(prior_strength=1e8, init_accuracy=init, class_balance="uniform")
            np.testing.assert_allclose(ds.fit(d.L).lf_accuracies_, init, atol=1e-3)

    def test_prior_shrinks_a_sparse_lf_toward_the_anchor(self):
        # LF 3 votes on 41 rows, all correct; a stronger prior keeps it nearer the anchor (0.7)
        d = make_with_accuracies(4000, 2, [0.8, 0.8, 0.8, 0.95], [0.5, 0.5, 0.5, 0.01], seed=4)
        learned = [
            DawidSkene(prior_strength=s).fit(d.L).lf_accuracies_[3] for s in (10.0, 1e3, 1e5)
        ]
        assert learned[0] > 0.9  # the data say ~1.0
        assert learned[0] > learned[1] > learned[2] > 0.7
        assert learned[2] < 0.71


class TestPopulation:
    """On a matrix carrying a CI model's exact pattern frequencies, EM recovers the model."""

    @pytest.mark.parametrize("k", [2, 3])
    def test_exact_tables(self, k):
        rng = np.random.default_rng(20 + k)
        cov, acc = rng.uniform(0.2, 0.6, 5), rng.uniform(0.6, 0.9, 5)
        conf = recipe_confusion(cov, acc, k)
        prior = rng.dirichlet(np.full(k, 10.0))
        # a tight tol: the default (1e-7 per row) stops with the prior ~6e-4 short
        model = DawidSkene(tol=1e-12).fit(population_matrix(prior, conf, 1_000_000))
        np.testing.assert_allclose(model.confusion_, conf, atol=2e-4)
        np.testing.assert_allclose(model.class_balance_, prior, atol=2e-4)

    def test_one_sided_lfs_and_their_prior(self):
        # unlike the moment methods, EM identifies the class prior from the votes
        conf = np.zeros((5, 2, 3))
        for j, (c, p_on, p_off) in enumerate(
            [(1, 0.5, 0.1), (1, 0.4, 0.05), (1, 0.3, 0.1), (0, 0.5, 0.1), (0, 0.4, 0.08)]
        ):
            conf[j, c, c], conf[j, 1 - c, c] = p_on, p_off
            conf[j, :, 2] = 1 - conf[j, :, :2].sum(axis=1)
        prior = np.array([0.4, 0.6])
        model = DawidSkene(tol=1e-12).fit(population_matrix(prior, conf, 1_000_000))
        np.testing.assert_allclose(model.confusion_, conf, atol=2e-4)
        np.testing.assert_allclose(model.class_balance_, prior, atol=2e-4)
