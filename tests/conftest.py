"""Fixtures shared by the whole test suite: the bundled example data, read from the package."""

from __future__ import annotations

import importlib.resources
import os
from functools import cache

import pandas as pd
import pytest
from hypothesis import settings

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
