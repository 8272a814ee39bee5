"""Row objects: what row-wise LFs receive (Row) and what preprocessors receive (MutableRow)."""

from __future__ import annotations

import pandas as pd
import pytest

from weakflow.labeling import MutableRow, Row, apply_lfs, labeling_function
from weakflow.labeling._row import row_type


def make_row(columns, values):
    return row_type(columns)(*values)


class TestRow:
    def test_reads_like_a_series(self):
        x = make_row(["text", "n"], ("hello", 3))
        assert isinstance(x, Row)
        assert x.text == "hello"
        assert x["text"] == "hello"
        assert x.n == 3
        assert x["n"] == 3
        assert x.keys() == ("text", "n")
        assert list(x.items()) == [("text", "hello"), ("n", 3)]
        assert x.to_dict() == {"text": "hello", "n": 3}

    def test_get_with_default(self):
        x = make_row(["text"], ("hi",))
        assert x.get("text") == "hi"
        assert x.get("missing") is None
        assert x.get("missing", -1) == -1

    def test_contains_tests_column_names_not_values(self):
        x = make_row(["text", "n"], ("n", 1))
        assert "text" in x
        assert "n" in x
        assert "hello" not in x
        assert 1 not in x

    def test_missing_key_raises_key_error_naming_it(self):
        x = make_row(["text"], ("hi",))
        with pytest.raises(KeyError, match="nope"):
            x["nope"]

    def test_missing_attribute_raises_attribute_error(self):
        x = make_row(["text"], ("hi",))
        with pytest.raises(AttributeError):
            _ = x.nope

    def test_integer_and_slice_keys_are_positional(self):
        x = make_row(["a", "b", "c"], (1, 2, 3))
        assert x[0] == 1
        assert x[-1] == 3
        assert x[1:] == (2, 3)

    def test_non_identifier_columns_are_reachable_by_key_and_by_position_attribute(self):
        x = make_row(["text", "a b", "class", "_private"], ("t", 1, 2, 3))
        assert x["a b"] == 1
        assert x["class"] == 2
        assert x["_private"] == 3
        # namedtuple renames invalid identifiers to _<position>
        assert x._1 == 1
        assert x._2 == 2
        assert x._3 == 3
        assert x.keys() == ("text", "a b", "class", "_private")

    def test_row_type_is_cached_per_schema(self):
        assert row_type(["a", "b"]) is row_type(["a", "b"])
        assert row_type(["a", "b"]) is not row_type(["b", "a"])

    def test_row_is_a_tuple_and_immutable(self):
        x = make_row(["text"], ("hi",))
        assert tuple(x) == ("hi",)
        with pytest.raises(AttributeError):
            x.text = "changed"


class TestMutableRow:
    def test_attribute_and_key_access_are_the_same_storage(self):
        x = MutableRow({"text": "hi"})
        assert x.text == "hi"
        x.words = ["hi"]
        assert x["words"] == ["hi"]
        x["n"] = 1
        assert x.n == 1

    def test_delete_attribute(self):
        x = MutableRow({"text": "hi", "tmp": 1})
        del x.tmp
        assert "tmp" not in x
        with pytest.raises(AttributeError):
            del x.tmp

    def test_missing_attribute_raises_attribute_error_not_key_error(self):
        x = MutableRow({"text": "hi"})
        with pytest.raises(AttributeError, match="missing"):
            _ = x.missing
        # getattr with a default relies on AttributeError
        assert getattr(x, "missing", 7) == 7

    def test_copy_is_independent_and_still_a_mutable_row(self):
        x = MutableRow({"text": "hi"})
        y = x.copy()
        y.text = "changed"
        assert isinstance(y, MutableRow)
        assert x.text == "hi"
        assert x.to_dict() == {"text": "hi"}
        assert type(x.to_dict()) is dict


class TestRowsAsLFsSeeThem:
    def test_row_wise_lf_gets_a_row_with_every_column(self):
        df = pd.DataFrame({"text": ["a", "b"], "n words": [1, 2], "class": [0, 1]})
        seen = []

        @labeling_function()
        def spy(x):
            seen.append((type(x), x.text, x["n words"], x["class"], x.keys()))
            return -1

        apply_lfs([spy], df, progress=False)
        assert len(seen) == 2
        for kind, *_ in seen:
            assert issubclass(kind, Row)
        assert [s[1:4] for s in seen] == [("a", 1, 0), ("b", 2, 1)]
        assert seen[0][4] == ("text", "n words", "class")

    def test_row_values_are_python_objects(self):
        df = pd.DataFrame({"n": [1, 2], "f": [0.5, 1.5]})

        @labeling_function()
        def is_int(x):
            return 1 if type(x.n) is int and type(x.f) is float else 0

        assert apply_lfs([is_int], df, progress=False).values.ravel().tolist() == [1, 1]

    def test_lf_with_pre_gets_a_mutable_row_and_changes_do_not_leak(self):
        df = pd.DataFrame({"text": ["one two three", "one"]})
        kinds = []

        def add_words(x):
            kinds.append(type(x))
            x.words = x.text.split()
            x.text = "overwritten"
            return x

        @labeling_function(pre=[add_words])
        def many_words(x):
            return 1 if len(x.words) >= 3 else 0

        @labeling_function()
        def sees_original(x):
            # a later LF must see the data, not another LF's preprocessed row
            return 1 if x.text != "overwritten" and "words" not in x else 0

        L = apply_lfs([many_words, sees_original], df, progress=False)
        assert L.values.tolist() == [[1, 1], [0, 1]]
        assert kinds == [MutableRow, MutableRow]
        assert df["text"].tolist() == ["one two three", "one"]


def test_integer_column_labels_win_over_positions_like_pandas():
    R = row_type([5, 7])
    r = R._make(["five", "seven"])
    assert r[5] == "five"
    assert r[7] == "seven"
    assert r[0] == "five"  # not a label: positional, as Series.__getitem__ falls back
    with pytest.raises(KeyError):
        r["missing"]
