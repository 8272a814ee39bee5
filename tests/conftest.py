"""Fixtures shared by the whole test suite: the bundled example data, read from the package."""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings

from weakflow.labeling import apply_lfs
from weakflow.labeling.examples import youtube_spam_lfs

# Property tests run the same examples on every run (CI must not be flaky); set
# HYPOTHESIS_PROFILE=explore locally to search new examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@cache
def _youtube() -> pd.DataFrame:
    folder = importlib.resources.files("weakflow") / "data" / "examples" / "youtube"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".csv")), key=lambda f: f.name)
    frames = []
    for f in files:
        with f.open("rb") as fh:
            frames.append(pd.read_csv(fh))
    return pd.concat(frames, ignore_index=True).rename(columns={"CONTENT": "text"})


@pytest.fixture
def youtube() -> pd.DataFrame:
    """The UCI YouTube spam comments (5 CSVs in filename order), CONTENT renamed to ``text``.

    A fresh copy per test, so a test that modifies it cannot affect another.
    """
    return _youtube().copy()


def write_wrench_folder(
    folder: Path, youtube: pd.DataFrame, *, n_valid: int = 120, n_test: int = 300, seed: int = 0
) -> Path:
    """Write label.json and train/valid/test.json for a seeded split of the comments."""
    folder.mkdir(parents=True, exist_ok=True)
    L = apply_lfs(youtube_spam_lfs(), youtube[["text"]], progress=False, cardinality=2).values
    order = np.random.default_rng(seed).permutation(len(youtube))
    parts = {
        "valid": order[:n_valid],
        "test": order[n_valid : n_valid + n_test],
        "train": order[n_valid + n_test :],
    }
    for name, rows in parts.items():
        items = {
            str(int(i)): {
                "label": int(youtube["CLASS"].iloc[i]),
                "weak_labels": [int(v) for v in L[i]],
                "data": {"text": str(youtube["text"].iloc[i])},
            }
            for i in rows
        }
        (folder / f"{name}.json").write_text(json.dumps(items))
    (folder / "label.json").write_text(json.dumps({"0": "HAM", "1": "SPAM"}))
    return folder


@pytest.fixture(scope="session")
def _wrench_master(tmp_path_factory) -> Path:
    return write_wrench_folder(tmp_path_factory.mktemp("wrench") / "youtube", _youtube())


@pytest.fixture
def wrench_dir(_wrench_master: Path, tmp_path: Path) -> Path:
    """A WRENCH-format folder (label.json, train/valid/test.json) made from the bundled
    YouTube comments with weakflow's spam-tutorial LFs; a private copy per test."""
    return Path(shutil.copytree(_wrench_master, tmp_path / "youtube"))
