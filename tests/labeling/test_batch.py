"""Batch: the unit vectorized LFs see, with a per-batch cache of Arrow text columns."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from weakflow.errors import SchemaError
from weakflow.labeling import Batch


def test_len_start_and_column():
    frame = pd.DataFrame({"text": ["a", "b"], "n": [1, 2]})
    batch = Batch(frame, start=10)
    assert len(batch) == 2
    assert batch.start == 10
    assert batch.column("n").tolist() == [1, 2]


def test_missing_column_lists_the_columns_there_are():
    batch = Batch(pd.DataFrame({"text": ["a"], "n": [1]}))
    with pytest.raises(SchemaError) as info:
        batch.column("body")
    msg = str(info.value)
    assert "no column 'body'" in msg
    assert "'text', 'n'" in msg


@pytest.mark.parametrize("dtype", [object, "string", "str", "category"])
def test_text_is_an_arrow_string_array_with_nulls(dtype):
    frame = pd.DataFrame({"text": pd.Series(["a", None, "c"], dtype=dtype)})
    arr = Batch(frame).text("text")
    assert isinstance(arr, pa.Array)
    assert pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
    assert arr.to_pylist() == ["a", None, "c"]


def test_text_is_cached_per_batch():
    batch = Batch(pd.DataFrame({"text": ["a", "b"]}))
    assert batch.text("text") is batch.text("text")


def test_all_null_column_is_a_null_string_array():
    arr = Batch(pd.DataFrame({"text": [None, None]}, dtype=object)).text("text")
    assert arr.to_pylist() == [None, None]
    assert pa.types.is_large_string(arr.type)


def test_non_text_column_is_a_schema_error():
    with pytest.raises(SchemaError, match="must hold text"):
        Batch(pd.DataFrame({"n": [1.5, 2.5]})).text("n")


def test_mixed_types_are_a_schema_error():
    with pytest.raises(SchemaError, match="mixes types"):
        Batch(pd.DataFrame({"text": ["a", 2]}, dtype=object)).text("text")
