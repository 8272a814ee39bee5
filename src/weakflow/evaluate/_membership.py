"""Membership inference: can the model's confidence tell its training rows from unseen ones?

A model that is more confident on the rows it was fitted on than on new rows leaks which rows
were in its training data: whoever can query it can guess, for a given comment, whether it was
in the training set (Shokri et al., "Membership Inference Attacks against Machine Learning
Models", IEEE S&P 2017; Yeom et al., "Privacy Risk in Machine Learning: Analyzing the Connection
to Overfitting", CSF 2018, whose threshold attack on the confidence this is).

:func:`membership_inference` runs that attack with the strongest threshold in hindsight: the
score is the top class probability (what any client of the served model sees), *members* are
the train rows the end model was fitted on, *non-members* held-out rows (test and dev). It
reports

- ``auc``: the ROC AUC of "the confidence predicts membership" (0.5 = no signal), with its
  standard error (Hanley and McNeil, Radiology 1982);
- ``advantage``: the best threshold's true positive rate minus false positive rate (Yeom et
  al.'s membership advantage; 0 = no signal, 1 = perfect), and that threshold;
- ``risk``: ``low`` when the AUC is below 0.6, ``medium`` below 0.7, ``high`` otherwise
  (:data:`RISK_LEVELS`). The cut points are a convention, not a standard: 0.6 is where an
  attacker first does clearly better than a coin on a few hundred rows (about five standard
  errors at 500 rows per side), 0.7 where it picks out members much more often than not;
- ``rounded``: the same attack on probabilities rounded to 0, 1, 2 and 3 decimals (what
  ``[serve] probability_decimals`` returns), to show what rounding the served probabilities
  buys. With 0 decimals every top probability reads 1 (two classes: 0.5 reads 0), which is
  serving labels only.

The train pool has no gold labels, so the attack cannot use the loss on the true label (a
stronger attack when labels are known); and a train pool drawn from another distribution than
the held-out rows makes the AUC measure that shift too, not only memorization.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from weakflow.errors import SchemaError

__all__ = ["RISK_LEVELS", "ROUNDINGS", "membership_inference", "membership_risk"]

RISK_LEVELS: Final[tuple[tuple[float, str], ...]] = ((0.6, "low"), (0.7, "medium"))
"""(upper AUC bound, risk) in order; an AUC at or above the last bound is ``high``."""

ROUNDINGS: Final[tuple[int, ...]] = (0, 1, 2, 3)
"""Decimals the attack is also run with (the served probabilities rounded)."""


def membership_risk(auc: float | None) -> str | None:
    """``low``, ``medium`` or ``high`` for a membership AUC (see :data:`RISK_LEVELS`)."""
    if auc is None or not math.isfinite(auc):
        return None
    for bound, level in RISK_LEVELS:
        if auc < bound:
            return level
    return "high"


def _confidence(proba: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    arr = np.asarray(proba, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or not np.isfinite(arr).all():
        raise SchemaError(f"{name} must be a finite (n, k) matrix of probabilities.")
    out: npt.NDArray[np.float64] = arr.max(axis=1)
    return out


def _attack(members: npt.NDArray[np.float64], others: npt.NDArray[np.float64]) -> dict[str, Any]:
    """AUC (ties count half), its standard error, and the best threshold's TPR - FPR."""
    n1, n0 = len(members), len(others)
    scores = np.concatenate([members, others])
    ranks = rankdata(scores)  # average ranks: ties count half, as the AUC's definition asks
    auc = float((ranks[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n1 - 1) * (q1 - auc**2) + (n0 - 1) * (q2 - auc**2)) / (n1 * n0)
    # every distinct score as a threshold "member when confidence >= t"
    cuts = np.unique(scores)
    m_sorted, o_sorted = np.sort(members), np.sort(others)
    tpr = 1 - np.searchsorted(m_sorted, cuts, side="left") / n1
    fpr = 1 - np.searchsorted(o_sorted, cuts, side="left") / n0
    gap = tpr - fpr
    best = int(np.argmax(gap))
    advantage = max(float(gap[best]), 0.0)
    return {
        "auc": auc,
        "auc_se": math.sqrt(max(var, 0.0)),
        "advantage": advantage,
        "threshold": float(cuts[best]) if advantage > 0 else None,
        "tpr": float(tpr[best]) if advantage > 0 else None,
        "fpr": float(fpr[best]) if advantage > 0 else None,
    }


def membership_inference(
    member_proba: npt.ArrayLike,
    non_member_proba: npt.ArrayLike,
    *,
    roundings: Sequence[int] = ROUNDINGS,
) -> dict[str, Any]:
    """The confidence-threshold membership attack (see the module docstring).

    Parameters
    ----------
    member_proba : array (n1, k)
        The model's probabilities on rows it was fitted on.
    non_member_proba : array (n0, k)
        Its probabilities on rows it never saw.
    roundings : sequence of int
        Also run the attack on probabilities rounded to these many decimals.

    Returns
    -------
    dict
        ``auc``, ``auc_se``, ``advantage``, ``threshold``, ``tpr``, ``fpr``, ``risk``,
        ``members``, ``non_members``, ``mean_confidence_members``,
        ``mean_confidence_non_members``, ``risk_levels`` and ``rounded`` (``{"2": {auc,
        advantage, risk}, ...}``).

    Examples
    --------
    >>> members = [[0.99, 0.01], [0.02, 0.98], [0.95, 0.05]]
    >>> others = [[0.6, 0.4], [0.3, 0.7], [0.97, 0.03]]
    >>> out = membership_inference(members, others)
    >>> round(out["auc"], 3), round(out["advantage"], 3), out["risk"]
    (0.889, 0.667, 'high')
    """
    members = _confidence(member_proba, "member_proba")
    others = _confidence(non_member_proba, "non_member_proba")
    if len(members) == 0 or len(others) == 0:
        raise SchemaError(
            f"Membership inference needs member and non-member rows, got {len(members)} and "
            f"{len(others)}."
        )
    out: dict[str, Any] = {
        "score": "top class probability",
        "members": len(members),
        "non_members": len(others),
        **_attack(members, others),
        "mean_confidence_members": float(members.mean()),
        "mean_confidence_non_members": float(others.mean()),
    }
    out["risk"] = membership_risk(out["auc"])
    out["risk_levels"] = {"low": f"auc < {RISK_LEVELS[0][0]}",
                          "medium": f"auc < {RISK_LEVELS[1][0]}",
                          "high": f"auc >= {RISK_LEVELS[1][0]}"}  # fmt: skip
    rounded: dict[str, Any] = {}
    for d in roundings:
        if isinstance(d, bool) or not isinstance(d, int) or d < 0:
            raise SchemaError(f"roundings must be whole numbers of decimals >= 0, got {d!r}.")
        r = _attack(np.round(members, d), np.round(others, d))
        rounded[str(d)] = {
            "auc": r["auc"],
            "advantage": r["advantage"],
            "risk": membership_risk(r["auc"]),
        }
    out["rounded"] = rounded
    return out
