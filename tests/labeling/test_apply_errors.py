"""Every way applying LFs can fail names the LF and the row; fault tolerance counts failures."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from weakflow import ABSTAIN
from weakflow.errors import (
    LabelingFunctionDefinitionError,
    LabelingFunctionError,
    LabelingFunctionOutputError,
    SchemaError,
    WeakflowError,
)
from weakflow.labeling import apply_lfs, keyword_lf, labeling_function

POISON = "POISON"


@pytest.fixture
def df():
    """20 rows with string ids; rows r7 and r13 are poisoned."""
    text = [f"text {i}" for i in range(20)]
    text[7] = text[13] = POISON
    return pd.DataFrame({"text": text, "n": range(20)}, index=[f"r{i}" for i in range(20)])


@labeling_function()
def rw_fragile(x):
    if x.text == POISON:
        raise KeyError("boom")
    return x.n % 2


@labeling_function(vectorized=True)
def vec_fragile(frame):
    # raises whenever its batch holds a poisoned row, wherever that row is
    if (frame.text == POISON).any():
        raise ValueError("poisoned batch")
    return np.where(frame.n % 3 == 0, 1, 0)


def apply(lfs, data, **kwargs):
    return apply_lfs(lfs, data, progress=False, **kwargs)


# -- an LF that raises ------------------------------------------------------------------------
class TestRaisingLF:
    @pytest.mark.parametrize("batch_size", [1, 5, 262_144])
    def test_row_wise(self, df, batch_size):
        with pytest.raises(LabelingFunctionError) as info:
            apply([rw_fragile], df, batch_size=batch_size)
        err = info.value
        assert err.lf_name == "rw_fragile"
        assert err.row_id == "r7"
        assert err.position == 7
        assert isinstance(err.__cause__, KeyError)
        assert err.__cause__.args == ("boom",)
        msg = str(err)
        assert "'rw_fragile'" in msg
        assert "KeyError" in msg
        assert "row 'r7' (position 7)" in msg
        assert "fault_tolerant=True" in msg

    @pytest.mark.parametrize("batch_size", [1, 3, 8, 262_144])
    @pytest.mark.parametrize("n_threads", [1, 4])
    def test_vectorized_is_bisected_to_the_first_poisoned_row(self, df, batch_size, n_threads):
        with pytest.raises(LabelingFunctionError) as info:
            apply([keyword_lf("x", 1), vec_fragile], df, batch_size=batch_size, n_threads=n_threads)
        err = info.value
        assert err.lf_name == "vec_fragile"
        assert err.row_id == "r7"
        assert err.position == 7
        assert isinstance(err.__cause__, ValueError)
        assert "'vec_fragile' raised ValueError: poisoned batch on row 'r7' (position 7)" in str(
            err
        )

    def test_vectorized_that_fails_only_on_whole_batches_names_the_batch(self, df):
        @labeling_function(vectorized=True)
        def needs_company(frame):
            # raises on any batch of more than 4 rows that holds r7, never on a single row
            if len(frame) > 4 and "r7" in frame.index:
                raise RuntimeError("too big")
            return np.zeros(len(frame), dtype=int)

        with pytest.raises(LabelingFunctionError) as info:
            apply([needs_company], df, batch_size=10)
        err = info.value
        assert err.lf_name == "needs_company"
        assert err.row_id is None
        assert err.position is None
        assert "rows 0..9" in str(err)

    def test_error_is_a_runtime_error_and_a_weakflow_error(self, df):
        with pytest.raises(RuntimeError):
            apply([rw_fragile], df)
        with pytest.raises(WeakflowError):
            apply([rw_fragile], df)

    def test_row_wise_lf_with_pre_and_resources(self, df):
        def pre(x):
            x.flag = x.text == POISON
            return x

        @labeling_function(pre=[pre], resources={"label": 1})
        def fragile_pre(x, label):
            if x.flag:
                raise ZeroDivisionError("pre said so")
            return label

        with pytest.raises(LabelingFunctionError) as info:
            apply([fragile_pre], df, batch_size=4)
        assert (info.value.lf_name, info.value.row_id, info.value.position) == (
            "fragile_pre",
            "r7",
            7,
        )
        assert isinstance(info.value.__cause__, ZeroDivisionError)

    def test_failing_preprocessor_is_reported_as_the_lf(self, df):
        def bad_pre(x):
            if x.text == POISON:
                raise TypeError("bad pre")
            return x

        @labeling_function(pre=[bad_pre])
        def lf_with_bad_pre(x):
            return 0

        with pytest.raises(LabelingFunctionError) as info:
            apply([lf_with_bad_pre], df)
        assert info.value.lf_name == "lf_with_bad_pre"
        assert info.value.row_id == "r7"

    def test_first_row_and_default_index(self):
        data = pd.DataFrame({"text": [POISON, "ok"]})
        with pytest.raises(LabelingFunctionError) as info:
            apply([rw_fragile], data.assign(n=[0, 1]))
        assert info.value.row_id == 0
        assert info.value.position == 0

    def test_position_counts_across_batches(self, df):
        data = df.drop(index="r7")  # first poison now at position 12, id r13
        with pytest.raises(LabelingFunctionError) as info:
            apply([vec_fragile], data, batch_size=5)
        assert (info.value.row_id, info.value.position) == ("r13", 12)


# -- bad outputs ------------------------------------------------------------------------------
def returning(value, on="r2"):
    """A row-wise LF that returns ``value`` on row ``on`` and abstains elsewhere."""

    @labeling_function(name="odd_output")
    def odd_output(x):
        return value if x.name == on else ABSTAIN

    return odd_output


@pytest.fixture
def named():
    return pd.DataFrame({"name": ["r0", "r1", "r2", "r3"]}, index=["a", "b", "c", "d"])


class TestBadOutputs:
    @pytest.mark.parametrize("label", [2, 5, -2])
    def test_label_out_of_range(self, named, label):
        with pytest.raises(LabelingFunctionOutputError) as info:
            apply([returning(label)], named, cardinality=2)
        err = info.value
        assert (err.lf_name, err.row_id, err.position) == ("odd_output", "c", 2)
        assert f"returned label {label}" in str(err)
        assert "-1..1" in str(err)

    def test_out_of_range_suggests_the_cardinality(self, named):
        with pytest.raises(LabelingFunctionOutputError, match="pass cardinality=6"):
            apply([returning(5)], named, cardinality=3)

    def test_labels_below_abstain_without_cardinality(self, named):
        with pytest.raises(LabelingFunctionOutputError) as info:
            apply([returning(-3)], named)
        assert (info.value.row_id, info.value.position) == ("c", 2)

    @pytest.mark.parametrize(
        ("value", "shown"),
        [
            ("spam", "'spam' (str)"),
            ("1", "'1' (str)"),
            (None, "None (NoneType)"),
            (0.5, "0.5"),
            (float("nan"), "nan"),
            (True, "True (bool)"),
            (False, "False (bool)"),
            (np.True_, "True"),
            ([1], "[1]"),
        ],
        ids=["str", "digit-str", "None", "float", "nan", "True", "False", "np-bool", "list"],
    )
    def test_non_integers_are_rejected_on_the_right_row(self, named, value, shown):
        with pytest.raises(LabelingFunctionOutputError) as info:
            apply([returning(value)], named)
        err = info.value
        assert err.lf_name == "odd_output"
        assert err.row_id == "c"
        assert err.position == 2
        assert "'odd_output'" in str(err)
        assert shown in str(err)
        assert "row 'c' (position 2)" in str(err)

    def test_none_hint_says_to_abstain(self, named):
        with pytest.raises(LabelingFunctionOutputError, match=r"return ABSTAIN \(-1\)"):
            apply([returning(None)], named)

    @pytest.mark.parametrize("value", [1.0, np.int64(1), np.int8(1), np.float32(1.0)])
    def test_whole_numbers_of_other_types_are_accepted(self, named, value):
        L = apply([returning(value)], named)
        assert L.values[:, 0].tolist() == [-1, -1, 1, -1]

    def test_all_bool_output_is_rejected(self, named):
        @labeling_function()
        def always_true(x):
            return True

        with pytest.raises(LabelingFunctionOutputError) as info:
            apply([always_true], named)
        assert (info.value.row_id, info.value.position) == ("a", 0)

    def test_vectorized_bool_mask_is_rejected(self, named):
        @labeling_function(vectorized=True)
        def mask(frame):
            return frame.name == "r2"

        with pytest.raises(LabelingFunctionOutputError, match="bool") as info:
            apply([mask], named)
        assert info.value.lf_name == "mask"

    def test_vectorized_out_of_range_names_the_row(self, named):
        @labeling_function(vectorized=True)
        def too_big(frame):
            return np.where(frame.name == "r3", 7, ABSTAIN)

        with pytest.raises(LabelingFunctionOutputError) as info:
            apply([too_big], named, cardinality=2, batch_size=3)
        assert (info.value.lf_name, info.value.row_id, info.value.position) == ("too_big", "d", 3)

    def test_vectorized_object_array_of_ints_is_accepted(self, named):
        @labeling_function(vectorized=True)
        def objects(frame):
            return np.array([1, -1, 0, 1], dtype=object)

        assert apply([objects], named).values[:, 0].tolist() == [1, -1, 0, 1]

    def test_vectorized_float_with_nan(self, named):
        @labeling_function(vectorized=True)
        def floats(frame):
            return np.array([1.0, np.nan, 0.0, 1.0])

        with pytest.raises(LabelingFunctionOutputError) as info:
            apply([floats], named)
        assert (info.value.row_id, info.value.position) == ("b", 1)

    @pytest.mark.parametrize(
        ("make", "what"),
        [
            (lambda n: np.zeros(n - 1, dtype=int), "returned 3 labels for a batch of 4 rows"),
            (lambda n: np.zeros(n + 1, dtype=int), "returned 5 labels for a batch of 4 rows"),
            (lambda n: np.zeros((n, 2), dtype=int), "an array of shape (4, 2)"),
            (lambda n: 1, "an array of shape ()"),
        ],
        ids=["short", "long", "2d", "scalar"],
    )
    def test_vectorized_wrong_length(self, named, make, what):
        @labeling_function(vectorized=True)
        def wrong_len(frame):
            return make(len(frame))

        with pytest.raises(LabelingFunctionOutputError) as info:
            apply([wrong_len], named)
        err = info.value
        assert err.lf_name == "wrong_len"
        assert err.row_id is None
        assert err.position is None
        assert what in str(err)

    def test_bad_output_is_not_a_fault(self, named):
        # fault tolerance absorbs exceptions, not wrong answers
        with pytest.raises(LabelingFunctionOutputError):
            apply([returning("spam")], named, fault_tolerant=True)

    def test_output_error_is_a_value_error(self, named):
        with pytest.raises(ValueError, match="odd_output"):
            apply([returning(9)], named, cardinality=2)


# -- definitions and inputs -------------------------------------------------------------------
class TestDefinitionsAndInputs:
    def test_duplicate_names(self, df):
        other = keyword_lf("x", 1, name="rw_fragile")
        with pytest.raises(LabelingFunctionDefinitionError) as info:
            apply([rw_fragile, keyword_lf("y", 1), other], df)
        assert "'rw_fragile'" in str(info.value)
        assert "positions 0 and 2" in str(info.value)

    def test_same_lf_twice(self, df):
        with pytest.raises(LabelingFunctionDefinitionError, match="must be unique"):
            apply([rw_fragile, rw_fragile], df)

    def test_plain_function(self, df):
        def my_plain_rule(x):
            return 1

        with pytest.raises(LabelingFunctionDefinitionError) as info:
            apply([keyword_lf("x", 1), my_plain_rule], df)
        assert "my_plain_rule is a plain function" in str(info.value)
        assert "@labeling_function()" in str(info.value)

    def test_non_lf_object(self, df):
        with pytest.raises(LabelingFunctionDefinitionError, match="got str"):
            apply(["keyword_x"], df)

    def test_missing_column_for_a_builder(self, df):
        with pytest.raises(SchemaError) as info:
            apply([keyword_lf("x", 1, field="body", name="kw_body")], df)
        assert "no column 'body'" in str(info.value)
        assert "'kw_body'" in str(info.value)

    def test_missing_column_in_a_row_wise_lf_names_the_lf_and_row(self, df):
        @labeling_function()
        def reads_body(x):
            return 1 if x.body else 0

        with pytest.raises(LabelingFunctionError) as info:
            apply([reads_body], df)
        assert (info.value.lf_name, info.value.row_id, info.value.position) == (
            "reads_body",
            "r0",
            0,
        )
        assert isinstance(info.value.__cause__, AttributeError)

    def test_empty_frame(self, df):
        with pytest.raises(SchemaError, match="no rows"):
            apply([rw_fragile], df.iloc[:0])

    def test_frame_without_columns_or_rows(self):
        with pytest.raises(SchemaError, match="no rows"):
            apply([rw_fragile], pd.DataFrame())

    @pytest.mark.parametrize(
        "data",
        [[{"text": "a"}], np.array([["a"]]), {"text": ["a"]}, "text", None],
        ids=["list", "ndarray", "dict", "str", "None"],
    )
    def test_non_dataframe_input(self, data):
        with pytest.raises(SchemaError) as info:
            apply([rw_fragile], data)
        assert "needs a pandas DataFrame" in str(info.value)
        assert type(data).__name__ in str(info.value)

    def test_duplicate_columns(self):
        data = pd.DataFrame([["a", "b"]], columns=["text", "text"])
        with pytest.raises(SchemaError, match="duplicate column names"):
            apply([rw_fragile], data)

    def test_unknown_engine(self, df):
        with pytest.raises(SchemaError, match="engine must be"):
            apply([rw_fragile], df, engine="spark")


# -- fault tolerance --------------------------------------------------------------------------
class TestFaultTolerance:
    @pytest.mark.parametrize("batch_size", [1, 3, 8, 262_144])
    def test_row_wise_abstains_on_exactly_the_failing_rows(self, df, batch_size):
        L = apply([rw_fragile], df, fault_tolerant=True, batch_size=batch_size)
        expected = [ABSTAIN if t == POISON else n % 2 for t, n in zip(df.text, df.n, strict=True)]
        assert L.values[:, 0].tolist() == expected
        assert L.fault_counts == {"rw_fragile": 2}

    @pytest.mark.parametrize("batch_size", [1, 3, 8, 262_144])
    @pytest.mark.parametrize("n_threads", [1, 4])
    def test_vectorized_abstains_on_exactly_the_failing_rows(self, df, batch_size, n_threads):
        L = apply(
            [vec_fragile, keyword_lf("text", 0)],
            df,
            fault_tolerant=True,
            batch_size=batch_size,
            n_threads=n_threads,
        )
        # every other row keeps its label, although each batch holding a poison row failed
        expected = [
            ABSTAIN if t == POISON else (1 if n % 3 == 0 else 0)
            for t, n in zip(df.text, df.n, strict=True)
        ]
        assert L.values[:, 0].tolist() == expected
        assert L.fault_counts == {"vec_fragile": 2, "keyword_text": 0}

    def test_counts_per_lf_with_several_failing_lfs(self, df):
        @labeling_function()
        def fails_on_multiples_of_5(x):
            if x.n % 5 == 0:
                raise ArithmeticError
            return 1

        L = apply(
            [rw_fragile, vec_fragile, fails_on_multiples_of_5, keyword_lf("text", 0)],
            df,
            fault_tolerant=True,
            batch_size=6,
        )
        assert L.fault_counts == {
            "rw_fragile": 2,
            "vec_fragile": 2,
            "fails_on_multiples_of_5": 4,  # n = 0, 5, 10, 15
            "keyword_text": 0,
        }
        assert L.values[:, 2].tolist() == [ABSTAIN if n % 5 == 0 else 1 for n in range(20)]
        # the keyword LF is unaffected: every non-poison text contains "text"
        assert L.values[:, 3].tolist() == [ABSTAIN if t == POISON else 0 for t in df.text]

    def test_vectorized_that_always_raises_abstains_everywhere(self, df):
        @labeling_function(vectorized=True)
        def hopeless(frame):
            raise RuntimeError("never works")

        L = apply([hopeless], df, fault_tolerant=True)
        assert (L.values == ABSTAIN).all()
        assert L.fault_counts == {"hopeless": 20}

    def test_counts_are_zero_without_faults(self, df):
        L = apply([keyword_lf("text", 0)], df, fault_tolerant=True)
        assert L.fault_counts == {"keyword_text": 0}


# -- pickling ---------------------------------------------------------------------------------
class TestPickling:
    def test_raised_error_survives_pickling(self, df):
        with pytest.raises(LabelingFunctionError) as info:
            apply([rw_fragile], df)
        err = pickle.loads(pickle.dumps(info.value))
        assert type(err) is LabelingFunctionError
        assert (err.lf_name, err.row_id, err.position) == ("rw_fragile", "r7", 7)
        assert str(err) == str(info.value)

    def test_output_error_survives_pickling(self, named):
        with pytest.raises(LabelingFunctionOutputError) as info:
            apply([returning(9)], named, cardinality=2)
        err = pickle.loads(pickle.dumps(info.value))
        assert type(err) is LabelingFunctionOutputError
        assert (err.lf_name, err.row_id, err.position) == ("odd_output", "c", 2)
        assert str(err) == str(info.value)

    @pytest.mark.parametrize("cls", [LabelingFunctionError, LabelingFunctionOutputError])
    def test_constructed_errors_survive_pickling(self, cls):
        row_id = ("tuple", 3)
        err = cls("message", lf_name="lf", row_id=row_id, position=12)
        back = pickle.loads(pickle.dumps(err, protocol=pickle.HIGHEST_PROTOCOL))
        assert type(back) is cls
        assert (back.lf_name, back.row_id, back.position, str(back)) == (
            "lf",
            row_id,
            12,
            "message",
        )
        none = pickle.loads(pickle.dumps(cls("m", lf_name="x")))
        assert (none.row_id, none.position) == (None, None)


@pytest.mark.parametrize("n_threads", [1, 4])
def test_first_lf_in_the_list_reports_its_error_whatever_the_threading(n_threads):
    @labeling_function()
    def row_fails(x):
        raise ValueError("row-wise")

    @labeling_function(vectorized=True)
    def vec_fails(df):
        raise ValueError("vectorized")

    df = pd.DataFrame({"text": ["a", "b"]})
    for lfs, first in (
        ([vec_fails, row_fails], "vec_fails"),
        ([row_fails, vec_fails], "row_fails"),
    ):
        with pytest.raises(LabelingFunctionError) as info:
            apply_lfs(lfs, df, progress=False, n_threads=n_threads)
        assert info.value.lf_name == first


def test_batch_size_must_be_a_real_integer():
    lf = keyword_lf("a", 1)
    with pytest.raises(SchemaError, match="batch_size"):
        apply_lfs([lf], pd.DataFrame({"text": ["a"]}), progress=False, batch_size=True)
