"""The Dask engine on a real distributed.LocalCluster (worker processes), against the local one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from weakflow import ABSTAIN
from weakflow.errors import LabelingFunctionError, LabelingFunctionOutputError, SchemaError
from weakflow.labeling import apply_lfs, keyword_lf, labeling_function, model_lf

from .lfsets import mixed_lfs, with_n_chars

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.dask


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def text_model():
    train = ["subscribe to my channel", "check out my page", "free gift card", "love this song"]
    train += ["great video", "best song ever"]
    return make_pipeline(CountVectorizer(), LogisticRegression(C=10.0)).fit(
        train, [1, 1, 1, 0, 0, 0]
    )


@pytest.fixture
def data(youtube):
    return with_n_chars(youtube)


@pytest.fixture
def lfs(text_model):
    return [*mixed_lfs(), model_lf(text_model, name="text_model", threshold=0.8)]


def assert_identical(got, ref):
    assert got.lf_names == ref.lf_names
    np.testing.assert_array_equal(got.values, ref.values)
    np.testing.assert_array_equal(got.row_ids, ref.row_ids)
    assert got.values.dtype == ref.values.dtype
    assert got == ref


@labeling_function()
def fragile_links(x):
    if "http" in x.text:
        raise ValueError("links are not supported")
    return 0 if len(x.text) < 20 else ABSTAIN


@labeling_function(vectorized=True)
def fragile_shouting(frame):
    # fails on any batch holding a row with "!!!", wherever it is
    if frame.text.str.contains("!!!", regex=False).any():
        raise RuntimeError("too loud")
    return np.where(frame.text.str.len() > 100, 1, ABSTAIN)


def test_client_engine_matches_local(client, data, lfs):
    ref = apply_lfs(lfs, data, progress=False)
    assert (ref.values != ABSTAIN).any(axis=0).all()  # every LF votes somewhere
    got = apply_lfs(lfs, data, engine=client, progress=False)
    assert_identical(got, ref)


def test_scheduler_address_engine_matches_local(client, data, lfs):
    ref = apply_lfs(lfs, data, progress=False)
    got = apply_lfs(lfs, data, engine=client.scheduler.address, progress=False)
    assert_identical(got, ref)


def test_dask_dataframe_matches_local(client, data, lfs):
    ref = apply_lfs(lfs, data, progress=False)
    ddf = dd.from_pandas(data, npartitions=5)
    assert ddf.npartitions == 5
    got = apply_lfs(lfs, ddf, engine=client, progress=False, batch_size=64)
    assert_identical(got, ref)


def test_dask_dataframe_with_string_index_keeps_order_and_ids(client, data):
    data = data.set_index("COMMENT_ID")
    lfs = mixed_lfs()[:4]
    ref = apply_lfs(lfs, data, progress=False)
    got = apply_lfs(
        lfs, dd.from_pandas(data, npartitions=3, sort=False), engine=client, progress=False
    )
    assert_identical(got, ref)


def test_dask_engine_starts_its_own_cluster(data):
    part = data.iloc[:300]
    lfs = mixed_lfs()
    ref = apply_lfs(lfs, part, progress=False)
    got = apply_lfs(lfs, part, engine="dask", progress=False)
    assert_identical(got, ref)


class TestErrorsOnWorkers:
    def test_row_wise_error(self, client, data):
        first = int(np.flatnonzero(data.text.str.contains("http", regex=False))[0])
        with pytest.raises(LabelingFunctionError) as info:
            apply_lfs([keyword_lf("x", 1), fragile_links], data, engine=client, progress=False)
        err = info.value
        assert err.lf_name == "fragile_links"
        assert "'fragile_links' raised ValueError: links are not supported" in str(err)
        # which partition fails first is up to the scheduler: any row with a link may be named
        assert "http" in data.text.loc[err.row_id]
        assert data.index.get_loc(err.row_id) == err.position
        assert err.position >= first

    def test_vectorized_error(self, client, data):
        with pytest.raises(LabelingFunctionError) as info:
            apply_lfs([fragile_shouting], data, engine=client, progress=False)
        err = info.value
        assert err.lf_name == "fragile_shouting"
        assert "!!!" in data.text.loc[err.row_id]
        assert data.index.get_loc(err.row_id) == err.position

    def test_dask_dataframe_error_names_the_lf_and_the_row(self, client, data):
        with pytest.raises(LabelingFunctionError) as info:
            apply_lfs(
                [fragile_links], dd.from_pandas(data, npartitions=5), engine=client, progress=False
            )
        err = info.value
        assert err.lf_name == "fragile_links"
        assert "http" in data.text.loc[err.row_id]

    def test_dask_dataframe_error_position_is_global(self, client, data):
        bad_id = data.COMMENT_ID.iloc[1000]  # in the third of five partitions

        @labeling_function(resources={"bad_id": bad_id})
        def fails_once(x, bad_id):
            if x["COMMENT_ID"] == bad_id:
                raise ValueError("this one")
            return ABSTAIN

        ddf = dd.from_pandas(data, npartitions=5)
        with pytest.raises(LabelingFunctionError) as info:
            apply_lfs([fails_once], ddf, engine=client, progress=False)
        err = info.value
        assert (err.lf_name, err.row_id) == ("fails_once", 1000)
        assert err.position == 1000

    def test_output_error(self, client, data):
        @labeling_function()
        def emits_two(x):
            return 2 if "song" in x.text else ABSTAIN

        with pytest.raises(LabelingFunctionOutputError) as info:
            apply_lfs([emits_two], data, engine=client, progress=False, cardinality=2)
        err = info.value
        assert err.lf_name == "emits_two"
        assert "song" in data.text.loc[err.row_id]

    def test_missing_column(self, client, data):
        with pytest.raises(SchemaError, match="no column 'body'"):
            apply_lfs([keyword_lf("x", 1, field="body")], data, engine=client, progress=False)


class TestFaultToleranceOnWorkers:
    def expected_counts(self, data):
        return {
            "fragile_links": int(data.text.str.contains("http", regex=False).sum()),
            "fragile_shouting": int(data.text.str.contains("!!!", regex=False).sum()),
            "kw_subscribe": 0,
        }

    def lfs(self):
        return [fragile_links, fragile_shouting, keyword_lf("subscribe", 1, name="kw_subscribe")]

    @pytest.mark.parametrize("partitioned", [False, True], ids=["pandas", "dask-dataframe"])
    def test_counts_sum_across_partitions(self, client, data, partitioned):
        expected = self.expected_counts(data)
        assert expected["fragile_links"] > 10
        assert expected["fragile_shouting"] > 10
        local = apply_lfs(self.lfs(), data, progress=False, fault_tolerant=True)
        assert local.fault_counts == expected
        source = dd.from_pandas(data, npartitions=5) if partitioned else data
        got = apply_lfs(
            self.lfs(), source, engine=client, progress=False, fault_tolerant=True, batch_size=50
        )
        assert got.fault_counts == expected
        assert_identical(got, local)
        failing = data.text.str.contains("http", regex=False).to_numpy()
        assert (got.values[failing, 0] == ABSTAIN).all()


def test_empty_partitions_are_skipped(client):
    df = pd.DataFrame({"text": ["subscribe", "song", "x"], "k": [0, 5, 9]})
    ddf = dd.from_pandas(df, npartitions=3)
    ddf = ddf[ddf.k > 3]  # the first partition becomes empty
    got = apply_lfs([keyword_lf("song", 0)], ddf, engine=client, progress=False)
    assert got.values[:, 0].tolist() == [0, -1]
    assert got.row_ids.tolist() == [1, 2]
