"""Store: the only place that writes a project's artifacts, cache, run records and database."""

from weakflow.store._artifacts import ArtifactStore, atomic_write, sha256_bytes
from weakflow.store._audit import AuditVerification, append_audit, list_audit, verify_audit
from weakflow.store._cache import StepCache, step_key
from weakflow.store._db import Database, default_url
from weakflow.store._runs import RunStore

__all__ = [
    "ArtifactStore",
    "AuditVerification",
    "Database",
    "RunStore",
    "StepCache",
    "append_audit",
    "atomic_write",
    "default_url",
    "list_audit",
    "sha256_bytes",
    "step_key",
    "verify_audit",
]
