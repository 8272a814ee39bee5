"""Labeling: labeling functions, the engines that apply them, the label matrix, LF analysis."""

from weakflow._label_matrix import LabelMatrix, VotePatterns, compress_votes
from weakflow._types import ABSTAIN
from weakflow.labeling._analysis import label_stats, lf_summary
from weakflow.labeling._apply import apply_lfs, check_lfs
from weakflow.labeling._batch import Batch
from weakflow.labeling._builders import keyword_lf, lookup_lf, model_lf, regex_lf, threshold_lf
from weakflow.labeling._changes import LFChange, compare_lf_votes, module_diff
from weakflow.labeling._lf import LabelingFunction, as_labeling_function, labeling_function
from weakflow.labeling._row import MutableRow, Row

__all__ = [
    "ABSTAIN",
    "Batch",
    "LFChange",
    "LabelMatrix",
    "LabelingFunction",
    "MutableRow",
    "Row",
    "VotePatterns",
    "apply_lfs",
    "as_labeling_function",
    "check_lfs",
    "compare_lf_votes",
    "compress_votes",
    "keyword_lf",
    "label_stats",
    "labeling_function",
    "lf_summary",
    "lookup_lf",
    "model_lf",
    "module_diff",
    "regex_lf",
    "threshold_lf",
]
