"""Labeling functions for the bundled YouTube spam example, in the style of Snorkel's tutorial.

``SPAM = 1``, ``HAM = 0``. Used by ``weakflow demo`` and the documentation; a starting point for
writing your own (see :func:`youtube_spam_lfs`).
"""

from __future__ import annotations

import re
from typing import Any

from weakflow._types import ABSTAIN
from weakflow.labeling._builders import keyword_lf, regex_lf
from weakflow.labeling._lf import LabelingFunction, labeling_function

__all__ = ["HAM", "SPAM", "youtube_spam_lfs"]

SPAM = 1
HAM = 0


@labeling_function()
def short_comment(x: Any) -> int:
    """Ham comments are often short ("great song!"). Written row-wise, as in the tutorial."""
    return HAM if len(x.text.split()) < 5 else ABSTAIN


def youtube_spam_lfs() -> list[LabelingFunction]:
    """The spam-tutorial LFs: keywords, a regex and a row-wise rule, plus two more hints.

    The first seven are exactly the rules of Snorkel's spam tutorial (and of WRENCH's youtube
    columns 0-6), in that order; on the bundled comments they give Snorkel's published matrix.
    """
    return [
        keyword_lf("my", SPAM, name="keyword_my"),
        keyword_lf("subscribe", SPAM, name="keyword_subscribe"),
        keyword_lf("http", SPAM, name="keyword_link"),
        keyword_lf(["please", "plz"], SPAM, name="keyword_please"),
        keyword_lf("song", HAM, name="keyword_song"),
        regex_lf(r"check.*out", SPAM, name="regex_check_out", flags=re.IGNORECASE),
        short_comment,
        keyword_lf(["channel", "free", "money"], SPAM, name="keyword_channel_free"),
        keyword_lf(["love", "best", "awesome", "beautiful"], HAM, name="keyword_praise"),
    ]
