"""The end models weakflow builds: text, tabular, or any scikit-learn estimator by name."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from weakflow.errors import ConfigError

__all__ = ["build_end_model", "tabular_model", "text_model"]


def text_model(
    *, random_state: int = 0, word_bits: int = 16, char_bits: int = 18, **params: Any
) -> Pipeline:
    """TF-IDF of hashed word 1-2-grams and character 2-5-grams, then logistic regression.

    Word n-grams carry the topic; character n-grams catch the misspellings, URLs and emoji that
    keyword LFs miss, which is how the end model generalizes beyond its LFs. Features are hashed
    (``2**word_bits`` and ``2**char_bits`` buckets) rather than looked up in a vocabulary: the
    saved model holds only arrays, so it loads in milliseconds instead of rebuilding a dict of
    ~100k n-grams (about 50x faster with skops), and it fits faster. ``params`` override the
    classifier's (``C``, ``max_iter``, ...).
    """
    words = Pipeline(
        [
            ("hash", HashingVectorizer(ngram_range=(1, 2), alternate_sign=False, norm=None,
                                       n_features=2**word_bits, strip_accents="unicode")),
            ("tfidf", TfidfTransformer(sublinear_tf=True)),
        ]
    )  # fmt: skip
    chars = Pipeline(
        [
            ("hash", HashingVectorizer(analyzer="char_wb", ngram_range=(2, 5), alternate_sign=False,
                                       norm=None, n_features=2**char_bits)),
            ("tfidf", TfidfTransformer(sublinear_tf=True)),
        ]
    )  # fmt: skip
    features = FeatureUnion([("words", words), ("chars", chars)])
    clf_params = {"C": 4.0, "max_iter": 2000, "random_state": random_state, **params}
    return Pipeline([("features", features), ("classifier", LogisticRegression(**clf_params))])


def tabular_model(*, random_state: int = 0, **params: Any) -> HistGradientBoostingClassifier:
    """Histogram gradient boosting: strong on mixed numeric columns, handles missing values."""
    return HistGradientBoostingClassifier(random_state=random_state, **params)


def _import_estimator(path: str) -> type[Any]:
    module_name, _, attr = path.rpartition(".")
    if not module_name:
        raise ConfigError(
            f"end_model.estimator must be an import path like 'sklearn.svm.SVC', got {path!r}.",
            problems=[f"end_model.estimator: {path!r}"],
        )
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"end_model.estimator {path!r} cannot be imported ({exc}). Check the spelling, or "
            "install the package that provides it.",
            problems=[f"end_model.estimator: {path!r}"],
        ) from None
    return cls  # type: ignore[no-any-return]


def build_end_model(
    kind: str,
    *,
    estimator: str | None = None,
    params: Mapping[str, Any] | None = None,
    random_state: int = 0,
) -> Any:
    """The unfitted end model for ``kind`` ("text", "tabular" or "sklearn")."""
    params = dict(params or {})
    if kind == "text":
        return text_model(random_state=random_state, **params)
    if kind == "tabular":
        return tabular_model(random_state=random_state, **params)
    if kind != "sklearn":
        raise ConfigError(f"end_model.type must be text, tabular or sklearn, got {kind!r}.")
    if not estimator:
        raise ConfigError(
            "end_model.type = 'sklearn' needs end_model.estimator, e.g. "
            "'sklearn.ensemble.RandomForestClassifier'.",
            problems=["end_model.estimator: missing"],
        )
    cls = _import_estimator(estimator)
    try:
        model = cls(**params)
    except TypeError as exc:
        raise ConfigError(
            f"end_model.params do not fit {estimator}: {exc}.",
            problems=[f"end_model.params: {params}"],
        ) from None
    if "random_state" in model.get_params() and "random_state" not in params:
        model.set_params(random_state=random_state)
    if not (isinstance(model, ClassifierMixin) or hasattr(model, "predict_proba")):
        raise ConfigError(
            f"end_model.estimator {estimator} is not a classifier with predict_proba; weakflow "
            "calibrates and evaluates probabilities.",
            problems=[f"end_model.estimator: {estimator}"],
        )
    return model
