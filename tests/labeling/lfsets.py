"""Labeling functions shared by several test modules (a mix of every kind of LF).

Defined at module level so that Dask workers can unpickle them.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from weakflow import ABSTAIN
from weakflow.labeling import keyword_lf, labeling_function, lookup_lf, regex_lf, threshold_lf

SPAM, HAM = 1, 0


@labeling_function()
def short_comment(x):
    return HAM if len(x.text.split()) < 5 else ABSTAIN


def add_words(x):
    x.words = x.text.split()
    return x


@labeling_function(pre=[add_words])
def shouting(x):
    caps = sum(1 for w in x.words if len(w) > 1 and w.isupper())
    return SPAM if caps >= 2 else ABSTAIN


@labeling_function(resources={"promo": ("free", "win", "gift")})
def promo_words(x, promo):
    lowered = x.text.lower()
    return SPAM if any(w in lowered for w in promo) else ABSTAIN


@labeling_function(vectorized=True)
def many_exclamations(frame):
    return np.where(frame.text.str.count("!") >= 3, SPAM, ABSTAIN)


def with_n_chars(df: pd.DataFrame) -> pd.DataFrame:
    """The data plus the numeric column ``n_chars`` that threshold LFs read."""
    out = df.copy()
    out["n_chars"] = out["text"].str.len()
    return out


def mixed_lfs() -> list:
    """Ten LFs: six builders (regexes on the Arrow and the Python path), four decorated ones
    (three row-wise, one with a preprocessor and one with resources; one vectorized)."""
    return [
        keyword_lf("subscribe", SPAM, name="kw_subscribe"),
        keyword_lf(["my channel", "my page"], SPAM, whole_word=True, name="kw_my_channel"),
        regex_lf(r"check.*out", SPAM, flags=re.I, name="re_check_out"),
        regex_lf(r"\bsong\b", HAM, flags=re.I, name="re_song"),
        threshold_lf("n_chars", 200, label=SPAM, op=">", name="long"),
        lookup_lf("CLASS", {0: HAM}, name="gold_ham_lookup"),
        short_comment,
        shouting,
        promo_words,
        many_exclamations,
    ]
