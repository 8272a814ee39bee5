"""Slicing functions (row-wise and vectorized, on the LF machinery), automatic slices, and
metrics per slice with their gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weakflow.errors import (
    LabelingFunctionDefinitionError,
    LabelingFunctionError,
    LabelingFunctionOutputError,
    SchemaError,
)
from weakflow.evaluate import (
    SlicingFunction,
    apply_slicing_functions,
    auto_slices,
    slice_metrics,
    slicing_function,
)
from weakflow.labeling import keyword_lf

NAMES = ["HAM", "SPAM"]


@pytest.fixture
def df():
    return pd.DataFrame(
        {
            "text": ["check out my channel", "great song", "SUBSCRIBE PLZ", "wow", None],
            "n_links": [1, 0, 2, 0, 3],
        },
        index=["a", "b", "c", "d", "e"],
    )


def as_lists(slices):
    return {k: v.tolist() for k, v in slices.items()}


class TestSlicingFunctions:
    def test_row_wise_and_vectorized(self, df):
        @slicing_function()
        def has_links(x):
            return x.n_links > 0

        @slicing_function(vectorized=True)
        def shouting(frame):
            return frame.text.fillna("").str.isupper()

        out = apply_slicing_functions([has_links, shouting], df)
        assert as_lists(out) == {
            "has_links": [True, False, True, False, True],
            "shouting": [False, False, True, False, False],
        }
        assert all(v.dtype == bool for v in out.values())

    def test_bare_decorator_name_resources_and_pre(self, df):
        @slicing_function
        def one_link(x):
            return x.n_links == 1

        def add_words(row):
            row.n_words = len((row.text or "").split())
            return row

        @slicing_function(name="long", resources={"limit": 2}, pre=[add_words])
        def long_text(x, limit):
            return 1 if x.n_words > limit else 0  # 1/0 works as well as True/False

        assert isinstance(one_link, SlicingFunction)
        assert long_text.name == "long"
        assert long_text.kind == "slice"
        assert "return x.n_links == 1" in one_link.source
        assert as_lists(apply_slicing_functions([one_link, long_text], df)) == {
            "one_link": [True, False, False, False, False],
            "long": [True, False, False, False, False],
        }

    def test_vectorized_may_return_numpy_or_ints(self, df):
        @slicing_function(vectorized=True)
        def many_links(frame):
            return (frame.n_links.to_numpy() > 1).astype(int)

        assert as_lists(apply_slicing_functions([many_links], df)) == {
            "many_links": [False, False, True, False, True]
        }

    def test_an_sf_that_raises_names_itself_and_the_row(self, df):
        @slicing_function()
        def lower_text(x):
            return x.text.lower() == "wow"  # row "e" has no text

        with pytest.raises(LabelingFunctionError) as info:
            apply_slicing_functions([lower_text], df)
        err = info.value
        assert str(err).startswith("Slicing function 'lower_text' raised AttributeError")
        assert "row 'e' (position 4)" in str(err)
        assert "fault_tolerant" not in str(err)
        assert str(err).endswith("Fix the slicing function.")
        assert (err.lf_name, err.row_id, err.position) == ("lower_text", "e", 4)
        assert isinstance(err.__cause__, AttributeError)

    def test_a_vectorized_sf_that_raises_is_located(self, df):
        @slicing_function(vectorized=True)
        def picky(frame):
            if frame.index.isin(["c"]).any():
                raise ValueError("no c please")
            return np.zeros(len(frame), dtype=bool)

        with pytest.raises(LabelingFunctionError, match=r"Slicing function 'picky'.*row 'c'"):
            apply_slicing_functions([picky], df)

    def test_bad_return_values(self, df):
        @slicing_function()
        def says_yes(x):
            return "yes"

        with pytest.raises(LabelingFunctionError, match=r"'says_yes'.*True/False.*'yes'"):
            apply_slicing_functions([says_yes], df)

        @slicing_function(vectorized=True)
        def has_check(frame):
            found = frame.text.str.contains("check").astype("boolean")
            return found.mask(frame.text.isna())  # <NA> on the row without text

        with pytest.raises(LabelingFunctionError, match=r"'has_check'.*fillna\(False\).*row 'e'"):
            apply_slicing_functions([has_check], df)

        @slicing_function(vectorized=True)
        def too_short(frame):
            return [True]

        with pytest.raises(LabelingFunctionOutputError, match="'too_short' returned 1 labels"):
            apply_slicing_functions([too_short], df)

    def test_rejects_lfs_plain_functions_and_duplicates(self, df):
        with pytest.raises(LabelingFunctionDefinitionError, match="is a labeling function"):
            apply_slicing_functions([keyword_lf("song", 0)], df)

        def plain(x):
            return True

        with pytest.raises(LabelingFunctionDefinitionError, match="@slicing_function"):
            apply_slicing_functions([plain], df)
        sf = SlicingFunction("same", lambda x: True)
        with pytest.raises(LabelingFunctionDefinitionError, match="named 'same'"):
            apply_slicing_functions([sf, SlicingFunction("same", lambda x: False)], df)
        with pytest.raises(LabelingFunctionDefinitionError, match="must be a string"):
            slicing_function(name=3)

    def test_no_sfs_means_no_slices(self, df):
        assert apply_slicing_functions([], df) == {}


class TestAutoSlices:
    def test_categorical_by_frequency_with_missing(self):
        frame = pd.DataFrame({"country": ["FR", "US", "FR", None, "DE", "FR", "US"]})
        out = auto_slices(frame, "country")
        assert list(out) == ["country = FR", "country = US", "country = DE", "country is missing"]
        assert out["country = FR"].tolist() == [True, False, True, False, False, True, False]
        assert out["country is missing"].sum() == 1

    def test_categorical_keeps_the_most_frequent_values(self):
        values = ["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d", "e"]
        out = auto_slices(pd.DataFrame({"c": values}), "c", max_values=2)
        assert list(out) == ["c = a", "c = b", "c: 3 other values"]
        assert out["c: 3 other values"].sum() == 5

    def test_numeric_quartiles_partition_the_rows(self):
        frame = pd.DataFrame({"age": np.arange(100, dtype=float)})
        out = auto_slices(frame, "age", max_values=10)
        assert list(out) == [
            "age in [0, 24.75)",
            "age in [24.75, 49.5)",
            "age in [49.5, 74.25)",
            "age in [74.25, 99]",
        ]
        assert [int(v.sum()) for v in out.values()] == [25, 25, 25, 25]
        assert np.all(np.sum(list(out.values()), axis=0) == 1)

    def test_numeric_with_repeats_and_nan(self):
        values = [0.0] * 60 + list(np.linspace(1, 10, 30)) + [np.nan] * 10
        out = auto_slices(pd.DataFrame({"x": values}), "x", max_values=5)
        assert "x is missing" in out
        assert out["x is missing"].sum() == 10
        covered = np.sum([v for k, v in out.items() if k != "x is missing"], axis=0)
        assert covered.tolist() == [1] * 90 + [0] * 10

    def test_few_distinct_numbers_are_categories(self):
        out = auto_slices(pd.DataFrame({"n_links": [0, 1, 0, 2, 0]}), "n_links")
        assert list(out) == ["n_links = 0", "n_links = 1", "n_links = 2"]

    def test_text_length_quartiles(self, youtube):
        frame = youtube.head(400)
        out = auto_slices(frame, "text")
        assert len(out) == 4
        assert all(name.startswith("len(text) in [") for name in out)
        assert np.all(np.sum(list(out.values()), axis=0) == 1)
        lengths = frame["text"].str.len().to_numpy()
        first = next(iter(out.values()))
        assert lengths[first].max() <= np.median(lengths)

    def test_kind_override_and_errors(self):
        frame = pd.DataFrame({"code": ["A1", "B2", "C3"] * 10, "x": range(30)})
        assert list(auto_slices(frame, "x", kind="numeric", bins=2)) == [
            "x in [0, 14.5)",
            "x in [14.5, 29]",
        ]
        with pytest.raises(SchemaError, match="not numbers"):
            auto_slices(frame, "code", kind="numeric")
        with pytest.raises(SchemaError, match="no column 'nope'"):
            auto_slices(frame, "nope")
        with pytest.raises(SchemaError, match="bins"):
            auto_slices(frame, "x", bins=0)

    def test_constant_numeric_column(self):
        out = auto_slices(pd.DataFrame({"x": [3.0] * 30}), "x", kind="numeric")
        assert as_lists(out) == {"x = 3": [True] * 30}


class TestSliceMetrics:
    # predictions: [0, 1, 1, 1, 0, 0, 1, 1]; gold: [0, 0, 1, 1, 0, 1, 1, 1] -> 6/8 right
    y = np.array([0, 0, 1, 1, 0, 1, 1, 1])
    p1 = np.array([0.1, 0.7, 0.8, 0.9, 0.2, 0.4, 0.6, 0.7])
    proba = np.column_stack([1 - p1, p1])

    def test_gaps_by_hand(self):
        slices = {"first half": np.arange(8) < 4, "second half": np.arange(8) >= 4}
        rows = slice_metrics(
            self.y, self.proba, slices, label_names=NAMES, metric="accuracy", min_size=2
        )
        first, second = rows
        assert first["name"] == "first half"
        assert (first["n"], first["share"], first["too_small"]) == (4, 0.5, False)
        assert first["accuracy"] == pytest.approx(3 / 4)
        assert first["overall"] == pytest.approx(6 / 8)
        assert first["gap"] == pytest.approx(0.0)
        assert second["accuracy_gap"] == pytest.approx(3 / 4 - 6 / 8)
        # F1 (macro) is always reported; first half: HAM f1 = 2/3, SPAM f1 = 4/5
        assert first["f1_macro"] == pytest.approx((2 / 3 + 4 / 5) / 2)

    def test_default_metric_is_macro_f1_and_negative_gap_means_worse(self):
        worse = np.array([False, True, False, False, False, True, False, False])  # both wrong
        rows = slice_metrics(self.y, self.proba, {"hard": worse}, label_names=NAMES, min_size=2)
        (row,) = rows
        assert row["metric"] == "f1_macro"
        assert row["value"] == 0.0
        assert row["gap"] == pytest.approx(0.0 - row["overall"])
        assert row["gap"] < 0

    def test_too_small_and_empty_slices_have_no_gap(self):
        slices = {"tiny": np.arange(8) < 2, "empty": np.zeros(8, dtype=bool)}
        tiny, empty = slice_metrics(self.y, self.proba, slices, label_names=NAMES)
        assert tiny["too_small"]
        assert tiny["n"] == 2
        assert tiny["gap"] is None
        assert tiny["accuracy_gap"] is None
        assert tiny["accuracy"] == pytest.approx(0.5)  # still shown, just not compared
        assert empty["too_small"]
        assert empty["n"] == 0
        assert empty["accuracy"] is None
        assert empty["value"] is None

    def test_macro_average_runs_over_classes_present_in_the_slice(self):
        only_spam = self.y == 1  # gold all SPAM; predictions [1, 1, 0, 1, 1]
        (row,) = slice_metrics(self.y, self.proba, {"spam": only_spam}, label_names=NAMES)
        # classes present (gold or predicted): HAM (predicted once) and SPAM
        assert row["f1_macro"] == pytest.approx((0.0 + 8 / 9) / 2)

    def test_roc_auc_undefined_on_a_one_class_slice(self):
        rows = slice_metrics(
            self.y, self.proba, {"spam": self.y == 1}, label_names=NAMES, metric="roc_auc"
        )
        assert rows[0]["value"] is None
        assert rows[0]["gap"] is None

    def test_accepts_lists_and_0_1_masks_from_sfs_and_auto_slices(self, youtube):
        frame = youtube.head(200).reset_index(drop=True)
        y = frame["CLASS"].to_numpy()
        rng = np.random.default_rng(0)
        p1 = np.clip(y * 0.7 + rng.uniform(0, 0.3, len(y)), 0, 1)
        slices = auto_slices(frame, "text")
        slices["first"] = [1] * 100 + [0] * 100
        rows = slice_metrics(y, np.column_stack([1 - p1, p1]), slices, label_names=NAMES)
        assert [r["name"] for r in rows] == list(slices)
        assert sum(r["n"] for r in rows[:4]) == 200

    def test_errors(self):
        with pytest.raises(SchemaError, match="metric must be one of"):
            slice_metrics(self.y, self.proba, {}, label_names=NAMES, metric="log_loss")
        with pytest.raises(SchemaError, match="Slice 'short' must be 8 booleans"):
            slice_metrics(self.y, self.proba, {"short": [True]}, label_names=NAMES)
        with pytest.raises(SchemaError, match="Slice 'bad'"):
            slice_metrics(self.y, self.proba, {"bad": np.arange(8)}, label_names=NAMES)
        with pytest.raises(SchemaError, match="min_size"):
            slice_metrics(self.y, self.proba, {}, label_names=NAMES, min_size=-1)
