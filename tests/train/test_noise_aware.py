"""Noise-aware training on probabilistic labels and the built-in end models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from weakflow.errors import ConfigError, SchemaError
from weakflow.train import build_end_model, end_model_proba, fit_noise_aware


def data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return X, y


def test_expand_with_soft_labels_equals_weighted_duplicates():
    X, y = data()
    P = np.column_stack([1 - y, y]).astype(float) * 0.8 + 0.1
    fit = fit_noise_aware(LogisticRegression(), X, P)
    Xr = np.vstack([X, X])
    yr = np.r_[np.zeros(len(X), int), np.ones(len(X), int)]
    ref = LogisticRegression().fit(Xr, yr, sample_weight=np.r_[P[:, 0], P[:, 1]])
    np.testing.assert_allclose(fit.model.coef_, ref.coef_, rtol=1e-4, atol=1e-6)
    assert fit.examples_fitted == 2 * len(X)
    assert fit.rows_used == len(X)


def test_uncovered_rows_are_dropped_and_weighted_method():
    X, y = data()
    P = np.eye(2)[y].astype(float)
    covered = np.arange(len(X)) % 4 != 0
    fit = fit_noise_aware(LogisticRegression(), X, P, covered=covered, method="weighted")
    assert fit.rows_dropped_abstained == int((~covered).sum())
    assert fit.examples_fitted == int(covered.sum())
    assert (fit.model.predict(X) == y).mean() > 0.95


def test_errors_say_what_is_wrong():
    X, y = data()
    P = np.eye(2)[y].astype(float)
    with pytest.raises(SchemaError, match="sample_weight"):
        fit_noise_aware(KNeighborsClassifier(), X, P)
    with pytest.raises(SchemaError, match="No training row has a vote"):
        fit_noise_aware(LogisticRegression(), X, P, covered=np.zeros(len(X), bool))
    with pytest.raises(SchemaError, match="one class"):
        fit_noise_aware(LogisticRegression(), X, np.tile([1.0, 0.0], (len(X), 1)))
    with pytest.raises(SchemaError, match="align"):
        fit_noise_aware(LogisticRegression(), X[:10], P)


def test_build_end_model_kinds_and_errors():
    text = build_end_model("text", random_state=3)
    assert text.named_steps["classifier"].random_state == 3
    assert build_end_model("tabular").random_state == 0
    rf = build_end_model("sklearn", estimator="sklearn.ensemble.RandomForestClassifier",
                         params={"n_estimators": 5})  # fmt: skip
    assert rf.n_estimators == 5
    with pytest.raises(ConfigError, match="cannot be imported"):
        build_end_model("sklearn", estimator="sklearn.nope.Model")
    with pytest.raises(ConfigError, match=r"needs end_model\.estimator"):
        build_end_model("sklearn")
    with pytest.raises(ConfigError, match="do not fit"):
        build_end_model("sklearn", estimator="sklearn.linear_model.LogisticRegression",
                        params={"bogus": 1})  # fmt: skip
    with pytest.raises(ConfigError, match="not a classifier"):
        build_end_model("sklearn", estimator="sklearn.preprocessing.StandardScaler")


def test_end_model_proba_puts_missing_classes_at_zero():
    texts = pd.Series(["buy now", "cheap pills", "nice song", "love it"])
    model = build_end_model("text").fit(texts, [0, 0, 2, 2])
    P = end_model_proba(model, texts, 3)
    assert P.shape == (4, 3)
    np.testing.assert_array_equal(P[:, 1], 0.0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
