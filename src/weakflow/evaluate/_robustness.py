"""Adversarial robustness: how the end model, the label model and the LFs fare on perturbed inputs.

A spammer who learns that ``subscribe`` is flagged writes ``sub scribe``, ``subscrіbe`` (a
Cyrillic ``і``) or ``follow`` instead. :func:`evaluate_robustness` perturbs every test row with
each attack below, runs the models (and the labeling functions) on the perturbed rows, and
reports for each attack the accuracy, the drop from the clean accuracy and the *flip rate*
(share of rows whose predicted label changed), plus, per LF, how many of its votes disappeared
(the LF now abstains) or changed class. Keyword and regex LFs match exact characters, so they
are the easiest to evade; the numbers say by how much.

Text attacks (each touches ``rate`` of the eligible units of every text, at least one when the
text has any, so every text with something to perturb is perturbed):

``char_swap``
    Swap two adjacent letters (``subscribe`` -> ``subsrcibe``): the typo attack.
``homoglyph``
    Replace a Latin letter by a Cyrillic or Greek one that looks the same (``о`` U+043E for
    ``o``): the text reads the same to a person, its bytes differ. Pairs from Unicode's
    confusables list (UTS #39, ``confusables.txt``); see :data:`HOMOGLYPHS`.
``spacing``
    Insert a space inside a word (``sub scribe``) or remove one between two words
    (``checkout``), at random.
``case``
    Flip the case of letters (``SuBscribe``): most text models and keyword LFs ignore case, so
    this attack is a baseline that should cost little.
``synonym``
    Replace a word by a synonym from a small built-in table (:data:`SYNONYMS`, written for this
    module: common English words, no download).

Numeric attack (tabular features):

``noise``
    Add uniform noise in ``[-noise * sd, +noise * sd]`` to every value of every numeric feature
    column, ``sd`` being the column's standard deviation (on the train rows when given, else on
    the rows perturbed). Missing values stay missing.

Every attack draws from its own :class:`numpy.random.Generator` seeded by ``(seed, attack)``, so
a run is reproducible and adding or removing one attack leaves the others' perturbations
unchanged.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from weakflow.errors import SchemaError

__all__ = [
    "ATTACKS",
    "ATTACK_DESCRIPTIONS",
    "HOMOGLYPHS",
    "NUMERIC_ATTACKS",
    "SYNONYMS",
    "TEXT_ATTACKS",
    "attack_rng",
    "evaluate_robustness",
    "perturb_frame",
    "perturb_numeric",
    "perturb_texts",
    "robustness_svg",
]

TEXT_ATTACKS: Final[tuple[str, ...]] = ("char_swap", "homoglyph", "spacing", "case", "synonym")
"""Attacks on the text column."""
NUMERIC_ATTACKS: Final[tuple[str, ...]] = ("noise",)
"""Attacks on the numeric feature columns."""
ATTACKS: Final[tuple[str, ...]] = TEXT_ATTACKS + NUMERIC_ATTACKS
"""Every attack, in report order (the names ``robustness.<attack>.<metric>`` gates use)."""

ATTACK_DESCRIPTIONS: Final[dict[str, str]] = {
    "char_swap": "two adjacent letters swapped (typos)",
    "homoglyph": "Latin letters replaced by Cyrillic/Greek lookalikes",
    "spacing": "a space inserted inside a word or removed between two",
    "case": "letter case flipped",
    "synonym": "words replaced by synonyms",
    "noise": "bounded uniform noise on numeric features (x column SD)",
}

#: Latin letter -> a Cyrillic or Greek letter that renders (almost) identically. Every pair is
#: listed in Unicode's confusables data (UTS #39, confusables.txt).
HOMOGLYPHS: Final[dict[str, str]] = {
    "a": "\u0430",  # CYRILLIC SMALL LETTER A
    "c": "\u0441",  # CYRILLIC SMALL LETTER ES
    "d": "\u0501",  # CYRILLIC SMALL LETTER KOMI DE
    "e": "\u0435",  # CYRILLIC SMALL LETTER IE
    "h": "\u04bb",  # CYRILLIC SMALL LETTER SHHA
    "i": "\u0456",  # CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I
    "j": "\u0458",  # CYRILLIC SMALL LETTER JE
    "o": "\u043e",  # CYRILLIC SMALL LETTER O
    "p": "\u0440",  # CYRILLIC SMALL LETTER ER
    "q": "\u051b",  # CYRILLIC SMALL LETTER QA
    "s": "\u0455",  # CYRILLIC SMALL LETTER DZE
    "v": "\u03bd",  # GREEK SMALL LETTER NU
    "w": "\u051d",  # CYRILLIC SMALL LETTER WE
    "x": "\u0445",  # CYRILLIC SMALL LETTER HA
    "y": "\u0443",  # CYRILLIC SMALL LETTER U
    "A": "\u0410",  # CYRILLIC CAPITAL LETTER A
    "B": "\u0412",  # CYRILLIC CAPITAL LETTER VE
    "C": "\u0421",  # CYRILLIC CAPITAL LETTER ES
    "E": "\u0415",  # CYRILLIC CAPITAL LETTER IE
    "H": "\u041d",  # CYRILLIC CAPITAL LETTER EN
    "I": "\u0406",  # CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I
    "J": "\u0408",  # CYRILLIC CAPITAL LETTER JE
    "K": "\u041a",  # CYRILLIC CAPITAL LETTER KA
    "M": "\u041c",  # CYRILLIC CAPITAL LETTER EM
    "N": "\u039d",  # GREEK CAPITAL LETTER NU
    "O": "\u041e",  # CYRILLIC CAPITAL LETTER O
    "P": "\u0420",  # CYRILLIC CAPITAL LETTER ER
    "S": "\u0405",  # CYRILLIC CAPITAL LETTER DZE
    "T": "\u0422",  # CYRILLIC CAPITAL LETTER TE
    "X": "\u0425",  # CYRILLIC CAPITAL LETTER HA
    "Y": "\u04ae",  # CYRILLIC CAPITAL LETTER STRAIGHT U
    "Z": "\u0396",  # GREEK CAPITAL LETTER ZETA
}

#: Common English words and near-synonyms that keep a comment's meaning (written for weakflow,
#: not taken from a thesaurus). Keys are lower case; a replacement keeps the word's case.
SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "amazing": ("incredible", "stunning"),
    "awesome": ("fantastic", "terrific"),
    "bad": ("poor", "awful"),
    "beautiful": ("lovely", "gorgeous"),
    "best": ("finest", "greatest"),
    "big": ("large", "huge"),
    "buy": ("purchase", "get"),
    "cash": ("money", "dough"),
    "channel": ("page", "profile"),
    "cheap": ("inexpensive", "affordable"),
    "check": ("look at", "see"),
    "click": ("tap", "press"),
    "cool": ("neat", "great"),
    "earn": ("make", "gain"),
    "easy": ("simple", "effortless"),
    "fast": ("quick", "rapid"),
    "free": ("complimentary", "gratis"),
    "friend": ("buddy", "pal"),
    "friends": ("buddies", "pals"),
    "funny": ("hilarious", "amusing"),
    "get": ("obtain", "receive"),
    "gift": ("present", "reward"),
    "good": ("fine", "nice"),
    "great": ("excellent", "superb"),
    "guys": ("folks", "people"),
    "happy": ("glad", "joyful"),
    "hate": ("dislike", "loathe"),
    "help": ("assist", "support"),
    "hi": ("hello", "hey"),
    "hello": ("hi", "greetings"),
    "hey": ("hi", "hello"),
    "join": ("enter", "sign up for"),
    "like": ("enjoy", "dig"),
    "link": ("url", "address"),
    "listen": ("hear", "tune in"),
    "love": ("adore", "like"),
    "lovely": ("beautiful", "charming"),
    "make": ("create", "produce"),
    "money": ("cash", "funds"),
    "music": ("tunes", "songs"),
    "new": ("fresh", "latest"),
    "nice": ("pleasant", "good"),
    "now": ("today", "right away"),
    "old": ("former", "previous"),
    "page": ("site", "profile"),
    "people": ("folks", "everyone"),
    "please": ("kindly", "pls"),
    "plz": ("pls", "kindly"),
    "popular": ("famous", "well-known"),
    "really": ("truly", "seriously"),
    "sad": ("unhappy", "gloomy"),
    "see": ("watch", "view"),
    "share": ("spread", "pass on"),
    "site": ("website", "page"),
    "small": ("little", "tiny"),
    "song": ("track", "tune"),
    "songs": ("tracks", "tunes"),
    "start": ("begin", "launch"),
    "stupid": ("dumb", "silly"),
    "subscribe": ("sign up", "follow"),
    "support": ("back", "help"),
    "thanks": ("thank you", "cheers"),
    "video": ("clip", "vid"),
    "videos": ("clips", "vids"),
    "view": ("watch", "play"),
    "views": ("plays", "watches"),
    "visit": ("go to", "drop by"),
    "want": ("wish", "would like"),
    "watch": ("view", "see"),
    "website": ("site", "web page"),
    "win": ("get", "take home"),
    "wonderful": ("marvelous", "splendid"),
    "world": ("planet", "globe"),
}

#: A fixed sentence every attack is shown on in the report (never a row of the user's data).
DEMO_TEXT: Final = "Please subscribe to my channel and check out my new video, it is free!"

_WORD_RE: Final = re.compile(r"[A-Za-z]+")


def attack_rng(seed: int, attack: str) -> np.random.Generator:
    """The generator of one attack: seeded by ``seed`` and the attack's name (CRC-32)."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(attack.encode())])


def _count(n: int, rate: float) -> int:
    """How many of ``n`` eligible units to touch: ``rate * n`` rounded, at least one."""
    if n == 0 or rate <= 0:
        return 0
    return min(n, max(1, math.floor(rate * n + 0.5)))


def _pick(rng: np.random.Generator, n: int, rate: float) -> list[int]:
    """Sorted indices of the units to touch among ``n``."""
    m = _count(n, rate)
    if m == 0:
        return []
    if m == n:
        return list(range(n))
    return sorted(rng.choice(n, size=m, replace=False).tolist())


def _char_swap(text: str, rate: float, rng: np.random.Generator) -> str:
    cands = [
        i
        for i in range(len(text) - 1)
        if text[i].isalpha() and text[i + 1].isalpha() and text[i] != text[i + 1]
    ]
    chars = list(text)
    used: set[int] = set()
    for j in _pick(rng, len(cands), rate):
        i = cands[j]
        if i in used or i + 1 in used:
            continue
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
        used.update((i, i + 1))
    return "".join(chars)


def _homoglyph(text: str, rate: float, rng: np.random.Generator) -> str:
    cands = [i for i, ch in enumerate(text) if ch in HOMOGLYPHS]
    chars = list(text)
    for j in _pick(rng, len(cands), rate):
        chars[cands[j]] = HOMOGLYPHS[chars[cands[j]]]
    return "".join(chars)


def _case(text: str, rate: float, rng: np.random.Generator) -> str:
    cands = [
        i
        for i, ch in enumerate(text)
        if ch.isalpha() and ch.swapcase() != ch and len(ch.swapcase()) == 1
    ]
    chars = list(text)
    for j in _pick(rng, len(cands), rate):
        chars[cands[j]] = chars[cands[j]].swapcase()
    return "".join(chars)


def _spacing(text: str, rate: float, rng: np.random.Generator) -> str:
    # (position, insert?): a space inserted before ``position`` (inside a word), or the space at
    # ``position`` (between two words) removed
    cands: list[tuple[int, bool]] = []
    for i in range(1, len(text)):
        if text[i - 1].isalnum() and text[i].isalnum():
            cands.append((i, True))
        elif (
            text[i] == " " and i + 1 < len(text) and text[i - 1].isalnum() and text[i + 1].isalnum()
        ):
            cands.append((i, False))
    out = text
    for j in reversed(_pick(rng, len(cands), rate)):  # right to left: earlier ones stay valid
        i, insert = cands[j]
        out = out[:i] + " " + out[i:] if insert else out[:i] + out[i + 1 :]
    return out


def _match_case(word: str, replacement: str) -> str:
    if word.isupper() and len(word) > 1:
        return replacement.upper()
    if word[0].isupper():
        return replacement[0].upper() + replacement[1:]
    return replacement


def _synonym(text: str, rate: float, rng: np.random.Generator) -> str:
    cands = [m for m in _WORD_RE.finditer(text) if m.group().lower() in SYNONYMS]
    if not cands:
        return text
    out = text
    for j in reversed(_pick(rng, len(cands), rate)):
        m = cands[j]
        options = SYNONYMS[m.group().lower()]
        choice = options[int(rng.integers(len(options)))]
        out = out[: m.start()] + _match_case(m.group(), choice) + out[m.end() :]
    return out


_TEXT_FUNCS: Final[dict[str, Callable[[str, float, np.random.Generator], str]]] = {
    "char_swap": _char_swap,
    "homoglyph": _homoglyph,
    "spacing": _spacing,
    "case": _case,
    "synonym": _synonym,
}


def _check_rate(rate: float, name: str = "rate") -> float:
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise SchemaError(f"{name} must be a number from 0 to 1, got {rate!r}.")
    return float(rate)


def perturb_texts(
    texts: Sequence[Any], attack: str, *, rate: float = 0.1, rng: np.random.Generator
) -> list[str]:
    """Each text perturbed by ``attack`` (one of :data:`TEXT_ATTACKS`); see the module docstring.

    Missing values (None, NaN) come back as empty strings, as the end model reads them.

    Examples
    --------
    >>> perturb_texts(["subscribe"], "homoglyph", rate=0.5, rng=attack_rng(0, "homoglyph"))
    ['subѕсribе']
    """
    if attack not in _TEXT_FUNCS:
        raise SchemaError(f"Unknown text attack {attack!r}; text attacks: {TEXT_ATTACKS}.")
    rate = _check_rate(rate)
    func = _TEXT_FUNCS[attack]
    out = []
    for t in texts:
        text = "" if t is None or (isinstance(t, float) and math.isnan(t)) else str(t)
        out.append(func(text, rate, rng) if text else text)
    return out


def perturb_numeric(
    values: npt.ArrayLike, *, noise: float, sd: float, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """``values`` plus uniform noise in ``[-noise * sd, noise * sd]`` (NaN stays NaN)."""
    arr = np.asarray(values, dtype=np.float64)
    if not (math.isfinite(noise) and noise >= 0):
        raise SchemaError(f"noise must be a finite number >= 0, got {noise!r}.")
    bound = noise * (sd if math.isfinite(sd) else 0.0)
    out: npt.NDArray[np.float64] = arr + rng.uniform(-bound, bound, size=arr.shape)
    return out


def _numeric_columns(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    return [
        c
        for c in columns
        if c in frame.columns
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]


def perturb_frame(
    frame: pd.DataFrame,
    attack: str,
    *,
    text_column: str | None = None,
    feature_columns: Sequence[str] = (),
    rate: float = 0.1,
    noise: float = 0.1,
    seed: int = 0,
    scales: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """A copy of ``frame`` with ``attack`` applied: to ``text_column`` for a text attack, to the
    numeric ``feature_columns`` for ``noise`` (with ``scales[column]`` as the SD when given).

    Raises
    ------
    SchemaError
        An unknown attack, or a frame without the column(s) the attack perturbs.
    """
    if attack not in ATTACKS:
        raise SchemaError(f"Unknown attack {attack!r}; attacks: {', '.join(ATTACKS)}.")
    rng = attack_rng(seed, attack)
    out = frame.copy()
    if attack in TEXT_ATTACKS:
        if text_column is None or text_column not in frame.columns:
            raise SchemaError(
                f"The {attack} attack perturbs the text column, but the data has no column "
                f"{text_column!r}."
            )
        out[text_column] = perturb_texts(frame[text_column].tolist(), attack, rate=rate, rng=rng)
        return out
    cols = _numeric_columns(frame, feature_columns)
    if not cols:
        raise SchemaError("The noise attack needs numeric feature columns; the data has none.")
    for col in cols:
        sd = (scales or {}).get(col)
        if sd is None:
            sd = float(np.nanstd(frame[col].to_numpy(dtype=np.float64))) if len(frame) else 0.0
        out[col] = perturb_numeric(
            frame[col].to_numpy(dtype=np.float64), noise=noise, sd=sd, rng=rng
        )
    return out


def applicable_attacks(
    frame: pd.DataFrame,
    attacks: Sequence[str],
    *,
    text_column: str | None,
    feature_columns: Sequence[str],
) -> tuple[list[str], dict[str, str]]:
    """(attacks that apply to ``frame``, {skipped attack: why})."""
    run: list[str] = []
    skipped: dict[str, str] = {}
    has_text = text_column is not None and text_column in frame.columns
    has_numbers = bool(_numeric_columns(frame, feature_columns))
    for attack in attacks:
        if attack not in ATTACKS:
            raise SchemaError(f"Unknown attack {attack!r}; attacks: {', '.join(ATTACKS)}.")
        if attack in TEXT_ATTACKS and not has_text:
            skipped[attack] = "the data has no text column"
        elif attack in NUMERIC_ATTACKS and not has_numbers:
            skipped[attack] = "the data has no numeric feature columns"
        elif attack not in run:
            run.append(attack)
    return run, skipped


# -- evaluation ---------------------------------------------------------------------------------


def _accuracy(y: npt.NDArray[np.int64], pred: npt.NDArray[np.int64]) -> float | None:
    return float(np.mean(pred == y)) if len(y) else None


def lf_majority(votes: npt.NDArray[np.int64], k: int) -> npt.NDArray[np.int64]:
    """Each row's strict majority vote, -1 when the LFs all abstain or tie."""
    counts = np.stack([(votes == c).sum(axis=1) for c in range(k)], axis=1)
    top = counts.max(axis=1)
    unique = (counts == top[:, None]).sum(axis=1) == 1
    return np.where((top > 0) & unique, counts.argmax(axis=1), -1).astype(np.int64)


def _majority_stats(
    y: npt.NDArray[np.int64], L: npt.NDArray[np.int64], k: int
) -> dict[str, float | None]:
    vote = lf_majority(L, k)
    has = vote >= 0
    return {
        "accuracy": float(np.mean(vote[has] == y[has])) if has.any() else None,
        "coverage": float(np.mean(has)) if len(y) else None,
    }


def _lf_changes(
    clean: npt.NDArray[np.int64], attacked: npt.NDArray[np.int64], names: Sequence[str]
) -> list[dict[str, Any]]:
    rows = []
    for j, name in enumerate(names):
        before, after = clean[:, j], attacked[:, j]
        voted = before != -1
        votes = int(voted.sum())
        lost = int((voted & (after == -1)).sum())
        changed = int((voted & (after != -1) & (after != before)).sum())
        gained = int(((~voted) & (after != -1)).sum())
        rows.append(
            {
                "name": str(name),
                "votes": votes,
                "lost": lost,
                "changed": changed,
                "gained": gained,
                "lost_share": lost / votes if votes else None,
                "changed_share": changed / votes if votes else None,
            }
        )
    return rows


def evaluate_robustness(
    frame: pd.DataFrame,
    y: npt.ArrayLike,
    *,
    predict: Callable[[pd.DataFrame], npt.ArrayLike],
    votes: Callable[[pd.DataFrame], npt.ArrayLike] | None = None,
    label_model: Callable[[npt.NDArray[np.int64]], npt.ArrayLike] | None = None,
    lf_names: Sequence[str] = (),
    cardinality: int,
    text_column: str | None = None,
    feature_columns: Sequence[str] = (),
    attacks: Sequence[str] = ATTACKS,
    rate: float = 0.1,
    noise: float = 0.1,
    seed: int = 0,
    scales: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Accuracy and flip rates under each attack, for the end model, the label model and the LFs.

    Every attacked copy of ``frame`` is stacked into one frame, so ``predict`` and ``votes``
    are called once each (per call overhead, not rows, dominates on a few hundred rows).

    Parameters
    ----------
    frame : DataFrame
        The rows to attack (the test set), as the LFs read them.
    y : array of int
        Their gold labels.
    predict : callable
        ``frame -> labels`` (n,) or probabilities (n, k) of the end model.
    votes : callable, optional
        ``frame -> label matrix`` (n, m) of the LFs; without it, no LF or label model numbers.
    label_model : callable, optional
        ``label matrix -> labels`` (or probabilities) of the label model.
    lf_names : sequence of str
        The LFs' names, in the label matrix's column order.
    cardinality : int
        Number of classes.
    text_column, feature_columns
        What the attacks perturb (see :func:`perturb_frame`).
    attacks : sequence of str
        Which of :data:`ATTACKS` to run; those the data cannot take are listed under
        ``skipped`` with the reason.
    rate, noise, seed, scales
        See :func:`perturb_frame`.

    Returns
    -------
    dict
        ``{"n", "rate", "noise", "seed", "clean": {...}, "attacks": {attack: {...}},
        "skipped": {attack: why}, "summary": {...}}``; each attack has ``rows_changed`` (share
        of rows whose input the attack changed), ``end_model``/``label_model``
        (``accuracy``, ``accuracy_drop``, ``flip_rate``), ``lf_majority`` (``accuracy`` on the
        rows with a strict majority, ``coverage``), ``lf_votes_lost`` (share of all LF votes
        that became abstentions), ``lfs`` (per LF: ``votes`` on clean rows, ``lost``,
        ``changed``, ``gained``) and ``example`` (a fixed sentence before and after).
    """
    rate = _check_rate(rate, "robustness rate")
    if not (isinstance(noise, int | float) and math.isfinite(noise) and noise >= 0):
        raise SchemaError(f"robustness noise must be a finite number >= 0, got {noise!r}.")
    yy = np.asarray(y, dtype=np.int64)
    n = len(frame)
    if yy.shape != (n,):
        raise SchemaError(f"y has {yy.size} labels for {n} rows; they must match.")
    run, skipped = applicable_attacks(
        frame, attacks, text_column=text_column, feature_columns=feature_columns
    )
    base = frame.reset_index(drop=True)
    parts = [base]
    changed: dict[str, float] = {}
    for attack in run:
        attacked = perturb_frame(
            base, attack, text_column=text_column, feature_columns=feature_columns,
            rate=rate, noise=noise, seed=seed, scales=scales,
        )  # fmt: skip
        cols = [text_column] if attack in TEXT_ATTACKS else _numeric_columns(base, feature_columns)
        diff = np.zeros(n, dtype=bool)
        for col in cols:
            before, after = base[col].to_numpy(), attacked[col].to_numpy()
            diff |= ~((before == after) | (pd.isna(before) & pd.isna(after)))
        changed[attack] = float(diff.mean()) if n else 0.0
        parts.append(attacked)
    stacked = pd.concat(parts, ignore_index=True)

    def labels(out: npt.ArrayLike) -> npt.NDArray[np.int64]:
        arr = np.asarray(out)
        if arr.ndim == 2:
            arr = arr.argmax(axis=1)
        return arr.astype(np.int64)

    pred_all = labels(predict(stacked))
    L_all = None if votes is None else np.asarray(votes(stacked), dtype=np.int64)
    lm_all = None
    if L_all is not None and label_model is not None:
        lm_all = labels(label_model(L_all))

    def block(arr: npt.NDArray[Any], i: int) -> npt.NDArray[Any]:
        return arr[i * n : (i + 1) * n]

    clean_pred = block(pred_all, 0)
    clean: dict[str, Any] = {"end_model": {"accuracy": _accuracy(yy, clean_pred)}}
    if lm_all is not None:
        clean["label_model"] = {"accuracy": _accuracy(yy, block(lm_all, 0))}
    if L_all is not None:
        clean["lf_majority"] = _majority_stats(yy, block(L_all, 0), cardinality)
        clean["lf_votes"] = int((block(L_all, 0) != -1).sum())

    results: dict[str, Any] = {}
    for i, attack in enumerate(run, start=1):
        pred = block(pred_all, i)
        acc = _accuracy(yy, pred)
        entry: dict[str, Any] = {
            "kind": "text" if attack in TEXT_ATTACKS else "numeric",
            "description": ATTACK_DESCRIPTIONS[attack],
            "rows_changed": changed[attack],
            "end_model": _scores(yy, pred, clean_pred, acc),
        }
        if lm_all is not None:
            lm_pred = block(lm_all, i)
            entry["label_model"] = _scores(yy, lm_pred, block(lm_all, 0), _accuracy(yy, lm_pred))
        if L_all is not None:
            L_clean, L_att = block(L_all, 0), block(L_all, i)
            entry["lf_majority"] = _majority_stats(yy, L_att, cardinality)
            names = list(lf_names) or [f"lf_{j}" for j in range(L_all.shape[1])]
            entry["lfs"] = _lf_changes(L_clean, L_att, names)
            total = int((L_clean != -1).sum())
            lost = sum(r["lost"] for r in entry["lfs"])
            entry["lf_votes_lost"] = lost / total if total else None
        if attack in TEXT_ATTACKS:
            demo = perturb_texts([DEMO_TEXT], attack, rate=rate, rng=attack_rng(seed, "demo"))
            entry["example"] = {"before": DEMO_TEXT, "after": demo[0]}
        results[attack] = entry
    return {
        "n": n,
        "rate": rate,
        "noise": noise,
        "seed": int(seed),
        "attacks_run": run,
        "clean": clean,
        "attacks": results,
        "skipped": skipped,
        "summary": _summary(results),
    }


def _scores(
    y: npt.NDArray[np.int64],
    pred: npt.NDArray[np.int64],
    clean: npt.NDArray[np.int64],
    acc: float | None,
) -> dict[str, float | None]:
    clean_acc = _accuracy(y, clean)
    return {
        "accuracy": acc,
        "accuracy_drop": None if acc is None or clean_acc is None else clean_acc - acc,
        "flip_rate": float(np.mean(pred != clean)) if len(y) else None,
    }


def _summary(results: Mapping[str, Any]) -> dict[str, Any]:
    """Worst case over the attacks (what the aggregate gates compare)."""

    def values(model: str, key: str) -> dict[str, float]:
        return {
            a: v
            for a, r in results.items()
            if isinstance(v := (r.get(model) or {}).get(key), int | float)
        }

    out: dict[str, Any] = {}
    acc = values("end_model", "accuracy")
    if acc:
        worst = min(acc, key=lambda a: (acc[a], a))
        out["accuracy_min"] = acc[worst]
        out["worst_attack"] = worst
    for key, name in (("flip_rate", "flip_rate_max"), ("accuracy_drop", "accuracy_drop_max")):
        vals = values("end_model", key)
        if vals:
            out[name] = max(vals.values())
    lm = values("label_model", "accuracy")
    if lm:
        out["label_model_accuracy_min"] = min(lm.values())
    lost = {a: r["lf_votes_lost"] for a, r in results.items() if r.get("lf_votes_lost") is not None}
    if lost:
        out["lf_votes_lost_max"] = max(lost.values())
    return out


# -- plot -------------------------------------------------------------------------------------


def robustness_svg(result: Mapping[str, Any]) -> Any:
    """A dot plot of accuracy on the clean and the attacked test rows: end model, label model and
    LF majority, one row per attack (markers differ in shape as well as color)."""
    from weakflow.evaluate._plots import BLUE, ORANGE, VERMILLION, _figure, _to_svg

    attacks = [a for a in result.get("attacks") or {} if isinstance(a, str)]
    clean = result.get("clean") or {}
    rows = ["clean", *attacks]

    def acc(model: str, row: str) -> float | None:
        src = clean if row == "clean" else result["attacks"][row]
        v = (src.get(model) or {}).get("accuracy")
        return float(v) if isinstance(v, int | float) and math.isfinite(v) else None

    series = [
        (model, label, color, marker)
        for model, label, color, marker in (
            ("end_model", "end model", BLUE, "o"),
            ("label_model", "label model", ORANGE, "s"),
            ("lf_majority", "LF majority (rows with a majority)", VERMILLION, "D"),
        )
        if any(acc(model, r) is not None for r in rows)
    ]
    fig = _figure(7.5, 1.4 + 0.32 * len(rows))
    ax = fig.add_subplot()
    y = np.arange(len(rows))
    shown: list[float] = []
    for model, label, color, marker in series:
        pts = [(i, v) for i, r in enumerate(rows) if (v := acc(model, r)) is not None]
        shown += [v for _, v in pts]
        ax.plot(
            [v for _, v in pts],
            [i for i, _ in pts],
            linestyle="none",
            marker=marker,
            markersize=7,
            color=color,
            markeredgecolor="black",
            markeredgewidth=0.5,
            label=label,
        )
    clean_end = acc("end_model", "clean")
    if clean_end is not None:
        ax.axvline(clean_end, color=BLUE, linestyle="--", linewidth=0.8)
    ax.set_yticks(y, rows)
    ax.invert_yaxis()
    low = min(shown, default=0.0)
    ax.set_xlim(max(0.0, math.floor((low - 0.02) * 20) / 20), 1.0)
    ax.set_xlabel("accuracy on the test set (dashed: end model, clean)")
    ax.grid(axis="both", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=len(series), fontsize=8, frameon=False)
    desc = "; ".join(
        f"{r}: "
        + ", ".join(f"{lab} {v:.3f}" for m, lab, _, _ in series if (v := acc(m, r)) is not None)
        for r in rows
    )
    return _to_svg(fig, key="robustness", title="Accuracy under attack", desc=desc)
