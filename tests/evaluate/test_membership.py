"""Membership inference: the AUC and advantage of the confidence attack, the risk levels, and
what rounding the probabilities does to them; gates on the numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from weakflow.errors import SchemaError
from weakflow.evaluate import membership_inference, membership_risk
from weakflow.registry import evaluate_gates, metrics_from_report


def _binary(conf: np.ndarray) -> np.ndarray:
    """Two-class probabilities whose top class probability is ``conf`` (>= 0.5)."""
    return np.stack([conf, 1 - conf], axis=1)


def test_auc_and_advantage_match_sklearn_with_ties() -> None:
    rng = np.random.default_rng(0)
    members = _binary(np.round(rng.uniform(0.55, 1.0, 300), 2))  # rounding makes ties
    others = _binary(np.round(rng.uniform(0.5, 0.95, 200), 2))
    out = membership_inference(members, others)
    scores = np.r_[members.max(axis=1), others.max(axis=1)]
    truth = np.r_[np.ones(300), np.zeros(200)]
    assert out["auc"] == pytest.approx(roc_auc_score(truth, scores), abs=1e-12)
    fpr, tpr, thresholds = roc_curve(truth, scores)
    best = int(np.argmax(tpr - fpr))
    assert out["advantage"] == pytest.approx(tpr[best] - fpr[best], abs=1e-12)
    assert out["threshold"] == pytest.approx(thresholds[best])
    assert (out["members"], out["non_members"]) == (300, 200)
    assert out["mean_confidence_members"] > out["mean_confidence_non_members"]


def test_no_signal_is_auc_one_half_and_low_risk() -> None:
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.5, 1.0, 20_000)
    out = membership_inference(_binary(conf[:10_000]), _binary(conf[10_000:]))
    assert abs(out["auc"] - 0.5) < 3 * out["auc_se"]
    assert out["advantage"] < 0.05
    assert out["risk"] == "low"


def test_perfect_separation_is_auc_one_and_high_risk() -> None:
    out = membership_inference(_binary(np.full(50, 0.99)), _binary(np.full(40, 0.6)))
    assert out["auc"] == 1.0
    assert out["advantage"] == 1.0
    assert (out["tpr"], out["fpr"]) == (1.0, 0.0)
    assert out["risk"] == "high"
    # reversed (held-out rows more confident): AUC 0, and no threshold helps the attacker
    out = membership_inference(_binary(np.full(50, 0.6)), _binary(np.full(40, 0.99)))
    assert out["auc"] == 0.0
    assert out["advantage"] == 0.0
    assert out["threshold"] is None
    assert out["risk"] == "low"


def test_standard_error_is_hanley_mcneil() -> None:
    # identical scores: AUC 0.5; SE^2 = (0.25 + 2 (n - 1) (1/3 - 1/4)) / n^2 for n per side
    out = membership_inference(_binary(np.full(100, 0.8)), _binary(np.full(100, 0.8)))
    assert out["auc"] == 0.5
    assert out["auc_se"] == pytest.approx(math.sqrt((0.25 + 2 * 99 / 12) / 100**2))


@pytest.mark.parametrize(
    ("auc", "risk"),
    [(0.3, "low"), (0.5999, "low"), (0.6, "medium"), (0.6999, "medium"), (0.7, "high"),
     (0.95, "high"), (None, None), (float("nan"), None)],
)  # fmt: skip
def test_risk_levels(auc: float | None, risk: str | None) -> None:
    assert membership_risk(auc) == risk


def test_rounding_removes_the_signal_below_its_resolution() -> None:
    # members 0.96-0.99, held out 0.91-0.94: rounded to 1 decimal both read 0.9 or 1.0
    rng = np.random.default_rng(2)
    members = _binary(rng.uniform(0.955, 0.99, 500))
    others = _binary(rng.uniform(0.91, 0.94, 500))
    out = membership_inference(members, others, roundings=(0, 1, 2, 3))
    assert out["auc"] == 1.0
    assert out["rounded"]["3"]["auc"] == 1.0
    assert out["rounded"]["2"]["auc"] == 1.0
    one = out["rounded"]["1"]  # members -> 1.0 (those >= 0.95), held out -> 0.9
    assert one["auc"] == 1.0
    assert out["rounded"]["0"]["auc"] == 0.5
    assert out["rounded"]["0"]["risk"] == "low"
    assert out["rounded"]["0"]["advantage"] == 0.0


def test_bad_inputs_are_errors() -> None:
    with pytest.raises(SchemaError, match="member and non-member rows"):
        membership_inference(np.empty((0, 2)), _binary(np.full(3, 0.7)))
    with pytest.raises(SchemaError, match="finite"):
        membership_inference(_binary(np.array([np.nan])), _binary(np.full(3, 0.7)))
    with pytest.raises(SchemaError, match="decimals"):
        membership_inference(_binary(np.full(3, 0.7)), _binary(np.full(3, 0.7)), roundings=(-1,))


def test_membership_metrics_reach_the_gates() -> None:
    mi = membership_inference(_binary(np.full(50, 0.99)), _binary(np.linspace(0.5, 1, 50)))
    metrics = metrics_from_report({"privacy": {"membership": mi}})
    assert metrics["privacy"] == {
        "membership_auc": mi["auc"],
        "membership_advantage": mi["advantage"],
    }
    results = evaluate_gates(
        ["privacy.membership_auc <= 0.99", "privacy.membership_auc <= 0.6",
         "privacy.membership_advantage < 0.5"],
        metrics,
    )  # fmt: skip
    assert 0.6 < mi["auc"] <= 0.99
    assert mi["advantage"] >= 0.5
    assert [r.passed for r in results] == [True, False, False]
    assert results[1].reason.startswith("privacy.membership_auc 0.9")
    (missing,) = evaluate_gates(["privacy.membership_auc <= 0.6"], metrics_from_report({}))
    assert not missing.passed
    assert "membership = true" in missing.reason
