"""WRENCH loader: a folder built from the bundled YouTube data, and every malformed variant."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from weakflow.data import load_wrench
from weakflow.errors import DatasetFormatError


@pytest.fixture
def folder(wrench_dir: Path) -> Path:
    return wrench_dir


def test_loads_splits_labels_and_votes(folder: Path):
    ds = load_wrench(folder)
    raw = {s: json.loads((folder / f"{s}.json").read_text()) for s in ("train", "valid", "test")}
    assert ds.name == "youtube"
    assert ds.label_names == ("HAM", "SPAM")
    assert ds.n_classes == 2
    for split in (ds.train, ds.valid, ds.test):
        items = raw[split.name]
        assert len(split) == len(items)
        assert list(split.ids) == list(items)
        first = next(iter(items))
        assert split.L.values[0].tolist() == items[first]["weak_labels"]
        assert split.y[0] == items[first]["label"]
        assert split.data.loc[first, "text"] == items[first]["data"]["text"]
    assert ds.n_lfs == ds.train.L.n_lfs == ds.test.L.n_lfs


def test_missing_files_are_named(tmp_path: Path, folder: Path):
    (folder / "valid.json").unlink()
    with pytest.raises(DatasetFormatError, match=r"missing valid\.json"):
        load_wrench(folder)
    with pytest.raises(DatasetFormatError, match="not a folder"):
        load_wrench(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(
        DatasetFormatError, match=r"label\.json, train\.json, valid\.json, test\.json"
    ):
        load_wrench(empty)


def _rewrite(folder: Path, name: str, edit) -> None:
    path = folder / name
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def test_ragged_weak_labels_name_the_example(folder: Path):
    def edit(d):
        key = list(d)[3]
        d[key]["weak_labels"] = d[key]["weak_labels"][:-1]

    _rewrite(folder, "test.json", edit)
    with pytest.raises(DatasetFormatError, match=r"test\.json: example '\w+' has \d+ weak labels"):
        load_wrench(folder)


def test_label_out_of_range_names_the_example(folder: Path):
    def edit(d):
        d[list(d)[5]]["label"] = 7

    _rewrite(folder, "train.json", edit)
    with pytest.raises(DatasetFormatError, match=r"has label 7; labels must be 0\.\.1"):
        load_wrench(folder)


def test_vote_out_of_range_and_bad_json(folder: Path):
    def edit(d):
        d[next(iter(d))]["weak_labels"][0] = 4

    _rewrite(folder, "valid.json", edit)
    with pytest.raises(DatasetFormatError, match=r"weak labels must be integers in -1\.\.1"):
        load_wrench(folder)
    (folder / "valid.json").write_text("{not json")
    with pytest.raises(DatasetFormatError, match="not valid JSON"):
        load_wrench(folder)


def test_label_json_must_be_indexed_classes(folder: Path):
    (folder / "label.json").write_text(json.dumps({"0": "a", "2": "b"}))
    with pytest.raises(DatasetFormatError, match=r"class indices must be 0\.\.1"):
        load_wrench(folder)


def test_example_without_weak_labels(folder: Path):
    _rewrite(folder, "train.json", lambda d: d[next(iter(d))].pop("weak_labels"))
    with pytest.raises(DatasetFormatError, match="needs 'label' and 'weak_labels'"):
        load_wrench(folder)


def test_votes_match_the_lfs_that_made_them(folder: Path, youtube):
    ds = load_wrench(folder)
    # the fixture's first LF is keyword "my" -> spam (1); recompute it from the stored text
    texts = ds.train.data["text"].to_numpy()
    expected = np.where([("my" in t.lower()) for t in texts], 1, -1)
    np.testing.assert_array_equal(ds.train.L.values[:, 0], expected)
