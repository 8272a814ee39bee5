"""Data checks: each one fires on crafted bad data and stays quiet on clean data."""

from __future__ import annotations

import json
import pickle
from functools import cache

import numpy as np
import pandas as pd
import pytest

from weakflow.data import (
    CHECK_NAMES,
    CheckResult,
    DataCheckOptions,
    Dataset,
    raise_for_errors,
    run_data_checks,
)
from weakflow.errors import DataCheckError, SchemaError

from .synth import LABEL_NAMES, clean_frames, sentences, vocabulary

SOURCES = {"train": "data/train.csv", "dev": "data/dev.csv", "test": "data/test.csv"}
FEATURES = ["score", "channel"]


@cache
def _clean() -> dict[str, pd.DataFrame]:
    return clean_frames()


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    """Clean train/dev/test tables, a private copy per test."""
    return {role: frame.copy() for role, frame in _clean().items()}


def run(
    frames: dict[str, pd.DataFrame],
    *,
    id_column: str | None = "id",
    feature_columns: list[str] | None = None,
    text_column: str | None = "text",
    **options,
) -> dict[str, CheckResult]:
    datasets = [
        Dataset(role, frame, SOURCES[role], labeled=role != "train")
        for role, frame in frames.items()
    ]
    results = run_data_checks(
        datasets,
        label_column="label",
        label_names=LABEL_NAMES,
        text_column=text_column,
        id_column=id_column,
        feature_columns=FEATURES if feature_columns is None else feature_columns,
        options=DataCheckOptions(**options),
    )
    assert [r.name for r in results] == list(CHECK_NAMES)
    for r in results:
        json.dumps(r.to_dict(), allow_nan=False)  # the report is strict JSON
    return {r.name: r for r in results}


def fired(result: CheckResult, severity: str, *fragments: str) -> None:
    """The check failed with ``severity`` and its message contains every fragment."""
    assert not result.passed, result.message
    assert result.severity == severity, result.message
    for fragment in fragments:
        assert fragment in result.message, (fragment, result.message)


def only_failure(results: dict[str, CheckResult], name: str) -> CheckResult:
    """``results[name]``, after asserting that every other check passed."""
    others = {n: r.message for n, r in results.items() if not r.passed and n != name}
    assert not others, others
    return results[name]


# --- clean data --------------------------------------------------------------------------


def test_clean_data_passes_every_check(frames):
    results = run(frames)
    assert {n: r.message for n, r in results.items() if not r.passed} == {}
    assert results["label_errors"].severity == "info"
    raise_for_errors(list(results.values()))


def test_clean_data_passes_without_ids_and_features(frames):
    results = run(frames, id_column=None, feature_columns=[])
    assert {n: r.message for n, r in results.items() if not r.passed} == {}


def test_results_serialize_without_numpy_types(frames):
    frames["dev"].loc[3, "text"] = "mail me at ann@example.org"
    result = run(frames)["pii"]
    as_dict = result.to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    raw = CheckResult("x", "info", True, "m", {"a": np.int64(3), "b": np.float32(0.5), "c": np.nan})
    assert raw.to_dict()["details"] == {"a": 3, "b": 0.5, "c": None}


# --- schema ------------------------------------------------------------------------------


def test_schema_missing_columns(frames):
    frames["test"] = frames["test"].drop(columns=["channel"])
    frames["dev"] = frames["dev"].drop(columns=["label"])
    result = run(frames)["schema"]
    fired(result, "error", "data/test.csv", "'channel'", "data/dev.csv", "'label'")
    assert "data/train.csv" not in result.message
    kinds = {(f["dataset"], f["problem"]) for f in result.details["findings"]}
    assert kinds == {("test", "missing_columns"), ("dev", "missing_columns")}


def test_schema_text_must_be_strings(frames):
    text = frames["dev"]["text"].astype(object)
    text.iloc[[4, 9]] = [12345, 3.5]
    frames["dev"]["text"] = text
    result = run(frames)["schema"]
    fired(result, "error", "data/dev.csv", "column 'text'", "'dev-00004'", "'dev-00009'")


def test_schema_duplicate_ids(frames):
    frames["test"].loc[7, "id"] = "test-00002"
    result = run(frames)["schema"]
    fired(result, "error", "data/test.csv", "id column 'id'", "'test-00002'")


def test_schema_invalid_labels_name_rows_and_allowed_values(frames):
    labels = frames["dev"]["label"].astype(object)
    labels.iloc[[2, 11]] = ["spma", 7]
    frames["dev"]["label"] = labels
    result = run(frames)["schema"]
    fired(
        result,
        "error",
        "data/dev.csv",
        "column 'label'",
        "'dev-00002'",
        "'dev-00011'",
        "'spma'",
        "['ham', 'spam']",
        "0..1",
    )


def test_schema_feature_types_must_agree(frames):
    frames["test"]["score"] = frames["test"]["score"].map(lambda v: f"{v:.2f} points")
    result = run(frames)["schema"]
    fired(result, "error", "'score'", "numeric in train", "text in test")


def test_schema_duplicate_column_names(frames):
    frame = frames["dev"]
    frames["dev"] = pd.concat([frame, frame[["channel"]]], axis=1)
    result = run(frames)["schema"]
    fired(result, "error", "data/dev.csv", "'channel'", "more than once")


def test_raise_for_errors_lists_every_failed_error(frames):
    frames["test"] = frames["test"].iloc[:0]
    frames["dev"] = frames["dev"].drop(columns=["text"])
    results = list(run(frames).values())
    with pytest.raises(DataCheckError) as info:
        raise_for_errors(results)
    assert {r.name for r in info.value.results} == {"schema", "empty"}
    assert "- schema:" in str(info.value)
    assert "- empty:" in str(info.value)
    assert isinstance(info.value, ValueError)
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value)
    assert again.results == info.value.results


# --- empty / missing values --------------------------------------------------------------


def test_empty_table(frames):
    frames["test"] = frames["test"].iloc[:0]
    results = run(frames)
    fired(results["empty"], "error", "data/test.csv", "no rows")
    assert results["empty"].details["empty"] == ["test"]
    assert results["schema"].passed


def test_missing_texts_and_features_warn(frames):
    frames["train"].loc[[5, 40], "text"] = [None, "   "]
    frames["test"].loc[3, "score"] = np.nan
    result = run(frames)["missing_values"]
    fired(
        result,
        "warning",
        "data/train.csv",
        "column 'text'",
        "'train-00005'",
        "'train-00040'",
        "data/test.csv",
        "column 'score'",
        "'test-00003'",
    )
    counts = {(f["dataset"], f["column"]): f["count"] for f in result.details["findings"]}
    assert counts == {("train", "text"): 2, ("test", "score"): 1}


def test_missing_gold_labels_are_an_error(frames):
    frames["dev"].loc[[1, 6, 8], "label"] = np.nan
    result = run(frames, id_column=None)["missing_values"]
    fired(result, "error", "data/dev.csv", "column 'label'", "rows 1, 6, 8 (0-based)")


# --- duplicates --------------------------------------------------------------------------


def test_duplicate_texts_and_rows(frames):
    train = frames["train"]
    train.loc[20, "text"] = "  " + train.loc[3, "text"].upper() + "  "
    train.loc[21, ["text", "label", "score", "channel"]] = train.loc[
        4, ["text", "label", "score", "channel"]
    ]
    dev = frames["dev"]
    dev.loc[30, "text"] = dev.loc[31, "text"]  # rows 30 and 31 have different labels
    result = run(frames)["duplicates"]
    fired(
        result,
        "warning",
        "data/train.csv",
        "id 'train-00020' = id 'train-00003'",
        "id 'train-00021' = id 'train-00004'",
        "data/dev.csv",
        "different gold labels",
    )
    found = {(f["dataset"], f["kind"]): f for f in result.details["findings"]}
    assert found["train", "duplicate_texts"]["count"] == 2
    assert found["train", "duplicate_rows"]["count"] == 1
    assert found["dev", "duplicate_texts"]["conflicting_labels"] == 1


# --- leakage -----------------------------------------------------------------------------


def test_exact_leakage_test_in_train_and_dev(frames):
    train, dev, test = frames["train"], frames["dev"], frames["test"]
    for i, row in enumerate([2, 9, 15, 16, 50]):
        train.loc[100 + i, "text"] = " " + test.loc[row, "text"].lower().replace(" ", "   ")
    dev.loc[0, "text"] = test.loc[60, "text"]
    results = run(frames)
    result = only_failure(results, "leakage_exact")
    fired(result, "warning", "data/test.csv", "data/train.csv", "'test-00002'", "'train-00100'")
    counts = {(p["dataset"], p["in"]): p["count"] for p in result.details["pairs"]}
    assert counts == {("dev", "train"): 0, ("test", "train"): 5, ("test", "dev"): 1}
    assert results["leakage_near_duplicate"].passed  # exact copies are not counted twice


def test_near_duplicate_leakage(frames):
    train, test = frames["train"], frames["test"]
    words = test.loc[5, "text"].split()
    train.loc[200, "text"] = " ".join(words[:3] + words[4:])  # one word fewer
    words = test.loc[6, "text"].split()
    train.loc[201, "text"] = " ".join([*words[:-1], words[2], words[-1]])  # one word more
    words = test.loc[70, "text"].split()
    train.loc[202, "text"] = " ".join([words[0], words[2], words[1], *words[3:]])  # reordered
    result = only_failure(run(frames), "leakage_near_duplicate")
    fired(
        result,
        "warning",
        "data/test.csv",
        "data/train.csv",
        "column 'text'",
        "id 'test-00005' ~ train id 'train-00200'",
    )
    counts = {(p["dataset"], p["in"]): p["count"] for p in result.details["pairs"]}
    assert counts[("test", "train")] == 3
    sims = [e["similarity"] for e in result.details["findings"][0]["examples"]]
    assert len(sims) == 3
    assert all(0.9 <= s < 1.0 + 1e-6 for s in sims)


def test_near_duplicate_threshold_is_an_option(frames):
    train, test = frames["train"], frames["test"]
    words = test.loc[5, "text"].split()
    train.loc[200, "text"] = " ".join(words[: len(words) // 2 + 2])  # about 0.7 similar
    assert run(frames)["leakage_near_duplicate"].passed
    loose = run(frames, near_duplicate_threshold=0.5)["leakage_near_duplicate"]
    fired(loose, "warning", "id 'test-00005'")


def test_exact_leakage_on_feature_rows_without_text(frames):
    frames["test"].loc[4, ["score", "channel"]] = frames["train"].loc[8, ["score", "channel"]]
    results = run(frames, text_column=None)
    fired(results["leakage_exact"], "warning", "id 'test-00004' = train id 'train-00008'")
    assert results["leakage_near_duplicate"].passed
    assert "no text column" in results["leakage_near_duplicate"].message


# --- class imbalance ---------------------------------------------------------------------


def test_class_imbalance_ratio_and_absent_class(frames):
    dev = frames["dev"]
    spam = dev.index[dev["label"] == "spam"]
    frames["dev"] = dev.drop(index=spam[5:]).reset_index(drop=True)  # 80 ham, 5 spam
    test = frames["test"]
    frames["test"] = test[test["label"] == "ham"].reset_index(drop=True)
    result = run(frames)["class_imbalance"]
    fired(result, "warning", "data/dev.csv", "ratio 16.0 > 10", "data/test.csv", "['spam']")
    stats = {s["dataset"]: s for s in result.details["datasets"]}
    assert stats["dev"]["counts"] == {"ham": 80, "spam": 5}
    assert stats["test"]["ratio"] is None


def test_imbalance_threshold_is_an_option(frames):
    dev = frames["dev"]
    spam = dev.index[dev["label"] == "spam"]
    frames["dev"] = dev.drop(index=spam[20:]).reset_index(drop=True)  # 80 ham, 20 spam
    assert run(frames)["class_imbalance"].passed
    fired(run(frames, imbalance_ratio=3)["class_imbalance"], "warning", "ratio 4.0 > 3")


# --- representativeness ------------------------------------------------------------------


def test_representativeness_numeric_and_categorical(frames):
    test = frames["test"]
    test["score"] = test["score"] + 3.0
    test["channel"] = "app"
    result = only_failure(run(frames), "representativeness")
    fired(
        result, "warning", "data/test.csv", "data/train.csv", "column 'score'", "column 'channel'"
    )
    assert "test (data/test.csv) differs" in result.message
    assert "dev (data/dev.csv) differs" not in result.message
    fired_kinds = {(c["dataset"], c["kind"]) for c in result.details["columns"] if c.get("fired")}
    assert fired_kinds == {("test", "numeric"), ("test", "categorical")}
    every = {(c["dataset"], c["column"], c["kind"]) for c in result.details["columns"]}
    assert ("dev", "score", "numeric") in every  # every column's statistic is listed


def test_representativeness_text_length_and_vocabulary(frames):
    rng = np.random.default_rng(7)
    other = vocabulary(seed=99)  # different words
    seen: set[str] = set()
    long_texts = [
        sentences(1, lab, rng, other, seen)[0] + " " + sentences(1, lab, rng, other, seen)[0]
        for lab in frames["test"]["label"]
    ]
    frames["test"]["text"] = pd.array(long_texts, dtype="str")
    results = run(frames, skip=["label_errors"])
    result = results["representativeness"]
    fired(result, "warning", "data/test.csv", "column 'text'", "lengths in words", "never seen")
    kinds = {c["kind"] for c in result.details["columns"] if c.get("fired")}
    assert kinds == {"text_length", "text_unseen_tokens", "text_top_tokens"}


def test_small_shift_in_a_small_set_does_not_fire(frames):
    dev = frames["dev"].iloc[:12].copy()
    dev["score"] = dev["score"] + 0.5
    frames["dev"] = dev
    result = run(frames, skip=["label_errors"])["representativeness"]
    assert result.passed, result.message


# --- label errors ------------------------------------------------------------------------


def test_label_errors_found_in_gold_set(frames):
    dev = frames["dev"]
    flipped = [3, 10, 17, 44, 91, 120]
    dev.loc[flipped, "label"] = dev.loc[flipped, "label"].map({"ham": "spam", "spam": "ham"})
    result = only_failure(run(frames), "label_errors")
    fired(result, "warning", "data/dev.csv", "column 'label'", "'dev-00003'", "suggested")
    issues = result.details["findings"][0]["issues"]
    found = {i["row"] for i in issues}
    assert found >= {f"dev-{i:05d}" for i in flipped}
    assert len(found) <= len(flipped) + 2
    for issue in issues:
        if issue["row"] == "dev-00003":
            assert issue["given"] != issue["suggested"]


def test_label_errors_skip_tiny_gold_set(frames):
    dev = frames["dev"]
    frames["dev"] = pd.concat(
        [dev[dev["label"] == "ham"].iloc[:6], dev[dev["label"] == "spam"].iloc[:1]]
    )
    result = run(frames)["label_errors"]
    assert result.passed
    assert result.severity == "info"
    assert "dev (data/dev.csv): skipped" in result.message
    assert "'spam' has 1 example" in result.message
    assert result.details["skipped"][0]["dataset"] == "dev"


def test_label_errors_on_tabular_features():
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=n)
    label = np.where(x > 0, "spam", "ham").astype(object)
    flipped = np.flatnonzero((np.abs(x) > 0.8) & (np.abs(x) < 1.6))[:6]  # well inside a class
    label[flipped] = np.where(label[flipped] == "spam", "ham", "spam")
    frame = pd.DataFrame(
        {"x": x, "kind": rng.choice(["a", "b"], size=n), "label": label, "id": range(n)}
    )
    train = pd.DataFrame({"x": rng.normal(size=n), "kind": rng.choice(["a", "b"], size=n)})
    datasets = [
        Dataset("train", train, "t.parquet", False),
        Dataset("dev", frame, "d.parquet", True),
    ]
    results = run_data_checks(
        datasets,
        label_column="label",
        label_names=LABEL_NAMES,
        id_column="id",
        feature_columns=["x", "kind"],
    )
    result = {r.name: r for r in results}["label_errors"]
    fired(result, "warning", "d.parquet")
    found = {i["row"] for i in result.details["findings"][0]["issues"]}
    assert found >= set(flipped.tolist())
    assert len(found) <= len(flipped) + 2


def test_label_errors_skip_when_columns_do_not_predict_labels():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x": rng.normal(size=80), "label": rng.choice(LABEL_NAMES, size=80), "id": range(80)}
    )
    datasets = [
        Dataset("train", frame[["x"]], "t.csv", False),
        Dataset("test", frame, "test.csv", True),
    ]
    results = run_data_checks(
        datasets, label_column="label", label_names=LABEL_NAMES, feature_columns=["x"]
    )
    result = {r.name: r for r in results}["label_errors"]
    assert result.passed
    assert result.severity == "info"
    assert "not significantly better than always predicting the majority" in result.message


# --- PII ---------------------------------------------------------------------------------

PII_SAMPLES = {
    "EMAIL_ADDRESS": "ann.lee@example.org",
    "PHONE_NUMBER": "+1 415-555-2671",
    "CREDIT_CARD": "4111 1111 1111 1111",
    "IBAN_CODE": "DE89 3704 0044 0532 0130 00",
    "IP_ADDRESS": "192.168.12.7",
}


def test_pii_counts_without_echoing_it(frames):
    train = frames["train"]
    for i, value in enumerate(PII_SAMPLES.values()):
        train.loc[10 + i, "text"] = f"{train.loc[10 + i, 'text']} contact {value} today"
    train.loc[15, "text"] = "write to bob@example.com or call (212) 555-0100"
    result = only_failure(run(frames), "pii")
    fired(result, "warning", "data/train.csv", "column 'text'", "'train-00010'", "<EMAIL_ADDRESS>")
    finding = result.details["findings"][0]
    assert finding["counts"] == {
        "EMAIL_ADDRESS": 2,
        "IBAN_CODE": 1,
        "CREDIT_CARD": 1,
        "IP_ADDRESS": 1,
        "PHONE_NUMBER": 2,
    }
    assert finding["rows_affected"] == 6
    dumped = json.dumps(result.to_dict())
    for value in [*PII_SAMPLES.values(), "bob@example.com", "555-0100"]:
        assert value not in result.message
        assert value not in dumped


def test_pii_region_is_an_option(frames):
    frames["dev"].loc[2, "text"] = "ring 020 7946 0958 after six"  # a London number
    assert run(frames)["pii"].passed
    fired(run(frames, pii_region="GB")["pii"], "warning", "data/dev.csv", "1 PHONE_NUMBER")


def test_pii_scans_string_feature_columns(frames):
    frames["test"]["note"] = pd.array(["ok"] * 199 + ["ip 10.1.2.3"], dtype="str")
    result = run(frames, feature_columns=[*FEATURES, "note"])["pii"]
    fired(result, "warning", "data/test.csv", "column 'note'", "'test-00199'")


# --- options and arguments ---------------------------------------------------------------


def test_skip_and_severity_overrides(frames):
    frames["dev"].loc[3, "text"] = "call 415-555-2671"
    results = run(frames, skip={"label_errors"}, severities={"pii": "error"})
    assert results["label_errors"].passed
    assert "Skipped" in results["label_errors"].message
    fired(results["pii"], "error")
    with pytest.raises(DataCheckError, match="pii"):
        raise_for_errors(list(results.values()))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"near_duplicate_threshold": 1.5}, "near_duplicate_threshold"),
        ({"max_examples": 0}, "max_examples"),
        ({"imbalance_ratio": 0.5}, "imbalance_ratio"),
        ({"near_duplicate_ngram_range": (5, 3)}, "ngram_range"),
        ({"skip": ["leakage"]}, "unknown checks"),
        ({"severities": {"pii": "fatal"}}, "severities"),
        ({"label_error_folds": 1}, "label_error_folds"),
        ({"pii_region": "XX"}, "pii_region"),
    ],
)
def test_bad_options_say_which(options, match):
    with pytest.raises(SchemaError, match=match):
        DataCheckOptions(**options)


def test_options_from_a_config_mapping():
    assert DataCheckOptions.from_dict({"top_tokens": 50}).top_tokens == 50
    with pytest.raises(SchemaError, match="'imbalance_ratoi' \\(did you mean 'imbalance_ratio'"):
        DataCheckOptions.from_dict({"imbalance_ratoi": 3})


def test_options_accept_toml_shapes():
    opts = DataCheckOptions(near_duplicate_ngram_range=[2, 4], skip=["pii"])
    assert opts.near_duplicate_ngram_range == (2, 4)
    assert opts.skip == frozenset({"pii"})
    assert "near_duplicate_threshold" in DataCheckOptions.field_names()


def test_bad_arguments_raise(frames):
    dev = Dataset("dev", frames["dev"], "a.csv", True)
    with pytest.raises(SchemaError, match="more than once"):
        run_data_checks([dev, dev], label_column="label", label_names=LABEL_NAMES)
    with pytest.raises(SchemaError, match="at least two classes"):
        run_data_checks([dev], label_column="label", label_names=["ham"])
    with pytest.raises(SchemaError, match="role"):
        Dataset("valid", frames["dev"], "a.csv", True)
    with pytest.raises(SchemaError, match="DataFrame"):
        Dataset("dev", frames["dev"].to_dict(), "a.csv", True)
    with pytest.raises(SchemaError, match="at least one"):
        run_data_checks([], label_column="label", label_names=LABEL_NAMES)
