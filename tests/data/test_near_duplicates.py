"""Near-duplicate search: exact against brute force, and at scale without an n x m matrix."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from weakflow.data import CHECK_NAMES, DataCheckOptions, Dataset, run_data_checks
from weakflow.data._leakage import near_duplicates

from .synth import LABEL_NAMES, sentences, vocabulary


def _texts(n: int, rng: np.random.Generator, seen: set[str]) -> list[str]:
    vocab = vocabulary(0)
    half = sentences(n // 2, "ham", rng, vocab, seen)
    return half + sentences(n - n // 2, "spam", rng, vocab, seen)


@pytest.mark.parametrize("threshold", [0.9, 0.7, 0.5, 0.3])
def test_matches_brute_force(threshold):
    rng = np.random.default_rng(1)
    seen: set[str] = set()
    a = _texts(400, rng, seen)
    b = _texts(150, rng, seen)
    b[:20] = [" ".join(t.split()[1:]) for t in a[:40:2]]  # near-copies of train rows
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    X = vectorizer.fit_transform(a + b).tocsr()
    A, B = X[: len(a)], X[len(a) :]
    dense = (B @ A.T).toarray()
    expected = np.flatnonzero(dense.max(axis=1) >= threshold)
    # A tiny block size forces many blocks and the split into rare and common n-grams.
    found = near_duplicates(A, B, threshold=threshold, block_size=500)
    assert found.query.tolist() == expected.tolist()
    np.testing.assert_allclose(found.similarity, dense.max(axis=1)[expected], atol=1e-6)
    np.testing.assert_allclose(dense[found.query, found.match], found.similarity, atol=1e-6)


def test_empty_inputs():
    X = TfidfVectorizer().fit_transform(["alpha beta", "gamma delta"]).tocsr()
    assert near_duplicates(X[:0], X, threshold=0.9).query.size == 0
    assert near_duplicates(X, X[:0], threshold=0.9).query.size == 0


def _peak_bytes(fn):
    """``fn()`` and the peak of Python-tracked memory (numpy and scipy arrays included) it used."""
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.mark.slow
def test_twenty_thousand_by_two_thousand_without_a_dense_matrix():
    rng = np.random.default_rng(5)
    seen: set[str] = set()
    train = _texts(20_000, rng, seen)
    test = _texts(2_000, rng, seen)
    rows = zip(
        rng.choice(2_000, 30, replace=False), rng.choice(20_000, 30, replace=False), strict=True
    )
    planted = {int(i): int(j) for i, j in rows}
    for i, j in planted.items():
        words = train[j].split()
        test[i] = " ".join(words[:2] + words[3:])  # one word dropped
    frames = {
        "train": pd.DataFrame({"text": pd.array(train, dtype="str")}),
        "test": pd.DataFrame(
            {"text": pd.array(test, dtype="str"), "label": [i % 2 for i in range(2_000)]}
        ),
    }
    datasets = [Dataset(r, f, f"{r}.parquet", r == "test") for r, f in frames.items()]
    options = DataCheckOptions(skip=set(CHECK_NAMES) - {"leakage_near_duplicate"}, max_examples=100)
    results = run_data_checks(
        datasets, label_column="label", label_names=LABEL_NAMES, text_column="text", options=options
    )
    result = {r.name: r for r in results}["leakage_near_duplicate"]
    assert not result.passed
    finding = result.details["findings"][0]
    assert finding["count"] == len(planted)
    assert {e["row"]: e["similar_to"] for e in finding["examples"]} == planted

    # The similarity search, given the vectors, needs less memory than a dense float32
    # 20,000 x 2,000 similarity matrix (160 MB) would on its own: its working memory is the
    # vectors plus block_size similarities at a time.
    vectorizer = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, dtype=np.float32
    )
    X = vectorizer.fit_transform([t.lower() for t in train + test]).tocsr()
    found, peak = _peak_bytes(
        lambda: near_duplicates(X[:20_000], X[20_000:], threshold=0.9, block_size=500_000)
    )
    assert peak < 20_000 * 2_000 * 4
    assert dict(zip(found.query.tolist(), found.match.tolist(), strict=True)) == planted
