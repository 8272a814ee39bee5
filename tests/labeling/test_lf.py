"""LabelingFunction and the @labeling_function decorator (row-wise and vectorized)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weakflow import ABSTAIN
from weakflow.errors import LabelingFunctionDefinitionError
from weakflow.labeling import (
    LabelingFunction,
    apply_lfs,
    as_labeling_function,
    keyword_lf,
    labeling_function,
)

SPAM, HAM = 1, 0


@pytest.fixture
def df():
    return pd.DataFrame(
        {
            "text": ["check out my channel", "great song", "subscribe plz", "wow"],
            "n_links": [1, 0, 2, 0],
        },
        index=["a", "b", "c", "d"],
    )


def votes(lfs, frame, **kwargs):
    return apply_lfs(lfs, frame, progress=False, **kwargs).values.T.tolist()


class TestDecoratorForms:
    def test_snorkel_spelling_with_parentheses(self, df):
        @labeling_function()
        def lf_channel(x):
            return SPAM if "channel" in x.text else ABSTAIN

        assert isinstance(lf_channel, LabelingFunction)
        assert lf_channel.name == "lf_channel"
        assert lf_channel.vectorized is False
        assert lf_channel.resources == {}
        assert lf_channel.pre == []
        assert votes([lf_channel], df) == [[1, -1, -1, -1]]

    def test_bare_decorator(self, df):
        @labeling_function
        def lf_song(x):
            return HAM if "song" in x.text else ABSTAIN

        assert isinstance(lf_song, LabelingFunction)
        assert lf_song.name == "lf_song"
        assert votes([lf_song], df) == [[-1, 0, -1, -1]]

    def test_name_argument_overrides_function_name(self, df):
        @labeling_function(name="custom")
        def whatever(x):
            return SPAM

        assert whatever.name == "custom"
        assert apply_lfs([whatever], df, progress=False).lf_names == ("custom",)

    def test_name_as_first_positional_string(self):
        @labeling_function("positional")
        def f(x):
            return SPAM

        assert f.name == "positional"

    def test_resources_are_passed_as_keyword_arguments(self, df):
        @labeling_function(resources={"words": {"plz", "wow"}, "label": SPAM})
        def lf_words(x, words, label):
            return label if set(x.text.split()) & words else ABSTAIN

        assert lf_words.resources == {"words": {"plz", "wow"}, "label": SPAM}
        assert votes([lf_words], df) == [[-1, -1, 1, 1]]

    def test_resources_are_copied(self):
        res = {"k": 1}
        lf = LabelingFunction("r", lambda x, k: k, resources=res)
        res["k"] = 2
        assert lf.resources == {"k": 1}

    def test_pre_adds_a_field_in_place_like_a_snorkel_preprocessor(self, df):
        def add_words(x):
            x.words = x.text.split()
            return x

        def add_n_words(x):  # runs second: sees the field the first one added
            x.n_words = len(x.words)
            return x

        @labeling_function(pre=[add_words, add_n_words])
        def short(x):
            return HAM if x.n_words < 3 else ABSTAIN

        assert short.pre == [add_words, add_n_words]
        assert votes([short], df) == [[-1, 0, 0, 0]]
        assert "words" not in df.columns

    def test_pre_that_returns_a_new_object(self, df):
        def upper(x):
            return {"text": x["text"].upper()}

        @labeling_function(pre=[upper])
        def shouting(x):
            return SPAM if x["text"].isupper() else ABSTAIN

        assert votes([shouting], df) == [[1, 1, 1, 1]]

    def test_calling_a_row_wise_lf_directly(self):
        def add_len(x):
            x["n"] = len(x["text"])
            return x

        lf = LabelingFunction(
            "long", lambda x, t: int(x["n"] > t), resources={"t": 3}, pre=[add_len]
        )
        assert lf({"text": "hello"}) == 1
        assert lf({"text": "hi"}) == 0


class TestVectorized:
    def test_vectorized_decorator_gets_the_frame(self, df):
        seen = []

        @labeling_function(vectorized=True)
        def many_links(frame):
            seen.append(type(frame))
            return np.where(frame.n_links >= 2, SPAM, ABSTAIN)

        assert many_links.vectorized is True
        assert votes([many_links], df) == [[-1, -1, 1, -1]]
        assert seen == [pd.DataFrame]

    def test_vectorized_may_return_a_series_or_a_list(self, df):
        @labeling_function(vectorized=True)
        def as_series(frame):
            return (frame.n_links > 0).astype(int) * 2 - 1  # 1 or -1, index kept

        @labeling_function(vectorized=True)
        def as_list(frame):
            return [0 if "song" in t else -1 for t in frame.text]

        assert votes([as_series, as_list], df) == [[1, -1, 1, -1], [-1, 0, -1, -1]]

    def test_vectorized_series_with_another_index_is_taken_positionally(self, df):
        @labeling_function(vectorized=True)
        def reversed_index(frame):
            return pd.Series([1, 0, 1, 0], index=[9, 8, 7, 6])

        assert votes([reversed_index], df) == [[1, 0, 1, 0]]

    def test_vectorized_with_resources_and_pre(self, df):
        def add_len(frame):
            frame["length"] = frame.text.str.len()
            return frame

        @labeling_function(vectorized=True, pre=[add_len], resources={"limit": 5})
        def short(frame, limit):
            return np.where(frame.length <= limit, HAM, ABSTAIN)

        assert votes([short], df) == [[-1, -1, -1, 0]]
        # the preprocessor wrote into a copy, not into the caller's frame
        assert "length" not in df.columns

    def test_vectorized_lf_is_callable_on_a_frame(self, df):
        lf = labeling_function(vectorized=True)(lambda frame: np.full(len(frame), 1))
        assert lf(df).tolist() == [1, 1, 1, 1]
        assert lf.name == "<lambda>"


class TestDefinitionErrors:
    @pytest.mark.parametrize("name", ["", "   ", 3, None])
    def test_bad_names(self, name):
        with pytest.raises(LabelingFunctionDefinitionError, match="non-empty string name"):
            LabelingFunction(name, lambda x: 1)

    def test_decorator_name_must_be_a_string(self):
        with pytest.raises(LabelingFunctionDefinitionError, match="must be a string"):
            labeling_function(name=3)

    def test_f_must_be_callable(self):
        with pytest.raises(LabelingFunctionDefinitionError, match="f must be callable"):
            LabelingFunction("x", "not a function")

    def test_decorating_a_non_callable(self):
        with pytest.raises(LabelingFunctionDefinitionError, match="decorates a function"):
            labeling_function(name="x")(42)

    def test_pre_must_be_callable(self):
        with pytest.raises(LabelingFunctionDefinitionError, match="preprocessor 'oops'"):
            LabelingFunction("x", lambda x: 1, pre=["oops"])

    def test_errors_are_value_errors(self):
        with pytest.raises(ValueError, match="non-empty string name"):
            LabelingFunction("", lambda x: 1)


class TestAsLabelingFunction:
    def test_passes_lfs_through(self):
        lf = keyword_lf("x", 1)
        assert as_labeling_function(lf) is lf

    def test_plain_function_is_rejected_with_the_fix(self):
        def my_rule(x):
            return 1

        with pytest.raises(LabelingFunctionDefinitionError) as info:
            as_labeling_function(my_rule)
        assert "my_rule is a plain function" in str(info.value)
        assert "@labeling_function()" in str(info.value)

    def test_non_callable_is_rejected(self):
        with pytest.raises(LabelingFunctionDefinitionError, match="got int: 5"):
            as_labeling_function(5)


class TestIdentity:
    def test_repr(self):
        def p(x):
            return x

        lf = LabelingFunction("n", lambda x: 1, pre=[p])
        assert repr(lf) == "LabelingFunction(name='n', row-wise, pre=['p'])"
        vec = LabelingFunction("v", lambda f: f, vectorized=True)
        assert repr(vec) == "LabelingFunction(name='v', vectorized)"

    def test_source_is_the_function_code(self):
        @labeling_function()
        def lf_marker(x):
            return 1 if "MARKER_7731" in x.text else -1

        assert "MARKER_7731" in lf_marker.source
        assert lf_marker.source.lstrip().startswith("@labeling_function()")

    def test_source_hash_changes_with_the_code(self):
        @labeling_function()
        def lf_a(x):
            return 1

        @labeling_function()
        def lf_b(x):
            return 0

        @labeling_function()
        def lf_a2(x):
            return 1

        assert len(lf_a.source_hash) == 64
        assert lf_a.source_hash != lf_b.source_hash
        assert lf_a.source_hash == lf_a.source_hash
        assert lf_a.source_hash != lf_a2.source_hash  # the name is part of the code

    def test_source_falls_back_to_repr_without_source(self):
        lf = LabelingFunction("builtin", len)
        assert lf.source == repr(lf)

    def test_python_lfs_do_not_know_their_fields(self):
        assert LabelingFunction("x", lambda x: 1).fields is None
        assert LabelingFunction("x", lambda x: 1).kind == "python"
