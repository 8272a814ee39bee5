"""The artifact store: content addressing, corruption detection, safe model files, the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from weakflow.errors import StoreError
from weakflow.store import ArtifactStore, RunStore, StepCache, step_key
from weakflow.train import build_end_model


def test_bytes_json_arrays_round_trip_and_dedupe(tmp_path: Path):
    store = ArtifactStore(tmp_path)
    a = store.put_bytes(b"hello")
    assert store.put_bytes(b"hello") == a
    assert store.get_bytes(a) == b"hello"
    arr = np.arange(12, dtype=np.int8).reshape(3, 4)
    np.testing.assert_array_equal(store.get_array(store.put_array(arr)), arr)
    assert store.get_json(store.put_json({"b": [1, 2], "a": np.float64(0.5)})) == {
        "a": 0.5,
        "b": [1, 2],
    }
    leftovers = [p for p in tmp_path.rglob("*.tmp")]
    assert leftovers == []


def test_corruption_and_missing_are_store_errors(tmp_path: Path):
    store = ArtifactStore(tmp_path)
    digest = store.put_bytes(b"original")
    path = tmp_path / "objects" / digest[:2] / digest[2:]
    path.write_bytes(b"tampered")
    with pytest.raises(StoreError, match="corrupted"):
        store.get_bytes(digest)
    with pytest.raises(StoreError, match="No artifact"):
        store.get_bytes("0" * 64)


def test_models_round_trip_with_skops_and_foreign_types_are_refused(tmp_path: Path):
    store = ArtifactStore(tmp_path)
    model = build_end_model("text").fit(
        ["buy now", "nice song", "cheap pills", "love it"], [1, 0, 1, 0]
    )
    loaded = store.get_model(store.put_model(model))
    assert loaded.predict(["buy cheap"]).tolist() == model.predict(["buy cheap"]).tolist()
    # an envelope claiming a type outside the allowed modules is refused before loading
    lr = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    digest = store.put_model(lr)
    _, _, data = store.get_bytes(digest).partition(b"\n")
    forged = store.put_bytes(b'{"format": "skops", "types": ["os.system"]}\n' + data)
    with pytest.raises(StoreError, match="refusing to load"):
        store.get_model(forged)
    with pytest.raises(StoreError, match="not a model"):
        store.get_model(store.put_bytes(b'{"format": "pickle"}\nxyz'))


def test_step_cache_hits_only_for_identical_inputs(tmp_path: Path):
    store = ArtifactStore(tmp_path / "a")
    cache = StepCache(tmp_path / "c", store)
    key = step_key("labeling", {"data": "abc", "lf": "1"})
    assert key != step_key("labeling", {"data": "abc", "lf": "2"})
    assert key != step_key("end_model", {"data": "abc", "lf": "1"})
    assert cache.get(key) is None
    out = {"L": store.put_bytes(b"votes")}
    cache.put(key, "labeling", out)
    assert cache.get(key) == out
    # an entry whose artifact vanished is a miss, not an error
    (tmp_path / "a" / "objects" / out["L"][:2] / out["L"][2:]).unlink()
    assert cache.get(key) is None


def test_run_store_ids_sort_and_files_are_written(tmp_path: Path):
    runs = RunStore(tmp_path)
    a = runs.new_run_id()
    b = runs.new_run_id()
    assert a != b
    runs.write_json(a, "x.json", {"k": 1})
    runs.write_text(b, "d.md", "# hi")
    assert runs.list_runs() == sorted([a, b])
    assert (tmp_path / a / "x.json").read_text().strip().startswith("{")
