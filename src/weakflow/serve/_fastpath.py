"""A lean ``predict_proba`` for the built-in text model: the same arithmetic, without the plumbing.

Why: on one row, :func:`weakflow.train.text_model` spends about 1.6 ms in
``PackagedModel.predict_proba``, and less than a third of that is the work on the row (analyzing
the text, hashing the n-grams, a sparse dot product). The rest is per-call plumbing that
scikit-learn runs at every step of the Pipeline: parameter validation, ``check_array`` (which
asks narwhals whether a list of strings is a dataframe), estimator tags, the joblib
``Parallel`` that :class:`~sklearn.pipeline.FeatureUnion` uses even with ``n_jobs=None``,
and ``normalize``'s own input checks. A server calls the model once per request (or per
micro-batch), so that plumbing is most of a one-row request's cost.

:func:`compile_text_predictor` recognizes exactly the fitted structure ``text_model`` builds,
``Pipeline([FeatureUnion([Pipeline([HashingVectorizer, TfidfTransformer]), ...]),
LogisticRegression])`` (inside a :class:`~weakflow.registry.PackagedModel`), and returns a
function that runs the fitted objects' own pieces in the order scikit-learn runs them: each
vectorizer's ``build_analyzer()`` and a :class:`~sklearn.feature_extraction.FeatureHasher` with
the vectorizer's settings (what ``HashingVectorizer.transform`` does), the TF-IDF steps of
``TfidfTransformer.transform`` on the CSR data (log + 1, times ``idf_``, the row norm through
the same ``sparsefuncs_fast`` kernels ``normalize`` calls), ``scipy.sparse.hstack`` as
``FeatureUnion`` does, ``X @ coef_.T + intercept_`` and ``expit`` (or ``softmax``) as
``LogisticRegression.predict_proba`` does, then the package's calibrator (for Platt scaling,
its own steps with the same lean logistic regression). The same operations on the same arrays
give the same bits: the result is identical to ``PackagedModel.predict_proba``, not merely
close.

Anything else (another estimator, a setting this path does not reproduce, a scikit-learn whose
internals moved) returns ``None`` and the server uses ``model.predict_proba``. And because a
future scikit-learn could change what one of those steps computes, :func:`verify` runs both
paths on a fixed set of awkward texts when a version is loaded; the lean path is used only when
they agree to 1e-12.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from weakflow._types import FloatArray

__all__ = ["PROBE_TEXTS", "TextPredictor", "compile_text_predictor", "verify"]

log = logging.getLogger("weakflow.serve")

#: ``texts -> probabilities (n, k)``, the same as ``PackagedModel.predict_proba(texts)``.
TextPredictor = Callable[[Sequence[str]], FloatArray]

#: Texts both paths must agree on before the lean one is used: empty, blank, accents, case,
#: other scripts, emoji and surrogates, control characters, URLs, repeats and a long text.
PROBE_TEXTS: tuple[str, ...] = (
    "",
    " ",
    "\t\n\r ",
    "a",
    "check out my channel!! http://bit.ly/x",
    "Love this song <3 <3 <3",
    "CAFÉ naïve résumé Ångström ÆØÅ ß ﬁ",
    "Привет мир, 你好世界, مرحبا بالعالم, שלום",
    "🔥🔥🔥 subscribe 👉 www.example.com 😂",
    "\x00\x01 control \x7f chars \u200b zero-width",
    "lone surrogate \ud83d end",
    "a" * 5000,
    "spam " * 300,
    "1234567890 +1 (555) 010-9999 user@example.com",
    "   leading and trailing spaces   ",
    "UPPER lower MiXeD",
)

#: Largest difference to ``model.predict_proba`` on :data:`PROBE_TEXTS` that is accepted.
TOLERANCE = 1e-12


def _is(obj: Any, cls: type) -> bool:
    return type(obj) is cls  # subclasses may override transform: not the code reproduced here


#: A CSR matrix normalized in place, row by row.
Normalizer = Callable[[Any], None]


def _csr_normalizer(norm: str | None) -> tuple[bool, Normalizer | None]:
    """The in-place row normalizer ``normalize(X, norm=norm)`` runs on a CSR matrix.

    ``(True, None)`` when there is no norm, ``(False, None)`` for a norm this path does not
    reproduce (``"max"``).
    """
    from sklearn.utils.sparsefuncs_fast import (
        inplace_csr_row_normalize_l1,
        inplace_csr_row_normalize_l2,
    )

    if norm is None:
        return True, None
    kernels: dict[str, Normalizer] = {
        "l1": inplace_csr_row_normalize_l1,
        "l2": inplace_csr_row_normalize_l2,
    }
    kernel = kernels.get(norm)
    return kernel is not None, kernel


def _branch(step: Any) -> Callable[[Sequence[str]], Any] | None:
    """One ``Pipeline([HashingVectorizer, TfidfTransformer])`` of the union, or None."""
    from sklearn.feature_extraction import FeatureHasher
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.pipeline import Pipeline

    if not _is(step, Pipeline) or len(step.steps) != 2:
        return None
    vec, tfidf = step.steps[0][1], step.steps[1][1]
    if not (_is(vec, HashingVectorizer) and _is(tfidf, TfidfTransformer)):
        return None
    vec_ok, vec_norm = _csr_normalizer(vec.norm)
    tf_ok, tf_norm = _csr_normalizer(tfidf.norm)
    if not (vec_ok and tf_ok) or np.dtype(vec.dtype) != np.float64:
        return None
    vec._validate_ngram_range()
    analyze = vec.build_analyzer()
    hasher = FeatureHasher(
        n_features=vec.n_features,
        input_type="string",
        dtype=vec.dtype,
        alternate_sign=vec.alternate_sign,
    )
    binary = bool(vec.binary)
    sublinear = bool(tfidf.sublinear_tf)
    idf = getattr(tfidf, "idf_", None)
    if idf is not None:
        idf = np.asarray(idf, dtype=np.float64)
        if idf.shape != (vec.n_features,):
            return None

    def transform(texts: Sequence[str]) -> Any:
        # HashingVectorizer.transform: analyze, hash (sums duplicates, sorts indices), binary,
        # norm. The matrix is new and ours, so TfidfTransformer's defensive copy is not needed.
        X = hasher.transform(analyze(doc) for doc in texts)
        if binary:
            X.data.fill(1)
        if vec_norm is not None:
            vec_norm(X)
        # TfidfTransformer.transform
        if sublinear:
            np.log(X.data, X.data)
            X.data += 1.0
        if idf is not None:
            X.data *= idf[X.indices]
        if tf_norm is not None:
            tf_norm(X)
        return X

    return transform


def _logistic(clf: Any, k: int) -> Callable[[Any], FloatArray] | None:
    """``X -> clf.predict_proba(X)`` laid out on ``k`` classes, or None.

    What ``LogisticRegression.predict_proba`` computes after its input checks: the decision
    function ``X @ coef_.T + intercept_`` (as ``safe_sparse_dot`` computes it, sparse or dense),
    then ``expit`` in the binary layout or ``softmax``; then the columns placed at the class
    indices, as :func:`weakflow.train.end_model_proba` and the Platt calibrator do.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.utils.extmath import softmax

    if not _is(clf, LogisticRegression):
        return None
    coef = np.asarray(clf.coef_)
    classes = np.asarray(clf.classes_)
    if coef.dtype != np.float64 or coef.ndim != 2 or classes.dtype.kind not in "iu":
        return None
    columns = classes.astype(np.int64)
    if columns.size < 2 or columns.min() < 0 or columns.max() >= k:
        return None
    coef_t = coef.T
    intercept = np.asarray(clf.intercept_)
    binary = classes.size <= 2

    def predict_proba(X: Any) -> FloatArray:
        scores = X @ coef_t + intercept
        if binary:
            if scores.ndim > 1 and scores.shape[1] == 1:
                scores = scores.reshape(-1)
            p = expit(scores, out=scores)
            raw = np.stack([1 - p, p], axis=1)
        else:
            raw = softmax(scores, copy=False)
        out = np.zeros((raw.shape[0], k))
        out[:, columns] = raw
        return out

    return predict_proba


def _calibration(calibrator: Any, k: int) -> Callable[[FloatArray], FloatArray]:
    """The calibrator's ``transform``; for Platt scaling, without the regression's checks.

    ``PlattScaling.transform`` is :func:`~weakflow.evaluate._inputs.check_proba`, its
    ``_features``, a logistic regression's ``predict_proba`` and ``_normalize_rows``: the same
    functions are called here, with the regression's arithmetic from :func:`_logistic` (on one
    row, its input checks are most of the calibrator's time). Other calibrators are called as
    they are.
    """
    from weakflow.evaluate import PlattScaling
    from weakflow.evaluate._calibration import _normalize_rows
    from weakflow.evaluate._inputs import check_proba

    def as_is(proba: FloatArray) -> FloatArray:
        out: FloatArray = np.asarray(calibrator.transform(proba), dtype=np.float64)
        return out

    if not _is(calibrator, PlattScaling) or getattr(calibrator, "n_classes_", None) != k:
        return as_is
    regression = _logistic(calibrator.model_, k)
    if regression is None:
        return as_is
    features = calibrator._features

    def platt(proba: FloatArray) -> FloatArray:
        p = check_proba(proba, k=k)
        if p.shape[0] == 0:
            return p
        return _normalize_rows(regression(features(p)))

    return platt


def compile_text_predictor(model: Any) -> TextPredictor | None:
    """The lean path of a PackagedModel wrapping :func:`weakflow.train.text_model`, or None.

    Returns None for any other model (it is then served through ``model.predict_proba``).
    """
    try:
        return _compile(model)
    except Exception as exc:  # an unexpected attribute layout: serve the normal way
        log.debug("No lean text path for %s: %s", type(model).__name__, exc)
        return None


def _compile(model: Any) -> TextPredictor | None:
    from sklearn.pipeline import FeatureUnion, Pipeline

    from weakflow.registry import PackagedModel

    if not _is(model, PackagedModel):
        return None
    est = model.estimator
    if not _is(est, Pipeline) or len(est.steps) != 2:
        return None
    union = est.steps[0][1]
    if not _is(union, FeatureUnion) or union.transformer_weights:
        return None
    branches = []
    width = 0
    for _name, step in union.transformer_list:
        branch = _branch(step)
        if branch is None:
            return None
        branches.append(branch)
        width += step.steps[0][1].n_features
    k = model.n_classes
    classify = _logistic(est.steps[1][1], k)
    if classify is None or est.steps[1][1].coef_.shape[1] != width:
        return None
    calibrate = None if model.calibrator is None else _calibration(model.calibrator, k)

    def predict_proba(texts: Sequence[str]) -> FloatArray:
        # FeatureUnion.transform: each branch, then hstack to CSR.
        X = sp.hstack([branch(texts) for branch in branches]).tocsr()
        # LogisticRegression.predict_proba + end_model_proba, then PackagedModel's calibrator.
        proba = classify(X)
        return proba if calibrate is None else calibrate(proba)

    return predict_proba


def verify(model: Any, predictor: TextPredictor, texts: Sequence[str] = PROBE_TEXTS) -> float:
    """The largest difference between the lean path and ``model.predict_proba`` on ``texts``.

    Checked one text at a time, then on all the texts the model accepts together (a server
    predicts both ways). A text the model refuses (a lone surrogate cannot be hashed) must be
    refused by the lean path too, with the same exception type. ``inf`` when they disagree on
    that or on the shape.
    """
    worst = 0.0
    accepted: list[str] = []
    for text in texts:
        try:
            model.predict_proba([text])
        except Exception as exc:
            try:
                predictor([text])
            except type(exc):
                continue
            except Exception:
                return float("inf")
            return float("inf")
        accepted.append(text)
    for batch in [[t] for t in accepted] + [accepted]:
        want = np.asarray(model.predict_proba(batch), dtype=np.float64)
        try:
            got = predictor(batch)
        except Exception:
            return float("inf")
        if got.shape != want.shape:
            return float("inf")
        worst = max(worst, float(np.max(np.abs(got - want), initial=0.0)))
    return worst
