"""Power at the designed effect (>= 0.9) and false-alarm rate without shift (<= 0.05) of the
text, prediction and LF-vote drift detectors, over repeated seeded trials.

The designed effects are what the monitor is meant to catch in a 300-500 row window: 20% of the
comments in a style the reference never had (text), class shares moved by 10 points
(predictions), one LF's coverage moved by 10 points (LF votes). Without a shift, each window is
drawn from the same pool as the reference.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from weakflow.data import crypto_scam_comments, load_youtube
from weakflow.monitor import lf_vote_drift, prediction_drift, text_drift

pytestmark = pytest.mark.slow


def _rate(detect: Callable[[np.random.Generator], bool], trials: int) -> float:
    return float(np.mean([detect(np.random.default_rng(1000 + s)) for s in range(trials)]))


@pytest.fixture(scope="module")
def comments() -> list[str]:
    return load_youtube()["text"].astype(str).tolist()


def _text(comments: list[str], share: float) -> Callable[[np.random.Generator], bool]:
    scams = crypto_scam_comments(2000, seed=3)

    def detect(rng: np.random.Generator) -> bool:
        order = rng.permutation(len(comments))
        n_new = round(300 * share)
        current = [comments[i] for i in order[800 : 800 + 300 - n_new]]
        current += [scams[i] for i in rng.choice(len(scams), n_new, replace=False)]
        reference = [comments[i] for i in order[:800]]
        return text_drift(reference, current, random_state=int(rng.integers(1 << 30))).drifted

    return detect


def test_text_drift_power_and_false_alarms(comments: list[str]) -> None:
    assert _rate(_text(comments, 0.2), 30) >= 0.9
    assert _rate(_text(comments, 0.0), 40) <= 0.05


def _shares(moved: float) -> Callable[[np.random.Generator], bool]:
    def detect(rng: np.random.Generator) -> bool:
        p_ref = rng.beta(2, 2, 3000)
        ref = np.c_[1 - p_ref, p_ref]
        p_cur = rng.beta(2, 2, 500)
        flip = rng.random(500) < moved / 0.5  # moves about `moved` of the mass to spam
        p_cur = np.where(flip & (p_cur < 0.5), 1 - p_cur, p_cur)
        shares, _conf = prediction_drift(ref, np.c_[1 - p_cur, p_cur], label_names=["a", "b"])
        return shares.drifted

    return detect


def test_prediction_drift_power_and_false_alarms() -> None:
    assert _rate(_shares(0.10), 100) >= 0.9
    assert _rate(_shares(0.0), 100) <= 0.05


def _lf(moved: float) -> Callable[[np.random.Generator], bool]:
    def votes(rng: np.random.Generator, n: int, coverage: float, y: np.ndarray) -> np.ndarray:
        L = np.full((n, 3), -1)
        for j, c in enumerate((0.3, coverage, 0.4)):
            on = rng.random(n) < c
            L[on, j] = np.where(rng.random(n)[on] < 0.85, y[on], 1 - y[on])
        return L

    def detect(rng: np.random.Generator) -> bool:
        y_ref, y_cur = rng.integers(0, 2, 3000), rng.integers(0, 2, 500)
        found = lf_vote_drift(
            votes(rng, 3000, 0.3, y_ref), votes(rng, 500, 0.3 - moved, y_cur),
            lf_names=["a", "b", "c"], model_reference=y_ref, model_current=y_cur,
        )  # fmt: skip
        return any(d.drifted for d in found)

    return detect


def test_lf_vote_drift_power_and_false_alarms() -> None:
    assert _rate(_lf(0.10), 200) >= 0.9
    assert _rate(_lf(0.0), 200) <= 0.05
