"""weakflow: from no labels to a monitored model in production, with weak supervision.

The pipeline is the package layout: ``data -> labeling -> labelmodel -> ...``; each stage is a
subpackage with a small public API. The most used names are re-exported here.
"""

from weakflow._types import ABSTAIN
from weakflow.labeling import (
    LabelingFunction,
    LabelMatrix,
    apply_lfs,
    keyword_lf,
    labeling_function,
    lf_summary,
    lookup_lf,
    model_lf,
    regex_lf,
    threshold_lf,
)

__version__ = "0.1.0"

__all__ = [
    "ABSTAIN",
    "LabelMatrix",
    "LabelingFunction",
    "__version__",
    "apply_lfs",
    "keyword_lf",
    "labeling_function",
    "lf_summary",
    "lookup_lf",
    "model_lf",
    "regex_lf",
    "threshold_lf",
]
