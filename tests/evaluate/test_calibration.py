"""Calibration: ECE/MCE/Brier by hand, calibrators on a deliberately miscalibrated model, and
choose_calibration's keep-or-not decision."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from weakflow.errors import NotFittedError, SchemaError
from weakflow.evaluate import (
    CALIBRATORS,
    CalibrationChoice,
    IsotonicCalibration,
    PlattScaling,
    TemperatureScaling,
    calibration_summary,
    choose_calibration,
    make_calibrator,
)


@cache
def _miscalibrated(k: int, factor: float) -> tuple[np.ndarray, ...]:
    """A LogisticRegression whose logits are multiplied by ``factor`` (4: over-confident,
    0.25: under-confident), evaluated on held-out dev and test rows it was not fitted on."""
    X, y = make_classification(
        n_samples=3000,
        n_features=10,
        n_informative=6,
        n_classes=k,
        class_sep=0.8,
        random_state=k,
    )
    model = LogisticRegression(max_iter=1000).fit(X[:1000], y[:1000])

    def proba(rows: slice) -> np.ndarray:
        logits = model.decision_function(X[rows])
        if k == 2:
            logits = np.column_stack([np.zeros_like(logits), logits])
        return softmax(factor * logits, axis=1)

    return proba(slice(1000, 2000)), y[1000:2000], proba(slice(2000, None)), y[2000:]


def miscalibrated(k: int, factor: float = 4.0) -> tuple[np.ndarray, ...]:
    return tuple(a.copy() for a in _miscalibrated(k, factor))


def exactly_calibrated() -> tuple[np.ndarray, np.ndarray]:
    """Rows at confidence 0.6, 0.8 and 0.9 whose accuracy is exactly that: ECE = 0."""
    proba, y = [], []
    for conf, n in ((0.6, 40), (0.8, 50), (0.9, 60)):
        n_right = round(conf * n)
        for i in range(n):
            cls = i % 2  # both classes at every confidence
            proba.append([conf, 1 - conf] if cls == 0 else [1 - conf, conf])
            y.append(cls if i < n_right else 1 - cls)
    return np.array(proba), np.array(y)


class TestSummaryByHand:
    def test_ece_mce_brier_binary(self):
        y = [1, 1, 0, 0]
        proba = [[0.1, 0.9], [0.1, 0.9], [0.9, 0.1], [0.4, 0.6]]
        s = calibration_summary(y, proba, n_bins=5)
        # confidences 0.9, 0.9, 0.9 (all right) and 0.6 (wrong: predicts 1, truth 0)
        # bin (0.8, 1.0]: 3 rows, conf 0.9, acc 1.0 -> gap 0.1
        # bin (0.4, 0.6]: 1 row,  conf 0.6, acc 0.0 -> gap 0.6
        assert s["ece"] == pytest.approx(3 / 4 * 0.1 + 1 / 4 * 0.6)
        assert s["mce"] == pytest.approx(0.6)
        # binary Brier on P(class 1): (0.1^2 + 0.1^2 + 0.1^2 + 0.6^2) / 4
        assert s["brier"] == pytest.approx((3 * 0.01 + 0.36) / 4)
        assert s["accuracy"] == pytest.approx(0.75)
        assert s["mean_confidence"] == pytest.approx(0.825)
        counts = [b["count"] for b in s["bins"]]
        assert counts == [0, 0, 1, 0, 3]
        assert s["bins"][2] == pytest.approx(
            {"lower": 0.4, "upper": 0.6, "count": 1, "confidence": 0.6, "accuracy": 0.0}
        )
        assert s["bins"][0]["confidence"] is None
        assert s["bins"][0]["accuracy"] is None

    def test_multiclass_brier_sums_over_classes(self):
        y = [0, 2]
        proba = [[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]
        s = calibration_summary(y, proba)
        row0 = 0.5**2 + 0.3**2 + 0.2**2
        row1 = 0.1**2 + 0.1**2 + 0.2**2
        assert s["brier"] == pytest.approx((row0 + row1) / 2)

    def test_bins_are_right_closed(self):
        # 0.6 sits on an edge of 5 bins: it belongs to (0.4, 0.6], as in Guo et al.
        s = calibration_summary([0], [[0.6, 0.4]], n_bins=5)
        assert [b["count"] for b in s["bins"]] == [0, 0, 1, 0, 0]

    def test_fifteen_bins_by_default(self):
        s = calibration_summary([0, 1], [[0.7, 0.3], [0.2, 0.8]])
        assert s["n_bins"] == len(s["bins"]) == 15
        assert s["bins"][-1]["upper"] == 1.0

    def test_exactly_calibrated_has_zero_ece(self):
        proba, y = exactly_calibrated()
        s = calibration_summary(y, proba)
        assert s["ece"] == pytest.approx(0.0, abs=1e-12)
        assert s["mce"] == pytest.approx(0.0, abs=1e-12)

    def test_json_ready(self):
        s = calibration_summary([0, 1, 1], [[0.7, 0.3], [0.2, 0.8], [0.6, 0.4]])
        assert json.loads(json.dumps(s, allow_nan=False)) == s

    def test_bad_n_bins(self):
        with pytest.raises(SchemaError, match="n_bins"):
            calibration_summary([0], [[0.6, 0.4]], n_bins=0)


class TestCalibratorsOnMiscalibratedModel:
    @pytest.mark.parametrize("k", [2, 3])
    @pytest.mark.parametrize("method", sorted(CALIBRATORS))
    def test_lowers_test_ece(self, method, k):
        p_dev, y_dev, p_test, y_test = miscalibrated(k)
        before = calibration_summary(y_test, p_test)
        cal = make_calibrator(method).fit(p_dev, y_dev)
        after = calibration_summary(y_test, cal.transform(p_test))
        assert before["ece"] > 0.08  # the model really is miscalibrated
        assert after["ece"] < before["ece"] / 2
        assert after["brier"] < before["brier"]

    @pytest.mark.parametrize("k", [2, 3])
    def test_temperature_keeps_the_predicted_class(self, k):
        p_dev, y_dev, p_test, _ = miscalibrated(k)
        ts = TemperatureScaling().fit(p_dev, y_dev)
        np.testing.assert_array_equal(ts.transform(p_test).argmax(1), p_test.argmax(1))

    def test_temperature_direction(self):
        over = TemperatureScaling().fit(*miscalibrated(2, 4.0)[:2])
        under = TemperatureScaling().fit(*miscalibrated(2, 0.25)[:2])
        assert over.temperature_ == pytest.approx(4.0, rel=0.35)
        assert under.temperature_ == pytest.approx(0.25, rel=0.35)

    def test_temperature_bounds(self):
        p = np.array([[0.99, 0.01], [0.01, 0.99]] * 5)
        y = np.array([0, 0] * 5)  # half wrong at 99%: wants T -> infinity
        ts = TemperatureScaling(bounds=(0.5, 3.0)).fit(p, y)
        assert ts.temperature_ == pytest.approx(3.0, rel=1e-3)
        with pytest.raises(SchemaError, match="bounds"):
            TemperatureScaling(bounds=(2.0, 1.0)).fit(p, y)

    @pytest.mark.parametrize("method", sorted(CALIBRATORS))
    def test_output_contract_and_sklearn_conventions(self, method):
        p_dev, y_dev, p_test, _ = miscalibrated(3)
        cal = make_calibrator(method)
        assert clone(cal).get_params() == cal.get_params()
        assert cal.fit(p_dev, y_dev) is cal
        out = cal.predict_proba(p_test)
        assert out.shape == p_test.shape
        assert np.all((out >= 0) & (out <= 1))
        np.testing.assert_allclose(out.sum(axis=1), 1.0)
        np.testing.assert_array_equal(out, cal.transform(p_test))
        assert cal.transform(np.empty((0, 3))).shape == (0, 3)

    def test_not_fitted_and_wrong_width(self):
        with pytest.raises(NotFittedError, match="Call 'fit'"):
            IsotonicCalibration().transform([[0.5, 0.5]])
        cal = TemperatureScaling().fit([[0.7, 0.3], [0.2, 0.8]], [0, 1])
        with pytest.raises(SchemaError, match="3 columns but there are 2 classes"):
            cal.transform([[0.2, 0.3, 0.5]])

    def test_platt_needs_two_classes(self):
        with pytest.raises(SchemaError, match="at least two classes"):
            PlattScaling().fit([[0.7, 0.3], [0.6, 0.4]], [0, 0])

    def test_platt_gives_zero_to_a_class_missing_from_dev(self):
        p = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.3, 0.6, 0.1]])
        out = PlattScaling().fit(p, [0, 1, 0, 1]).transform(p)
        np.testing.assert_allclose(out[:, 2], 0.0)
        np.testing.assert_allclose(out.sum(axis=1), 1.0)

    def test_unknown_method(self):
        with pytest.raises(SchemaError, match="Unknown calibration method 'beta'"):
            make_calibrator("beta")


class TestChooseCalibration:
    @pytest.mark.parametrize("k", [2, 3])
    def test_keeps_a_method_on_a_miscalibrated_model(self, k):
        p_dev, y_dev, p_test, y_test = miscalibrated(k)
        choice = choose_calibration(p_dev, y_dev)
        assert isinstance(choice, CalibrationChoice)
        assert choice.kept
        assert choice.method in CALIBRATORS
        assert choice.cv_folds == 5
        assert set(choice.candidates) == set(CALIBRATORS)
        assert choice.after["ece"] < choice.before["ece"]
        assert choice.after["ece"] == choice.dev_ece[choice.method] == min(choice.dev_ece.values())
        assert choice.method in choice.reason
        # the kept calibrator is refitted on all of dev and helps on test too
        test_after = calibration_summary(y_test, choice.transform(p_test))
        assert test_after["ece"] < calibration_summary(y_test, p_test)["ece"]

    def test_keeps_nothing_when_the_ece_is_not_lowered(self):
        proba, y = exactly_calibrated()  # dev ECE is 0: nothing can lower it
        choice = choose_calibration(proba, y)
        assert not choice.kept
        assert choice.method is None
        assert choice.calibrator is None
        assert choice.after == choice.before
        assert "No calibration" in choice.reason
        assert all(ece >= 0 for ece in choice.dev_ece.values())
        np.testing.assert_array_equal(choice.transform(proba), proba)

    def test_min_improvement(self):
        p_dev, y_dev, _, _ = miscalibrated(2)
        choice = choose_calibration(p_dev, y_dev, min_improvement=1.0)
        assert not choice.kept
        assert "by more than 1" in choice.reason

    def test_scores_candidates_out_of_fold(self):
        # In-sample, isotonic regression can fit the dev rows almost perfectly; the decision
        # uses the (higher) out-of-fold ECE instead.
        p_dev, y_dev, _, _ = miscalibrated(2)
        p_dev, y_dev = p_dev[:150], y_dev[:150]
        in_sample = calibration_summary(
            y_dev, IsotonicCalibration().fit(p_dev, y_dev).transform(p_dev)
        )
        choice = choose_calibration(p_dev, y_dev, methods=["isotonic"])
        assert choice.candidates["isotonic"]["ece"] > in_sample["ece"]

    def test_too_few_dev_rows_keeps_nothing(self):
        choice = choose_calibration([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]], [0, 0, 1])
        assert not choice.kept
        assert choice.cv_folds == 0
        assert "only 1 dev row" in choice.reason

    def test_folds_shrink_to_the_rarest_class(self):
        p_dev, y_dev, _, _ = miscalibrated(2)
        rare = np.r_[np.flatnonzero(y_dev == 0), np.flatnonzero(y_dev == 1)[:3]]
        choice = choose_calibration(p_dev[rare], y_dev[rare])
        assert choice.cv_folds == 3

    def test_a_method_that_cannot_fit_is_reported(self):
        # One class only: Platt cannot fit, temperature can.
        choice = choose_calibration(
            [[0.9, 0.1], [0.6, 0.4], [0.7, 0.3], [0.8, 0.2]], [0, 0, 0, 0], cv=2
        )
        assert "error" in choice.candidates["platt"]
        assert "ece" in choice.candidates["temperature"]

    def test_to_dict_is_json_ready(self):
        p_dev, y_dev, _, _ = miscalibrated(2)
        d = choose_calibration(p_dev, y_dev, methods=("temperature",)).to_dict()
        assert d["method"] == "temperature"
        assert d["kept"] is True
        assert d["temperature"] > 1
        assert {"dev_before", "dev_after", "candidates", "reason", "cv_folds"} <= set(d)
        assert json.loads(json.dumps(d, allow_nan=False)) == d

    def test_bad_arguments(self):
        with pytest.raises(SchemaError, match="Unknown calibration method"):
            choose_calibration([[0.5, 0.5]] * 4, [0, 1, 0, 1], methods=["temp"])
        with pytest.raises(SchemaError, match="cv must be"):
            choose_calibration([[0.5, 0.5]] * 4, [0, 1, 0, 1], cv=1)
