"""Label-free performance estimation: weakflow's ``estimate_performance`` vs NannyML's CBPE.

Why: once a model serves, gold labels arrive late or never, so the monitor has to *estimate*
accuracy from what it sees. NannyML's CBPE reads the calibrated probabilities alone (after its
own isotonic re-calibration on a labelled reference); weakflow also has the labeling functions,
which keep voting in production. ``weakflow.monitor.estimate_performance(P, L, reference=...)``
gives ``cbpe``; ``lf`` = a Dawid-Skene posterior over the window's LF votes with the model as
one more voter; ``combined`` = ``lf`` on LF-covered rows, ``cbpe`` elsewhere (``cbpe``
everywhere when the Dawid-Skene fit is degenerate); ``calibrated`` = CBPE after an isotonic
re-calibration on the labelled reference; ``lf_calibrated`` = that, plus a logit offset per LF
agreement stratum learned on the reference (``weakflow.monitor._estimate.LabelFreeEstimator``).
**weakflow's headline** is what ``weakflow monitor run`` reports: ``headline_estimate(...)`` of
the same call, a rule fixed in advance that picks ``lf_calibrated`` whenever there is a
reference and LF votes (so here, always). The benchmark calls exactly that code; it does not
re-implement it. This benchmark measures how far each estimate lands from the true accuracy on
windows whose shift and true accuracy are known.

Setup, per dataset (WRENCH youtube, and sms when present, from ``<shared>/data/wrench``):

- LF votes: **the same LFs on every row** (train, valid, windows, injected texts), because the
  injected texts have no WRENCH votes: youtube uses ``weakflow.labeling.examples.
  youtube_spam_lfs()`` (16 LFs; the first 7 reproduce WRENCH columns 0-6 exactly), sms the 73
  published ImplyLoss regex rules from the dataset's readme.txt as ``regex_lf`` (they reproduce
  99.2% of WRENCH's cells). WRENCH's own L is not used.
- Training, weakflow's way, on a seeded half of the train split (youtube: ids >= 1586, repeats
  of earlier rows, dropped): ``LabelModel`` (auto, valid split as dev set) -> probabilistic
  labels -> ``fit_noise_aware(text_model(), ...)`` on LF-covered rows -> ``choose_calibration``
  on the valid split -> calibrated probabilities. The other half of train is never seen by the
  end model and joins the test split as the pool the windows are drawn from (rows whose text
  also occurs in the training half or the valid split are dropped). Pool gold labels are used
  only to compute the true metrics.
- Reference (both tools get the same one): the valid split with its calibrated probabilities,
  predictions and gold labels, and for weakflow also its LF votes (as ``weakflow monitor run``
  uses the project's gold dev set). NannyML ``CBPE(problem_type="classification_binary",
  metrics=["accuracy", "f1", "confusion_matrix"], chunk_number=1)`` is fitted on it once (it
  may add its own isotonic calibration, as it does by default) and estimates each window as one
  chunk; weakflow fits ``LabelFreeEstimator(random_state=seed)`` on it once.

Seeds: each seed of ``--seeds`` (default 0-4) is a full repetition: its own fit/pool split,
label model, end model, calibration, synthetic texts and windows (numpy generators seeded with
``[seed, stage, scenario, window]``); the same seeds give the same numbers.

Windows (``--windows`` per scenario and seed, ``--window-size`` rows): no shift (uniform);
covariate shift (80% short texts, 80% long texts, 50% texts with a link, and for youtube 60% from
one video); label shift (spam share fixed at a low and a high value); new spam styles (10% and
30% of the window replaced by synthetic spam of styles absent from the data: crypto/Telegram
scams, leetspeak self-promotion and giveaway phishing for youtube; parcel smishing, "hi mum"
impersonation and crypto-wallet scams for sms; true label spam).

Metrics, per window: true accuracy, macro F1 and F1 of the spam class; each estimator's
estimates. NannyML's ``f1`` is the binary F1 of the positive class (spam), so F1 is compared on
that; weakflow's binary F1 comes from the per-row posteriors behind ``estimate_performance``
(``label_free_posteriors``, the function it computes its estimates from; checked here to
reproduce its accuracy to 1e-9). Macro F1 for NannyML is derived from its estimated confusion
matrix (CBPE's multiclass mode refuses two classes). Accuracy is the primary metric. Reported:
MAE per scenario, overall MAE, median seconds per window. Extra estimators under "experiments"
are alternatives (earlier attempts, and the headline with another prior scale as a
sensitivity check), clearly labelled, not part of the comparison and not used to choose
anything. Results: ``benchmarks/results/label_free.json`` with the default settings
(per-window numbers stored column-wise under ``runs``), else
``label_free-<seeds>-<windows>x<size>.json`` (git-ignored).

Held-out seeds: the design of ``lf_calibrated`` (isotonic step, the four strata, prior scale 1)
was chosen on seeds 10-19, then run once on the default seeds 0-4 and on seeds 5-9.

Usage: python benchmarks/label_free.py [--datasets youtube sms] [--seeds 0 1 2 3 4]
    [--windows 20] [--window-size 300] [--skip-nannyml]
Goal (issue 6): weakflow's headline accuracy MAE < NannyML CBPE accuracy MAE, overall.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    fmt,
    load_average,
    machine_info,
    median,
    print_table,
    shared_root,
    write_results,
)
from weakflow.data import load_wrench, load_youtube
from weakflow.evaluate import choose_calibration
from weakflow.labeling import apply_lfs, regex_lf
from weakflow.labeling.examples import youtube_spam_lfs
from weakflow.labelmodel import DawidSkene, LabelModel
from weakflow.monitor import estimate_performance
from weakflow.monitor._estimate import (
    STRATA,
    LabelFreeEstimator,
    expected_metrics,
    headline_estimate,
    label_free_posteriors,
)
from weakflow.train import end_model_proba, fit_noise_aware, text_model

# NannyML sends usage analytics unless this is set; set it before nannyml is imported.
os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

SPAM, HAM = 1, 0
ESTIMATORS = ("cbpe", "lf", "combined", "calibrated", "lf_calibrated", "headline")
DEFAULTS: dict[str, Any] = {
    "datasets": ("youtube", "sms"),
    "seeds": (0, 1, 2, 3, 4),
    "windows": 20,
    "size": 300,
}
#: Share of the train split the models are fitted on; the rest joins the window pool.
FIT_SHARE = 0.5
#: Rows with a link (a URL-ish token): a covariate slice that is mostly spam.
LINK_RE = re.compile(r"https?:|www\.|\.com\b|\.ly\b|\.net\b|\.co\.uk\b", re.IGNORECASE)


# -- data ---------------------------------------------------------------------------------------
@dataclass
class Source:
    """One dataset, ready for windows: fit / reference / pool rows and the LFs to vote with."""

    name: str
    lfs: list[Any]
    fit_texts: list[str]
    fit_votes: np.ndarray
    ref_texts: list[str]
    ref_votes: np.ndarray
    ref_y: np.ndarray
    pool_texts: list[str]
    pool_y: np.ndarray
    pool_group: np.ndarray | None  # youtube: the video of each pool row
    synthetic: Callable[[np.random.Generator, int], tuple[list[str], list[str]]]
    label_shift: tuple[float, float]
    notes: dict[str, Any] = field(default_factory=dict)


def votes(lfs: list[Any], texts: list[str]) -> np.ndarray:
    frame = pd.DataFrame({"text": texts})
    return np.asarray(apply_lfs(lfs, frame, progress=False, cardinality=2).values, dtype=np.int64)


def sms_lfs(folder: Path) -> list[Any]:
    """The 73 ImplyLoss rules listed in WRENCH's sms readme.txt (label, regex, example)."""
    lfs = []
    for line in (folder / "readme.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0] in ("ham", "spam"):
            label = SPAM if parts[0] == "spam" else HAM
            lfs.append(regex_lf(parts[1], label, name=f"rule_{len(lfs):02d}_{parts[0]}"))
    return lfs


def split_source(
    name: str,
    ds: Any,
    lfs: list[Any],
    seed: int,
    train_keep: np.ndarray,
    group_of: dict[str, str] | None,
    synthetic: Callable[[np.random.Generator, int], tuple[list[str], list[str]]],
    label_shift: tuple[float, float],
) -> Source:
    """Seeded fit/pool split of train; pool = unseen train half + test, deduplicated."""
    train_texts = ds.train.data["text"].astype(str).to_numpy()
    rows = np.flatnonzero(train_keep)
    rng = np.random.default_rng([seed, 1])
    perm = rng.permutation(rows)
    n_fit = round(FIT_SHARE * rows.size)
    fit_rows, held_rows = np.sort(perm[:n_fit]), np.sort(perm[n_fit:])
    fit_texts = train_texts[fit_rows].tolist()
    ref_texts = ds.valid.data["text"].astype(str).tolist()
    seen = set(fit_texts) | set(ref_texts)
    pool_texts = [*train_texts[held_rows].tolist(), *ds.test.data["text"].astype(str).tolist()]
    pool_y = np.r_[ds.train.y[held_rows], ds.test.y]
    fresh = np.array([t not in seen for t in pool_texts])
    pool_texts = [t for t, f in zip(pool_texts, fresh, strict=True) if f]
    pool_y = pool_y[fresh]
    group = None
    if group_of is not None:
        group = np.array([group_of.get(t, "?") for t in pool_texts], dtype=object)
    return Source(
        name=name,
        lfs=lfs,
        fit_texts=fit_texts,
        fit_votes=votes(lfs, fit_texts),
        ref_texts=ref_texts,
        ref_votes=votes(lfs, ref_texts),
        ref_y=ds.valid.y.astype(np.int64),
        pool_texts=pool_texts,
        pool_y=pool_y.astype(np.int64),
        pool_group=group,
        synthetic=synthetic,
        label_shift=label_shift,
        notes={
            "fit_rows": int(fit_rows.size),
            "reference_rows": len(ref_texts),
            "pool_rows": len(pool_texts),
            "pool_dropped_duplicates": int((~fresh).sum()),
            "pool_spam_share": float(pool_y.mean()),
        },
    )


def load_youtube_source(folder: Path, seed: int) -> Source:
    ds = load_wrench(folder)
    ids = ds.train.ids.astype(int)
    examples = load_youtube()  # the same 1,956 comments, with the video each came from
    group_of = dict(zip(examples["text"].astype(str), examples["video"], strict=True))
    return split_source(
        "youtube", ds, youtube_spam_lfs(), seed, ids < 1586, group_of, youtube_new_spam, (0.2, 0.8)
    )


def load_sms_source(folder: Path, seed: int) -> Source:
    ds = load_wrench(folder)
    keep = np.ones(len(ds.train), dtype=bool)
    return split_source("sms", ds, sms_lfs(folder), seed, keep, None, sms_new_spam, (0.03, 0.4))


# -- synthetic spam of styles absent from the data -----------------------------------------------
def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _handle(rng: np.random.Generator) -> str:
    first = _pick(rng, ["crypto", "btc", "eth", "fx", "mr", "official", "coach", "trade"])
    second = _pick(rng, ["king", "daniel", "signals", "wealth", "mentor", "profit", "alex"])
    return f"{first}_{second}{int(rng.integers(10, 999))}"


def _leet(rng: np.random.Generator, text: str, p: float) -> str:
    table = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
    return "".join(table[c] if c in table and rng.random() < p else c for c in text)


def youtube_new_spam(rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
    """Crypto/Telegram scams, leetspeak self-promotion, giveaway phishing (all spam)."""
    coins = ["bitcoin", "BTC", "ethereum", "ETH", "USDT", "solana", "dogecoin"]
    mentors = ["Mr. Daniel Kross", "Mrs. Sandra Lee", "coach Alex Martin", "Jonathan Reyes"]
    prizes = ["iPhone 16 Pro", "PS5", "$500 Amazon card", "MacBook Air", "1000 USDT"]
    links = ["t.me/", "tinyurl.co/", "cutt.ly/", "rb.gy/", "linktr.ee/"]
    phrases = [
        "check out my channel", "subscribe to my channel", "visit my page for new beats",
        "please like my new video", "go watch my covers", "follow me for daily music",
        "sub to me and i sub back", "new rap video on my page",
    ]  # fmt: skip
    texts: list[str] = []
    styles: list[str] = []
    seen: set[str] = set()
    for _ in range(100 * n):
        if len(texts) == n:
            break
        style = ["crypto", "leet", "giveaway"][len(texts) % 3]
        if style == "crypto":
            a = int(rng.integers(2, 20)) * 100
            t = _pick(
                rng,
                [
                    f"I started with ${a} and now earn ${a * 7} weekly trading {_pick(rng, coins)} "
                    f"with {_pick(rng, mentors)}. Reach out on Telegram @{_handle(rng)}",
                    f"{_pick(rng, coins)} signals group is up {int(rng.integers(40, 400))}% this "
                    f"month, join us t.me/{_handle(rng)}",
                    f"Thanks to {_pick(rng, mentors)} I paid off my loans with "
                    f"{_pick(rng, coins)}. WhatsApp +1 {int(rng.integers(200, 999))} "
                    f"{int(rng.integers(1000, 9999))}",
                    f"Who else is stacking {_pick(rng, coins)} before the halving? DM "
                    f"@{_handle(rng)} on telegram for the strategy",
                ],
            )
        elif style == "leet":
            t = _leet(rng, _pick(rng, phrases), float(rng.uniform(0.5, 0.9)))
            if rng.random() < 0.5:
                t = t.replace(" my ", " m y ").replace("my ", "mi ")
            t = t + _pick(rng, ["", " !!", " :)", " <3", " pl3453", " th4nk5"])
        else:
            t = (
                f"{_pick(rng, ['Congrats', 'Congratulations', 'Hey lucky viewer', 'Hello'])}! "
                f"You were selected for the {_pick(rng, prizes)} giveaway, claim before "
                f"midnight: {_pick(rng, links)}{_handle(rng)}"
            )
        if t not in seen:
            seen.add(t)
            texts.append(t)
            styles.append(style)
    if len(texts) < n:
        raise RuntimeError(
            f"only {len(texts)} distinct synthetic texts; the templates vary too little"
        )
    return texts, styles


def sms_new_spam(rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
    """Parcel smishing, "hi mum" impersonation, crypto-wallet scams (all spam)."""
    carriers = ["Royal Mail", "DPD", "Evri", "UPS", "USPS", "Parcelforce"]
    domains = ["redelivery-uk.info", "parcel-track.help", "pay-fee.cc", "delivery-resched.top"]
    wallets = ["Coinbase", "Binance", "Trust Wallet", "MetaMask", "Kraken"]
    texts: list[str] = []
    styles: list[str] = []
    seen: set[str] = set()
    for _ in range(100 * n):
        if len(texts) == n:
            break
        style = ["parcel", "hi_mum", "crypto"][len(texts) % 3]
        if style == "parcel":
            fee = f"{int(rng.integers(1, 4))}.{int(rng.integers(10, 99))}"
            t = (
                f"{_pick(rng, carriers)}: your parcel {_pick(rng, ['RM', 'DP', 'EV'])}"
                f"{int(rng.integers(10**6, 10**7))} could not be delivered. Reschedule and pay "
                f"the {fee} fee at {_pick(rng, domains)}"
            )
        elif style == "hi_mum":
            who = _pick(rng, ["Hi mum", "Hey mum", "Mum", "Hi dad", "Hello mam", "Hey mom"])
            body = _pick(
                rng,
                [
                    "it's me. I dropped my phone, this is my new number. Can you text me on "
                    "WhatsApp?",
                    "my phone broke so I'm on this number now, can you help me pay a bill today? "
                    "I'll explain later",
                    "new number, save it. Are you free? I need a favour",
                    "its me, lost my phone, can you message me here asap please",
                ],
            )
            tail = _pick(rng, ["", " x", " xx", " thanks", " love you"])
            number = (
                f" old one is 07{int(rng.integers(10**8, 10**9))}" if rng.random() < 0.5 else ""
            )
            t = f"{who}, {body}{tail}{number}"
        else:
            t = (
                f"{_pick(rng, wallets)} alert: {int(rng.integers(1, 9))}.{int(rng.integers(0, 99))}"
                f" ETH was credited to your wallet. Confirm withdrawal within 24h at "
                f"{_pick(rng, domains)}/{int(rng.integers(1000, 9999))}"
            )
        if t not in seen:
            seen.add(t)
            texts.append(t)
            styles.append(style)
    if len(texts) < n:
        raise RuntimeError(
            f"only {len(texts)} distinct synthetic texts; the templates vary too little"
        )
    return texts, styles


# -- model ---------------------------------------------------------------------------------------
@dataclass
class Served:
    """The fitted, calibrated model and what went into it."""

    predict: Callable[[list[str]], np.ndarray]
    info: dict[str, Any]


def train(src: Source, seed: int) -> Served:
    """Label model -> noise-aware end model -> calibration on the valid split."""
    t0 = time.perf_counter()
    lm = LabelModel(cardinality=2, random_state=seed).fit(
        src.fit_votes, L_dev=src.ref_votes, y_dev=src.ref_y
    )
    covered = (src.fit_votes != -1).any(axis=1)
    fit = fit_noise_aware(
        text_model(random_state=seed),
        src.fit_texts,
        lm.predict_proba(src.fit_votes),
        covered=covered,
    )
    proba_ref = end_model_proba(fit.model, src.ref_texts, 2)
    choice = choose_calibration(proba_ref, src.ref_y, random_state=seed)

    def predict(texts: list[str]) -> np.ndarray:
        return np.asarray(choice.transform(end_model_proba(fit.model, texts, 2)), dtype=float)

    return Served(
        predict,
        {
            "label_model": lm.method_,
            "label_model_threshold": lm.threshold_,
            "end_model_rows": fit.rows_used,
            "calibration": choice.method,
            "calibration_reason": choice.reason,
            "train_seconds": time.perf_counter() - t0,
        },
    )


# -- windows -------------------------------------------------------------------------------------
def mixture(rng: np.random.Generator, parts: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """``count`` rows from each candidate set (without replacement when it is large enough)."""
    chosen = []
    for candidates, count in parts:
        if count <= 0:
            continue
        replace = count > candidates.size
        chosen.append(rng.choice(candidates, size=count, replace=replace))
    return rng.permutation(np.concatenate(chosen))


def scenarios(src: Source, size: int) -> dict[str, Callable[[np.random.Generator, int], Any]]:
    """Scenario name -> (rng, window number) -> indices into pool + synthetic bank.

    Indices >= len(pool) address the synthetic bank (``bank_offset``).
    """
    n_pool = len(src.pool_texts)
    everyone = np.arange(n_pool)
    words = np.array([len(t.split()) for t in src.pool_texts])
    short = words <= np.median(words)
    link = np.array([bool(LINK_RE.search(t)) for t in src.pool_texts])
    spam = src.pool_y == SPAM

    def sliced(mask: np.ndarray, share: float) -> Callable[[np.random.Generator, int], Any]:
        a = round(share * size)
        inside, outside = np.flatnonzero(mask), np.flatnonzero(~mask)
        return lambda rng, _w: mixture(rng, [(inside, a), (outside, size - a)])

    def injected(share: float) -> Callable[[np.random.Generator, int], Any]:
        a = round(share * size)
        bank = np.arange(n_pool, n_pool + 2 * size)
        return lambda rng, _w: mixture(rng, [(bank, a), (everyone, size - a)])

    lo, hi = src.label_shift
    out: dict[str, Callable[[np.random.Generator, int], Any]] = {
        "no shift": lambda rng, _w: mixture(rng, [(everyone, size)]),
        "covariate: 80% short": sliced(short, 0.8),
        "covariate: 80% long": sliced(~short, 0.8),
        "covariate: 50% links": sliced(link, 0.5),
    }
    if src.pool_group is not None:
        groups = sorted(set(src.pool_group) - {"?"})

        def by_group(rng: np.random.Generator, w: int) -> Any:
            g = groups[w % len(groups)]
            return sliced(src.pool_group == g, 0.6)(rng, w)

        out["covariate: 60% one video"] = by_group
    out[f"label: {lo:.0%} spam"] = sliced(spam, lo)
    out[f"label: {hi:.0%} spam"] = sliced(spam, hi)
    out["new spam: 10%"] = injected(0.1)
    out["new spam: 30%"] = injected(0.3)
    return out


# -- estimators ----------------------------------------------------------------------------------
def f1_spam_expected(P: np.ndarray, pred: np.ndarray) -> float:
    """Expected F1 of the spam class when row i is spam with probability ``P[i, 1]``."""
    mine = pred == SPAM
    tp = float(P[mine, SPAM].sum())
    fp = float((1 - P[mine, SPAM]).sum())
    fn = float(P[~mine, SPAM].sum())
    return 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn > 0 else 0.0


def true_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    onehot = np.eye(2)[y]
    acc, f1_macro = expected_metrics(onehot, pred)
    return {
        "accuracy": acc,
        "f1_macro": f1_macro,
        "f1_spam": f1_spam_expected(onehot, pred),
        "spam_share": float(y.mean()),
    }


def posteriors(
    P: np.ndarray, L: np.ndarray, reference: LabelFreeEstimator
) -> dict[str, np.ndarray]:
    """The per-row class probabilities behind each of estimate_performance's estimates (the
    function it computes them from), so that the spam F1 comes from the same numbers."""
    post = label_free_posteriors(P, L, cardinality=2, reference=reference)
    return {name: q for name, (q, _coverage, _note) in post.items()}


@dataclass
class Reference:
    """What the reference-based experiments learn from the labelled reference (valid split)."""

    coef: np.ndarray  # linear LF-aware calibration: intercept, LF vote margin (offset: logit conf)


def _logit_conf(P: np.ndarray) -> np.ndarray:
    conf = P[np.arange(len(P)), P.argmax(axis=1)].clip(1e-3, 1 - 1e-3)
    return np.asarray(np.log(conf / (1 - conf)))


def _vote_margin(P: np.ndarray, lf_votes: np.ndarray) -> np.ndarray:
    """LF votes against the model's prediction minus votes for it, per row."""
    pred = P.argmax(axis=1)[:, None]
    voted = lf_votes != -1
    against = (voted & (lf_votes != pred)).sum(axis=1)
    return np.asarray(against - (lf_votes == pred).sum(axis=1), dtype=float)


def fit_reference(P: np.ndarray, L: np.ndarray, y: np.ndarray) -> Reference:
    """P(correct) = sigmoid(logit(conf) + b0 + b1 * margin), fitted on the reference (L2 on b1)."""
    from scipy.optimize import minimize

    offset, margin = _logit_conf(P), _vote_margin(P, L)
    hit = (P.argmax(axis=1) == y).astype(float)

    def loss(b: np.ndarray) -> float:
        z = offset + b[0] + b[1] * margin
        return float(np.sum(np.logaddexp(0, z) - hit * z) + b[1] ** 2)

    return Reference(minimize(loss, np.zeros(2), method="BFGS").x)


def experiments(
    P: np.ndarray,
    L: np.ndarray,
    post: dict[str, np.ndarray],
    ref: Reference,
    alternatives: dict[str, LabelFreeEstimator],
) -> dict[str, float]:
    """Alternative accuracy estimates: experiments only, NOT part of the comparison."""
    pred = P.argmax(axis=1)
    rows = np.arange(len(pred))
    covered = (L != -1).any(axis=1)
    out: dict[str, float] = {}
    # 1. the estimator module's claim: LFs alone (no model voter) underestimate
    only = P.copy()
    only[covered] = DawidSkene(cardinality=2, random_state=0).fit(L).predict_proba(L)[covered]
    out["combined, DS without the model voter"] = float(only[rows, pred].mean())
    # 2. combined without the degeneracy guard (what estimate_performance did before issue 6)
    ds = DawidSkene(cardinality=2, random_state=0).fit(np.c_[L, pred])
    raw = P.copy()
    raw[covered] = ds.predict_proba(np.c_[L, pred])[covered]
    out["combined, no degeneracy guard"] = float(raw[rows, pred].mean())
    # 3. the first LF-aware calibration tried (linear in the vote margin, no isotonic step)
    z = _logit_conf(P) + ref.coef[0] + ref.coef[1] * _vote_margin(P, L)
    out["ref: linear LF-aware calibration (logit conf + b0 + b1 * vote margin)"] = float(
        np.mean(1 / (1 + np.exp(-z)))
    )
    # 4. sensitivity of lf_calibrated to its prior scale (fixed at 1 in advance, not tuned)
    for name, est in alternatives.items():
        out[name] = float(est.posterior(P, L)[rows, pred].mean())
    return out


def nannyml_available() -> str | None:
    try:
        import nannyml  # noqa: F401
    except ImportError as exc:
        return f"nannyml is not installed here ({exc}); run `make bench` (.venv-bench)"
    return None


class NannyML:
    """NannyML CBPE fitted once on the reference; one chunk per window."""

    def __init__(self, P_ref: np.ndarray, y_ref: np.ndarray) -> None:
        import nannyml as nml

        self.version = nml.__version__
        self.cbpe = nml.CBPE(
            y_pred_proba="y_pred_proba",
            y_pred="y_pred",
            y_true="y_true",
            problem_type="classification_binary",
            metrics=["accuracy", "f1", "confusion_matrix"],
            chunk_number=1,
        )
        ref = self.frame(P_ref)
        ref["y_true"] = y_ref
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.cbpe.fit(ref)
        self.fit_seconds = time.perf_counter() - t0

    @staticmethod
    def frame(P: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({"y_pred_proba": P[:, SPAM], "y_pred": P.argmax(axis=1)})

    def estimate(self, P: np.ndarray) -> dict[str, float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = self.cbpe.estimate(self.frame(P))
        row = result.filter(period="analysis").to_df().xs("value", axis=1, level=1).iloc[0]
        tn = float(row["true_negative"])
        fp, fn = float(row["false_positive"]), float(row["false_negative"])
        f1_ham = 2 * tn / (2 * tn + fn + fp) if 2 * tn + fn + fp > 0 else 0.0
        return {
            "accuracy": float(row["accuracy"]),
            "f1_spam": float(row["f1"]),
            "f1_macro": (float(row["f1"]) + f1_ham) / 2,
        }


# -- one dataset ---------------------------------------------------------------------------------
def run_source(src: Source, seed: int, args: argparse.Namespace, nml_skip: str | None) -> dict:
    """Train on one seed's split, then estimate every window of every scenario."""
    served = train(src, seed)
    bank_texts, bank_styles = src.synthetic(np.random.default_rng([seed, 2]), 2 * args.size)
    texts = [*src.pool_texts, *bank_texts]
    y = np.r_[src.pool_y, np.full(len(bank_texts), SPAM)]
    P = served.predict(texts)
    L = votes(src.lfs, texts)
    pred = P.argmax(axis=1)
    P_ref = served.predict(src.ref_texts)
    t0 = time.perf_counter()
    reference = LabelFreeEstimator(random_state=seed).fit(P_ref, src.ref_votes, src.ref_y)
    reference_fit_seconds = time.perf_counter() - t0
    ref = fit_reference(P_ref, src.ref_votes, src.ref_y)
    alternatives = {
        f"lf_calibrated, prior_scale={scale}": LabelFreeEstimator(
            prior_scale=scale, n_bootstrap=0, random_state=seed
        ).fit(P_ref, src.ref_votes, src.ref_y)
        for scale in (0.5, 2.0)
    }
    in_bank = np.arange(len(texts)) >= len(src.pool_texts)
    style_of = np.array(["" for _ in src.pool_texts] + bank_styles, dtype=object)
    bank_info = {
        style: {
            "n": int((style_of == style).sum()),
            "model_accuracy": float(np.mean(pred[style_of == style] == SPAM)),
            "mean_p_spam": float(P[style_of == style, SPAM].mean()),
            "lf_coverage": float((L[style_of == style] != -1).any(axis=1).mean()),
            "examples": [t for t, s in zip(bank_texts, bank_styles, strict=True) if s == style][:3],
        }
        for style in dict.fromkeys(bank_styles)
    }
    nml = None if nml_skip else NannyML(P_ref, src.ref_y)
    windows: list[dict[str, Any]] = []
    for s_i, (scenario, draw) in enumerate(scenarios(src, args.size).items()):
        for w in range(args.windows):
            idx = draw(np.random.default_rng([seed, 3, s_i, w]), w)
            Pw, Lw, yw, pw = P[idx], L[idx], y[idx], pred[idx]
            t0 = time.perf_counter()
            est = estimate_performance(Pw, Lw, cardinality=2, reference=reference)
            headline = headline_estimate(est)
            wf_seconds = time.perf_counter() - t0
            est = {**est, "headline": headline}
            post = posteriors(Pw, Lw, reference)
            post["headline"] = post[headline.method]
            record: dict[str, Any] = {
                "seed": seed,
                "scenario": scenario,
                "window": w,
                "rows": int(idx.size),
                "injected": int(in_bank[idx].sum()),
                "lf_coverage": float((Lw != -1).any(axis=1).mean()),
                "truth": true_metrics(yw, pw),
                "weakflow": {},
                "weakflow_headline_method": headline.method,
                "weakflow_ds_degenerate": "lf" in est and est["lf"].note is not None,
                "weakflow_seconds": wf_seconds,
            }
            for name in ESTIMATORS:
                if name not in est:
                    continue
                e = est[name]
                record["weakflow"][name] = {
                    "accuracy": e.accuracy,
                    "f1_macro": e.f1_macro,
                    "f1_spam": f1_spam_expected(post[name], pw),
                }
                # the posterior must be the one estimate_performance's number comes from
                again = float(post[name][np.arange(idx.size), pw].mean())
                assert abs(again - e.accuracy) < 1e-9, (name, again, e.accuracy)
            record["experiments"] = experiments(Pw, Lw, post, ref, alternatives)
            if nml is not None:
                t0 = time.perf_counter()
                record["nannyml"] = nml.estimate(Pw)
                record["nannyml_seconds"] = time.perf_counter() - t0
            windows.append(record)
    print(
        f"{src.name}, seed {seed}: label model {served.info['label_model']}, end model on "
        f"{served.info['end_model_rows']} rows, calibration {served.info['calibration']}, "
        f"reference accuracy {np.mean(P_ref.argmax(axis=1) == src.ref_y):.3f}; "
        f"{len(windows)} windows from a pool of {len(src.pool_texts)} rows",
        flush=True,
    )
    return {
        "dataset": src.name,
        "seed": seed,
        "setup": {**src.notes, **served.info},
        "reference_accuracy": float(np.mean(P_ref.argmax(axis=1) == src.ref_y)),
        "reference_fit": {
            "seconds": reference_fit_seconds,
            "strata": list(STRATA),
            "stratum_rows": reference.stratum_counts_.tolist(),
            "stratum_model_accuracy": [
                None if np.isnan(a) else float(a) for a in reference.stratum_accuracy_
            ],
            "stratum_offsets": reference.offsets_.tolist(),
            "linear_experiment_coef": ref.coef.tolist(),
        },
        "synthetic_spam": bank_info,
        "nannyml_fit_seconds": None if nml is None else nml.fit_seconds,
        "nannyml_recalibrates": None if nml is None else bool(nml.cbpe.needs_calibration),
        "windows": windows,
    }


# -- summary -------------------------------------------------------------------------------------
def estimates_of(w: dict[str, Any], metric: str) -> dict[str, float | None]:
    out: dict[str, float | None] = {
        f"weakflow {n}": w["weakflow"].get(n, {}).get(metric) for n in ESTIMATORS
    }
    out["nannyml cbpe"] = w["nannyml"][metric] if "nannyml" in w else None
    return out


def mae(windows: list[dict[str, Any]], metric: str, tool: str) -> float:
    errs = [
        abs(v - w["truth"][metric])
        for w in windows
        if (v := estimates_of(w, metric).get(tool)) is not None
    ]
    return float(np.mean(errs)) if errs else float("nan")


def bias(windows: list[dict[str, Any]], metric: str, tool: str) -> float:
    errs = [
        v - w["truth"][metric]
        for w in windows
        if (v := estimates_of(w, metric).get(tool)) is not None
    ]
    return float(np.mean(errs)) if errs else float("nan")


TOOLS = (
    "weakflow cbpe",
    "weakflow lf",
    "weakflow combined",
    "weakflow calibrated",
    "weakflow lf_calibrated",
    "weakflow headline",
    "nannyml cbpe",
)
#: The columns of the printed tables (the headline is lf_calibrated here: see the docstring).
SHOWN = (
    "weakflow cbpe",
    "weakflow lf",
    "weakflow combined",
    "weakflow calibrated",
    "weakflow headline",
    "nannyml cbpe",
)


def summarize(windows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"windows": len(windows)}
    for metric in ("accuracy", "f1_spam", "f1_macro"):
        out[metric] = {
            t: {"mae": mae(windows, metric, t), "bias": bias(windows, metric, t)} for t in TOOLS
        }
    exp_names = sorted({k for w in windows for k in w.get("experiments", {})})
    out["experiments_accuracy_mae"] = {
        k: float(np.mean([abs(w["experiments"][k] - w["truth"]["accuracy"]) for w in windows]))
        for k in exp_names
    }
    out["true_accuracy_mean"] = float(np.mean([w["truth"]["accuracy"] for w in windows]))
    out["headline_methods"] = {
        m: sum(w["weakflow_headline_method"] == m for w in windows)
        for m in sorted({w["weakflow_headline_method"] for w in windows})
    }
    out["ds_degenerate_windows"] = sum(bool(w["weakflow_ds_degenerate"]) for w in windows)
    out["lf_coverage_mean"] = float(np.mean([w["lf_coverage"] for w in windows]))
    return out


def _best(acc: dict[str, dict[str, float]]) -> str:
    """The estimator(s) with the lowest accuracy MAE (ties within 1e-4 listed together)."""
    shown = {t: acc[t] for t in SHOWN}
    low = min(v["mae"] for v in shown.values())
    short = {t: t.removeprefix("weakflow ") for t in SHOWN if t.startswith("weakflow")}
    return "=".join(short.get(t, "NannyML") for t, v in shown.items() if v["mae"] - low < 1e-4)


def table(title: str, groups: dict[str, list[dict[str, Any]]]) -> None:
    rows = []
    for name, ws in groups.items():
        s = summarize(ws)
        acc, f1s, f1m = s["accuracy"], s["f1_spam"], s["f1_macro"]
        rows.append([
            name, fmt(s["true_accuracy_mean"]), fmt(s["lf_coverage_mean"], 2),
            *(fmt(acc[t]["mae"], 4) for t in SHOWN),
            fmt(f1s["weakflow headline"]["mae"], 4), fmt(f1s["nannyml cbpe"]["mae"], 4),
            fmt(f1m["weakflow headline"]["mae"], 4), fmt(f1m["nannyml cbpe"]["mae"], 4),
            _best(acc),
        ])  # fmt: skip
    print_table(
        title,
        [
            "scenario", "true acc", "LF cov", "acc: wf cbpe", "wf lf", "wf combined",
            "wf calibrated", "WF HEADLINE", "NannyML", "F1 spam: wf headline", "NannyML",
            "F1 macro: wf headline", "NannyML", "best",
        ],
        rows,
    )  # fmt: skip


def experiment_table(per_dataset: dict[str, Any]) -> None:
    """Accuracy MAE of the experimental rules next to the compared estimators."""
    names = sorted(
        {k for v in per_dataset.values() for k in v["overall"]["experiments_accuracy_mae"]}
    )
    rows = []
    for d, v in per_dataset.items():
        acc = v["overall"]["accuracy"]
        for label, tool in (
            ("NannyML CBPE", "nannyml cbpe"),
            ("weakflow cbpe", "weakflow cbpe"),
            ("weakflow combined (the headline before issue 6)", "weakflow combined"),
            ("weakflow headline (lf_calibrated, prior_scale=1)", "weakflow headline"),
        ):
            rows.append([d, label, fmt(acc[tool]["mae"], 4)])
        exp = v["overall"]["experiments_accuracy_mae"]
        rows += [[d, f"experiment: {n}", fmt(exp[n], 4)] for n in names]
    print_table(
        "Experiments (NOT part of the comparison): accuracy MAE of alternative rules, all windows",
        ["dataset", "estimator", "accuracy MAE"],
        rows,
    )


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, float):
            out[prefix + key] = round(value, 5)
        elif isinstance(value, list):
            out[prefix + key] = [round(v, 5) if isinstance(v, float) else v for v in value]
        else:
            out[prefix + key] = value
    return out


def columnar(windows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Per-window numbers as one list per field ("weakflow.combined.accuracy": [...]): the same
    numbers as a list of records, in a tenth of the JSON."""
    flat = [_flatten(w) for w in windows]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    return {k: [f.get(k) for f in flat] for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULTS["datasets"]))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(DEFAULTS["seeds"]))
    parser.add_argument(
        "--windows", type=int, default=DEFAULTS["windows"], help="windows per scenario and seed"
    )
    parser.add_argument("--window-size", dest="size", type=int, default=DEFAULTS["size"])
    parser.add_argument("--skip-nannyml", action="store_true")
    args = parser.parse_args()
    load = load_average()
    root = shared_root() / "data" / "wrench"
    loaders = {"youtube": load_youtube_source, "sms": load_sms_source}
    present = [d for d in args.datasets if d in loaders and (root / d).is_dir()]
    if not present:
        print(f"skipped: WRENCH data {root}/{{youtube,sms}} not found (set WEAKFLOW_SHARED).")
        sys.exit(0)
    missing = sorted(set(args.datasets) - set(present))
    if missing:
        print(f"not run (no such folder under {root}, or no setup for it): {', '.join(missing)}")
    nml_skip = "--skip-nannyml" if args.skip_nannyml else nannyml_available()
    runs = [
        run_source(loaders[name](root / name, seed), seed, args, nml_skip)
        for name in present
        for seed in args.seeds
    ]

    all_windows: list[dict[str, Any]] = []
    per_dataset: dict[str, Any] = {}
    for name in present:
        mine = [r for r in runs if r["dataset"] == name]
        ws = [w for r in mine for w in r["windows"]]
        all_windows += ws
        by_scenario: dict[str, list[dict[str, Any]]] = {}
        for w in ws:
            by_scenario.setdefault(w["scenario"], []).append(w)
        table(
            f"{name}: accuracy / F1 MAE of label-free estimates ({len(args.seeds)} seeds x "
            f"{args.windows} windows x {args.size} rows per scenario)",
            {**by_scenario, "overall": ws},
        )
        wf_s = median([w["weakflow_seconds"] for w in ws])
        nml_s = median([w["nannyml_seconds"] for w in ws if "nannyml_seconds" in w])
        nml_fit = median([r["nannyml_fit_seconds"] for r in mine if r["nannyml_fit_seconds"]])
        per_dataset[name] = {
            "overall": summarize(ws),
            "scenarios": {k: summarize(v) for k, v in by_scenario.items()},
            "per_seed": {r["seed"]: summarize(r["windows"]) for r in mine},
            "median_seconds": {
                "weakflow_estimate_performance_per_window": wf_s,
                "weakflow_reference_fit": median([r["reference_fit"]["seconds"] for r in mine]),
                "nannyml_estimate_per_window": nml_s,
                "nannyml_fit": nml_fit,
            },
        }
        per_seed = per_dataset[name]["per_seed"]
        print(
            "accuracy MAE per seed, weakflow headline / NannyML: "
            + ", ".join(
                f"{seed}: {fmt(v['accuracy']['weakflow headline']['mae'], 4)} / "
                f"{fmt(v['accuracy']['nannyml cbpe']['mae'], 4)}"
                for seed, v in per_seed.items()
            )
        )
        print(
            f"median seconds per window: weakflow {fmt(wf_s, 4)} (estimate_performance: 5 "
            f"estimators, 200-draw intervals), NannyML {fmt(nml_s, 4)} (estimate; fit on the "
            f"reference {fmt(nml_fit, 3)})"
        )
    experiment_table(per_dataset)

    overall = summarize(all_windows)
    goals: dict[str, Any] = {}
    if nml_skip is None:
        ours = overall["accuracy"]["weakflow headline"]["mae"]
        theirs = overall["accuracy"]["nannyml cbpe"]["mae"]
        goals = {
            "metric": "accuracy MAE over all windows of all datasets and seeds",
            "weakflow_headline": "lf_calibrated (headline_estimate: labelled reference + LF votes)",
            "weakflow_headline_mae": ours,
            "nannyml_cbpe_mae": theirs,
            "met": ours < theirs,
            "per_dataset_met": {
                d: v["overall"]["accuracy"]["weakflow headline"]["mae"]
                < v["overall"]["accuracy"]["nannyml cbpe"]["mae"]
                for d, v in per_dataset.items()
            },
        }
        print(
            f"goal: weakflow headline accuracy MAE < NannyML CBPE's over all "
            f"{len(all_windows)} windows: {ours:.4f} vs {theirs:.4f} -> "
            f"{'MET' if goals['met'] else 'NOT MET'}"
        )
    else:
        print(f"NannyML skipped: {nml_skip}")
    info = machine_info(load)
    for dist in ("nannyml", "scikit-learn", "scipy"):
        info["versions"][dist] = _dist_version(dist)
    # Other settings go to label_free-<seeds>-<windows>x<size>[-<datasets>].json, which git
    # ignores, so a quick run never overwrites the published numbers.
    name = f"label_free-{'_'.join(map(str, args.seeds))}-{args.windows}x{args.size}"
    if present != list(DEFAULTS["datasets"]):
        name += "-" + "_".join(present)
    config = {"datasets": present, "seeds": args.seeds, "windows": args.windows, "size": args.size}
    default = config == {k: list(v) if isinstance(v, tuple) else v for k, v in DEFAULTS.items()}
    path = write_results(
        "label_free" if default else name,
        {
            "benchmark": "label_free",
            "seeds": args.seeds,
            "windows_per_scenario_and_seed": args.windows,
            "window_size": args.size,
            "lf_votes": (
                "The same LFs vote on every row (train, valid, pool, injected texts) instead of "
                "WRENCH's fixed L: youtube = weakflow.labeling.examples.youtube_spam_lfs(), sms = "
                "the 73 ImplyLoss regex rules from the dataset's readme.txt as regex_lf."
            ),
            "f1_note": (
                "f1_spam = F1 of the spam class (NannyML's binary f1); NannyML's f1_macro is "
                "derived from its estimated confusion matrix."
            ),
            "nannyml_skipped": nml_skip,
            "overall": overall,
            "goals": goals,
            "datasets": per_dataset,
            "runs": [{**r, "windows": columnar(r["windows"])} for r in runs],
            "machine": info,
        },
    )
    print(f"results: {path}")


def _dist_version(dist: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
