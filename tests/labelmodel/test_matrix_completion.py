"""MatrixCompletion: recovery, exactness on population moments, the objective and its gradient."""

from __future__ import annotations

import numpy as np
import pytest

from weakflow.labelmodel import MatrixCompletion
from weakflow.labelmodel._kernels import vote_gram
from weakflow.labelmodel._matrix_completion import _MomentProblem

from .synth import make_synthetic, population_matrix, recipe_confusion


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [2, 3])
def test_recovers_known_accuracies(k, seed):
    d = make_synthetic(20_000, 10, k, seed=seed, coverage=(0.2, 0.6), accuracy=(0.6, 0.9))
    learned = MatrixCompletion().fit(d.L).lf_accuracies_
    err = np.abs(learned - d.accuracy)
    assert err.max() < 0.03, (
        f"LF {err.argmax()}: learned {learned.round(4)} vs {d.accuracy.round(4)}"
    )


@pytest.mark.parametrize("k", [2, 3])
def test_exact_on_population_moments(k):
    rng = np.random.default_rng(k)
    cov, acc = rng.uniform(0.2, 0.6, 5), rng.uniform(0.6, 0.9, 5)
    conf = recipe_confusion(cov, acc, k)
    L = population_matrix(np.full(k, 1 / k), conf, 1_000_000)
    model = MatrixCompletion().fit(L)
    np.testing.assert_allclose(model.confusion_, conf, atol=5e-4)
    np.testing.assert_allclose(model.lf_accuracies_, acc, atol=5e-4)


def test_exact_for_one_sided_lfs_with_the_prior_given():
    # Moments do not identify the prior, so it is given; the tables are then identified.
    conf = np.zeros((5, 2, 3))
    for j, (c, p_on, p_off) in enumerate(
        [(1, 0.5, 0.1), (1, 0.4, 0.05), (1, 0.3, 0.1), (0, 0.5, 0.1), (0, 0.4, 0.08)]
    ):
        conf[j, c, c], conf[j, 1 - c, c] = p_on, p_off
        conf[j, :, 2] = 1 - conf[j, :, :2].sum(axis=1)
    prior = np.array([0.4, 0.6])
    model = MatrixCompletion(class_balance=prior).fit(population_matrix(prior, conf, 1_000_000))
    np.testing.assert_allclose(model.confusion_, conf, atol=5e-4)


def test_learns_better_than_random_not_the_mirror_image():
    # Flipping every class is an equally good moment fit; init_accuracy > 1/k picks this one.
    d = make_synthetic(5000, 6, 2, seed=9)
    model = MatrixCompletion().fit(d.L)
    assert np.all(model.lf_accuracies_ > 0.5)
    # decisions agree with the Bayes classifier under the true tables (a mirror would not)
    conf = recipe_confusion(d.coverage, d.accuracy, 2)
    outcome = np.where(d.L == -1, 2, d.L)
    joint = np.stack([np.prod(conf[np.arange(6), y, outcome], axis=1) for y in range(2)], axis=1)
    oracle = joint.argmax(axis=1)
    voted = (d.L != -1).any(axis=1)  # rows without votes are exact ties for the oracle
    assert np.mean(model.predict(d.L)[voted] == oracle[voted]) > 0.95
    assert model.score(d.L, d.y) > np.mean(oracle == d.y) - 0.01


class TestObjective:
    """The objective avoids forming (mk x mk) matrices; check it against the dense formula."""

    @staticmethod
    def problem(L, k, l2=1e-3, first_weight=0.7):
        n, m = L.shape
        O = vote_gram(L, k) / n
        prob = _MomentProblem(O, m, k, first_weight, l2)
        prior = np.random.default_rng(0).dirichlet(np.ones(k) * 5)
        prob.anchor = prob.initial(prior, 0.7)
        return prob, O, prior

    @staticmethod
    def dense_loss(theta, O, prior, m, k, first_weight, l2, anchor):
        z = theta.reshape(m, k, k + 1)
        mu = np.exp(z) / np.exp(z).sum(axis=2, keepdims=True)
        V = np.zeros((m * k, k))
        for j in range(m):
            for c in range(k):
                V[j * k + c] = mu[j, :, c]
        S = V @ np.diag(prior) @ V.T
        mask = np.ones_like(O)
        for j in range(m):
            mask[j * k : (j + 1) * k, j * k : (j + 1) * k] = 0
        s1 = max(np.sum((mask * O) ** 2), 1e-12)
        s2 = max(np.sum(np.diag(O) ** 2), 1e-12)
        main = np.sum((mask * (S - O)) ** 2) / s1
        first = first_weight * np.sum((V @ prior - np.diag(O)) ** 2) / s2
        return main + first + l2 * np.sum((theta - anchor) ** 2)

    @pytest.mark.parametrize(("m", "k", "cov"), [(4, 2, 0.6), (5, 3, 0.5), (6, 3, 0.03)])
    def test_loss_and_gradient(self, m, k, cov):
        # cov=0.03 on 400 rows: LFs rarely overlap, so the overlap matrix is stored sparse
        d = make_synthetic(400, m, k, seed=m, coverage=(cov, cov))
        prob, O, prior = self.problem(d.L, k)
        assert (not isinstance(prob.O_off, np.ndarray)) == (cov < 0.1)
        theta = prob.anchor + np.random.default_rng(1).normal(scale=0.3, size=prob.anchor.size)
        loss, grad = prob.loss_and_grad(theta, prior)
        args = (O, prior, m, k, 0.7, 1e-3, prob.anchor)
        assert loss == pytest.approx(self.dense_loss(theta, *args), rel=1e-10)
        h = 1e-6
        numeric = np.empty_like(theta)
        for i in range(theta.size):
            e = np.zeros_like(theta)
            e[i] = h
            numeric[i] = (self.dense_loss(theta + e, *args) - self.dense_loss(theta - e, *args)) / (
                2 * h
            )
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_fit_attributes():
    d = make_synthetic(3000, 5, 3, seed=4)
    model = MatrixCompletion().fit(d.L)
    assert model.n_iter_ > 0
    assert 0 <= model.loss_ < 0.05  # CI data: the moments are matched closely
    assert model.fallback_ is None
