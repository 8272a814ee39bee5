"""What an edit to the LF module did to the votes: the screen against LF poisoning.

Anyone who can edit an LF can steer every label the label model produces, and a one-character
change (a keyword, a flipped constant) reads as harmless in review. So every run compares the
LFs it uses with those of the last registered version, *on the same rows*, and flags an LF
whose behaviour moved sharply:

- **flip rate**: of the rows where the LF voted both before and after, the share where its
  vote changed class. A refactoring flips nothing; a sabotaged LF flips most of its votes.
- **accuracy on the gold dev set** (when the LF votes there at least ``min_votes`` times):
  before vs after. A drop of ``max_accuracy_drop`` or more is flagged.
- **agreement with the other LFs**: the share of its votes that equal the majority of the other
  LFs on the same row. A poisoned LF stops agreeing with its peers even where dev has no rows.

Added and removed LFs are listed, not flagged: they are visible in the diff, which is kept with
the run. Flags are a *signal*; the gate ``checks.lf_changes == passed`` turns them into a block.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["LFChange", "compare_lf_votes", "module_diff"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class LFChange:
    """One LF, before and after the edit."""

    name: str
    status: str  # added | removed | changed | unchanged
    flip_rate: float | None = None
    flipped_rows: int = 0
    coverage_before: float | None = None
    coverage_after: float | None = None
    dev_accuracy_before: float | None = None
    dev_accuracy_after: float | None = None
    agreement_before: float | None = None
    agreement_after: float | None = None
    flagged: bool = False
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _agreement(L: IntArray, j: int) -> float | None:
    """Share of LF ``j``'s votes equal to the plurality of the other LFs on the row."""
    others = np.delete(L, j, axis=1)
    mine = L[:, j]
    k = int(max(L.max(initial=0), 0)) + 1
    counts = np.stack([(others == c).sum(axis=1) for c in range(k)], axis=1)
    has_others = counts.sum(axis=1) > 0
    rows = (mine != -1) & has_others
    if not rows.any():
        return None
    return float(np.mean(counts[rows].argmax(axis=1) == mine[rows]))


def _dev_accuracy(votes: IntArray, y: IntArray | None, min_votes: int) -> float | None:
    if y is None:
        return None
    voted = votes != -1
    if voted.sum() < min_votes:
        return None
    return float(np.mean(votes[voted] == y[voted]))


def compare_lf_votes(
    before: npt.ArrayLike,
    before_names: Sequence[str],
    after: npt.ArrayLike,
    after_names: Sequence[str],
    *,
    dev_before: npt.ArrayLike | None = None,
    dev_after: npt.ArrayLike | None = None,
    y_dev: npt.ArrayLike | None = None,
    max_flip_rate: float = 0.1,
    max_accuracy_drop: float = 0.1,
    max_agreement_drop: float = 0.15,
    min_votes: int = 10,
) -> list[LFChange]:
    """Compare two label matrices of the same rows, LF by LF (matched by name).

    Examples
    --------
    >>> before = np.array([[1, 1], [1, -1], [0, 0], [1, 1]] * 5)
    >>> after = before.copy(); after[:, 1] = np.where(after[:, 1] == -1, -1, 1 - after[:, 1])
    >>> [(c.name, c.flagged) for c in compare_lf_votes(before, ["a", "b"], after, ["a", "b"])]
    [('a', False), ('b', True)]
    """
    B, A = np.asarray(before, np.int64), np.asarray(after, np.int64)
    if B.shape[0] != A.shape[0]:
        raise ValueError(
            f"before has {B.shape[0]} rows and after {A.shape[0]}: compare the LFs on the same "
            "rows."
        )
    y = None if y_dev is None else np.asarray(y_dev, np.int64)
    out: list[LFChange] = []
    for name in before_names:
        if name not in after_names:
            out.append(LFChange(name, "removed"))
    for j, name in enumerate(after_names):
        if name not in before_names:
            out.append(LFChange(name, "added", coverage_after=float(np.mean(A[:, j] != -1))))
            continue
        i = list(before_names).index(name)
        b, a = B[:, i], A[:, j]
        both = (b != -1) & (a != -1)
        flipped = int(np.sum(both & (a != b)))
        flip = flipped / int(both.sum()) if both.any() else None
        acc_b = acc_a = None
        if dev_before is not None and dev_after is not None:
            acc_b = _dev_accuracy(np.asarray(dev_before, np.int64)[:, i], y, min_votes)
            acc_a = _dev_accuracy(np.asarray(dev_after, np.int64)[:, j], y, min_votes)
        agr_b, agr_a = _agreement(B, i), _agreement(A, j)
        same = bool(np.array_equal(a, b))
        reasons: list[str] = []  # an LF whose votes did not change is never flagged: its peers did
        acc_drop = None if acc_b is None or acc_a is None else acc_b - acc_a
        agr_drop = None if agr_b is None or agr_a is None else agr_b - agr_a
        if not same and flip is not None and flip >= max_flip_rate and flipped >= min_votes:
            reasons.append(f"{flipped} of its {int(both.sum())} votes changed class ({flip:.0%})")
        if not same and acc_drop is not None and acc_drop >= max_accuracy_drop:
            reasons.append(f"dev accuracy {acc_b:.2f} -> {acc_a:.2f}")
        if not same and agr_drop is not None and agr_drop >= max_agreement_drop:
            reasons.append(f"agreement with the other LFs {agr_b:.2f} -> {agr_a:.2f}")
        change = LFChange(
            name, "unchanged" if same else "changed", flip, flipped,
            float(np.mean(b != -1)), float(np.mean(a != -1)), acc_b, acc_a, agr_b, agr_a,
            bool(reasons), reasons,
        )  # fmt: skip
        out.append(change)
    return out


def module_diff(before: str, after: str, *, max_chars: int = 20_000) -> str:
    """A unified diff of two LF module sources (cut at ``max_chars``)."""
    text = "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True),
            fromfile="registered/lfs.py", tofile="this run/lfs.py",
        )
    )  # fmt: skip
    return text if len(text) <= max_chars else text[:max_chars] + "\n... (diff cut)\n"
