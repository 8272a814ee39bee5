"""The portable text model: accurate enough, deterministic, and selected by the config."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer

from weakflow.data import load_youtube
from weakflow.errors import ConfigError
from weakflow.pipeline._config import parse_config
from weakflow.train import build_end_model, portable_text_model


def _split(seed: int = 0):
    df = load_youtube()
    order = np.random.default_rng(seed).permutation(len(df))
    train, test = order[:1300], order[1300:]
    return df.text.iloc[train], df.label.to_numpy()[train], df.text.iloc[test], df.label.iloc[test]


def test_portable_model_is_accurate_on_held_out_comments_and_deterministic():
    X_train, y_train, X_test, y_test = _split()
    first = portable_text_model(random_state=3).fit(X_train, y_train)
    accuracy = float((first.predict(X_test) == y_test.to_numpy()).mean())
    assert accuracy > 0.85
    second = portable_text_model(random_state=3).fit(X_train, y_train)
    np.testing.assert_array_equal(first.predict_proba(X_test), second.predict_proba(X_test))


def test_portable_model_uses_only_exactly_convertible_featurization():
    model = portable_text_model(C=2.0)
    vectorizers = [t for _, t in model.named_steps["features"].transformer_list]
    assert all(isinstance(v, TfidfVectorizer) for v in vectorizers)
    for v in vectorizers:
        assert v.analyzer == "word"
        assert not v.lowercase
        assert not v.sublinear_tf
        assert v.strip_accents is None
        assert "\\w" not in v.token_pattern
        assert "\\b" not in v.token_pattern
    assert model.named_steps["classifier"].C == 2.0


def test_portable_model_fits_a_handful_of_texts():
    texts = ["free money now", "nice song", "free gift card now", "love this song"]
    model = portable_text_model().fit(texts, [1, 0, 1, 0])
    assert model.predict(["free money", "song"]).tolist() == [1, 0]


def test_build_end_model_portable_flag():
    portable = build_end_model("text", portable=True, random_state=5, params={"C": 1.0})
    assert "letters" in dict(portable.named_steps["features"].transformer_list)
    assert portable.named_steps["classifier"].random_state == 5
    assert portable.named_steps["classifier"].C == 1.0
    default = build_end_model("text")
    assert "chars" in dict(default.named_steps["features"].transformer_list)
    # The tabular model already exports; portable changes nothing.
    assert isinstance(build_end_model("tabular", portable=True), HistGradientBoostingClassifier)
    with pytest.raises(ConfigError, match="portable"):
        build_end_model("sklearn", estimator="sklearn.svm.SVC", portable=True)


def test_config_has_portable_switch():
    base = {"data": {"train": "t.csv", "dev": "d.csv", "test": "x.csv", "label_names": ["a", "b"]}}
    assert parse_config(base).end_model.portable is False
    cfg = parse_config({**base, "end_model": {"type": "text", "portable": True}})
    assert cfg.end_model.portable is True
    with pytest.raises(ConfigError, match="portable"):
        parse_config({**base, "end_model": {"portable": "sometimes"}})
