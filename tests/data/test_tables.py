"""read_table and content_hash: every format round trip, every error path."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from weakflow.data import TABLE_FORMATS, content_hash, read_table
from weakflow.errors import DatasetFormatError

STR = pd.StringDtype(na_value=np.nan)


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["a1", "007", "c3"],
            "text": ["Hello, world", 'naïve café, "quoted"', None],
            "label": ["ham", "spam", "ham"],
            "count": [1, 2, 3],
            "score": [0.5, np.nan, 2.25],
        }
    )


def _write(frame: pd.DataFrame, path: Path) -> Path:
    fmt = TABLE_FORMATS[path.suffix]
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".pq", ".jsonl", ".ndjson"])
def test_round_trip_each_format(tmp_path, frame, suffix):
    path = _write(frame, tmp_path / f"data{suffix}")
    out = read_table(path)
    assert list(out.columns) == list(frame.columns)
    assert out["text"].dtype == STR
    assert out["label"].dtype == STR
    assert out["text"].iloc[1] == frame["text"].iloc[1]
    assert pd.isna(out["text"].iloc[2])
    assert out["count"].tolist() == [1, 2, 3]
    assert out["score"].iloc[2] == 2.25
    assert np.isnan(out["score"].iloc[1])
    assert out.index.equals(pd.RangeIndex(3))
    if suffix != ".csv":  # CSV has no types: "007" reads as the number 7, as pandas does
        assert out["id"].tolist() == ["a1", "007", "c3"]


def test_format_argument_overrides_the_suffix(tmp_path, frame):
    path = tmp_path / "export.txt"
    frame.to_json(path, orient="records", lines=True)
    assert read_table(path, format="jsonl")["label"].tolist() == ["ham", "spam", "ham"]
    with pytest.raises(DatasetFormatError, match=r"\.txt.*Supported suffixes: \.csv, \.parquet"):
        read_table(path)
    with pytest.raises(DatasetFormatError, match="unknown format 'xlsx'"):
        read_table(path, format="xlsx")  # type: ignore[arg-type]


def test_object_columns_of_strings_become_the_string_dtype(tmp_path):
    path = tmp_path / "obj.parquet"
    pd.DataFrame({"text": pd.Series(["a", None], dtype=object)}).to_parquet(path)
    assert read_table(path)["text"].dtype == STR


def test_blank_lines_in_jsonl_are_skipped(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "a"}\n\n{"text": "b"}\n')
    assert read_table(path)["text"].tolist() == ["a", "b"]


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nope" / "train.csv"
    with pytest.raises(DatasetFormatError, match=r"train\.csv does not exist"):
        read_table(path)
    with pytest.raises(DatasetFormatError, match="is not a file"):
        read_table(tmp_path)


def test_bad_csv_names_file_and_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,label\nhello,ham\nhow,are,you\n")
    with pytest.raises(DatasetFormatError, match=r"bad\.csv could not be read as csv.*line 3"):
        read_table(path)


def test_empty_csv(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DatasetFormatError, match=r"empty\.csv is empty"):
        read_table(path)


def test_non_utf8_csv(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(DatasetFormatError, match=r"latin\.csv is not UTF-8.*re-save it as UTF-8"):
        read_table(path)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"text": "a"}\n{"text": "b",\n', "line 2 is not valid JSON Lines"),
        ('{"text": "a"}\n{"text": "b"}\n[1, 2]\n', r"line 3 .*expected a JSON object, got list"),
        ('{"text": "a"}\n5\n', r"line 2 .*got int"),
    ],
)
def test_bad_jsonl_names_file_and_line(tmp_path, content, match):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(DatasetFormatError, match=match) as info:
        read_table(path)
    assert "bad.jsonl" in str(info.value)


def test_bad_parquet(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_text("text,label\nhello,ham\n")
    with pytest.raises(DatasetFormatError, match=r"bad\.parquet could not be read as parquet"):
        read_table(path)


def test_errors_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        read_table(tmp_path / "x.csv")


def test_content_hash_is_sha256_of_the_bytes(tmp_path, frame):
    path = _write(frame, tmp_path / "data.parquet")
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert content_hash(path) == expected
    assert content_hash(str(path), chunk_size=7) == expected
    other = _write(frame.iloc[:2], tmp_path / "other.parquet")
    assert content_hash(other) != expected
    with pytest.raises(DatasetFormatError, match="does not exist"):
        content_hash(tmp_path / "missing.csv")
