"""Constants and type aliases shared by every stage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from weakflow.labeling import LabelMatrix

__all__ = ["ABSTAIN", "FloatArray", "IntArray", "LabelMatrixLike", "RandomStateLike"]

#: The vote of a labeling function that does not label a row (same value as Snorkel's).
ABSTAIN: int = -1

IntArray: TypeAlias = npt.NDArray[np.integer[Any]]
FloatArray: TypeAlias = npt.NDArray[np.floating[Any]]
#: A label matrix: an n x m integer array (or anything ``np.asarray`` turns into one).
LabelMatrixLike: TypeAlias = "LabelMatrix | npt.ArrayLike"
RandomStateLike: TypeAlias = "int | np.random.Generator | None"
