"""The end models weakflow builds: text, tabular, or any scikit-learn estimator by name.

Two text models, because the most accurate featurization is not the one that can be served
outside Python: :func:`text_model` (the default) hashes words and ``char_wb`` n-grams with accent
stripping and sublinear TF, none of which ONNX reproduces; :func:`portable_text_model` uses only
operations whose ONNX form computes the same numbers, so ``weakflow models export --format onnx``
ships exactly the model that was evaluated.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from weakflow.errors import ConfigError

__all__ = ["build_end_model", "portable_text_model", "tabular_model", "text_model"]


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


# Tokens of the portable model: ASCII letters and digits only. Python's ``re`` and the RE2
# engine onnxruntime's Tokenizer uses agree exactly on an ASCII character class, while ``\w``
# (Unicode in Python, ASCII in RE2) and ``\b`` do not.
_PORTABLE_WORD_PATTERN = r"[A-Za-z0-9]{2,}"
_PORTABLE_LETTER_PATTERN = r"[A-Za-z0-9]"


def portable_text_model(*, random_state: int = 0, **params: Any) -> Pipeline:
    """TF-IDF of word 1-2-grams and letter 2-4-grams, then logistic regression; exports to ONNX.

    Built only from operations skl2onnx converts *exactly* (the ONNX model's probabilities
    match scikit-learn's to ~1e-7 on every input), so the model served from ONNX is the model
    weakflow evaluated:

    - words: runs of 2+ ASCII letters or digits, 1- and 2-grams seen in at least 2 texts;
    - letters: each ASCII letter or digit is a token, and 2- to 4-grams of consecutive ones
      (spaces and punctuation skipped) seen in at least 0.3% of the texts (a fraction, so a
      small training set keeps its n-grams and a large one is not flooded). They stand in for
      character n-grams: ``analyzer="char"`` collapses runs of whitespace before counting,
      which ONNX's tokenizer does not, so it diverges on any text with two spaces in a row;
    - no lowercasing: Python lowercases "İ" to two characters and ONNX's StringNormalizer to
      one, which splits words differently; keeping case also removes the dependency on the
      serving machine's locale, and costs no accuracy here;
    - raw (not sublinear) term frequencies, no accent stripping, no hashing: none of those has
      an exact ONNX form.

    On the bundled YouTube example it is as accurate as :func:`text_model`: end-model test
    accuracy 0.922 for both on the example's split, 0.921 vs 0.914 averaged over six other
    random splits (a word-only TF-IDF model scores 0.912 and 0.907). It fits in about twice the
    time, and its vocabulary makes the saved model larger (about 9 MB vs 5 MB with skops) and
    slower to load (0.15 s vs 0.01 s). ``params`` override the classifier's (``C``,
    ``max_iter``, ...).

    Examples
    --------
    >>> texts = ["check out my channel", "love this song", "subscribe to my channel",
    ...          "great song", "my channel, check it out", "this song is great"]
    >>> model = portable_text_model().fit(texts, [1, 0, 1, 0, 1, 0])
    >>> model.predict(["my channel", "this song"]).tolist()
    [1, 0]
    """
    words = TfidfVectorizer(
        ngram_range=(1, 2), token_pattern=_PORTABLE_WORD_PATTERN, lowercase=False, min_df=2
    )
    letters = TfidfVectorizer(
        ngram_range=(2, 4), token_pattern=_PORTABLE_LETTER_PATTERN, lowercase=False, min_df=0.003
    )
    features = FeatureUnion([("words", words), ("letters", letters)])
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
    portable: bool = False,
) -> Any:
    """The unfitted end model for ``kind`` ("text", "tabular" or "sklearn").

    ``portable=True`` (``[end_model] portable = true``) picks :func:`portable_text_model` for
    text; the tabular model already exports to ONNX, so it is unchanged.
    """
    params = dict(params or {})
    if kind == "text":
        factory = portable_text_model if portable else text_model
        return factory(random_state=random_state, **params)
    if kind == "tabular":
        return tabular_model(random_state=random_state, **params)
    if kind != "sklearn":
        raise ConfigError(f"end_model.type must be text, tabular or sklearn, got {kind!r}.")
    if portable:
        raise ConfigError(
            "end_model.portable = true picks an ONNX-exportable text model, but end_model.type "
            "is 'sklearn'. Remove portable (whether your estimator exports depends on skl2onnx "
            "having a converter for it), or use type = 'text' or 'tabular'.",
            problems=["end_model.portable: true with type 'sklearn'"],
        )
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
