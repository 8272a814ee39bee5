"""The labeling functions a served version was trained with, run beside the model.

Why the version's own LFs: the votes logged with a prediction feed monitoring (does the model
still agree with its rules?) and later retraining, so they must come from the rules the version
learned from, not from whatever ``lfs.py`` holds today. The run's lineage keeps the LF module's
source; it is written to a temporary file and imported under a private name (as
:func:`weakflow.pipeline.load_lf_module` imports a project's file). The store is as trusted as
the project folder: it is the project's own record of the code it ran. When the lineage has no
source, or it does not import here (an import of a sibling module, say), the project's current
LF module is used instead and the server says so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from weakflow.errors import WeakflowError
from weakflow.labeling import LabelingFunction, apply_lfs
from weakflow.pipeline import Project, load_lf_module, load_lf_source

__all__ = ["LFSet", "load_lfs"]

log = logging.getLogger("weakflow.serve")


@dataclass(frozen=True, eq=False)
class LFSet:
    """The LFs of one served version and where they came from (``lineage`` or ``project``)."""

    lfs: tuple[LabelingFunction, ...]
    origin: str
    cardinality: int

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(lf.name for lf in self.lfs)

    def votes(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        """The votes on ``rows`` (n x m ints, -1 = abstain); an LF that raises abstains.

        Raises :class:`~weakflow.errors.SchemaError` when an LF reads a field the rows lack.
        """
        frame = pd.DataFrame.from_records(list(rows))
        matrix = apply_lfs(
            list(self.lfs), frame, progress=False, fault_tolerant=True,
            cardinality=self.cardinality,
        )  # fmt: skip
        return np.asarray(matrix.values)


def _from_source(source: str, label: str) -> list[LabelingFunction]:
    return load_lf_source(source, label).lfs


def load_lfs(lineage: dict[str, Any], project: Project, *, label: str, k: int) -> LFSet | None:
    """The LFs recorded in ``lineage`` (else the project's), or None when neither loads."""
    source = lineage.get("lf_module", {}).get("source")
    if isinstance(source, str) and source.strip():
        try:
            return LFSet(tuple(_from_source(source, label)), "lineage", k)
        except (WeakflowError, OSError) as exc:
            log.warning(
                "The LF module recorded with %s does not load here (%s); using the project's "
                "current LF module for its votes instead.", label, exc,
            )  # fmt: skip
    path = project.path(project.config.labeling.module)
    try:
        return LFSet(tuple(load_lf_module(path).lfs), "project", k)
    except (WeakflowError, OSError) as exc:
        log.warning(
            "No labeling functions for %s: %s. Predictions are logged without LF votes.", label, exc
        )
        return None
