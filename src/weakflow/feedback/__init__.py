"""Feedback: gold labels that come back for served predictions, turned into training data.

Users, reviewers and downstream systems label predictions through ``POST /v1/feedback`` (and
the review queue). Joined with the prediction log by prediction id, each label gives a gold row
(the logged inputs, PII already redacted, with its label) that retraining adds to the dev set,
where it selects the label model, calibrates and gates the next version.
"""

from weakflow.feedback._rows import feedback_rows

__all__ = ["feedback_rows"]
