"""Monitor: drift, LF-vote drift and label-free accuracy estimates on the prediction log."""

from weakflow.monitor._drift import (
    ColumnDrift,
    DriftResult,
    categorical_drift,
    correct_pvalues,
    feature_drift,
    numeric_drift,
)
from weakflow.monitor._estimate import PerformanceEstimate, estimate_performance, expected_metrics
from weakflow.monitor._signals import (
    LFDrift,
    TextDrift,
    lf_vote_drift,
    prediction_drift,
    text_drift,
)

__all__ = [
    "ColumnDrift",
    "DriftResult",
    "LFDrift",
    "PerformanceEstimate",
    "TextDrift",
    "categorical_drift",
    "correct_pvalues",
    "estimate_performance",
    "expected_metrics",
    "feature_drift",
    "lf_vote_drift",
    "numeric_drift",
    "prediction_drift",
    "text_drift",
]
