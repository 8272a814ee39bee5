"""Monitor: drift, LF-vote drift and label-free accuracy estimates on the prediction log."""

from weakflow.monitor._drift import (
    ColumnDrift,
    DriftResult,
    categorical_drift,
    correct_pvalues,
    feature_drift,
    numeric_drift,
)
from weakflow.monitor._estimate import (
    LabelFreeEstimator,
    PerformanceEstimate,
    estimate_performance,
    expected_metrics,
    headline_estimate,
)
from weakflow.monitor._online import (
    ABVerdict,
    ab_verdict,
    labeled_predictions,
    online_metrics,
    wilson,
)
from weakflow.monitor._retention import enforce_retention
from weakflow.monitor._run import load_window, parse_window, run_monitor, text_stats
from weakflow.monitor._signals import (
    LFDrift,
    TextDrift,
    lf_vote_drift,
    prediction_drift,
    text_drift,
)
from weakflow.monitor._watch import LOOP_ACTOR, watch_once

__all__ = [
    "LOOP_ACTOR",
    "ABVerdict",
    "ColumnDrift",
    "DriftResult",
    "LFDrift",
    "LabelFreeEstimator",
    "PerformanceEstimate",
    "TextDrift",
    "ab_verdict",
    "categorical_drift",
    "correct_pvalues",
    "enforce_retention",
    "estimate_performance",
    "expected_metrics",
    "feature_drift",
    "headline_estimate",
    "labeled_predictions",
    "lf_vote_drift",
    "load_window",
    "numeric_drift",
    "online_metrics",
    "parse_window",
    "prediction_drift",
    "run_monitor",
    "text_drift",
    "text_stats",
    "watch_once",
    "wilson",
]
