"""Text, prediction and LF-vote drift: detect designed shifts, stay quiet without them."""

from __future__ import annotations

import re

import numpy as np
import pytest

from weakflow.data import load_youtube
from weakflow.monitor import lf_vote_drift, prediction_drift, text_drift


@pytest.fixture(scope="module")
def comments() -> list[str]:
    return load_youtube()["text"].astype(str).tolist()


def test_text_drift_finds_a_new_spam_style_and_names_its_words(comments: list[str]) -> None:
    rng = np.random.default_rng(0)
    order = rng.permutation(len(comments))
    ref = [comments[i] for i in order[:800]]
    same = [comments[i] for i in order[800:1600]]
    stable = text_drift(ref, same)
    assert not stable.drifted
    assert stable.auc < 0.55
    crypto = [
        f"Earn {rng.integers(100, 999)} USDT daily with crypto bot, DM on telegram @coin{i}"
        for i in range(300)
    ]
    drifted = text_drift(ref, same[:500] + crypto)
    assert drifted.drifted
    assert drifted.auc > 0.65
    rising = [w["word"] for w in drifted.words if w["z"] > 0][:6]
    assert {"crypto", "telegram", "usdt"} & set(rising)
    assert "AUC" in drifted.message


def test_prediction_drift_sees_class_shares_and_confidence() -> None:
    rng = np.random.default_rng(1)
    p_ref = rng.beta(5, 5, 3000)
    ref = np.c_[1 - p_ref, p_ref]
    p_same = rng.beta(5, 5, 3000)
    assert not any(d.drifted for d in prediction_drift(ref, np.c_[1 - p_same, p_same],
                                                       label_names=["ham", "spam"]))  # fmt: skip
    p_cur = rng.beta(8, 4, 3000)  # more spam, more confident
    shares, confidence = prediction_drift(ref, np.c_[1 - p_cur, p_cur], label_names=["ham", "spam"])
    assert shares.drifted
    assert shares.column == "predicted_class"
    assert confidence.drifted


def _votes(
    rng: np.random.Generator, n: int, coverage: list[float], truth: np.ndarray
) -> np.ndarray:
    L = np.full((n, len(coverage)), -1)
    for j, c in enumerate(coverage):
        on = rng.random(n) < c
        right = rng.random(n) < 0.85
        L[on, j] = np.where(right[on], truth[on], 1 - truth[on])
    return L


def test_lf_vote_drift_flags_the_lf_that_moved_and_only_it() -> None:
    rng = np.random.default_rng(2)
    n = 4000
    y_ref, y_cur = rng.integers(0, 2, n), rng.integers(0, 2, n)
    names = ["kw_free", "kw_subscribe", "regex_link", "short"]
    L_ref = _votes(rng, n, [0.3, 0.2, 0.25, 0.4], y_ref)
    L_same = _votes(rng, n, [0.3, 0.2, 0.25, 0.4], y_cur)
    quiet = lf_vote_drift(L_ref, L_same, lf_names=names, model_reference=y_ref,
                          model_current=y_cur)  # fmt: skip
    assert not [d for d in quiet if d.drifted]
    L_cur = _votes(rng, n, [0.3, 0.05, 0.25, 0.4], y_cur)  # spammers stopped saying "subscribe"
    model_cur = np.where(rng.random(n) < 0.7, y_cur, 1 - y_cur)  # and the model got worse
    moved = lf_vote_drift(L_ref, L_cur, lf_names=names, model_reference=y_ref,
                          model_current=model_cur)  # fmt: skip
    flagged = {(d.lf, d.metric) for d in moved if d.drifted}
    assert ("kw_subscribe", "coverage") in flagged
    assert not any(m == "coverage" and lf != "kw_subscribe" for lf, m in flagged)
    assert {lf for lf, m in flagged if m == "agreement_with_model"} == set(names)
    msg = next(d for d in moved if d.lf == "kw_subscribe" and d.metric == "coverage").message
    assert re.search(r"coverage 1\d\.\d% -> \d\.\d% \(-1\d\.\d points", msg)
    with pytest.raises(ValueError, match="same LF module"):
        lf_vote_drift(L_ref, L_cur[:, :3], lf_names=names)
