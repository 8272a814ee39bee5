"""Simulated production traffic for the YouTube example: a spam style it has never seen.

The bundled comments are from 2013-2015; the spam on a video today is different. These
"crypto mentor" scams (a named trader, a coin, a Telegram handle, a testimonial tone) are the
shift the demo and the monitoring tests send: the end model, which never saw one, calls most of
them ham, while some of the labeling functions (``free``, ``win``, ``earn``...) still fire on
them. That disagreement is what weakflow's LF-vote drift and LF-based estimate pick up; an
input-only monitor sees new words, not that the model is wrong. Every generated comment is
spam (label 1). Deterministic for a seed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["crypto_scam_comments"]

_TRADERS = ("Sandra Lee", "Daniel Kross", "Maria Gomez", "Alex Martin", "Nina Petrova")
_COINS = ("bitcoin", "ethereum", "solana", "dogecoin", "USDT")


def _comment(rng: np.random.Generator, style: int) -> str:
    trader = str(rng.choice(_TRADERS))
    coin = str(rng.choice(_COINS))
    first, last = trader.lower().split()
    pct = int(rng.integers(40, 400))
    if style == 0:
        return (
            f"who is watching this in 2026 while holding {coin}, the {trader} signal group is "
            f"up {pct}% join us, free entry"
        )
    if style == 1:
        return (
            f"this song hits different when your {coin} is up {pct}%, {trader} gives free "
            "signals on telegram"
        )
    if style == 2:
        return (
            f"{trader} is the best trader, I win {int(rng.integers(2, 30))}k every week with "
            f"{coin}, search her name on telegram"
        )
    if style == 3:
        return (
            f"I was skeptical too but {trader} is legit, {int(rng.integers(3, 9))}x returns on "
            f"{coin} in a month. Telegram: @{last}{int(rng.integers(10, 99))}"
        )
    return (
        f"Mrs {trader} changed everything for us, we paid off the house with {coin}. Look her "
        f"up on telegram {first}_fx{int(rng.integers(10, 99))}"
    )


def crypto_scam_comments(n: int, *, seed: int = 0) -> list[str]:
    """``n`` distinct scam comments in five styles (all spam), reproducible for ``seed``.

    >>> a = crypto_scam_comments(3, seed=1)
    >>> a == crypto_scam_comments(3, seed=1), len(set(a))
    (True, 3)
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    out: list[str] = []
    seen: set[str] = set()
    for attempt in range(50 * n + 100):
        if len(out) == n:
            break
        text = _comment(rng, attempt % 5)
        if text not in seen:
            seen.add(text)
            out.append(text)
    if len(out) < n:
        raise ValueError(f"only {len(out)} distinct comments could be made; ask for fewer")
    return out
