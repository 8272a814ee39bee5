"""A registry on a real database (SQLite and PostgreSQL) with a real saved model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from weakflow.registry import Registry
from weakflow.store import ArtifactStore, Database


@pytest.fixture
def artifacts(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


@pytest.fixture
def model_sha(artifacts: ArtifactStore) -> str:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    return artifacts.put_model(model)


@pytest.fixture
def registry(store_url: str, artifacts: ArtifactStore) -> Registry:
    reg = Registry(Database(store_url), artifacts)
    yield reg  # type: ignore[misc]
    reg.db.close()
