"""apply_lfs on the local engine: results, row ids, dtypes, and identity across settings."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weakflow import ABSTAIN
from weakflow.errors import LabelingFunctionDefinitionError, SchemaError
from weakflow.labeling import (
    LabelMatrix,
    apply_lfs,
    check_lfs,
    keyword_lf,
    labeling_function,
    regex_lf,
    threshold_lf,
)

from .lfsets import mixed_lfs, with_n_chars


@pytest.fixture
def small():
    return pd.DataFrame(
        {
            "text": ["subscribe to my channel", "nice song", "SUBSCRIBE", "lol"],
            "n": [3, 0, 1, 7],
        },
        index=["c1", "c2", "c3", "c4"],
    )


@labeling_function()
def short(x):
    return 0 if len(x.text.split()) < 3 else ABSTAIN


@labeling_function(vectorized=True)
def many(frame):
    return np.where(frame.n >= 3, 1, ABSTAIN)


class TestBasics:
    def test_hand_computed_matrix(self, small):
        L = apply_lfs([keyword_lf("subscribe", 1), short, many], small, progress=False)
        assert isinstance(L, LabelMatrix)
        assert L.values.tolist() == [
            [1, -1, 1],
            [-1, 0, -1],
            [1, 0, -1],
            [-1, 0, 1],
        ]
        assert L.lf_names == ("keyword_subscribe", "short", "many")
        assert L.row_ids.tolist() == ["c1", "c2", "c3", "c4"]
        assert L.fault_counts == {"keyword_subscribe": 0, "short": 0, "many": 0}
        assert L.cardinality is None

    def test_values_are_int8_and_c_contiguous(self, small):
        L = apply_lfs([short, many], small, progress=False)
        assert L.values.dtype == np.int8
        assert L.values.flags.c_contiguous

    def test_cardinality_is_recorded(self, small):
        L = apply_lfs([short, many], small, progress=False, cardinality=2)
        assert L.cardinality == 2
        assert L.values.dtype == np.int8

    def test_many_classes_use_a_wider_dtype(self, small):
        @labeling_function()
        def big(x):
            return 299 if x.n == 7 else 5

        L = apply_lfs([big], small, progress=False, cardinality=300)
        assert L.values.dtype == np.int16
        assert L.values[:, 0].tolist() == [5, 5, 5, 299]
        L = apply_lfs([big], small, progress=False)  # inferred
        assert L.values.dtype == np.int16
        assert L.values[:, 0].tolist() == [5, 5, 5, 299]

    def test_default_integer_index_gives_positions(self):
        df = pd.DataFrame({"text": ["a", "b", "c"]})
        assert apply_lfs([short], df, progress=False).row_ids.tolist() == [0, 1, 2]

    def test_non_default_index_is_kept_even_with_duplicates(self):
        df = pd.DataFrame({"text": ["a", "b", "c"]}, index=[10, 10, 3])
        L = apply_lfs([short], df, progress=False, batch_size=2)
        assert L.row_ids.tolist() == [10, 10, 3]

    def test_series_input(self):
        s = pd.Series(["subscribe now", "ok"], name="text", index=["a", "b"])
        L = apply_lfs([keyword_lf("subscribe", 1), short], s, progress=False)
        assert L.values.tolist() == [[1, 0], [-1, 0]]
        assert L.row_ids.tolist() == ["a", "b"]

    def test_input_frame_is_not_modified(self, small):
        before = small.copy()

        def add(x):
            x.text = "changed"
            return x

        @labeling_function(pre=[add])
        def uses_pre(x):
            return 1

        @labeling_function(vectorized=True, pre=[lambda f: f.assign(text="changed")])
        def vec_pre(frame):
            return np.ones(len(frame), dtype=int)

        apply_lfs([uses_pre, vec_pre, short, keyword_lf("x", 1)], small, progress=False)
        pd.testing.assert_frame_equal(small, before)

    def test_progress_bar_does_not_change_the_result(self, small):
        lfs = [keyword_lf("subscribe", 1), short, many]
        assert apply_lfs(lfs, small, progress=True) == apply_lfs(lfs, small, progress=False)

    def test_row_wise_lfs_see_missing_values_as_missing(self):
        df = pd.DataFrame({"text": ["a", None]}).astype({"text": "str"})

        @labeling_function()
        def missing(x):
            return 1 if pd.isna(x.text) else 0

        assert apply_lfs([missing], df, progress=False).values[:, 0].tolist() == [0, 1]

    @pytest.mark.parametrize("batch_size", [0, -1, 2.5, "10"])
    def test_bad_batch_size(self, small, batch_size):
        with pytest.raises(SchemaError, match="batch_size"):
            apply_lfs([short], small, progress=False, batch_size=batch_size)

    def test_bad_cardinality(self, small):
        with pytest.raises(SchemaError, match="cardinality"):
            apply_lfs([short], small, progress=False, cardinality=1)

    def test_check_lfs_needs_at_least_one(self):
        with pytest.raises(LabelingFunctionDefinitionError, match="No labeling functions"):
            check_lfs([])
        with pytest.raises(LabelingFunctionDefinitionError, match="No labeling functions"):
            apply_lfs([], pd.DataFrame({"text": ["a"]}), progress=False)

    def test_lfs_may_be_any_iterable(self, small):
        L = apply_lfs((lf for lf in [short, many]), small, progress=False)
        assert L.lf_names == ("short", "many")


class TestIdentity:
    """The same LFs on the same data give the same matrix whatever the engine settings."""

    @pytest.fixture
    def data(self, youtube):
        return with_n_chars(youtube)

    def test_batch_sizes(self, data):
        lfs = mixed_lfs()
        ref = apply_lfs(lfs, data, progress=False)
        assert ref.shape == (1956, len(lfs))
        assert apply_lfs(lfs, data, progress=False, batch_size=7) == ref
        assert apply_lfs(lfs, data, progress=False, batch_size=1000) == ref
        # batch_size=1 is slow (one batch per row): a slice that crosses several 7-row batches
        part = data.iloc[100:330]
        assert apply_lfs(lfs, part, progress=False, batch_size=1) == ref.rows(slice(100, 330))

    @pytest.mark.parametrize("batch_size", [7, 262_144])
    def test_thread_counts(self, data, batch_size):
        lfs = mixed_lfs()
        one = apply_lfs(lfs, data, progress=False, n_threads=1, batch_size=batch_size)
        four = apply_lfs(lfs, data, progress=False, n_threads=4, batch_size=batch_size)
        assert one == four
        assert one.values.dtype == four.values.dtype

    def test_every_lf_votes_somewhere(self, data):
        # guards the identity tests above against a vacuous all-abstain matrix
        L = apply_lfs(mixed_lfs(), data, progress=False)
        voted = (L.values != ABSTAIN).sum(axis=0)
        assert (voted > 0).all()
        assert (voted < len(data)).all()

    def test_row_wise_and_vectorized_implementations_agree(self, data):
        @labeling_function()
        def rw_subscribe(x):
            return 1 if "subscribe" in x.text.lower() else ABSTAIN

        @labeling_function(vectorized=True)
        def vec_subscribe(frame):
            hit = frame.text.str.lower().str.contains("subscribe", regex=False)
            return np.where(hit, 1, ABSTAIN)

        @labeling_function()
        def rw_check_out(x):
            return 1 if re.search(r"check.*out", x.text, flags=re.I) else ABSTAIN

        @labeling_function()
        def rw_long(x):
            return 1 if x.n_chars > 200 else ABSTAIN

        @labeling_function(vectorized=True)
        def vec_long(frame):
            return np.where(frame.n_chars > 200, 1, ABSTAIN)

        lfs = [
            keyword_lf("subscribe", 1),
            rw_subscribe,
            vec_subscribe,
            regex_lf(r"check.*out", 1, flags=re.I),
            rw_check_out,
            threshold_lf("n_chars", 200, label=1, op=">"),
            rw_long,
            vec_long,
        ]
        v = apply_lfs(lfs, data, progress=False, batch_size=500).values
        assert (v[:, 0] != ABSTAIN).sum() > 100
        np.testing.assert_array_equal(v[:, 0], v[:, 1])
        np.testing.assert_array_equal(v[:, 0], v[:, 2])
        np.testing.assert_array_equal(v[:, 3], v[:, 4])
        np.testing.assert_array_equal(v[:, 5], v[:, 6])
        np.testing.assert_array_equal(v[:, 5], v[:, 7])


# -- permutation consistency ------------------------------------------------------------------
@labeling_function()
def p_rowwise(x):
    return 1 if x.text.count("a") >= 2 else (0 if x.text.startswith(" ") else ABSTAIN)


@labeling_function(vectorized=True)
def p_vectorized(frame):
    return np.where(frame.n % 3 == 0, 2, ABSTAIN)


def _p_pre(x):
    x.size = len(x.text)
    return x


@labeling_function(pre=[_p_pre])
def p_pre(x):
    return 0 if x.size > 3 else 1


PERM_LFS = [
    keyword_lf("ab", 1, name="p_kw"),
    regex_lf(r"b!|^ ", 2, name="p_re"),
    threshold_lf("n", 2.5, label=0, name="p_thr"),
    p_rowwise,
    p_vectorized,
    p_pre,
]

frames = st.lists(
    st.tuples(
        st.text(alphabet=st.sampled_from("ab !"), max_size=6),
        st.one_of(st.integers(-2, 6).map(float), st.just(float("nan"))),
    ),
    min_size=1,
    max_size=25,
).map(
    lambda rows: pd.DataFrame(
        {"text": [r[0] for r in rows], "n": [r[1] for r in rows]},
        index=[f"id{i}" for i in range(len(rows))],
    )
)


@settings(max_examples=60, deadline=None)
@given(df=frames, data=st.data(), batch_size=st.sampled_from([1, 4, 262_144]))
def test_permuting_rows_permutes_the_matrix(df, data, batch_size):
    perm = data.draw(st.permutations(range(len(df))), label="perm")
    ref = apply_lfs(PERM_LFS, df, progress=False, batch_size=batch_size)
    got = apply_lfs(PERM_LFS, df.iloc[perm], progress=False, batch_size=batch_size)
    np.testing.assert_array_equal(got.values, ref.values[perm])
    np.testing.assert_array_equal(got.row_ids, ref.row_ids[perm])
    assert got.lf_names == ref.lf_names


@settings(max_examples=60, deadline=None)
@given(df=frames, perm=st.permutations(range(len(PERM_LFS))))
def test_permuting_lfs_permutes_the_columns(df, perm):
    ref = apply_lfs(PERM_LFS, df, progress=False)
    got = apply_lfs([PERM_LFS[j] for j in perm], df, progress=False)
    np.testing.assert_array_equal(got.values, ref.values[:, perm])
    assert got.lf_names == tuple(ref.lf_names[j] for j in perm)
    np.testing.assert_array_equal(got.row_ids, ref.row_ids)
