"""The builders: keyword_lf, regex_lf, threshold_lf, lookup_lf and model_lf."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from weakflow.errors import LabelingFunctionDefinitionError, LabelingFunctionError, SchemaError
from weakflow.labeling import (
    apply_lfs,
    keyword_lf,
    lookup_lf,
    model_lf,
    regex_lf,
    threshold_lf,
)


def run(lf, frame, **kwargs):
    """The LF's votes through the engine (one column)."""
    return apply_lfs([lf], frame, progress=False, **kwargs).values[:, 0].tolist()


def texts(*values):
    return pd.DataFrame({"text": list(values)})


class TestKeyword:
    def test_single_keyword_case_insensitive_by_default(self):
        df = texts("Please SUBSCRIBE", "subscribed!", "great song", "sub scribe")
        assert run(keyword_lf("subscribe", 1), df) == [1, 1, -1, -1]

    def test_multiple_keywords_are_or_ed(self):
        df = texts("please help", "PLZ", "plea", "nothing", "pleaplz")
        assert run(keyword_lf(["please", "plz"], 1), df) == [1, 1, -1, -1, 1]

    def test_case_sensitive(self):
        df = texts("Song", "song", "SONG", "a song.")
        lf = keyword_lf("song", 0, case_sensitive=True)
        assert run(lf, df) == [-1, 0, -1, 0]

    def test_case_insensitive_uses_unicode_case_folding(self):
        df = texts("ÉTÉ chaud", "été", "ete", "ΣΟΦΊΑ")
        assert run(keyword_lf("été", 1), df) == [1, 1, -1, -1]
        assert run(keyword_lf("σοφία", 1), df) == [-1, -1, -1, 1]

    def test_whole_word(self):
        df = texts(
            "a cat.",  # punctuation after: whole word
            "concatenate",  # inside a longer word
            "cat",  # the whole text
            "cats",  # letter after
            "cat_",  # underscore after
            "cat1",  # digit after
            "écat",  # non-ASCII letter before
            "(CAT)",  # case ignored by default
            "dog\ncat\n",  # newline around
        )
        lf = keyword_lf("cat", 1, whole_word=True)
        assert run(lf, df) == [1, -1, 1, -1, -1, -1, -1, 1, 1]

    def test_whole_word_multiple_keywords_and_case_sensitive(self):
        df = texts("my channel rocks", "mychannel", "Check my vids", "vids", "MY CHANNEL")
        lf = keyword_lf(["my channel", "vids"], 1, whole_word=True, case_sensitive=True)
        assert run(lf, df) == [1, -1, 1, 1, -1]

    def test_whole_word_keyword_with_regex_metacharacters(self):
        df = texts("I love c++ a lot", "c++x", "cxx", "a.b+c?", "aXb+c?")
        assert run(keyword_lf("c++", 1, whole_word=True), df) == [1, -1, -1, -1, -1]
        assert run(keyword_lf("a.b+c?", 1, whole_word=True), df) == [-1, -1, -1, 1, -1]

    def test_missing_values_abstain(self):
        df = pd.DataFrame({"text": ["spam here", None, np.nan, "spam", pd.NA]}, dtype=object)
        assert run(keyword_lf("spam", 1), df) == [1, -1, -1, 1, -1]
        assert run(keyword_lf("spam", 1, whole_word=True), df) == [1, -1, -1, 1, -1]

    def test_missing_values_abstain_in_string_dtypes(self):
        for dtype in ["string", "str"]:
            df = pd.DataFrame({"text": ["spam here", None, "spam"]}).astype({"text": dtype})
            assert run(keyword_lf("spam", 1), df) == [1, -1, 1]

    def test_all_missing_column(self):
        df = pd.DataFrame({"text": [None, None]}, dtype=object)
        assert run(keyword_lf("x", 1), df) == [-1, -1]

    def test_categorical_text_column(self):
        df = pd.DataFrame({"text": pd.Categorical(["spam", "ham", "spam", None])})
        assert run(keyword_lf("spam", 1), df) == [1, -1, 1, -1]

    def test_other_field(self):
        df = pd.DataFrame({"text": ["x", "y"], "author": ["Spammer Bob", "Alice"]})
        lf = keyword_lf("spammer", 1, field="author")
        assert run(lf, df) == [1, -1]
        assert lf.fields == ("author",)

    def test_default_name_and_params(self):
        lf = keyword_lf(["My Channel!", "other"], 1)
        assert lf.name == "keyword_my_channel"
        assert lf.kind == "keyword"
        assert lf.vectorized
        assert lf.params == {
            "keywords": ["My Channel!", "other"],
            "label": 1,
            "field": "text",
            "case_sensitive": False,
            "whole_word": False,
        }
        assert keyword_lf("x", 1, name="mine").name == "mine"

    def test_source_hash_depends_on_parameters(self):
        a = keyword_lf("x", 1)
        assert a.source_hash == keyword_lf("x", 1).source_hash
        assert a.source_hash != keyword_lf("x", 0).source_hash
        assert a.source_hash != keyword_lf("x", 1, case_sensitive=True).source_hash
        assert a.source_hash != keyword_lf("y", 1).source_hash
        assert "keyword_lf(" in a.source
        assert repr(a).startswith("keyword_lf(name='keyword_x'")

    @pytest.mark.parametrize("keywords", [[], "", [""], ["ok", ""], [None]])
    def test_empty_keywords_are_rejected(self, keywords):
        with pytest.raises(LabelingFunctionDefinitionError, match="non-empty keyword"):
            keyword_lf(keywords, 1)

    @pytest.mark.parametrize("label", [-1, -2, True, 1.0, "1", None])
    def test_label_must_be_a_class_index(self, label):
        with pytest.raises(LabelingFunctionDefinitionError, match="class index >= 0"):
            keyword_lf("x", label)

    def test_numeric_label_types_are_accepted(self):
        assert keyword_lf("x", np.int64(2)).params["label"] == 2

    def test_non_text_column_is_a_schema_error(self):
        df = pd.DataFrame({"text": [1, 2]})
        with pytest.raises(SchemaError, match="must hold text"):
            run(keyword_lf("1", 1), df)

    def test_mixed_type_column_is_a_schema_error(self):
        df = pd.DataFrame({"text": ["a", 1]}, dtype=object)
        with pytest.raises(SchemaError, match="mixes types"):
            run(keyword_lf("a", 1), df)


class TestRegex:
    def test_flags(self):
        df = texts("Check it out!", "CHECK OUT", "out of check", "checkout", "check\nout")
        assert run(regex_lf(r"check.*out", 1, flags=re.I), df) == [1, 1, -1, 1, -1]
        assert run(regex_lf(r"check.*out", 1), df) == [-1, -1, -1, 1, -1]
        assert run(regex_lf(r"check.*out", 1, flags=re.I | re.S), df) == [1, 1, -1, 1, 1]

    def test_search_not_match(self):
        df = texts("xx abc", "abc", "ab")
        assert run(regex_lf("abc", 1), df) == [1, 1, -1]
        assert run(regex_lf("^abc", 1), df) == [-1, 1, -1]

    def test_python_only_constructs_use_python_semantics(self):
        # \b and \w are Unicode-aware in Python; RE2 would treat 'é' as a non-word character
        df = texts("café au lait", "cafés", "le café", "x9", "١٢")
        assert run(regex_lf(r"\bcafé\b", 1), df) == [1, -1, 1, -1, -1]
        assert run(regex_lf(r"^\d+$", 1), df) == [-1, -1, -1, -1, 1]
        assert run(regex_lf(r"(?<=x)\d", 1), df) == [-1, -1, -1, 1, -1]

    def test_dollar_matches_before_a_trailing_newline_as_in_python(self):
        df = texts("end\n", "end", "end\nmore")
        assert run(regex_lf("end$", 1), df) == [1, 1, -1]

    def test_multiline_flag(self):
        df = texts("first\nsecond", "second")
        assert run(regex_lf("^second", 1), df) == [-1, 1]
        assert run(regex_lf("^second", 1, flags=re.M), df) == [1, 1]

    def test_missing_values_abstain(self):
        df = pd.DataFrame({"text": ["abc", None, np.nan, "zzz abc"]}, dtype=object)
        assert run(regex_lf("abc", 1), df) == [1, -1, -1, 1]
        assert run(regex_lf(r"\babc", 1), df) == [1, -1, -1, 1]

    def test_default_name(self):
        assert regex_lf(r"check.*out", 1).name == "regex_check_out"
        assert regex_lf(r"check.*out", 1, name="r").name == "r"

    def test_invalid_pattern(self):
        with pytest.raises(LabelingFunctionDefinitionError, match="not a valid regular expression"):
            regex_lf("(unclosed", 1)

    def test_flags_recorded_as_int(self):
        lf = regex_lf("a", 1, flags=re.I | re.M)
        assert lf.params["flags"] == int(re.I | re.M)


class TestThreshold:
    @pytest.fixture
    def df(self):
        return pd.DataFrame({"n": [0.0, 1.0, 2.0, 3.0, np.nan]})

    @pytest.mark.parametrize(
        ("op", "expected"),
        [
            (">=", [-1, -1, 1, 1, -1]),
            (">", [-1, -1, -1, 1, -1]),
            ("<=", [1, 1, 1, -1, -1]),
            ("<", [1, 1, -1, -1, -1]),
        ],
    )
    def test_each_op_and_nan_abstains(self, df, op, expected):
        assert run(threshold_lf("n", 2, label=1, op=op), df) == expected

    def test_default_op_is_ge(self, df):
        lf = threshold_lf("n", 2, label=0)
        assert lf.params["op"] == ">="
        assert run(lf, df) == [-1, -1, 0, 0, -1]

    def test_integer_nullable_and_object_columns(self):
        df = pd.DataFrame(
            {
                "i": pd.array([1, None, 5], dtype="Int64"),
                "o": pd.Series([1, None, 5], dtype=object),
                "s": ["1", "2.5", None],
            }
        )
        assert run(threshold_lf("i", 3, label=1), df) == [-1, -1, 1]
        assert run(threshold_lf("o", 3, label=1), df) == [-1, -1, 1]
        assert run(threshold_lf("s", 2, label=1), df) == [-1, 1, -1]

    def test_non_numeric_column_is_a_schema_error(self):
        df = pd.DataFrame({"n": ["one", "two"]})
        with pytest.raises(SchemaError, match="needs a numeric column"):
            run(threshold_lf("n", 2, label=1), df)

    def test_bad_op(self):
        with pytest.raises(LabelingFunctionDefinitionError, match="op must be one of"):
            threshold_lf("n", 2, label=1, op="==")

    def test_bad_threshold(self):
        with pytest.raises(LabelingFunctionDefinitionError, match="threshold must be a number"):
            threshold_lf("n", "high", label=1)

    def test_default_name(self):
        assert threshold_lf("n links", 2, label=1, op="<").name == "threshold_n_links_lt_2"
        assert threshold_lf("n", 2, label=1).fields == ("n",)


class TestLookup:
    def test_mapping_and_abstain_default(self):
        df = pd.DataFrame({"domain": ["spam.biz", "school.edu", "other.org", None]})
        lf = lookup_lf("domain", {"spam.biz": 1, "school.edu": 0})
        assert run(lf, df) == [1, 0, -1, -1]
        assert lf.name == "lookup_domain"

    def test_default_label(self):
        df = pd.DataFrame({"domain": ["spam.biz", "school.edu", "other.org"]})
        lf = lookup_lf("domain", {"school.edu": 0}, default=1, name="not_school")
        assert run(lf, df) == [1, 0, 1]

    def test_numeric_keys(self):
        df = pd.DataFrame({"code": [404, 200, 500, 200]})
        assert run(lookup_lf("code", {200: 0, 500: 1}), df) == [-1, 0, 1, 0]

    def test_params_summarize_the_table(self):
        lf = lookup_lf("f", {"a": 1, "b": 1, "c": 0})
        assert lf.params == {
            "field": "f",
            "default": -1,
            "table": {"n_entries": 3, "labels": [0, 1]},
        }

    @pytest.mark.parametrize("mapping", [{}, [("a", 1)], None])
    def test_mapping_must_be_a_non_empty_mapping(self, mapping):
        with pytest.raises(LabelingFunctionDefinitionError, match="non-empty mapping"):
            lookup_lf("f", mapping)

    def test_mapping_values_must_be_class_indices(self):
        with pytest.raises(LabelingFunctionDefinitionError, match=r"mapping\['a'\]"):
            lookup_lf("f", {"a": -1})

    def test_default_must_be_a_class_or_abstain(self):
        with pytest.raises(LabelingFunctionDefinitionError, match="default"):
            lookup_lf("f", {"a": 1}, default=-5)


@pytest.fixture(scope="module")
def numeric_model():
    # Symmetric around 1.5: the decision boundary is at 1.5, far points are confident.
    X = pd.DataFrame({"score": [0.0, 1.0, 2.0, 3.0]})
    return LogisticRegression().fit(X, [0, 0, 1, 1])


class TestModel:
    def test_logistic_regression_on_a_numeric_column(self, numeric_model):
        df = pd.DataFrame({"score": [-20.0, 1.5, 20.0]})
        lf = model_lf(numeric_model, name="score_model", field=["score"], threshold=0.7)
        assert run(lf, df) == [0, -1, 1]

    def test_agrees_with_predict_proba(self, numeric_model):
        df = pd.DataFrame({"score": np.linspace(-3, 6, 37)})
        proba = numeric_model.predict_proba(df[["score"]])
        for threshold in (0.5, 0.6, 0.9):
            lf = model_lf(numeric_model, name="m", field=["score"], threshold=threshold)
            expected = np.where(proba.max(axis=1) >= threshold, proba.argmax(axis=1), -1)
            assert run(lf, df) == expected.tolist()

    def test_pipeline_on_a_text_column(self):
        train = ["buy cheap pills now", "cheap pills", "free money now", "hello friend", "see you"]
        y = [1, 1, 1, 0, 0]
        clf = make_pipeline(CountVectorizer(), LogisticRegression(C=10.0)).fit(train, y)
        df = texts("cheap pills for free money", "hello my friend, see you", "unrelated words")
        lf = model_lf(clf, name="text_model", threshold=0.75)
        proba = clf.predict_proba(df["text"])
        assert proba[0, 1] > 0.75
        assert proba[1, 0] > 0.75
        assert proba[2].max() < 0.75
        assert run(lf, df) == [1, 0, -1]

    def test_string_classes_mapped_with_classes(self):
        X = pd.DataFrame({"score": [0.0, 1.0, 2.0, 3.0]})
        clf = LogisticRegression().fit(X, ["ham", "ham", "spam", "spam"])
        assert clf.classes_.tolist() == ["ham", "spam"]
        df = pd.DataFrame({"score": [-20.0, 20.0]})
        lf = model_lf(clf, name="m", field=["score"], classes=[0, 1])
        assert run(lf, df) == [0, 1]

    def test_callable_returning_probabilities(self):
        def proba(col):
            p = col.to_numpy(dtype=float)
            return np.column_stack([1 - p, p])

        df = pd.DataFrame({"p": [0.9, 0.1, 0.5, 0.7]})
        assert run(model_lf(proba, name="m", field="p", threshold=0.8), df) == [1, 0, -1, -1]
        assert run(model_lf(proba, name="m", field="p"), df) == [1, 0, 0, 1]

    def test_one_d_float_scores_are_p_of_class_one(self):
        df = pd.DataFrame({"p": [0.95, 0.05, 0.6, 0.5]})
        lf = model_lf(lambda col: col.to_numpy(dtype=float), name="m", field="p", threshold=0.9)
        assert run(lf, df) == [1, 0, -1, -1]

    def test_classes_map_probability_columns_to_labels(self):
        # three columns; the callable's column order is (class 2, class 0, class 1)
        def proba(frame):
            return frame[["a", "b", "c"]].to_numpy()

        df = pd.DataFrame(
            {"a": [0.8, 0.1, 0.3], "b": [0.1, 0.8, 0.3], "c": [0.1, 0.1, 0.4]},
        )
        lf = model_lf(proba, name="m", field=None, classes=[2, 0, 1], threshold=0.5)
        assert run(lf, df, cardinality=3) == [2, 0, -1]

    def test_hard_labels_from_predict(self):
        X = pd.DataFrame({"score": [0.0, 1.0, 2.0, 3.0]})
        svm = LinearSVC().fit(X, [0, 0, 1, 1])
        assert not hasattr(svm, "predict_proba")
        df = pd.DataFrame({"score": [-10.0, 10.0]})
        assert run(model_lf(svm, name="svm", field=["score"]), df) == [0, 1]

    def test_hard_labels_with_classes(self):
        lf = model_lf(
            lambda col: np.array([0, 1, 1]), name="m", field="text", classes=[1, 0], threshold=0.9
        )
        assert run(lf, texts("a", "b", "c")) == [1, 0, 0]

    def test_wrong_shape_is_a_schema_error(self):
        lf = model_lf(lambda col: np.zeros((2, 2)), name="bad_shape", field="text")
        with pytest.raises(SchemaError, match="bad_shape"):
            run(lf, texts("a", "b", "c"))

    def test_classes_length_mismatch_is_a_schema_error(self):
        lf = model_lf(lambda col: np.full((2, 3), 1 / 3), name="m3", field="text", classes=[0, 1])
        with pytest.raises(SchemaError, match="3 probability columns but 2 classes"):
            run(lf, texts("a", "b"))

    def test_model_errors_name_the_lf(self):
        def broken(col):
            raise RuntimeError("model server down")

        with pytest.raises(LabelingFunctionError, match="'remote'") as info:
            run(model_lf(broken, name="remote", field="text"), texts("a"))
        assert isinstance(info.value.__cause__, RuntimeError)

    def test_definition_errors(self):
        with pytest.raises(LabelingFunctionDefinitionError, match="predict_proba/predict"):
            model_lf(object(), name="m")
        with pytest.raises(LabelingFunctionDefinitionError, match=r"\[0, 1\]"):
            model_lf(len, name="m", threshold=1.5)
        with pytest.raises(LabelingFunctionDefinitionError, match="classes entry"):
            model_lf(len, name="m", classes=[0, -1])

    def test_fields(self):
        assert model_lf(len, name="a").fields == ("text",)
        assert model_lf(len, name="b", field=["x", "y"]).fields == ("x", "y")
        assert model_lf(len, name="c", field=None).fields is None


class TestMissingColumn:
    @pytest.mark.parametrize(
        "lf",
        [
            keyword_lf("x", 1, field="body"),
            regex_lf("x", 1, field="body"),
            threshold_lf("body", 1, label=1),
            lookup_lf("body", {"x": 1}),
            model_lf(len, name="model_body", field="body"),
            model_lf(len, name="model_cols", field=["text", "body"]),
        ],
        ids=lambda lf: lf.name,
    )
    def test_schema_error_names_the_column_and_the_lf(self, lf):
        df = texts("a", "b")
        with pytest.raises(SchemaError) as info:
            run(lf, df)
        msg = str(info.value)
        assert "no column 'body'" in msg
        assert f"Labeling function {lf.name!r}" in msg
        assert "'text'" in msg  # lists the columns there are

    def test_missing_column_is_not_a_fault(self):
        # fault_tolerant counts rows on which an LF raises; a missing column is a schema problem
        with pytest.raises(SchemaError, match="no column 'body'"):
            run(keyword_lf("x", 1, field="body"), texts("a"), fault_tolerant=True)


class TestModelLFLabelMapping:
    def test_classes_map_hard_labels_and_minus_one_abstains(self):
        # The model predicts indices into `classes`; -1 (or out of range) must abstain, never
        # silently become classes[-1].
        lf = model_lf(lambda X: np.array([0, 1, -1, 5]), name="m", field=None, classes=[1, 0])
        assert lf(pd.DataFrame({"a": range(4)})).tolist() == [1, 0, -1, -1]

    def test_string_classes_without_mapping_is_a_schema_error(self):
        X = pd.DataFrame({"score": [0.0, 1.0, 2.0, 3.0]})
        clf = LogisticRegression().fit(X, ["ham", "ham", "spam", "spam"])
        lf = model_lf(clf, name="strings", field=["score"])
        with pytest.raises(SchemaError, match="classes="):
            lf(X)

    def test_string_hard_labels_is_a_schema_error(self):
        lf = model_lf(lambda X: np.array(["spam", "ham"]), name="s", field=None)
        with pytest.raises(SchemaError, match="classes="):
            lf(pd.DataFrame({"a": [1, 2]}))
