"""PackagedModel: the end model with its calibrator, predicting what was evaluated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.preprocessing import StandardScaler

from weakflow.data import load_youtube
from weakflow.errors import SchemaError
from weakflow.evaluate import IsotonicCalibration, PlattScaling, TemperatureScaling
from weakflow.registry._packaged import PackagedModel
from weakflow.store import ArtifactStore
from weakflow.train import end_model_proba, portable_text_model


@pytest.fixture(scope="module")
def fitted():
    df = load_youtube()
    order = np.random.default_rng(1).permutation(len(df))
    train, dev, test = order[:600], order[600:800], order[800:1000]
    y = df.label.to_numpy()
    # A smaller letter vocabulary than the default keeps the skops round trips fast.
    model = portable_text_model().set_params(features__letters__min_df=0.02)
    model.fit(df.text.iloc[train], y[train])
    return model, df.text.iloc[dev], y[dev], df.text.iloc[test]


CALIBRATORS = {
    "none": None,
    "platt": PlattScaling,
    "temperature": TemperatureScaling,
    "isotonic": IsotonicCalibration,
}


@pytest.mark.parametrize("method", list(CALIBRATORS))
def test_round_trip_through_the_artifact_store_predicts_identically(fitted, method, tmp_path: Path):
    model, X_dev, y_dev, X_test = fitted
    cls = CALIBRATORS[method]
    calibrator = None if cls is None else cls().fit(model.predict_proba(X_dev), y_dev)
    packaged = PackagedModel(model, calibrator, label_names=["ham", "spam"])
    store = ArtifactStore(tmp_path)
    loaded = store.get_model(store.put_model(packaged))
    assert isinstance(loaded, PackagedModel)
    assert loaded.label_names == ["ham", "spam"]
    assert loaded.calibration == (None if method == "none" else method)
    np.testing.assert_array_equal(loaded.predict_proba(X_test), packaged.predict_proba(X_test))
    np.testing.assert_array_equal(loaded.predict(X_test), packaged.predict(X_test))


def test_predicts_calibrated_probabilities_on_every_class(fitted):
    model, X_dev, y_dev, X_test = fitted
    raw = end_model_proba(model, X_test, 2)
    temperature = TemperatureScaling().fit(model.predict_proba(X_dev), y_dev)
    packaged = PackagedModel(model, temperature, label_names=["ham", "spam"])
    proba = packaged.predict_proba(X_test)
    np.testing.assert_allclose(proba, temperature.transform(raw))
    np.testing.assert_array_equal(packaged.predict(X_test), proba.argmax(axis=1))
    assert packaged.classes_.tolist() == [0, 1]
    assert set(packaged.predict_labels(X_test)) <= {"ham", "spam"}
    np.testing.assert_array_equal(
        PackagedModel(model, label_names=["h", "s"]).predict_proba(X_test), raw
    )


def test_a_class_the_estimator_never_saw_gets_probability_zero():
    texts = ["buy cheap pills now", "cheap pills here", "love this song", "this song rocks"] * 5
    model = portable_text_model().fit(texts, [0, 0, 2, 2] * 5)
    packaged = PackagedModel(model, label_names=["spam", "unsure", "ham"])
    proba = packaged.predict_proba(["cheap pills", "song"])
    assert proba.shape == (2, 3)
    np.testing.assert_array_equal(proba[:, 1], 0.0)
    assert packaged.predict(["cheap pills", "song"]).tolist() == [0, 2]


def test_errors_say_what_to_fix(fitted):
    model, X_dev, y_dev, _ = fitted
    with pytest.raises(SchemaError, match="at least two"):
        PackagedModel(model, label_names=["only"])
    with pytest.raises(SchemaError, match="duplicates"):
        PackagedModel(model, label_names=["a", "a"])
    with pytest.raises(SchemaError, match="no predict_proba"):
        PackagedModel(StandardScaler(), label_names=["a", "b"])
    with pytest.raises(SchemaError, match="not fitted"):
        PackagedModel(model, PlattScaling(), label_names=["a", "b"])
    calibrator = TemperatureScaling().fit(model.predict_proba(X_dev), y_dev)
    with pytest.raises(SchemaError, match="fitted on 2 classes"):
        PackagedModel(model, calibrator, label_names=["a", "b", "c"])
    with pytest.raises(SchemaError, match="calibrator must be"):
        PackagedModel(model, BaseEstimator(), label_names=["a", "b"])
