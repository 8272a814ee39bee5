"""Deterministic synthetic label matrices with known LF coverages and accuracies.

Each LF votes on a row with probability ``coverage[j]``; when it votes it is right with
probability ``accuracy[j]`` and otherwise votes one of the other classes uniformly at random.
Votes are conditionally independent given the true class, so every CI label model is
correctly specified on this data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ABSTAIN = -1


@dataclass(frozen=True)
class Synth:
    """A generated dataset: votes ``L``, true classes ``y`` and the nominal LF parameters."""

    L: np.ndarray
    y: np.ndarray
    coverage: np.ndarray
    accuracy: np.ndarray
    k: int


def make_synthetic(
    n: int,
    m: int,
    k: int,
    *,
    seed: int,
    coverage: tuple[float, float] = (0.2, 0.6),
    accuracy: tuple[float, float] = (0.6, 0.9),
) -> Synth:
    """The recipe of the brief, draw for draw (so a seed always gives the same data)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    cov = rng.uniform(coverage[0], coverage[1], size=m)
    acc = rng.uniform(accuracy[0], accuracy[1], size=m)
    L = np.empty((n, m), dtype=np.int64)
    for j in range(m):
        vote = rng.random(n) < cov[j]
        correct = rng.random(n) < acc[j]
        offset = rng.integers(1, k, size=n)
        L[:, j] = np.where(vote, np.where(correct, y, (y + offset) % k), ABSTAIN)
    return Synth(L=L, y=y, coverage=cov, accuracy=acc, k=k)


def make_with_accuracies(
    n: int, k: int, accuracies: list[float], coverages: list[float], *, seed: int
) -> Synth:
    """Same recipe with fixed, chosen LF accuracies and coverages (e.g. an adversarial LF)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    cov = np.asarray(coverages, dtype=float)
    acc = np.asarray(accuracies, dtype=float)
    L = np.empty((n, len(acc)), dtype=np.int64)
    for j in range(len(acc)):
        vote = rng.random(n) < cov[j]
        correct = rng.random(n) < acc[j]
        offset = rng.integers(1, k, size=n)
        L[:, j] = np.where(vote, np.where(correct, y, (y + offset) % k), ABSTAIN)
    return Synth(L=L, y=y, coverage=cov, accuracy=acc, k=k)


def recipe_confusion(coverage: np.ndarray, accuracy: np.ndarray, k: int) -> np.ndarray:
    """The true tables ``[j, y, outcome]`` (outcome ``k`` = abstain) of :func:`make_synthetic`."""
    m = len(coverage)
    conf = np.empty((m, k, k + 1))
    for j in range(m):
        table = np.full((k, k), coverage[j] * (1 - accuracy[j]) / (k - 1))
        np.fill_diagonal(table, coverage[j] * accuracy[j])
        conf[j, :, :k] = table
        conf[j, :, k] = 1 - coverage[j]
    return conf


def population_matrix(prior: np.ndarray, conf: np.ndarray, n: int) -> np.ndarray:
    """``n`` rows whose vote patterns occur as often as a CI model says (largest remainder).

    Every pattern's share is within ``1/n`` of its exact probability, so the matrix carries the
    model's population moments almost exactly: a consistent estimator must recover ``conf``.
    """
    m, k, _ = conf.shape
    grids = np.meshgrid(*[np.arange(-1, k)] * m, indexing="ij")
    patterns = np.stack([g.ravel() for g in grids], axis=1)
    outcome = np.where(patterns == -1, k, patterns)
    prob = np.zeros(len(patterns))
    for y in range(k):
        prob += prior[y] * np.prod(conf[np.arange(m), y, outcome], axis=1)
    counts = np.floor(prob * n).astype(np.int64)
    short = n - counts.sum()
    counts[np.argsort(prob * n - counts)[::-1][:short]] += 1
    return np.repeat(patterns, counts, axis=0).astype(np.int8)
