"""Synthetic project data for the data-check tests: a clean text dataset and ways to spoil it.

The clean data is built so that every check stays quiet: distinct generated sentences (no
duplicates, no near-duplicates), balanced classes marked by class-specific words (so confident
learning finds no label errors), train/dev/test drawn from one distribution, letters only (no PII).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

LABEL_NAMES = ["ham", "spam"]
_SYLLABLES = ["ba", "ko", "mi", "tu", "ren", "sal", "vo", "pi", "dor", "fen", "lu", "ga", "shi"]


def _words(n: int, rng: np.random.Generator) -> list[str]:
    pool = ["".join(p) for p in itertools.product(_SYLLABLES, repeat=3)]
    return [str(w) for w in rng.choice(pool, size=n, replace=False)]


def vocabulary(seed: int = 0) -> dict[str, list[str]]:
    """Neutral words and the words that mark each class (disjoint)."""
    words = _words(240, np.random.default_rng(seed))
    return {"neutral": words[:180], "ham": words[180:210], "spam": words[210:]}


def sentences(
    n: int, label: str, rng: np.random.Generator, vocab: dict[str, list[str]], seen: set[str]
) -> list[str]:
    """``n`` new distinct sentences of class ``label`` (none of them in ``seen``)."""
    out: list[str] = []
    while len(out) < n:
        length = int(rng.integers(8, 15))
        marks = rng.choice(vocab[label], size=3, replace=False)
        rest = rng.choice(vocab["neutral"], size=length - 3, replace=False)
        words = [str(w) for w in rng.permutation(np.concatenate([marks, rest]))]
        text = " ".join(words).capitalize() + "."
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def make_frame(
    n: int, role: str, rng: np.random.Generator, vocab: dict[str, list[str]], seen: set[str]
) -> pd.DataFrame:
    """A balanced table: id, text, label (class names), a numeric and a categorical feature."""
    labels = [LABEL_NAMES[i % 2] for i in range(n)]
    texts: list[str] = []
    for label in labels:
        texts += sentences(1, label, rng, vocab, seen)
    return pd.DataFrame(
        {
            "id": [f"{role}-{i:05d}" for i in range(n)],
            "text": pd.array(texts, dtype="str"),
            "label": pd.array(labels, dtype="str"),
            "score": rng.normal(0.0, 1.0, size=n),
            "channel": pd.array(rng.choice(["web", "mail", "app"], size=n), dtype="str"),
        }
    )


def clean_frames(
    n_train: int = 600, n_dev: int = 160, n_test: int = 200, seed: int = 0
) -> dict[str, pd.DataFrame]:
    """Clean train/dev/test tables (train keeps its label column; it is simply not used)."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary(seed)
    seen: set[str] = set()
    return {
        "train": make_frame(n_train, "train", rng, vocab, seen),
        "dev": make_frame(n_dev, "dev", rng, vocab, seen),
        "test": make_frame(n_test, "test", rng, vocab, seen),
    }
