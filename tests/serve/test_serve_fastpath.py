"""The lean text path returns exactly ``PackagedModel.predict_proba``, or is not used at all."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from servekit import MODEL
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from weakflow.evaluate import make_calibrator
from weakflow.pipeline import Project
from weakflow.registry import PackagedModel, open_registry
from weakflow.serve._fastpath import PROBE_TEXTS, compile_text_predictor, verify
from weakflow.serve._models import _lean_path
from weakflow.serve._schemas import InputSchema
from weakflow.train import text_model

TEXT = InputSchema("text", "text", (), ("ham", "spam"))


@pytest.fixture(scope="module")
def served_model(served_project: Path) -> PackagedModel:
    """v1 of the example project: text_model + Platt calibrator, as the server loads it."""
    proj = Project.load(served_project)
    registry = open_registry(proj.state_dir, proj.config.store.url)
    try:
        model: PackagedModel = registry.load_model(MODEL, 1)
    finally:
        registry.db.close()
    return model


@pytest.fixture(scope="module")
def corpus(served_project: Path) -> list[str]:
    frames = [pd.read_csv(served_project / "data" / f) for f in ("dev.csv", "test.csv")]
    return [str(t) for f in frames for t in f["text"]]


def random_texts(rng: random.Random, corpus: list[str], n: int) -> list[str]:
    """Texts from every corner: corpus rows cut and spliced, random code points (any plane,
    except lone surrogates), whitespace runs, accents, digits, repeated n-grams."""
    alphabets = [
        "abcdefghijklmnopqrstuvwxyz ",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,!?:/@#-_",
        "éèêëàâäîïôöùûüçñåøæœßÉÀÇ ",
        " \t\n\r\x0b\x0c\u00a0\u2003\u3000",
    ]
    out = []
    for _ in range(n):
        kind = rng.randrange(5)
        if kind == 0:
            a, b = rng.choice(corpus), rng.choice(corpus)
            text = a[: rng.randrange(len(a) + 1)] + b[rng.randrange(len(b) + 1) :]
        elif kind == 1:
            text = "".join(
                chr(c)
                for c in (rng.randrange(0x20, 0x30000) for _ in range(rng.randrange(60)))
                if not 0xD800 <= c <= 0xDFFF
            )
        elif kind == 2:
            alphabet = rng.choice(alphabets)
            text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(200)))
        elif kind == 3:
            text = " ".join([rng.choice(corpus).split(" ")[0]] * rng.randrange(1, 50))
        else:
            text = rng.choice(corpus).upper()
        out.append(text)
    return out


def test_the_served_model_is_compiled_and_exact(
    served_model: PackagedModel, corpus: list[str]
) -> None:
    lean = compile_text_predictor(served_model)
    assert lean is not None
    rng = random.Random(0)
    probes = [t for t in PROBE_TEXTS if "\ud83d" not in t]  # the model refuses a lone surrogate
    texts = [*probes, *corpus, *random_texts(rng, corpus, 600)]
    # One row at a time (a request that ran alone) ...
    for text in texts[::3]:
        np.testing.assert_array_equal(lean([text]), served_model.predict_proba([text]))
    # ... and in batches of every size (requests micro-batched together).
    start = 0
    while start < len(texts):
        size = rng.choice([2, 3, 7, 16, 64, 128])
        batch = texts[start : start + size]
        np.testing.assert_array_equal(lean(batch), served_model.predict_proba(batch))
        start += size
    assert verify(served_model, lean) == 0.0


def test_a_text_the_model_refuses_is_refused_too(served_model: PackagedModel) -> None:
    lean = compile_text_predictor(served_model)
    assert lean is not None
    bad = "lone surrogate \ud83d"
    with pytest.raises(UnicodeEncodeError):
        served_model.predict_proba([bad])
    with pytest.raises(UnicodeEncodeError):
        lean([bad])


def fit_small(estimator: Any, corpus: list[str], k: int) -> Any:
    y = np.arange(len(corpus)) % k
    return estimator.fit(corpus, y)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("calibration", [None, "platt", "temperature", "isotonic"])
def test_other_classes_and_calibrators_are_exact(
    corpus: list[str], k: int, calibration: str | None
) -> None:
    est = fit_small(text_model(word_bits=10, char_bits=12, max_iter=200), corpus[:300], k)
    calibrator = None
    if calibration is not None:
        dev = est.predict_proba(corpus[300:400])
        calibrator = make_calibrator(calibration).fit(dev, np.arange(100) % k)
    model = PackagedModel(est, calibrator, label_names=[f"c{i}" for i in range(k)])
    lean = compile_text_predictor(model)
    assert lean is not None
    texts = random_texts(random.Random(k), corpus, 200)
    np.testing.assert_array_equal(lean(texts), model.predict_proba(texts))
    for text in texts[:20]:
        np.testing.assert_array_equal(lean([text]), model.predict_proba([text]))


def test_branch_settings_it_reproduces_are_exact(corpus: list[str]) -> None:
    # Binary counts and l1 norms, no idf; character n-grams, case kept, sublinear tf, no norm.
    a_hash = HashingVectorizer(n_features=2**10, binary=True, norm="l1")
    a_tfidf = TfidfTransformer(norm="l1", use_idf=False)
    b_hash = HashingVectorizer(
        n_features=2**11, analyzer="char", alternate_sign=False, ngram_range=(1, 3), lowercase=False
    )
    b_tfidf = TfidfTransformer(norm=None, sublinear_tf=True)
    branches = [
        ("a", Pipeline([("hash", a_hash), ("tfidf", a_tfidf)])),
        ("b", Pipeline([("hash", b_hash), ("tfidf", b_tfidf)])),
    ]
    est = Pipeline([("features", FeatureUnion(branches)), ("clf", LogisticRegression())])
    model = PackagedModel(fit_small(est, corpus[:200], 2), label_names=["ham", "spam"])
    lean = compile_text_predictor(model)
    assert lean is not None
    texts = random_texts(random.Random(1), corpus, 200)
    np.testing.assert_array_equal(lean(texts), model.predict_proba(texts))


def test_anything_else_is_served_the_normal_way(corpus: list[str]) -> None:
    names = ["ham", "spam"]
    vocab = Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression())])
    vocab_model = PackagedModel(fit_small(vocab, corpus[:100], 2), label_names=names)
    assert compile_text_predictor(vocab_model) is None
    weighted = text_model(word_bits=10, char_bits=12)
    weighted.set_params(features__transformer_weights={"words": 2.0, "chars": 1.0})
    weighted_model = PackagedModel(fit_small(weighted, corpus[:100], 2), label_names=names)
    assert compile_text_predictor(weighted_model) is None
    bare = fit_small(text_model(word_bits=10, char_bits=12), corpus[:100], 2)
    assert compile_text_predictor(bare) is None  # not a PackagedModel
    assert compile_text_predictor(object()) is None


def test_a_lean_path_that_disagrees_is_not_used(
    served_model: PackagedModel, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import weakflow.serve._models as models

    real = compile_text_predictor(served_model)
    assert real is not None

    def off_by_a_hair(texts: Any) -> Any:
        return real(texts) + 1e-10

    monkeypatch.setattr(models, "compile_text_predictor", lambda model: off_by_a_hair)
    with caplog.at_level(logging.WARNING, logger="weakflow.serve"):
        assert _lean_path(served_model, TEXT, "m v1") is None
    assert "differs from predict_proba" in caplog.text
    monkeypatch.setattr(models, "compile_text_predictor", compile_text_predictor)
    assert _lean_path(served_model, TEXT, "m v1") is not None
    tabular = InputSchema("tabular", None, ("x",), ("ham", "spam"))
    assert _lean_path(served_model, tabular, "m v1") is None
