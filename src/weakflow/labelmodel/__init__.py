"""Label models: turn noisy LF votes into probabilistic labels."""

from weakflow.labelmodel._auto import METHODS, LabelModel
from weakflow.labelmodel._base import BaseLabelModel, CILabelModel, score_predictions
from weakflow.labelmodel._dawid_skene import DawidSkene
from weakflow.labelmodel._majority import MajorityVote
from weakflow.labelmodel._matrix_completion import MatrixCompletion
from weakflow.labelmodel._triplet import Triplet

__all__ = [
    "METHODS",
    "BaseLabelModel",
    "CILabelModel",
    "DawidSkene",
    "LabelModel",
    "MajorityVote",
    "MatrixCompletion",
    "Triplet",
    "score_predictions",
]
