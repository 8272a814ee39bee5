"""Numerical kernels against dense, loop-based numpy references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from weakflow.labelmodel import _kernels
from weakflow.labelmodel._kernels import (
    ci_log_joint,
    normalize_log,
    spaced_rows,
    vote_class_counts,
    vote_frequencies,
    vote_gram,
    vote_one_hot,
)


def random_votes(n: int, m: int, k: int, seed: int, abstain: float = 0.4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    L = rng.integers(0, k, size=(n, m))
    L[rng.random((n, m)) < abstain] = -1
    return L.astype(np.int8)


def dense_one_hot(L: np.ndarray, k: int) -> np.ndarray:
    """Row r, column j*k + c is 1 when LF j voted c on row r (plain loops)."""
    n, m = L.shape
    out = np.zeros((n, m * k))
    for r in range(n):
        for j in range(m):
            if L[r, j] != -1:
                out[r, j * k + L[r, j]] = 1.0
    return out


class TestVoteOneHot:
    @pytest.mark.parametrize(("n", "m", "k"), [(1, 1, 2), (17, 4, 2), (50, 6, 3), (40, 3, 5)])
    def test_matches_dense_reference(self, n, m, k):
        L = random_votes(n, m, k, seed=n + m + k)
        A = vote_one_hot(L, k)
        assert A.shape == (n, m * k)
        np.testing.assert_array_equal(A.toarray(), dense_one_hot(L, k))

    def test_all_abstain_rows_are_empty(self):
        L = np.array([[-1, -1, -1], [0, -1, 1], [-1, -1, -1]], dtype=np.int8)
        A = vote_one_hot(L, 2)
        np.testing.assert_array_equal(np.diff(A.indptr), [0, 2, 0])
        np.testing.assert_array_equal(A.toarray()[1], [1, 0, 0, 0, 0, 1])

    def test_wide_matrix_uses_int32_offsets(self):
        # m * k above int16's range: column indices must not wrap around
        k, m = 3, 11_000
        L = np.full((2, m), -1, dtype=np.int8)
        L[0, m - 1] = 2
        L[1, 0] = 1
        A = vote_one_hot(L, k)
        assert A[0].indices.tolist() == [(m - 1) * k + 2]
        assert A[1].indices.tolist() == [1]


class TestVoteGram:
    @pytest.mark.parametrize(("n", "m", "k"), [(30, 3, 2), (200, 5, 3), (120, 4, 4)])
    def test_unweighted_is_gram_of_one_hot(self, n, m, k):
        L = random_votes(n, m, k, seed=n)
        A = dense_one_hot(L, k)
        np.testing.assert_array_equal(vote_gram(L, k), A.T @ A)

    @pytest.mark.parametrize(("n", "m", "k"), [(30, 3, 2), (200, 5, 3)])
    def test_weighted_is_gram_with_row_weights(self, n, m, k):
        L = random_votes(n, m, k, seed=n + 1)
        w = np.random.default_rng(n).uniform(0.1, 5.0, size=n)
        A = dense_one_hot(L, k)
        expected = A.T @ np.diag(w) @ A
        np.testing.assert_allclose(vote_gram(L, k, w), expected, rtol=1e-6)

    def test_integer_weights_are_exact(self):
        L = random_votes(300, 4, 3, seed=5)
        w = np.random.default_rng(5).integers(1, 50, size=300).astype(np.float64)
        A = dense_one_hot(L, 3)
        np.testing.assert_array_equal(vote_gram(L, 3, w), A.T @ (A * w[:, None]))

    def test_several_chunks(self, monkeypatch):
        # shrink the chunk so that the accumulation over chunks (and a ragged last one) is used
        monkeypatch.setattr(_kernels, "_CHUNK", 7)
        L = random_votes(50, 3, 3, seed=9)
        w = np.arange(1, 51, dtype=np.float64)
        A = dense_one_hot(L, 3)
        np.testing.assert_array_equal(vote_gram(L, 3), A.T @ A)
        np.testing.assert_allclose(vote_gram(L, 3, w), A.T @ (A * w[:, None]), rtol=1e-6)

    def test_layout_is_lf_major(self):
        # one row: LF 0 votes 1, LF 1 votes 0 (k = 2): indicator columns 1 and 2
        G = vote_gram(np.array([[1, 0]], dtype=np.int8), 2)
        expected = np.zeros((4, 4))
        expected[np.ix_([1, 2], [1, 2])] = 1.0
        np.testing.assert_array_equal(G, expected)


class TestCILogJoint:
    @staticmethod
    def brute_force(L, prior, conf, use_abstain):
        """log P(votes, Y = y) by looping over rows and LFs; conf is [j, y, outcome]."""
        n, m = L.shape
        k = prior.shape[0]
        out = np.empty((n, k))
        for r in range(n):
            for y in range(k):
                total = np.log(prior[y])
                for j in range(m):
                    if L[r, j] == -1:
                        if use_abstain:
                            total += np.log(conf[j, y, k])
                    else:
                        total += np.log(conf[j, y, L[r, j]])
                out[r, y] = total
        return out

    @staticmethod
    def random_model(m, k, seed):
        rng = np.random.default_rng(seed)
        prior = rng.dirichlet(np.ones(k))
        conf = rng.dirichlet(np.ones(k + 1), size=(m, k))
        return prior, conf

    @pytest.mark.parametrize("use_abstain", [True, False])
    @pytest.mark.parametrize(("m", "k"), [(3, 2), (4, 3), (2, 4)])
    def test_matches_brute_force(self, m, k, use_abstain):
        L = random_votes(25, m, k, seed=m * k)
        L[0] = -1  # a row without votes
        prior, conf = self.random_model(m, k, seed=m + k)
        got = ci_log_joint(
            vote_one_hot(L, k),
            np.log(prior),
            np.log(conf[:, :, :k]),
            np.log(conf[:, :, k]) if use_abstain else None,
        )
        np.testing.assert_allclose(got, self.brute_force(L, prior, conf, use_abstain), rtol=1e-12)

    def test_without_abstain_terms_an_empty_row_is_the_log_prior(self):
        prior, conf = self.random_model(3, 3, seed=1)
        L = np.full((2, 3), -1, dtype=np.int8)
        got = ci_log_joint(vote_one_hot(L, 3), np.log(prior), np.log(conf[:, :, :3]), None)
        np.testing.assert_allclose(got, np.log(np.tile(prior, (2, 1))), rtol=1e-12)

    def test_does_not_modify_its_inputs(self):
        prior, conf = self.random_model(3, 2, seed=2)
        log_prior, log_vote, log_abstain = (
            np.log(prior),
            np.log(conf[:, :, :2]),
            np.log(conf[:, :, 2]),
        )
        copies = [a.copy() for a in (log_prior, log_vote, log_abstain)]
        ci_log_joint(vote_one_hot(random_votes(5, 3, 2, 0), 2), log_prior, log_vote, log_abstain)
        for a, b in zip((log_prior, log_vote, log_abstain), copies, strict=True):
            np.testing.assert_array_equal(a, b)


class TestNormalizeLog:
    def test_rows_sum_to_one_and_log_z_is_logsumexp(self):
        x = np.random.default_rng(0).normal(scale=20, size=(40, 4))
        post, log_z = normalize_log(x.copy())
        np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=1e-12)
        np.testing.assert_allclose(log_z, logsumexp(x, axis=1), rtol=1e-12)
        np.testing.assert_allclose(
            post, np.exp(x - logsumexp(x, axis=1, keepdims=True)), atol=1e-15
        )

    def test_extreme_values_stay_finite(self):
        x = np.array([[-1000.0, -1001.0], [800.0, 0.0], [-5e3, -5e3]])
        post, log_z = normalize_log(x)
        assert np.isfinite(post).all()
        assert np.isfinite(log_z).all()
        e = 1 / (1 + np.exp(-1.0))
        np.testing.assert_allclose(post[0], [e, 1 - e], rtol=1e-12)
        np.testing.assert_allclose(post[1], [1.0, 0.0], atol=1e-300)
        np.testing.assert_allclose(post[2], [0.5, 0.5], rtol=1e-15)
        np.testing.assert_allclose(log_z[2], -5e3 + np.log(2.0), rtol=1e-15)


class TestSpacedRows:
    @pytest.mark.parametrize(("n", "cap"), [(0, 5), (5, 5), (3, 10)])
    def test_none_when_all_rows_fit(self, n, cap):
        assert spaced_rows(n, cap) is None

    @pytest.mark.parametrize(("n", "cap"), [(10, 3), (1000, 7), (100_001, 1000), (6, 5)])
    def test_evenly_spaced_positions(self, n, cap):
        idx = spaced_rows(n, cap)
        assert idx is not None
        assert idx.shape == (cap,)
        assert idx[0] == 0
        assert idx[-1] == n - 1
        assert np.all(np.diff(idx) > 0)  # strictly increasing, so distinct
        ideal = (n - 1) / (cap - 1)
        assert np.all(np.abs(np.diff(idx) - ideal) <= 1.0)


class TestCountsAndFrequencies:
    def test_vote_class_counts(self):
        L = random_votes(60, 5, 3, seed=3)
        expected = np.array([[np.sum(row == c) for c in range(3)] for row in L])
        np.testing.assert_array_equal(vote_class_counts(L, 3), expected)

    def test_vote_frequencies_weighted(self):
        L = random_votes(60, 4, 3, seed=4)
        w = np.random.default_rng(4).uniform(0.5, 2.0, size=60)
        expected = np.array([[w[L[:, j] == c].sum() / w.sum() for c in range(3)] for j in range(4)])
        got = vote_frequencies(vote_one_hot(L, 3), w, 4, 3)
        np.testing.assert_allclose(got, expected, rtol=1e-12)
