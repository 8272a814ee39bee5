"""The LFs of Snorkel's spam tutorial on the bundled YouTube comments.

The sha256 of the resulting int8 matrix (1,956 x 7, C order) is Snorkel's published fingerprint
for the same LFs on the same rows, measured independently of weakflow; a plain-Python
reimplementation of the seven rules, computed here, must give the same matrix too.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from weakflow import ABSTAIN
from weakflow.labeling import apply_lfs
from weakflow.labeling.examples import youtube_spam_lfs

SPAM, HAM = 1, 0
SNORKEL_SHA256 = "a825ba068c76557d3184953b7c8b9d5ff9461c783b3b74afcaa56ea5a70bf314"


def tutorial_lfs():
    """The tutorial LFs as weakflow ships them (the first seven of the YouTube example)."""
    return youtube_spam_lfs()[:7]


def plain_python(text: str) -> list[int]:
    """The tutorial's rules as Snorkel writes them (``word in x.text.lower()``)."""
    low = text.lower()
    return [
        SPAM if "my" in low else ABSTAIN,
        SPAM if "subscribe" in low else ABSTAIN,
        SPAM if "http" in low else ABSTAIN,
        SPAM if any(w in low for w in ("please", "plz")) else ABSTAIN,
        HAM if "song" in low else ABSTAIN,
        SPAM if re.search(r"check.*out", text, flags=re.I) else ABSTAIN,
        HAM if len(text.split()) < 5 else ABSTAIN,
    ]


def test_data_is_the_uci_youtube_set(youtube):
    assert youtube.shape == (1956, 5)
    assert list(youtube.columns) == ["COMMENT_ID", "AUTHOR", "DATE", "text", "CLASS"]
    assert youtube["text"].notna().all()


@pytest.mark.parametrize(("batch_size", "n_threads"), [(262_144, None), (100, 1), (333, 4)])
def test_matches_snorkels_fingerprint(youtube, batch_size, n_threads):
    L = apply_lfs(
        tutorial_lfs(), youtube, progress=False, batch_size=batch_size, n_threads=n_threads
    )
    assert L.shape == (1956, 7)
    assert L.values.dtype == np.int8
    assert L.values.flags.c_contiguous
    assert L.lf_names == (
        "keyword_my",
        "keyword_subscribe",
        "keyword_link",
        "keyword_please",
        "keyword_song",
        "regex_check_out",
        "short_comment",
    )
    assert hashlib.sha256(L.values.tobytes()).hexdigest() == SNORKEL_SHA256


def test_matches_a_plain_python_reimplementation(youtube):
    L = apply_lfs(tutorial_lfs(), youtube, progress=False)
    expected = np.array([plain_python(t) for t in youtube["text"]], dtype=np.int8)
    mismatches = np.argwhere(L.values != expected)
    assert mismatches.size == 0, f"first (row, lf) mismatches: {mismatches[:5].tolist()}"
    # not vacuous: every LF votes on some rows and abstains on others
    votes = (expected != ABSTAIN).sum(axis=0)
    assert (votes > 0).all()
    assert (votes < len(youtube)).all()
    assert L.row_ids.tolist() == list(range(1956))
