"""What serving keeps: the prediction log, feedback, and API tokens.

The prediction log is written in batches by a background writer (never on the request path), so
its writes are plain transactions without the writers' lock or an audit entry per row. Feedback
is written synchronously, because the server acknowledges a label only once it is committed.
Tokens are state changes: created and revoked under the lock, with an audit entry, and stored
only as sha256 hashes (the secret is random, 256 bits, so a fast hash is enough; the secret is
shown once).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select

from weakflow.errors import RegistryError
from weakflow.store._audit import append_audit
from weakflow.store._db import Database
from weakflow.store._schema import ApiToken, Feedback, Prediction

__all__ = [
    "SCOPES",
    "TokenInfo",
    "add_feedback",
    "create_token",
    "existing_predictions",
    "hash_token",
    "list_tokens",
    "lookup_token",
    "purge_predictions",
    "revoke_token",
    "subject_digest",
    "write_predictions",
]

#: What a token may do: ``predict`` (POST predict/infer), ``feedback`` (POST feedback),
#: ``admin`` (everything, including model moves from the UI).
SCOPES = ("predict", "feedback", "admin")
_PREFIX = "wf_"


def subject_digest(subject_id: str) -> str:
    """How a subject id is stored when PII is redacted: a digest, found again by recomputing it.

    An erasure request names the subject in clear; hashing it gives the stored value, so the
    store never holds the identifier itself (often an email or a user id).

    >>> subject_digest("alice@example.com")[:15]
    'sha256:ff8d9819'
    """
    return "sha256:" + hashlib.sha256(subject_id.encode("utf-8", "surrogatepass")).hexdigest()


def purge_predictions(
    db: Database, before: dt.datetime, *, keep_labeled: bool = True, batch_size: int = 5000
) -> int:
    """Delete logged predictions made before ``before``; returns how many.

    ``keep_labeled``: predictions with feedback are kept (with their labels they are training
    data, erased per subject on request); otherwise their feedback goes with them.
    """
    from sqlalchemy import delete

    removed = 0
    while True:
        with db.transaction() as s:
            query = select(Prediction.id).where(Prediction.created_at < before)
            if keep_labeled:
                labeled = select(Feedback.prediction_id)
                query = query.where(Prediction.id.not_in(labeled))
            ids = list(s.scalars(query.limit(batch_size)))
            if not ids:
                return removed
            if not keep_labeled:
                s.execute(delete(Feedback).where(Feedback.prediction_id.in_(ids)))
            s.execute(delete(Prediction).where(Prediction.id.in_(ids)))
            removed += len(ids)


def write_predictions(db: Database, rows: Sequence[dict[str, Any]]) -> int:
    """Insert a batch of prediction records (dicts with the ``predictions`` columns)."""
    if not rows:
        return 0
    with db.transaction() as s:
        s.execute(insert(Prediction), list(rows))
    return len(rows)


def existing_predictions(db: Database, ids: Iterable[str]) -> dict[str, int]:
    """``{prediction id: model version}`` for the ids that are in the log."""
    wanted = list(dict.fromkeys(ids))
    out: dict[str, int] = {}
    with db.transaction() as s:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = s.execute(
                select(Prediction.id, Prediction.model_version).where(Prediction.id.in_(chunk))
            )
            out.update({pid: int(v) for pid, v in rows})
    return out


def add_feedback(
    db: Database, items: Sequence[tuple[str, int, str]], *, token_name: str | None = None
) -> list[int]:
    """Commit ``(prediction_id, label, source)`` items in one transaction; returns their ids."""
    now = dt.datetime.now(dt.UTC)
    with db.transaction() as s:
        rows = [
            Feedback(
                prediction_id=pid, label=label, source=source, created_at=now,
                token_name=token_name,
            )
            for pid, label, source in items
        ]  # fmt: skip
        s.add_all(rows)
        s.flush()
        return [int(r.id) for r in rows]


def hash_token(secret: str) -> str:
    """The sha256 under which a token is stored and looked up."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """A token as the server sees it (never the secret)."""

    id: int
    name: str
    scopes: tuple[str, ...]
    created_at: str | None
    created_by: str
    revoked: bool

    def allows(self, scope: str) -> bool:
        return not self.revoked and (scope in self.scopes or "admin" in self.scopes)

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "scopes": list(self.scopes)}


def _info(t: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=t.id,
        name=t.name,
        scopes=tuple(t.scopes),
        created_at=None if t.created_at is None else t.created_at.isoformat(),
        created_by=t.created_by,
        revoked=t.revoked_at is not None,
    )


def create_token(
    db: Database, name: str, scopes: Sequence[str], *, actor: str
) -> tuple[TokenInfo, str]:
    """Create a token; returns it and its secret (shown once: only the hash is stored)."""
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise RegistryError(
            f"Unknown token scope(s) {bad or scopes}: choose from {', '.join(SCOPES)} "
            "(e.g. --scope predict --scope feedback)."
        )
    secret = _PREFIX + secrets.token_urlsafe(32)
    with db.transaction(exclusive=True) as s:
        if s.scalar(select(ApiToken).where(ApiToken.name == name)) is not None:
            raise RegistryError(f"A token named {name!r} exists; pick another --name.")
        row = ApiToken(
            name=name, token_hash=hash_token(secret), scopes=sorted(set(scopes)),
            created_at=dt.datetime.now(dt.UTC), created_by=actor,
        )  # fmt: skip
        s.add(row)
        s.flush()
        append_audit(
            s, actor=actor, action="token_create", subject=f"token/{name}",
            details={"scopes": sorted(set(scopes))},
        )  # fmt: skip
        return _info(row), secret


def lookup_token(db: Database, secret: str) -> TokenInfo | None:
    """The token with this secret, or None (revoked tokens are returned, marked revoked)."""
    with db.transaction() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
        return None if row is None else _info(row)


def list_tokens(db: Database) -> list[TokenInfo]:
    with db.transaction() as s:
        return [_info(t) for t in s.scalars(select(ApiToken).order_by(ApiToken.id))]


def revoke_token(db: Database, name: str, *, actor: str) -> TokenInfo:
    """Revoke a token by name (kept for the record; it stops working at once)."""
    with db.transaction(exclusive=True) as s:
        row = s.scalar(select(ApiToken).where(ApiToken.name == name))
        if row is None:
            raise RegistryError(f"No token named {name!r}; `weakflow tokens list` shows them.")
        if row.revoked_at is None:
            row.revoked_at = dt.datetime.now(dt.UTC)
            append_audit(s, actor=actor, action="token_revoke", subject=f"token/{name}", details={})
        return _info(row)
