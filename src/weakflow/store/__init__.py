"""Store: the only place that writes a project's artifacts, cache, run records and database."""

from weakflow.store._artifacts import ArtifactStore, atomic_write, sha256_bytes
from weakflow.store._audit import AuditVerification, append_audit, list_audit, verify_audit
from weakflow.store._cache import StepCache, step_key
from weakflow.store._db import Database, default_url
from weakflow.store._runs import RunStore
from weakflow.store._serving import (
    SCOPES,
    TokenInfo,
    add_feedback,
    create_token,
    existing_predictions,
    hash_token,
    list_tokens,
    lookup_token,
    purge_predictions,
    revoke_token,
    subject_digest,
    write_predictions,
)

__all__ = [
    "SCOPES",
    "ArtifactStore",
    "AuditVerification",
    "Database",
    "RunStore",
    "StepCache",
    "TokenInfo",
    "add_feedback",
    "append_audit",
    "atomic_write",
    "create_token",
    "default_url",
    "existing_predictions",
    "hash_token",
    "list_audit",
    "list_tokens",
    "lookup_token",
    "purge_predictions",
    "revoke_token",
    "sha256_bytes",
    "step_key",
    "subject_digest",
    "verify_audit",
    "write_predictions",
]
