"""Factories for every label model, so that tests can loop over them by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from weakflow.labelmodel import (
    BaseLabelModel,
    DawidSkene,
    LabelModel,
    MajorityVote,
    MatrixCompletion,
    Triplet,
)

Factory = Callable[..., BaseLabelModel]

#: Every model class by a short name.
MODELS: dict[str, Factory] = {
    "mv": MajorityVote,
    "ds": DawidSkene,
    "mc": MatrixCompletion,
    "triplet": Triplet,
    "lm": LabelModel,
}

#: The conditionally independent models (CILabelModel subclasses).
CI_MODELS: dict[str, Factory] = {"ds": DawidSkene, "mc": MatrixCompletion, "triplet": Triplet}


def make(name: str, **kw: Any) -> BaseLabelModel:
    return MODELS[name](**kw)
