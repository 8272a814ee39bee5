"""Numerical kernels shared by the label models.

Everything here works on a label matrix of votes (``-1`` = abstain) and optional row weights
(the counts of compressed vote patterns), and is written for a million rows: the one-hot vote
matrix is sparse (CSR), second moments are accumulated in float32 chunks on BLAS, and the
posterior of a conditionally independent model is one sparse matrix product.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from weakflow._types import ABSTAIN, FloatArray, IntArray

__all__ = [
    "ci_log_joint",
    "normalize_log",
    "spaced_rows",
    "vote_class_counts",
    "vote_counts_from_one_hot",
    "vote_frequencies",
    "vote_gram",
    "vote_one_hot",
]

_CHUNK = 1 << 16


def vote_one_hot(L: IntArray, k: int) -> sp.csr_matrix:
    """Sparse ``n x (m*k)`` indicator of votes: column ``j*k + c`` is "LF j voted class c"."""
    n, m = L.shape
    voted = L != ABSTAIN
    per_row = np.count_nonzero(voted, axis=1)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(per_row, out=indptr[1:])
    width = np.int16 if m * k < np.iinfo(np.int16).max else np.int32
    offsets = (np.arange(m) * k).astype(width)
    indices = np.add(L, offsets, dtype=width)[voted].astype(np.int32)
    data = np.ones(indices.shape[0], dtype=np.float64)
    return sp.csr_matrix((data, indices, indptr), shape=(n, m * k))


def vote_gram(L: IntArray, k: int, weights: npt.NDArray[np.floating] | None = None) -> FloatArray:
    """Weighted second moments of the vote indicators, ``sum_r w_r v_r v_r^T`` (float64).

    ``v_r`` is row r's one-hot vote vector (length ``m*k``, LF-major: ``j*k + c``). Chunks are
    built class-major (``c*m + j``, so each class's indicator block is written contiguously),
    multiplied in float32 on BLAS (exact: unweighted chunk sums are integers below 2**24), summed
    in float64, and permuted to LF-major order once at the end.
    """
    n, m = L.shape
    acc = np.zeros((m * k, m * k), dtype=np.float64)
    for s in range(0, n, _CHUNK):
        chunk = L[s : s + _CHUNK]
        B = np.empty((chunk.shape[0], k * m), dtype=np.float32)
        for c in range(k):
            np.equal(chunk, c, out=B[:, c * m : (c + 1) * m])
        if weights is None:
            acc += B.T @ B
        else:
            acc += B.T @ (B * weights[s : s + _CHUNK, None].astype(np.float32))
    order = (np.arange(k)[None, :] * m + np.arange(m)[:, None]).ravel()  # LF-major -> class-major
    return acc[np.ix_(order, order)]


def spaced_rows(n: int, cap: int) -> npt.NDArray[np.intp] | None:
    """Up to ``cap`` evenly spaced row positions, or None when all ``n`` rows fit.

    Used where a k-vector is estimated from the rows (the class prior): ``cap`` rows pin it to
    about +-0.002, and systematic spacing needs no random seed.
    """
    if n <= cap:
        return None
    return np.linspace(0, n - 1, cap).round().astype(np.intp)


def vote_counts_from_one_hot(A: sp.csr_matrix, k: int) -> FloatArray:
    """``counts[r, c]`` (as floats) from the one-hot matrix: one sparse product, no pass over L."""
    per_class = np.tile(np.eye(k), (A.shape[1] // k, 1))  # (m*k, k): column j*k+c -> class c
    return np.asarray(A @ per_class)


def vote_class_counts(L: IntArray, k: int) -> IntArray:
    """``counts[r, c]``: how many LFs voted class ``c`` on row ``r``."""
    counts = np.empty((L.shape[0], k), dtype=np.int32)
    for c in range(k):
        counts[:, c] = np.count_nonzero(c == L, axis=1)
    return counts


def vote_frequencies(A: sp.csr_matrix, weights: FloatArray, m: int, k: int) -> FloatArray:
    """``freq[j, c]``: weighted share of rows on which LF j voted c, from the one-hot ``A``."""
    return np.asarray(A.T @ weights).reshape(m, k) / float(weights.sum())


def ci_log_joint(
    A: sp.csr_matrix,
    log_prior: FloatArray,
    log_vote: FloatArray,
    log_abstain: FloatArray | None,
) -> FloatArray:
    """``log P(votes_r, Y=y)`` for every row under class-conditional independence.

    Parameters
    ----------
    A : csr_matrix of shape (n, m*k)
        :func:`vote_one_hot` of the rows.
    log_prior : ndarray of shape (k,)
    log_vote : ndarray of shape (m, k, k)
        ``log P(LF j votes c | Y=y)`` indexed ``[j, y, c]``.
    log_abstain : ndarray of shape (m, k), optional
        ``log P(LF j abstains | Y=y)``; None ignores abstentions (as Snorkel's posterior does).

    Returns
    -------
    ndarray of shape (n, k)
    """
    m, k, _ = log_vote.shape
    W = np.transpose(log_vote, (0, 2, 1)).reshape(m * k, k)  # row j*k+c, column y
    const = np.asarray(log_prior, dtype=np.float64).copy()
    if log_abstain is not None:
        W = W - np.repeat(log_abstain, k, axis=0)
        const += log_abstain.sum(axis=0)
    return np.asarray(A @ W) + const


def normalize_log(log_joint: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Posterior probabilities and per-row log evidence from unnormalized log joints.

    Works class-major: reducing a (n, k) array along its short last axis is 3-5x slower in numpy
    than elementwise operations across k contiguous rows of length n.
    """
    t = np.ascontiguousarray(log_joint.T)  # (k, n)
    top = t.max(axis=0)
    t -= top
    np.exp(t, out=t)
    total = t.sum(axis=0)
    t /= total
    log_z = top + np.log(total)
    return np.ascontiguousarray(t.T), log_z
