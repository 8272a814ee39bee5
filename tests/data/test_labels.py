"""encode_labels: class names or indices in, class indices out; anything else named precisely."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weakflow.data import encode_labels
from weakflow.errors import SchemaError

NAMES = ["ham", "spam"]


@pytest.mark.parametrize(
    "values",
    [
        ["ham", "spam", "spam", "ham"],
        [0, 1, 1, 0],
        [0.0, 1.0, 1.0, 0.0],
        np.array([0, 1, 1, 0], dtype=np.int8),
        ["0", "1", "1", "0"],  # CSV text that holds indices
        ["ham", 1, "1", 0.0],  # mixed, as JSON Lines can be
        [" ham", "spam ", "spam", "ham"],
    ],
)
def test_names_and_indices_encode_alike(values):
    out = encode_labels(pd.Series(values, dtype=object), NAMES)
    assert out.dtype == np.int64
    assert out.tolist() == [0, 1, 1, 0]


def test_names_take_precedence_over_indices():
    names = ["1", "0"]
    assert encode_labels(pd.Series(["1", "0"]), names).tolist() == [0, 1]
    assert encode_labels(pd.Series([1, 0]), names).tolist() == [1, 0]


def test_pandas_string_and_nullable_dtypes():
    assert encode_labels(pd.Series(["spam", "ham"], dtype="str"), NAMES).tolist() == [1, 0]
    assert encode_labels(
        pd.Series([1, None], dtype="Int64"), NAMES, allow_missing=True
    ).tolist() == [
        1,
        -1,
    ]


def test_bad_labels_name_file_column_rows_and_allowed_values():
    series = pd.Series(["ham", "spma", 2, True, "spam", 1.5], name="label")
    with pytest.raises(SchemaError) as info:
        encode_labels(series, NAMES, source="data/dev.csv")
    message = str(info.value)
    for part in [
        "data/dev.csv",
        "column 'label'",
        "4 labels",
        "row 1 = 'spma'",
        "row 2 = 2",
        "row 3 = True",
        "row 5 = 1.5",
        "['ham', 'spam']",
        "0..1",
    ]:
        assert part in message, (part, message)


def test_rows_are_named_by_the_index():
    series = pd.Series(["ham", "nope"], index=["a", "b"], name="y")
    with pytest.raises(SchemaError, match=r"column 'y'.*row 'b' = 'nope'"):
        encode_labels(series, NAMES)


def test_missing_labels_raise_unless_allowed():
    series = pd.Series(["ham", None, np.nan, "spam"], name="label")
    with pytest.raises(SchemaError, match=r"2 missing labels, at rows 1, 2"):
        encode_labels(series, NAMES, source="test.csv")
    assert encode_labels(series, NAMES, allow_missing=True).tolist() == [0, -1, -1, 1]


def test_unhashable_values_are_invalid():
    with pytest.raises(SchemaError, match="1 labels that are not classes"):
        encode_labels(pd.Series([["ham"], "spam"]), NAMES)


@pytest.mark.parametrize(
    ("names", "match"),
    [(["ham"], "at least two"), (["a", "a"], "distinct"), ("ham", "sequence of class names")],
)
def test_bad_label_names(names, match):
    with pytest.raises(SchemaError, match=match):
        encode_labels(pd.Series([0]), names)


def test_accepts_array_like():
    assert encode_labels(["spam", "ham"], NAMES).tolist() == [1, 0]
