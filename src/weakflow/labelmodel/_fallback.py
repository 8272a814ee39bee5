"""What the CI label models do when the votes cannot identify them: fewer than 3 LFs.

With one or two LFs a conditionally independent model is not identifiable (nothing tells a
wrong LF from a hard class). Rather than raise, the models fall back to majority vote (ties
broken by the class prior), warn with :class:`~weakflow.errors.FallbackWarning`, and record
``fallback_``; predictions come from that :class:`MajorityVote`. The tables they keep
(``confusion_``, every LF at one accuracy) are for display only.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from weakflow._types import ABSTAIN, FloatArray, IntArray
from weakflow.errors import FallbackWarning

if TYPE_CHECKING:
    from weakflow.labelmodel._base import CILabelModel

__all__ = ["MIN_LFS", "fit_fallback", "majority_confusion"]

#: Fewest LFs for which a CI model is identifiable from the votes alone.
MIN_LFS = 3

#: Accuracy given to every LF by the fallback: any common value gives majority-vote decisions.
_FALLBACK_ACCURACY = 0.7


def majority_confusion(L: IntArray, k: int, accuracy: float = _FALLBACK_ACCURACY) -> FloatArray:
    """Confusion tables under which the CI posterior decides exactly like majority vote.

    Every LF gets the same accuracy, errors spread evenly over the other classes, and an
    abstention rate that does not depend on the class (so abstaining is no evidence).
    """
    m = L.shape[1]
    coverage = np.clip((L != ABSTAIN).mean(axis=0), 1e-3, 1 - 1e-3)
    conf = np.empty((m, k, k + 1))
    wrong = (1.0 - accuracy) / (k - 1)
    for j in range(m):
        table = np.full((k, k), wrong)
        np.fill_diagonal(table, accuracy)
        conf[j, :, :k] = table * coverage[j]
        conf[j, :, k] = 1.0 - coverage[j]
    return conf


def fit_fallback(model: CILabelModel, L: IntArray, k: int, prior: FloatArray | None) -> bool:
    """Fit the majority-vote-equivalent model when ``L`` has too few LFs; True when it did."""
    model.fallback_ = None
    model.fallback_model_ = None
    if L.shape[1] >= MIN_LFS:
        return False
    name = type(model).__name__
    warnings.warn(
        f"{name} needs at least {MIN_LFS} labeling functions to learn their accuracies; got "
        f"{L.shape[1]}. Falling back to majority vote (tie-break by class prior). Add LFs to "
        "use the label model.",
        FallbackWarning,
        stacklevel=3,
    )
    from weakflow.labelmodel._majority import MajorityVote

    mv = MajorityVote(
        cardinality=k, class_balance="learn" if prior is None else prior, tie_break="prior"
    ).fit(L)
    model.fallback_ = "majority_vote"
    model.fallback_model_ = mv
    model._set_model(mv.class_balance_, majority_confusion(L, k))
    return True
