"""The anchor model: where estimation starts and what regularization pulls toward.

For each LF the anchor is the confusion table that (a) reproduces how often the LF votes each
class, (b) gives it one common accuracy (``accuracy``), and (c) spreads its errors evenly. With
every LF at the same accuracy, the CI posterior decides close to majority vote, so shrinking
toward the anchor moves a learned model toward majority vote, a safe place when the votes
carry too little overlap to learn from. A sparse LF that only ever votes one class keeps zero
probability on the classes it never votes (a uniform pseudo-count would not).
"""

from __future__ import annotations

import numpy as np

from weakflow._types import FloatArray

__all__ = ["anchor_confusion"]


def anchor_confusion(vote_freq: FloatArray, prior: FloatArray, accuracy: float) -> FloatArray:
    """Confusion tables ``[j, y, outcome]`` (outcome ``k`` = abstain) anchored on vote frequencies.

    Parameters
    ----------
    vote_freq : ndarray of shape (m, k)
        ``P(LF j votes c)`` observed in the data.
    prior : ndarray of shape (k,)
        Class prior.
    accuracy : float
        The accuracy given to every LF.
    """
    k = vote_freq.shape[1]
    T = np.full((k, k), (1.0 - accuracy) / (k - 1))
    np.fill_diagonal(T, accuracy)
    # T[y, c] = P(Y = y | LF votes c): right with probability `accuracy`, else any other class.
    # Bayes: P(vote c | y) = P(vote c) * T[y, c] / P(y), which keeps the vote frequencies.
    votes = vote_freq[:, None, :] * (T / prior[:, None])[None, :, :]
    votes = np.clip(votes, 1e-8, None)
    total = votes.sum(axis=2, keepdims=True)
    votes = np.where(total > 0.999, votes * 0.999 / total, votes)
    abstain = 1.0 - votes.sum(axis=2, keepdims=True)
    return np.concatenate([votes, abstain], axis=2)
