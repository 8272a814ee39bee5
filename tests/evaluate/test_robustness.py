"""Adversarial robustness: each attack perturbs as documented, reproducibly, and the evaluation
counts accuracy, flips and lost LF votes correctly; gates on the numbers pass and fail."""

from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np
import pandas as pd
import pytest

from weakflow.errors import ConfigError, SchemaError
from weakflow.evaluate import (
    ATTACKS,
    HOMOGLYPHS,
    SYNONYMS,
    evaluate_robustness,
    perturb_frame,
    perturb_texts,
)
from weakflow.evaluate._robustness import NUMERIC_ATTACKS, TEXT_ATTACKS, attack_rng, lf_majority
from weakflow.labeling import apply_lfs, keyword_lf
from weakflow.pipeline import parse_config
from weakflow.registry import evaluate_gates, metrics_from_report, parse_gate
from weakflow.registry._gates import ROBUSTNESS_ATTACKS

TEXTS = [
    "Please subscribe to my channel and check out my new video!",
    "I love this song, best music video ever",
    "CHECK OUT MY PAGE www.example.com",
    "great song",
    "",
]


def _rng(attack: str, seed: int = 0) -> np.random.Generator:
    return attack_rng(seed, attack)


def test_the_gate_grammar_knows_every_attack() -> None:
    assert ROBUSTNESS_ATTACKS == ATTACKS
    assert set(ATTACKS) == set(TEXT_ATTACKS) | set(NUMERIC_ATTACKS)


# -- each attack does what it says ---------------------------------------------------------------


def test_homoglyphs_keep_the_look_but_not_the_bytes() -> None:
    out = perturb_texts(TEXTS, "homoglyph", rate=0.3, rng=_rng("homoglyph"))
    inverse = {v: k for k, v in HOMOGLYPHS.items()}
    for before, after in zip(TEXTS, out, strict=True):
        assert len(after) == len(before)
        if not before:
            assert after == ""
            continue
        assert after.encode() != before.encode()
        changed = [(b, a) for b, a in zip(before, after, strict=True) if a != b]
        assert changed
        for b, a in changed:
            assert HOMOGLYPHS[b] == a  # a lookalike of that very letter
            assert unicodedata.name(a).split()[0] in ("CYRILLIC", "GREEK")
        # mapping the lookalikes back gives the original text exactly
        assert "".join(inverse.get(c, c) for c in after) == before


def test_every_homoglyph_is_a_different_script_letter_of_the_same_case() -> None:
    for latin, glyph in HOMOGLYPHS.items():
        assert latin.isascii()
        assert latin.isalpha()
        assert not glyph.isascii()
        assert glyph.isalpha()
        assert glyph.isupper() == latin.isupper()


def test_rate_is_the_share_of_eligible_units_changed_and_at_least_one() -> None:
    text = "a" * 100  # 100 eligible letters
    (out,) = perturb_texts([text], "homoglyph", rate=0.1, rng=_rng("homoglyph"))
    assert sum(c != "a" for c in out) == 10
    (out,) = perturb_texts([text], "homoglyph", rate=0.001, rng=_rng("homoglyph"))
    assert sum(c != "a" for c in out) == 1  # at least one
    (out,) = perturb_texts([text], "homoglyph", rate=1.0, rng=_rng("homoglyph"))
    assert set(out) == {HOMOGLYPHS["a"]}
    assert perturb_texts(["123 !!"], "homoglyph", rng=_rng("homoglyph")) == ["123 !!"]


def test_char_swap_transposes_adjacent_letters() -> None:
    out = perturb_texts(TEXTS, "char_swap", rate=0.2, rng=_rng("char_swap"))
    for before, after in zip(TEXTS, out, strict=True):
        assert sorted(after) == sorted(before)  # the same characters, moved
        if not before:
            continue
        assert after != before
        diff = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
        # changed positions come in adjacent pairs whose letters swapped places
        assert len(diff) % 2 == 0
        for i, j in zip(diff[::2], diff[1::2], strict=True):
            assert j == i + 1
            assert (after[i], after[j]) == (before[j], before[i])
            assert before[i].isalpha()
            assert before[j].isalpha()


def test_spacing_changes_only_spaces() -> None:
    out = perturb_texts(TEXTS, "spacing", rate=0.2, rng=_rng("spacing"))
    for before, after in zip(TEXTS, out, strict=True):
        assert after.replace(" ", "") == before.replace(" ", "")
        if before:
            assert after != before
    # inserting splits words apart: "subscribe" is gone from the words of the text
    (out,) = perturb_texts(["subscribe"], "spacing", rate=0.5, rng=_rng("spacing"))
    assert out.count(" ") >= 1
    assert "subscribe" not in out


def test_case_flips_only_case() -> None:
    out = perturb_texts(TEXTS, "case", rate=0.2, rng=_rng("case"))
    for before, after in zip(TEXTS, out, strict=True):
        assert after.lower() == before.lower()
        assert len(after) == len(before)
        if before:
            assert after != before


def test_synonyms_replace_known_words_and_keep_their_case() -> None:
    (out,) = perturb_texts(["Please watch"], "synonym", rate=1.0, rng=_rng("synonym"))
    first, _, rest = out.partition(" ")
    assert first.lower() in SYNONYMS["please"]
    assert first[0].isupper()
    assert rest in SYNONYMS["watch"]
    (out,) = perturb_texts(["GREAT SONG"], "synonym", rate=1.0, rng=_rng("synonym"))
    assert out == out.upper()
    assert out != "GREAT SONG"
    # nothing in the table: nothing changes
    assert perturb_texts(["zebra quantum"], "synonym", rng=_rng("synonym")) == ["zebra quantum"]
    # every synonym differs from its word
    assert all(word not in options for word, options in SYNONYMS.items())


def test_missing_texts_come_back_empty() -> None:
    out = perturb_texts([None, float("nan"), "ok"], "case", rng=_rng("case"))
    assert out[:2] == ["", ""]


def test_unknown_attack_and_bad_rate_are_errors() -> None:
    with pytest.raises(SchemaError, match="typo"):
        perturb_texts(["x"], "typo", rng=_rng("x"))
    with pytest.raises(SchemaError, match="from 0 to 1"):
        perturb_texts(["x"], "case", rate=1.5, rng=_rng("case"))
    with pytest.raises(SchemaError, match="noise"):
        perturb_frame(pd.DataFrame({"text": ["x"]}), "noise", text_column="text")
    with pytest.raises(SchemaError, match="'body'"):
        perturb_frame(pd.DataFrame({"text": ["x"]}), "case", text_column="body")


# -- keyword LFs are evaded: measured ------------------------------------------------------------


def test_keyword_lf_votes_drop_under_homoglyphs_not_under_case(youtube: pd.DataFrame) -> None:
    frame = youtube[["text"]].iloc[:600].reset_index(drop=True)
    lf = keyword_lf(["subscribe", "check out"], 1, name="kw")

    def votes(f: pd.DataFrame) -> np.ndarray:
        return apply_lfs([lf], f, progress=False, cardinality=2).values[:, 0]

    clean = votes(frame)
    assert (clean == 1).sum() > 50  # enough votes to measure
    lost = {}
    for attack in ("homoglyph", "char_swap", "spacing", "case"):
        attacked = votes(perturb_frame(frame, attack, text_column="text", rate=0.1))
        lost[attack] = float(((clean == 1) & (attacked == -1)).sum() / (clean == 1).sum())
        assert not ((clean == -1) & (attacked == 1)).any()  # no vote appears from nowhere
    # measured on these 600 comments (92 votes), seed 0, rate 0.1: homoglyph 0.45, char_swap
    # 0.48, spacing 0.63 of the keyword's votes are gone
    assert lost["homoglyph"] > 0.3
    assert lost["char_swap"] > 0.3
    assert lost["spacing"] > 0.3
    assert lost["case"] == 0.0  # keyword_lf ignores case


# -- reproducibility ---------------------------------------------------------------------------


def test_same_seed_same_perturbation_other_seed_other() -> None:
    frame = pd.DataFrame({"text": TEXTS * 20})
    for attack in TEXT_ATTACKS:
        a = perturb_frame(frame, attack, text_column="text", seed=7)
        b = perturb_frame(frame, attack, text_column="text", seed=7)
        c = perturb_frame(frame, attack, text_column="text", seed=8)
        assert a["text"].tolist() == b["text"].tolist()
        assert a["text"].tolist() != c["text"].tolist(), attack
    assert frame["text"].tolist() == TEXTS * 20  # the input is not modified


def _toy_predict(f: pd.DataFrame) -> np.ndarray:
    texts = f["text"].str.lower()
    return (texts.str.contains("subscribe") | texts.str.contains("check")).to_numpy().astype(int)


def test_an_attack_does_not_depend_on_which_other_attacks_run() -> None:
    frame = pd.DataFrame({"text": TEXTS * 10})
    y = _toy_predict(frame)
    kwargs: dict[str, Any] = {"predict": _toy_predict, "cardinality": 2, "text_column": "text"}
    alone = evaluate_robustness(frame, y, attacks=["homoglyph"], **kwargs)
    together = evaluate_robustness(frame, y, **kwargs)
    assert alone["attacks"]["homoglyph"] == together["attacks"]["homoglyph"]
    again = evaluate_robustness(frame, y, **kwargs)
    assert again == together


# -- numeric noise -----------------------------------------------------------------------------


def test_numeric_noise_is_bounded_by_noise_times_sd() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(10, 3, 1000),
            "n": rng.integers(0, 100, 1000),
            "flag": rng.random(1000) > 0.5,
            "text": ["a"] * 1000,
        }
    )
    frame.loc[5, "x"] = np.nan
    out = perturb_frame(frame, "noise", feature_columns=["x", "n", "flag"], noise=0.1, seed=3)
    for col in ("x", "n"):
        sd = float(np.nanstd(frame[col].to_numpy(dtype=float)))
        delta = out[col].to_numpy(dtype=float) - frame[col].to_numpy(dtype=float)
        finite = np.isfinite(delta)
        assert np.all(np.abs(delta[finite]) <= 0.1 * sd + 1e-12)
        assert np.abs(delta[finite]).max() > 0.09 * sd  # the bound is reached, not tiny noise
        assert (delta[finite] != 0).all()
    assert np.isnan(out.loc[5, "x"])  # missing stays missing
    assert out["flag"].equals(frame["flag"])  # booleans are not numbers to shake
    assert out["text"].equals(frame["text"])
    # a given scale (the train rows' SD) is the bound
    scaled = perturb_frame(frame, "noise", feature_columns=["x"], noise=0.5, scales={"x": 0.01})
    assert np.nanmax(np.abs(scaled["x"] - frame["x"])) <= 0.005 + 1e-12
    same = perturb_frame(frame, "noise", feature_columns=["x", "n", "flag"], noise=0.1, seed=3)
    assert same.equals(out)


def test_a_tabular_model_is_attacked_with_noise_only() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, 400)
    frame = pd.DataFrame({"x": x})
    y = (x > 0).astype(int)

    def predict(f: pd.DataFrame) -> np.ndarray:
        return (f["x"].to_numpy() > 0).astype(int)

    out = evaluate_robustness(
        frame, y, predict=predict, cardinality=2, feature_columns=["x"], noise=0.2, text_column=None
    )
    assert out["attacks_run"] == ["noise"]
    assert set(out["skipped"]) == set(TEXT_ATTACKS)
    noise = out["attacks"]["noise"]["end_model"]
    # only rows within 0.2 SD of the boundary can flip; some do
    near = np.abs(x) <= 0.2 * np.std(x)
    assert 0 < noise["flip_rate"] <= near.mean()
    assert noise["accuracy"] == pytest.approx(1 - noise["flip_rate"])


# -- the evaluation's numbers ------------------------------------------------------------------


def test_evaluation_counts_accuracy_flips_and_lost_votes() -> None:
    frame = pd.DataFrame({"text": TEXTS[:4] * 25})
    y = np.array([1, 0, 1, 0] * 25)
    lfs = [keyword_lf("subscribe", 1, name="kw_sub"), keyword_lf("song", 0, name="kw_song")]

    def votes(f: pd.DataFrame) -> np.ndarray:
        return apply_lfs(lfs, f, progress=False, cardinality=2).values

    def label_model(L: np.ndarray) -> np.ndarray:
        return np.where(lf_majority(L, 2) == -1, 0, lf_majority(L, 2))

    out = evaluate_robustness(
        frame, y, predict=_toy_predict, votes=votes, label_model=label_model,
        lf_names=["kw_sub", "kw_song"], cardinality=2, text_column="text",
        attacks=["homoglyph", "case"], rate=0.5,
    )  # fmt: skip
    assert out["clean"]["end_model"]["accuracy"] == 1.0
    for attack in ("homoglyph", "case"):
        entry = out["attacks"][attack]
        attacked = perturb_frame(frame, attack, text_column="text", rate=0.5)
        pred = _toy_predict(attacked)
        assert entry["end_model"]["accuracy"] == pytest.approx(float(np.mean(pred == y)))
        assert entry["end_model"]["flip_rate"] == pytest.approx(float(np.mean(pred != y)))
        L0, L1 = votes(frame), votes(attacked)
        for j, row in enumerate(entry["lfs"]):
            assert row["votes"] == int((L0[:, j] != -1).sum())
            assert row["lost"] == int(((L0[:, j] != -1) & (L1[:, j] == -1)).sum())
        lm = label_model(L1)
        assert entry["label_model"]["accuracy"] == pytest.approx(float(np.mean(lm == y)))
    case = out["attacks"]["case"]
    assert case["end_model"]["flip_rate"] == 0.0
    assert case["lf_votes_lost"] == 0.0
    homoglyph = out["attacks"]["homoglyph"]
    assert homoglyph["end_model"]["flip_rate"] > 0.0
    assert homoglyph["lf_votes_lost"] > 0.0
    assert homoglyph["rows_changed"] == 1.0
    assert out["summary"]["worst_attack"] == "homoglyph"
    assert out["summary"]["accuracy_min"] == homoglyph["end_model"]["accuracy"]
    assert homoglyph["example"]["after"] != homoglyph["example"]["before"]


def test_lf_majority_is_strict() -> None:
    L = np.array([[1, 1, 0], [1, 0, -1], [-1, -1, -1], [0, -1, -1]])
    assert lf_majority(L, 2).tolist() == [1, -1, -1, 0]


# -- gates -------------------------------------------------------------------------------------


def _report() -> dict[str, Any]:
    frame = pd.DataFrame({"text": TEXTS[:4] * 25})
    y = np.array([1, 0, 1, 0] * 25)
    rb = evaluate_robustness(
        frame, y, predict=_toy_predict, cardinality=2, text_column="text", rate=0.5
    )
    return {"end_model": {"test": {"accuracy": 1.0}}, "robustness": rb}


def test_robustness_metrics_reach_the_gates() -> None:
    report = _report()
    metrics = metrics_from_report(report)
    rb = metrics["robustness"]
    worst = report["robustness"]["summary"]["accuracy_min"]
    assert 0 < worst < 1
    assert rb["accuracy_min"] == worst
    assert (
        rb["homoglyph.accuracy"]
        == report["robustness"]["attacks"]["homoglyph"]["end_model"]["accuracy"]
    )
    rules = [
        f"robustness.accuracy_min >= {worst - 0.01}",  # passes
        f"robustness.accuracy_min >= {worst + 0.01}",  # fails
        "robustness.case.flip_rate <= 0",  # passes: case does not move this model
        "robustness.homoglyph.flip_rate <= 0",  # fails
        "robustness.accuracy_min >= accuracy - 0.01",  # fails: 1.0 - 0.01 > worst
    ]
    results = evaluate_gates(rules, metrics)
    assert [r.passed for r in results] == [True, False, True, False, False]
    assert results[1].value == worst
    assert results[1].threshold == pytest.approx(worst + 0.01)
    assert "robustness.accuracy_min" in results[1].reason


def test_a_gate_on_an_attack_that_did_not_run_fails_with_the_reason() -> None:
    metrics = metrics_from_report(_report())
    (result,) = evaluate_gates(["robustness.noise.accuracy >= 0.5"], metrics)
    assert not result.passed
    assert "noise attack did not run" in result.reason
    (result,) = evaluate_gates(["robustness.accuracy_min >= 0.5"], {"end_model": {}})
    assert not result.passed
    assert "robustness = true" in result.reason


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("robustness.acuracy_min >= 0.8", "did you mean 'accuracy_min'"),
        ("robustness.homoglif.accuracy >= 0.8", "unknown attack 'homoglif'"),
        ("robustness.homoglyph >= 0.8", "robustness.homoglyph needs a metric"),
        ("robustness.homoglyph.f1 >= 0.8", "unknown metric 'f1' of the homoglyph attack"),
        ("privacy.auc <= 0.6", "unknown privacy metric 'auc'"),
    ],
)
def test_bad_robustness_rules_fail_at_parse_and_at_project_load(rule: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_gate(rule)
    raw = {
        "data": {"train": "a.csv", "dev": "b.csv", "test": "c.csv", "label_names": ["a", "b"]},
        "gates": {"rules": [rule]},
    }
    with pytest.raises(ConfigError, match=r"gates\.rules"):
        parse_config(raw)


def test_good_robustness_rules_parse_with_spaces() -> None:
    gate = parse_gate(
        "robustness . homoglyph . accuracy >= production.robustness.homoglyph.accuracy"
    )
    assert str(gate.left) == "robustness.homoglyph.accuracy"
    assert str(gate.right) == "production.robustness.homoglyph.accuracy"


# -- configuration -----------------------------------------------------------------------------


def _config(**evaluation: Any) -> dict[str, Any]:
    return {
        "data": {"train": "a.csv", "dev": "b.csv", "test": "c.csv", "label_names": ["a", "b"]},
        "evaluation": evaluation,
    }


def test_robustness_config_defaults_and_bad_values_name_the_key() -> None:
    cfg = parse_config(_config()).evaluation
    assert cfg.robustness
    assert cfg.membership
    assert (cfg.robustness_rate, cfg.robustness_noise) == (0.1, 0.1)
    assert tuple(cfg.robustness_attacks) == ATTACKS
    for key, value in (
        ("robustness_rate", 1.5),
        ("robustness_rate", 0),
        ("robustness_noise", -1),
        ("robustness", "yes please"),
    ):
        with pytest.raises(ConfigError, match=f"evaluation.{key}"):
            parse_config(_config(**{key: value}))
    with pytest.raises(ConfigError, match=r"evaluation.robustness_attacks.0"):
        parse_config(_config(robustness_attacks=["typo"]))
    with pytest.raises(ConfigError, match="Did you mean 'robustness_rate'"):
        parse_config(_config(robustnes_rate=0.2))
