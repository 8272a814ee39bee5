"""Choose a post-hoc calibration on the dev set, and keep it only when it helps.

Fitting a calibrator on the dev set and measuring its ECE on the same rows flatters the flexible
methods: isotonic regression can place a step at every dev row and drive the in-sample ECE to
about zero while making the test set worse. :func:`choose_calibration` therefore scores each
candidate by *cross-validation on dev*: the dev rows are split into stratified folds, each fold
is calibrated by a calibrator fitted on the other folds, and the ECE is computed over these
out-of-fold probabilities, which no calibrator saw while fitting. The uncalibrated ECE needs no
fitting and is computed on all dev rows. The winner (lowest out-of-fold ECE) is kept only if it
beats the uncalibrated ECE, and is then refitted on all dev rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from weakflow._types import FloatArray, IntArray
from weakflow.errors import SchemaError
from weakflow.evaluate._calibration import Calibrator, calibration_summary, make_calibrator
from weakflow.evaluate._inputs import check_proba, check_proba_and_labels

__all__ = ["CalibrationChoice", "choose_calibration"]


@dataclass(frozen=True)
class CalibrationChoice:
    """What :func:`choose_calibration` decided, with the numbers behind the decision.

    Attributes
    ----------
    method : str or None
        The kept method ('temperature', 'isotonic', 'platt'), or None when none was kept.
    calibrator : Calibrator or None
        The kept calibrator, refitted on all dev rows; None when none was kept.
    kept : bool
        Whether a calibration is applied.
    before : dict
        :func:`calibration_summary` of the uncalibrated dev probabilities.
    after : dict
        Summary of the kept method's *out-of-fold* dev probabilities (the honest estimate the
        decision was made on), or ``before`` again when nothing was kept.
    candidates : dict
        Per method tried: ``{"ece", "mce", "brier"}`` of its out-of-fold dev probabilities, or
        ``{"error": message}`` when it could not be fitted.
    reason : str
        One sentence on why this method (or none) was kept.
    cv_folds : int
        Number of cross-validation folds used (0 when the dev set was too small to split).
    """

    method: str | None
    calibrator: Calibrator | None
    kept: bool
    before: dict[str, Any]
    after: dict[str, Any]
    candidates: dict[str, dict[str, Any]] = field(default_factory=dict)
    reason: str = ""
    cv_folds: int = 0

    @property
    def dev_ece(self) -> dict[str, float | None]:
        """Out-of-fold dev ECE of each method tried (None when it failed)."""
        return {m: c.get("ece") for m, c in self.candidates.items()}

    def transform(self, proba: npt.ArrayLike) -> FloatArray:
        """Apply the kept calibration to ``proba``; returns it unchanged when none was kept."""
        if self.calibrator is None:
            return check_proba(proba)
        return self.calibrator.transform(proba)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary for the report's ``end_model.calibration``.

        The dev summaries are under ``dev_before`` and ``dev_after``; the report reads
        ``before`` and ``after`` as the test set's, which the pipeline adds.
        """
        out: dict[str, Any] = {
            "method": self.method,
            "kept": self.kept,
            "dev_before": self.before,
            "dev_after": self.after,
            "candidates": self.candidates,
            "reason": self.reason,
            "cv_folds": self.cv_folds,
        }
        temperature = getattr(self.calibrator, "temperature_", None)
        if temperature is not None:
            out["temperature"] = float(temperature)
        return out


def _check_methods(methods: Sequence[str]) -> list[str]:
    names = [methods] if isinstance(methods, str) else list(methods)
    for m in names:
        make_calibrator(m)  # raises on an unknown name
    return list(dict.fromkeys(names))


def _out_of_fold(
    method: str, proba: FloatArray, y: IntArray, folds: list[tuple[IntArray, IntArray]]
) -> FloatArray:
    template = make_calibrator(method)
    out = np.empty_like(proba)
    for train, test in folds:
        cal: Calibrator = clone(template).fit(proba[train], y[train])
        out[test] = cal.transform(proba[test])
    return out


def choose_calibration(
    proba_dev: npt.ArrayLike,
    y_dev: npt.ArrayLike,
    *,
    methods: Sequence[str] = ("temperature", "isotonic", "platt"),
    n_bins: int = 15,
    cv: int = 5,
    min_improvement: float = 0.0,
    random_state: int | None = 0,
) -> CalibrationChoice:
    """Try each calibration method on the dev set; keep the best only if it lowers the dev ECE.

    Each method is scored by the ECE of its out-of-fold dev probabilities (stratified
    ``cv``-fold cross-validation; see the module docstring for why not in-sample). The method
    with the lowest score is kept when that score is below the uncalibrated dev ECE by more than
    ``min_improvement``, and is then refitted on all dev rows.

    Parameters
    ----------
    proba_dev : array-like of shape (n, k)
        The model's class probabilities on the dev set.
    y_dev : array-like of shape (n,)
        Gold labels of the dev set.
    methods : sequence of str
        Candidates among 'temperature', 'isotonic' and 'platt'; ties go to the earlier one.
    n_bins : int
        Bins of the ECE.
    cv : int
        Number of folds; lowered to the size of the rarest class when that is smaller. With
        fewer than 2 dev rows in some class no method is kept.
    min_improvement : float
        How much lower (absolute) the out-of-fold ECE must be than the uncalibrated one. The
        default 0 keeps any improvement; raise it to ignore gains within the ECE's noise.
    random_state : int or None
        Seed of the fold assignment.

    Returns
    -------
    CalibrationChoice

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p1 = rng.uniform(0.5, 1.0, 400)                      # says 50-100% sure of class 1
    >>> y = (rng.uniform(size=400) < 0.5).astype(int)        # but is right half the time
    >>> choice = choose_calibration(np.column_stack([1 - p1, p1]), y)
    >>> choice.kept, choice.after["ece"] < choice.before["ece"]
    (True, True)
    """
    y, p = check_proba_and_labels(y_dev, proba_dev)
    names = _check_methods(methods)
    if cv < 2:
        raise SchemaError(f"cv must be at least 2 folds, got {cv!r}.")
    before = calibration_summary(y, p, n_bins=n_bins)
    counts = np.bincount(y, minlength=p.shape[1])
    rarest = int(counts[counts > 0].min())
    n_splits = min(cv, rarest)
    if n_splits < 2:
        return CalibrationChoice(
            method=None,
            calibrator=None,
            kept=False,
            before=before,
            after=before,
            reason=(
                f"No calibration: a class has only {rarest} dev row(s), too few to "
                "cross-validate a calibrator. Label more dev rows."
            ),
        )
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    folds = [(train, test) for train, test in splitter.split(p, y)]
    candidates: dict[str, dict[str, Any]] = {}
    summaries: dict[str, dict[str, Any]] = {}
    for method in names:
        try:
            oof = _out_of_fold(method, p, y, folds)
        except SchemaError as exc:
            candidates[method] = {"error": str(exc)}
            continue
        summaries[method] = calibration_summary(y, oof, n_bins=n_bins)
        candidates[method] = {k: summaries[method][k] for k in ("ece", "mce", "brier")}
    ece0 = before["ece"]
    cv_note = f"{n_splits}-fold out-of-fold dev ECE"
    if not summaries:
        return CalibrationChoice(
            None, None, False, before, before, candidates, "No calibration method could be fitted."
        )
    best = min(summaries, key=lambda m: summaries[m]["ece"])  # min keeps the first on ties
    best_ece = summaries[best]["ece"]
    if best_ece < ece0 - min_improvement:
        calibrator = make_calibrator(best).fit(p, y)
        reason = f"{best} lowered the dev ECE from {ece0:.4f} to {best_ece:.4f} ({cv_note})."
        return CalibrationChoice(
            best, calibrator, True, before, summaries[best], candidates, reason, n_splits
        )
    reason = (
        f"No calibration: the best method, {best}, reached {best_ece:.4f} ({cv_note}), not "
        f"below the uncalibrated {ece0:.4f}"
        + (f" by more than {min_improvement:g}." if min_improvement > 0 else ".")
    )
    return CalibrationChoice(None, None, False, before, before, candidates, reason, n_splits)
