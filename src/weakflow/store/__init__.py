"""Store: the only place that writes a project's artifacts, cache and run records."""

from weakflow.store._artifacts import ArtifactStore, atomic_write, sha256_bytes
from weakflow.store._cache import StepCache, step_key
from weakflow.store._runs import RunStore

__all__ = ["ArtifactStore", "RunStore", "StepCache", "atomic_write", "sha256_bytes", "step_key"]
