"""Feedback: gold labels that come back for served predictions, turned into training data.

Users, reviewers and downstream systems label predictions through ``POST /v1/feedback`` (and
the review queue). Joined with the prediction log by prediction id, each label gives a gold row
(the logged inputs, PII already redacted, with its label) that retraining adds to the train
pool as a gold-labelled row or to the dev set (``[data] feedback_to_train``). Before that, every
source is screened (:func:`screen_feedback`): one that floods or disagrees far more than its
peers is quarantined, its labels kept but not trained on until an admin releases it.
"""

from weakflow.feedback._rows import feedback_rows
from weakflow.feedback._sources import (
    SourceStats,
    feedback_frame,
    quarantined_sources,
    release_source,
    screen_feedback,
    screen_sources,
    set_quarantine,
    source_of,
    source_stats,
)

__all__ = [
    "SourceStats",
    "feedback_frame",
    "feedback_rows",
    "quarantined_sources",
    "release_source",
    "screen_feedback",
    "screen_sources",
    "set_quarantine",
    "source_of",
    "source_stats",
]
