"""ONNX export: the exported graph computes what weakflow evaluated, or nothing is written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from weakflow.data import load_youtube
from weakflow.errors import MissingDependencyError
from weakflow.evaluate import IsotonicCalibration, PlattScaling, TemperatureScaling
from weakflow.registry._onnx import ExportError, OnnxExport, export_onnx
from weakflow.registry._packaged import PackagedModel
from weakflow.train import portable_text_model, tabular_model, text_model

CALIBRATORS = {"platt": PlattScaling, "temperature": TemperatureScaling}


@pytest.fixture(scope="module")
def comments():
    """Train / dev / test texts and labels (binary spam, and 3 classes: ham split by video)."""
    df = load_youtube()
    order = np.random.default_rng(0).permutation(len(df))
    y3 = np.where(df.label == 1, 2, np.where(df.video.isin(["Psy", "KatyPerry"]), 0, 1))
    parts = {"train": order[:1000], "dev": order[1000:1300], "test": order[1300:1600]}
    return {
        name: (df.text.iloc[rows], df.label.to_numpy()[rows], y3[rows])
        for name, rows in parts.items()
    }


@pytest.fixture(scope="module")
def binary_model(comments):
    X, y, _ = comments["train"]
    return portable_text_model().fit(X, y)


@pytest.fixture(scope="module")
def three_class_model(comments):
    X, _, y3 = comments["train"]
    return portable_text_model().fit(X, y3)


@pytest.fixture(scope="module")
def tabular():
    rng = np.random.default_rng(0)
    n = 900
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["age", "income", "visits", "score"])
    X.loc[rng.random(n) < 0.1, "income"] = np.nan  # HistGradientBoosting's missing values
    X["visits"] = rng.integers(0, 6, n)
    signal = 1.5 * X["age"] + X["income"].fillna(0) + 0.3 * X["visits"] + rng.normal(size=n)
    y = (signal > 0.4).astype(int).to_numpy()
    return X, y


def _calibrated(model, X_dev, y_dev, method, k):
    if method is None:
        return PackagedModel(model, label_names=[f"class{i}" for i in range(k)])
    proba = model.predict_proba(X_dev)
    calibrator = {"isotonic": IsotonicCalibration, **CALIBRATORS}[method]().fit(proba, y_dev)
    return PackagedModel(model, calibrator, label_names=[f"class{i}" for i in range(k)])


def _run_file(path: Path, feed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    label, proba = session.run(["label", "probabilities"], {session.get_inputs()[0].name: feed})
    return np.asarray(label), np.asarray(proba, dtype=np.float64)


def _texts(X) -> np.ndarray:
    return np.array(list(X), dtype=object).reshape(-1, 1)


@pytest.mark.parametrize("method", [None, "platt", "temperature", "isotonic"])
def test_portable_text_model_exports_with_its_calibration(
    comments, binary_model, method, tmp_path: Path
):
    X_dev, y_dev, _ = comments["dev"]
    X_test, _, _ = comments["test"]
    packaged = _calibrated(binary_model, X_dev, y_dev, method, 2)
    result = export_onnx(packaged, X_test, tmp_path / "model.onnx")

    assert result.parity["passed"]
    assert result.parity["n"] == len(X_test)
    assert result.parity["max_abs_proba_diff"] < 1e-5
    assert result.parity["label_agreement"] == 1.0
    assert result.input_kind == "text"
    assert result.input_name == "text"
    assert result.calibration == method
    assert result.size_bytes == result.path.stat().st_size > 0
    assert 0 < result.latency_ms["p50"] <= result.latency_ms["p90"]
    # The file on disk, run by a fresh session, outputs the calibrated probabilities.
    label, proba = _run_file(result.path, _texts(X_test))
    expected = packaged.predict_proba(X_test)
    np.testing.assert_allclose(proba, expected, atol=1e-5)
    np.testing.assert_array_equal(label, expected.argmax(axis=1))
    meta = {p.key: p.value for p in onnx.load(result.path).metadata_props}
    assert json.loads(meta["weakflow.label_names"]) == ["class0", "class1"]
    assert meta["weakflow.calibration"] == (method or "none")
    assert json.loads(json.dumps(result.to_dict()))["path"] == str(result.path)


def test_text_export_is_exact_on_awkward_strings(binary_model, tmp_path: Path):
    texts = pd.Series(
        ["", "!!!", "a", "two  spaces\n\nand newlines", "EMİNEM ΟΔΟΣ café", "\ufeff", "x" * 3000]
    )
    packaged = PackagedModel(binary_model, label_names=["ham", "spam"])
    result = export_onnx(packaged, texts, tmp_path / "m.onnx")
    assert result.parity["passed"]
    assert result.parity["max_abs_proba_diff"] < 1e-6


@pytest.mark.parametrize("method", ["platt", "temperature", "isotonic"])
def test_three_classes_with_calibration(comments, three_class_model, method, tmp_path: Path):
    X_dev, _, y_dev = comments["dev"]
    X_test, _, _ = comments["test"]
    packaged = _calibrated(three_class_model, X_dev, y_dev, method, 3)
    result = export_onnx(packaged, X_test, tmp_path / "three.onnx")
    assert result.parity["passed"]
    assert result.parity["max_abs_proba_diff"] < 1e-5
    _, proba = _run_file(result.path, _texts(X_test))
    assert proba.shape == (len(X_test), 3)


def test_a_class_the_estimator_never_saw_is_a_zero_column(tmp_path: Path):
    texts = pd.Series(["buy cheap pills now", "cheap pills here", "love this song", "song rocks"])
    model = portable_text_model().fit(pd.concat([texts] * 5), [0, 0, 2, 2] * 5)
    packaged = PackagedModel(model, label_names=["spam", "unsure", "ham"])
    result = export_onnx(packaged, texts, tmp_path / "m.onnx")
    assert result.parity["passed"]
    _, proba = _run_file(result.path, _texts(texts))
    np.testing.assert_array_equal(proba[:, 1], 0.0)


@pytest.mark.parametrize("method", [None, "platt", "temperature"])
def test_tabular_histogram_gradient_boosting(tabular, method, tmp_path: Path):
    X, y = tabular
    model = tabular_model(max_iter=40).fit(X[:500], y[:500])
    packaged = _calibrated(model, X[500:700], y[500:700], method, 2)
    result = export_onnx(packaged, X[700:], tmp_path / "tab.onnx")
    assert result.parity["passed"]
    assert result.parity["max_abs_proba_diff"] < 1e-5
    assert result.input_kind == "tabular"
    assert result.input_name == "features"
    assert result.feature_names == ("age", "income", "visits", "score")
    feed = X[700:].to_numpy(dtype=np.float32)
    _, proba = _run_file(result.path, feed)
    np.testing.assert_allclose(proba, packaged.predict_proba(X[700:]), atol=1e-5)


def test_tabular_three_classes_and_a_bare_estimator(tabular, tmp_path: Path):
    X, y = tabular
    y3 = y + (X["visits"].to_numpy() > 3)
    model = tabular_model(max_iter=30).fit(X[:500], y3[:500])
    packaged = _calibrated(model, X[500:700], y3[500:700], "platt", 3)
    assert export_onnx(packaged, X[700:], tmp_path / "a.onnx").parity["passed"]
    bare = export_onnx(model, X[700:], tmp_path / "b.onnx")
    assert bare.parity["passed"]
    assert bare.calibration is None


def test_default_text_model_names_the_step_and_the_fix(comments, tmp_path: Path):
    X, y, _ = comments["train"]
    model = text_model(word_bits=10, char_bits=10).fit(X[:200], y[:200])
    out = tmp_path / "default.onnx"
    with pytest.raises(ExportError, match=r"HashingVectorizer.*portable = true") as info:
        export_onnx(PackagedModel(model, label_names=["ham", "spam"]), X[:50], out)
    assert "[end_model]" in str(info.value)
    assert "weakflow.toml" in str(info.value)
    assert not out.exists()


@pytest.mark.parametrize(
    ("vectorizer", "problem"),
    [
        (TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3)), "char_wb"),
        (TfidfVectorizer(analyzer="char", ngram_range=(2, 3)), "whitespace"),
        (TfidfVectorizer(token_pattern=r"[A-Za-z]+", sublinear_tf=True), "sublinear_tf"),
        (TfidfVectorizer(token_pattern=r"[A-Za-z]+", strip_accents="unicode"), "strip_accents"),
        (TfidfVectorizer(), "RE2"),
    ],
)
def test_inexact_text_features_are_refused_before_converting(
    comments, vectorizer, problem, tmp_path: Path
):
    X, y, _ = comments["train"]
    model = Pipeline([("tfidf", vectorizer), ("clf", LogisticRegression())]).fit(X[:200], y[:200])
    with pytest.raises(ExportError, match=rf"step 'tfidf'.*{problem}.*portable = true"):
        export_onnx(model, X[:20], tmp_path / "m.onnx")


def test_failed_parity_raises_with_the_numbers_and_writes_nothing(
    comments, binary_model, tmp_path: Path
):
    X_dev, y_dev, _ = comments["dev"]
    X_test, _, _ = comments["test"]
    out = tmp_path / "m.onnx"
    packaged = _calibrated(binary_model, X_dev, y_dev, "temperature", 2)
    # float32 inside onnxruntime is never bit-identical to float64 scikit-learn.
    with pytest.raises(ExportError, match=r"differ by up to .* \(tolerance 0\)"):
        export_onnx(packaged, X_test, out, tolerance=0.0)
    assert not out.exists()
    isotonic = _calibrated(binary_model, X_dev, y_dev, "isotonic", 2)
    with pytest.raises(ExportError, match=r'positions \[.*methods = \["platt", "temperature"\]'):
        export_onnx(isotonic, X_test, out, tolerance=0.0)
    # A model that does not compute what the graph computes (here: another calibration).
    other = _calibrated(binary_model, X_dev, y_dev, "platt", 2)
    packaged.predict_proba = other.predict_proba  # type: ignore[method-assign]
    with pytest.raises(ExportError, match="does not compute what was evaluated"):
        export_onnx(packaged, X_test, out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs_and_missing_dependency(binary_model, monkeypatch, tmp_path: Path):
    packaged = PackagedModel(binary_model, label_names=["ham", "spam"])
    with pytest.raises(ExportError, match="not a string"):
        export_onnx(packaged, pd.Series(["fine", None]), tmp_path / "m.onnx")
    with pytest.raises(ExportError, match="no rows"):
        export_onnx(packaged, pd.Series([], dtype=str), tmp_path / "m.onnx")
    with pytest.raises(ExportError, match="tolerance"):
        export_onnx(packaged, ["text"], tmp_path / "m.onnx", tolerance=-1.0)
    monkeypatch.setitem(sys.modules, "skl2onnx", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "weakflow\[onnx\]"'):
        export_onnx(packaged, ["text"], tmp_path / "m.onnx")


def test_export_result_to_dict():
    result = OnnxExport(
        path=Path("m.onnx"),
        size_bytes=10,
        parity={"n": 1, "max_abs_proba_diff": 0.0, "label_agreement": 1.0, "passed": True},
        latency_ms={"p50": 0.1, "p90": 0.2},
        input_name="text",
        input_kind="text",
    )
    assert result.to_dict() == {
        "path": "m.onnx",
        "size_bytes": 10,
        "parity": {"n": 1, "max_abs_proba_diff": 0.0, "label_agreement": 1.0, "passed": True},
        "latency_ms": {"p50": 0.1, "p90": 0.2},
        "input_name": "text",
        "input_kind": "text",
        "feature_names": [],
        "calibration": None,
    }
