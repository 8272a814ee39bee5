"""Labeling functions for YouTube comment spam (the bundled example data).

``weakflow init --example youtube`` copies this file into the new project as ``lfs.py``: it is
a complete LF module, written the way you would write your own. ``weakflow run`` uses the list
``LFS`` (or, without one, every labeling function defined at the top level, in order).

The first seven LFs are exactly the rules of Snorkel's spam tutorial (and WRENCH's youtube
columns 0-6), in that order; the rest add cues the tutorial's LFs miss, mostly for ham, which
has no keywords of its own.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from weakflow import ABSTAIN, keyword_lf, labeling_function, regex_lf

SPAM = 1
HAM = 0

# -- Snorkel's spam tutorial -------------------------------------------------------------------
keyword_my = keyword_lf("my", SPAM, name="keyword_my")
keyword_subscribe = keyword_lf("subscribe", SPAM, name="keyword_subscribe")
keyword_link = keyword_lf("http", SPAM, name="keyword_link")
keyword_please = keyword_lf(["please", "plz"], SPAM, name="keyword_please")
keyword_song = keyword_lf("song", HAM, name="keyword_song")
regex_check_out = regex_lf(r"check.*out", SPAM, name="regex_check_out", flags=re.IGNORECASE)


@labeling_function()
def short_comment(x: Any) -> int:
    """Ham comments are often short ("great song!"). Written row-wise, as in the tutorial."""
    return HAM if len(x.text.split()) < 5 else ABSTAIN


# -- more spam cues ------------------------------------------------------------------------------
keyword_url = keyword_lf([".com", "www", ".net", "bit.ly"], SPAM, name="keyword_url")
keyword_promo = keyword_lf(
    ["follow me", "visit", "click", "like my", "check my", "my video", "my music", "my page"],
    SPAM,
    name="keyword_promo",
)
keyword_channel_free = keyword_lf(["channel", "free", "money"], SPAM, name="keyword_channel_free")
regex_money = regex_lf(
    r"\b(?:win|free|gift|money|cash|earn)\b", SPAM, name="regex_money", flags=re.IGNORECASE
)


@labeling_function()
def shouting(x: Any) -> int:
    """Long comments mostly in capitals are usually advertising."""
    letters = [c for c in x.text if c.isalpha()]
    upper = sum(c.isupper() for c in letters)
    return SPAM if len(letters) > 20 and upper > 0.5 * len(letters) else ABSTAIN


# -- ham cues ------------------------------------------------------------------------------------
keyword_praise = keyword_lf(["love", "best", "awesome", "beautiful"], HAM, name="keyword_praise")
keyword_fan = keyword_lf(
    ["billion", "views", "2014", "2015", "lol", "haha", "dance"], HAM, name="keyword_fan"
)
keyword_artist = keyword_lf(
    ["psy", "katy", "eminem", "shakira", "lmfao", "rihanna", "gangnam"], HAM, name="keyword_artist"
)

#: Words that betray self-promotion; a comment without any of them is probably a fan's.
SPAM_CUES = (
    "http", "www", ".com", "subscribe", "channel", "check", "please", "plz",
    "free", "money", "click", "visit", "follow", "my",
)  # fmt: skip


@labeling_function(vectorized=True)
def no_spam_cue(df: pd.DataFrame) -> Any:
    """Ham when a comment of ordinary length has none of the spam cues (vectorized)."""
    low = df["text"].str.lower()
    hit = np.zeros(len(df), dtype=bool)
    for cue in SPAM_CUES:
        hit |= low.str.contains(cue, regex=False).fillna(False).to_numpy(dtype=bool)
    ordinary = (low.str.len() < 150).fillna(False).to_numpy(dtype=bool)
    return np.where(~hit & ordinary, HAM, ABSTAIN)


#: The LFs ``weakflow run`` applies, in this column order.
LFS = [
    keyword_my,
    keyword_subscribe,
    keyword_link,
    keyword_please,
    keyword_song,
    regex_check_out,
    short_comment,
    keyword_url,
    keyword_promo,
    keyword_channel_free,
    regex_money,
    shouting,
    keyword_praise,
    keyword_fan,
    keyword_artist,
    no_spam_cue,
]


def youtube_spam_lfs() -> list[Any]:
    """The example's labeling functions (the first seven are Snorkel's spam tutorial)."""
    return list(LFS)
