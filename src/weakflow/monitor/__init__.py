"""Monitor: drift, LF-vote drift and label-free accuracy estimates on the prediction log."""

from weakflow.monitor._drift import (
    ColumnDrift,
    DriftResult,
    categorical_drift,
    correct_pvalues,
    feature_drift,
    numeric_drift,
)

__all__ = [
    "ColumnDrift",
    "DriftResult",
    "categorical_drift",
    "correct_pvalues",
    "feature_drift",
    "numeric_drift",
]
