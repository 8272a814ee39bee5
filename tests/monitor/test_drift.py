"""Drift detectors: power at the designed effect and false-alarm rate without shift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weakflow.errors import SchemaError
from weakflow.monitor import categorical_drift, correct_pvalues, feature_drift, numeric_drift

TRIALS = 200


def _rate(detect, trials: int = TRIALS) -> float:
    return float(np.mean([detect(np.random.default_rng(seed)) for seed in range(trials)]))


def _num(shift: float, n: int):
    def detect(rng: np.random.Generator) -> bool:
        frame = feature_drift(
            pd.DataFrame({"x": rng.normal(0, 1, n)}),
            pd.DataFrame({"x": rng.normal(shift, 1, n)}),
            n_jobs=1,
        )
        return frame["x"].drifted

    return detect


def _cat(moved: float, n: int):
    shares = np.array([0.4, 0.25, 0.15, 0.12, 0.08])
    shifted = shares.copy()
    shifted[0] -= moved
    shifted[4] += moved
    labels = np.array(list("abcde"), dtype=object)

    def detect(rng: np.random.Generator) -> bool:
        ref = labels[rng.choice(5, size=n, p=shares)]
        cur = labels[rng.choice(5, size=n, p=shifted)]
        result = feature_drift(pd.DataFrame({"c": ref}), pd.DataFrame({"c": cur}), n_jobs=1)
        return result["c"].drifted

    return detect


@pytest.mark.parametrize(
    ("name", "detector", "power"),
    [
        ("numeric small sample (KS), 0.3 sd at n=500", _num(0.3, 500), 0.9),
        ("numeric large sample (KS + Wasserstein), 0.1 sd at n=5000", _num(0.1, 5000), 0.9),
        ("categorical small sample (chi2), 10 pp at n=500", _cat(0.10, 500), 0.9),
        ("categorical large sample (chi2 + JS), 5 pp at n=5000", _cat(0.05, 5000), 0.9),
    ],
)
def test_power_at_the_designed_effect(name: str, detector, power: float) -> None:
    assert _rate(detector) >= power, name


@pytest.mark.parametrize(
    ("name", "detector"),
    [
        ("numeric, n=500", _num(0.0, 500)),
        ("numeric, n=5000", _num(0.0, 5000)),
        ("categorical, n=500", _cat(0.0, 500)),
        ("categorical, n=5000", _cat(0.0, 5000)),
    ],
)
def test_false_alarm_rate_without_shift(name: str, detector) -> None:
    assert _rate(detector) <= 0.05, name


def test_many_columns_share_one_error_budget() -> None:
    """20 unshifted columns: BH keeps the chance of any alarm near alpha; uncorrected does not."""

    def alarms(correction: str):
        def detect(rng: np.random.Generator) -> bool:
            ref = pd.DataFrame(rng.normal(size=(300, 20)), columns=[f"c{i}" for i in range(20)])
            cur = pd.DataFrame(rng.normal(size=(300, 20)), columns=ref.columns)
            return bool(feature_drift(ref, cur, correction=correction, n_jobs=1).drifted)

        return detect

    corrected = _rate(alarms("bh"), trials=100)
    uncorrected = _rate(alarms("none"), trials=100)
    assert corrected <= 0.05
    assert uncorrected >= 0.1  # 1 - 0.99**20 = 0.18: why the correction exists


def test_verdict_explains_what_moved() -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"age": rng.normal(40, 10, 4000), "country": rng.choice(["fr", "de"], 4000)})
    cur = pd.DataFrame(
        {"age": rng.normal(45, 10, 4000), "country": rng.choice(["fr", "de", "it"], 4000)}
    )
    result = feature_drift(ref, cur)
    age, country = result["age"], result["country"]
    assert age.drifted
    assert country.drifted
    assert age.method == "wasserstein"
    assert 0.4 < age.effect < 0.6
    assert "+0.49 sd" in age.message
    assert country.details["new_categories"] == ["it"]
    assert country.details["moved"][0]["category"] == "it"
    frame = result.to_frame()
    assert list(frame.index) == ["age", "country"]
    assert frame["drifted"].all()


def test_missing_values_and_bad_input() -> None:
    x = np.array([1.0, 2.0, np.nan, 3.0] * 300)
    d = numeric_drift(x, x, column="v")
    assert d.details["missing_reference"] == pytest.approx(0.25)
    assert not feature_drift(pd.DataFrame({"v": x}), pd.DataFrame({"v": x}))["v"].drifted
    with pytest.raises(SchemaError, match="no non-missing values in the current"):
        numeric_drift([1.0, 2.0], [np.nan, np.nan], column="v")
    with pytest.raises(SchemaError, match=r"\['w'\] are missing from the current"):
        feature_drift(pd.DataFrame({"w": [1.0]}), pd.DataFrame({"v": [1.0]}))
    with pytest.raises(SchemaError, match="current 0"):
        feature_drift(pd.DataFrame({"v": [1.0]}), pd.DataFrame({"v": []}))
    assert categorical_drift(["a"] * 10, ["a"] * 10).p_value == 1.0


def test_corrections() -> None:
    p = [0.01, 0.02, 0.03, 0.5]
    assert correct_pvalues(p, "bonferroni").tolist() == [0.04, 0.08, 0.12, 1.0]
    assert correct_pvalues(p, "bh").tolist() == pytest.approx([0.04, 0.04, 0.04, 0.5])
    with pytest.raises(ValueError, match="correction must be"):
        correct_pvalues(p, "holm")  # type: ignore[arg-type]
