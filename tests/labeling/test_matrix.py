"""LabelMatrix and compress_votes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weakflow.errors import SchemaError
from weakflow.labeling import LabelMatrix, VotePatterns, compress_votes


@pytest.fixture(name="L")
def label_matrix():
    return LabelMatrix(
        [[1, -1, 0], [0, 0, -1], [-1, -1, -1], [1, 1, 1]],
        lf_names=["a", "b", "c"],
        row_ids=["r0", "r1", "r2", "r3"],
        cardinality=2,
        fault_counts={"b": 3},
    )


class TestConstruction:
    def test_fields(self, L):
        assert L.shape == (4, 3)
        assert (L.n_rows, L.n_lfs, len(L)) == (4, 3, 4)
        assert L.lf_names == ("a", "b", "c")
        assert L.row_ids.tolist() == ["r0", "r1", "r2", "r3"]
        assert L.cardinality == 2
        assert L.values.dtype == np.int8
        assert L.fault_counts == {"a": 0, "b": 3, "c": 0}
        assert repr(L) == "LabelMatrix(n_rows=4, n_lfs=3, cardinality=2)"

    def test_defaults(self):
        M = LabelMatrix(np.array([[0, 1], [1, -1], [-1, -1]], dtype=np.int64))
        assert M.lf_names == ("lf_0", "lf_1")
        assert M.row_ids.tolist() == [0, 1, 2]
        assert M.values.dtype == np.int8
        assert M.values.flags.c_contiguous
        assert M.cardinality is None
        assert repr(M) == "LabelMatrix(n_rows=3, n_lfs=2)"

    def test_integral_floats_are_accepted(self):
        assert LabelMatrix([[1.0, -1.0]]).values.tolist() == [[1, -1]]

    def test_many_classes_widen_the_dtype(self):
        assert LabelMatrix([[0, 200]]).values.dtype == np.int16

    def test_empty_rows_allowed(self):
        M = LabelMatrix(np.empty((0, 2), dtype=np.int8), lf_names=["a", "b"])
        assert M.shape == (0, 2)

    def test_wrong_number_of_names(self):
        with pytest.raises(SchemaError, match="2 LF names for a label matrix with 3 columns"):
            LabelMatrix([[0, 1, -1]], lf_names=["a", "b"])

    def test_duplicate_names(self):
        with pytest.raises(SchemaError, match=r"Duplicate LF names in the label matrix: \['a'\]"):
            LabelMatrix([[0, 1, -1]], lf_names=["a", "b", "a"])

    def test_wrong_number_of_row_ids(self):
        with pytest.raises(SchemaError, match="3 row ids for a label matrix with 2 rows"):
            LabelMatrix([[0], [1]], row_ids=[1, 2, 3])

    @pytest.mark.parametrize(
        ("values", "match"),
        [
            ([[0, 2]], "outside -1..1"),
            ([[-2, 0]], "outside -1..1"),
            ([[0.5, 0]], "non-integer value"),
            ([[np.nan, 0]], "non-integer value"),
            ([[True, False]], "must hold integer labels"),
            ([["a", "b"]], "must hold integer labels"),
            ([0, 1], "must be 2-D"),
            (np.empty((2, 0)), "no columns"),
        ],
    )
    def test_bad_values(self, values, match):
        with pytest.raises(SchemaError, match=match):
            LabelMatrix(values, cardinality=2)

    def test_values_checked_against_cardinality(self):
        with pytest.raises(SchemaError, match="Pass cardinality=4"):
            LabelMatrix([[0, 3]], cardinality=3)
        assert LabelMatrix([[0, 3]]).values.tolist() == [[0, 3]]  # inferred k = 4


class TestSelection:
    def test_rows_by_positions(self, L):
        sub = L.rows([3, 0])
        assert sub.values.tolist() == [[1, 1, 1], [1, -1, 0]]
        assert sub.row_ids.tolist() == ["r3", "r0"]
        assert sub.lf_names == L.lf_names
        assert sub.cardinality == 2

    def test_rows_by_mask_and_slice(self, L):
        mask = np.array([True, False, False, True])
        assert L.rows(mask).row_ids.tolist() == ["r0", "r3"]
        assert L.rows(slice(1, 3)).values.tolist() == [[0, 0, -1], [-1, -1, -1]]
        assert L.rows(slice(1, 3)).row_ids.tolist() == ["r1", "r2"]

    def test_lfs_in_given_order(self, L):
        sub = L.lfs(["c", "a"])
        assert sub.lf_names == ("c", "a")
        assert sub.values.tolist() == [[0, 1], [-1, 0], [-1, -1], [1, 1]]
        assert sub.row_ids.tolist() == L.row_ids.tolist()
        assert sub.fault_counts == {"c": 0, "a": 0}
        assert L.lfs(["b"]).fault_counts == {"b": 3}

    def test_lfs_unknown_name(self, L):
        with pytest.raises(SchemaError, match=r"No LF named \['zz'\]"):
            L.lfs(["a", "zz"])

    def test_to_frame(self, L):
        frame = L.to_frame()
        assert list(frame.columns) == ["a", "b", "c"]
        assert frame.index.tolist() == ["r0", "r1", "r2", "r3"]
        assert frame.loc["r1", "b"] == 0
        assert frame.loc["r0", "b"] == -1
        assert frame.to_numpy().tolist() == L.values.tolist()


class TestArrayProtocolAndEquality:
    def test_array(self, L):
        arr = np.asarray(L)
        assert arr.dtype == np.int8
        assert arr.tolist() == L.values.tolist()
        assert np.asarray(L, dtype=np.int64).dtype == np.int64
        assert np.asarray(L, dtype=float).tolist() == L.values.astype(float).tolist()

    def test_array_copy(self, L):
        copied = np.array(L, copy=True)
        copied[0, 0] = -1
        assert L.values[0, 0] == 1

    def test_numpy_functions_work(self, L):
        assert int(np.sum(np.asarray(L) != -1)) == 7
        assert (np.asarray(L) == L.values).all()

    def test_equality(self, L):
        same = LabelMatrix(L.values.copy(), list(L.lf_names), list(L.row_ids))
        assert same == L
        assert LabelMatrix(L.values, ["a", "b", "x"], L.row_ids) != L
        assert LabelMatrix(L.values, L.lf_names, ["r0", "r1", "r2", "rX"]) != L
        changed = L.values.copy()
        changed[2, 2] = 0
        assert LabelMatrix(changed, L.lf_names, L.row_ids) != L
        assert L.rows([0, 1]) != L
        assert (L == "not a matrix") is False
        assert L.__eq__(L.values) is NotImplemented  # numpy then compares element-wise

    def test_unhashable(self, L):
        with pytest.raises(TypeError):
            hash(L)


class TestCompressVotes:
    def test_hand_computed(self):
        vp = compress_votes([[1, -1], [0, 0], [1, -1], [1, -1]], force=True)
        assert isinstance(vp, VotePatterns)
        pairs = {tuple(p): int(c) for p, c in zip(vp.patterns.tolist(), vp.counts, strict=True)}
        assert pairs == {(1, -1): 3, (0, 0): 1}
        assert vp.n_rows == 4
        assert vp.compressed
        assert vp.patterns[vp.inverse].tolist() == [[1, -1], [0, 0], [1, -1], [1, -1]]

    @pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
    @pytest.mark.parametrize("force", [False, True])
    def test_round_trip_random(self, dtype, force):
        rng = np.random.default_rng(0)
        arr = rng.integers(-1, 3, size=(5_000, 6)).astype(dtype)
        vp = compress_votes(arr, force=force)
        np.testing.assert_array_equal(vp.patterns[vp.inverse], arr)
        assert vp.counts.sum() == arr.shape[0]
        assert vp.counts.dtype == np.int64
        assert len({tuple(p) for p in vp.patterns.tolist()}) == vp.patterns.shape[0]
        assert vp.patterns.shape[0] <= 4**6
        for p, c in zip(vp.patterns[:20], vp.counts[:20], strict=True):
            assert int((arr == p).all(axis=1).sum()) == c

    def test_label_matrix_input_and_method(self, L):
        vp = L.compress()
        np.testing.assert_array_equal(vp.patterns[vp.inverse], L.values)
        assert vp.patterns.shape[0] == 4  # all four rows of the fixture differ
        assert not vp.compressed
        vp2 = compress_votes(L)
        np.testing.assert_array_equal(vp2.patterns[vp2.inverse], L.values)

    def test_single_column(self):
        vp = compress_votes(np.array([[1], [1], [-1]]))
        assert sorted(vp.counts.tolist()) == [1, 2]
        assert vp.patterns[vp.inverse].ravel().tolist() == [1, 1, -1]

    @staticmethod
    def _distinct_rows(n, seed=0):
        # base-3 digits of 0..n-1 shifted to -1..1: every row differs (3**10 = 59049 > n)
        digits = (np.arange(n)[:, None] // 3 ** np.arange(10)) % 3 - 1
        return np.random.default_rng(seed).permutation(digits).astype(np.int8)

    def test_skip_path_for_nearly_distinct_rows(self):
        arr = self._distinct_rows(45_000)
        assert len({r.tobytes() for r in arr}) == 45_000
        vp = compress_votes(arr)
        assert not vp.compressed
        assert vp.patterns.shape == arr.shape
        assert vp.counts.tolist() == [1] * 45_000
        np.testing.assert_array_equal(vp.patterns[vp.inverse], arr)

    def test_force_on_distinct_rows_compresses_anyway(self):
        arr = self._distinct_rows(45_000)
        vp = compress_votes(arr, force=True)
        assert vp.patterns.shape == arr.shape  # one pattern per row, but sorted
        assert (vp.counts == 1).all()
        assert not vp.compressed
        np.testing.assert_array_equal(vp.patterns[vp.inverse], arr)

    def test_large_repetitive_matrix_is_compressed(self):
        rng = np.random.default_rng(1)
        base = np.array([[1, -1, 0], [0, 0, 0], [-1, -1, -1]], dtype=np.int8)
        arr = base[rng.integers(0, 3, size=50_000)]
        vp = compress_votes(arr)
        assert vp.compressed
        assert vp.patterns.shape == (3, 3)
        assert vp.counts.sum() == 50_000
        np.testing.assert_array_equal(vp.patterns[vp.inverse], arr)

    def test_skip_decision_uses_a_sample_of_the_first_rows(self):
        # first 20k rows distinct, the rest repeat one row: the sample says "skip"
        arr = self._distinct_rows(45_000)
        arr[20_000:] = arr[0]
        vp = compress_votes(arr)
        assert not vp.compressed
        np.testing.assert_array_equal(vp.patterns[vp.inverse], arr)
        forced = compress_votes(arr, force=True)
        assert forced.patterns.shape[0] == 20_000
        assert forced.counts.sum() == 45_000


def test_to_frame_round_trip_through_pandas(L):
    frame = L.to_frame()
    back = LabelMatrix(frame.to_numpy(), list(frame.columns), frame.index.to_numpy())
    assert back == L
    assert isinstance(frame, pd.DataFrame)
