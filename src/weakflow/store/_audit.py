"""The audit log: an append-only record of every state change, chained by hash.

Each entry stores the sha256 of its own canonical content together with the hash of the entry
before it (``prev_hash``; the first entry links to 64 zeros). Editing, deleting or reordering
any entry therefore breaks the chain at that point, and :func:`verify_audit` names the first
entry where it breaks. This detects tampering by anyone who cannot rewrite every later entry;
anchoring the latest hash somewhere else (a ticket, a signed release note) closes that gap too.

Entries are appended inside the same exclusive transaction as the change they record, so the
log never claims a change that did not happen and never misses one that did.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from weakflow.store._db import Database
from weakflow.store._schema import AuditEntry

__all__ = ["GENESIS_HASH", "AuditVerification", "append_audit", "list_audit", "verify_audit"]

GENESIS_HASH = "0" * 64


def _canonical_time(at: dt.datetime) -> str:
    """UTC, naive, microseconds: identical whether SQLite or PostgreSQL gave it back."""
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def _normalize(details: dict[str, Any]) -> dict[str, Any]:
    """Details as they will read back from the database (JSON types only)."""
    out: dict[str, Any] = json.loads(json.dumps(details, sort_keys=True, default=str))
    return out


def entry_hash(
    *,
    seq: int,
    at: dt.datetime,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """The sha256 of an entry's canonical JSON (sorted keys, no whitespace)."""
    payload = json.dumps(
        {
            "seq": seq,
            "at": _canonical_time(at),
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": details,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def append_audit(
    session: Session, *, actor: str, action: str, subject: str, details: dict[str, Any]
) -> AuditEntry:
    """Append one entry in ``session``'s transaction (which must hold the writers' lock).

    Call it from ``Database.transaction(exclusive=True)``: the lock is what keeps two
    writers from chaining onto the same previous entry.
    """
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).first()
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS_HASH if last is None else last.hash
    at = dt.datetime.now(dt.UTC)
    clean = _normalize(details)
    digest = entry_hash(
        seq=seq, at=at, actor=actor, action=action, subject=subject, details=clean, prev_hash=prev
    )
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        details=clean,
        prev_hash=prev,
        hash=digest,
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class AuditVerification:
    """The result of walking the chain: ``ok``, how many entries were checked, the first bad one."""

    ok: bool
    checked: int
    first_bad: int | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def verify_audit(db: Database, *, batch_size: int = 5000) -> AuditVerification:
    """Recompute every entry's hash and link, in order; stop at the first that does not match."""
    checked = 0
    expected_seq = 1
    prev = GENESIS_HASH
    with db.transaction() as s:
        last_seq = 0
        while True:
            rows = list(
                s.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.seq > last_seq)
                    .order_by(AuditEntry.seq)
                    .limit(batch_size)
                )
            )
            if not rows:
                break
            for e in rows:
                problem = _check(e, expected_seq, prev)
                if problem:
                    return AuditVerification(False, checked, e.seq, problem)
                checked += 1
                expected_seq, prev, last_seq = e.seq + 1, e.hash, e.seq
    return AuditVerification(True, checked, None, f"all {checked} entries intact")


def _check(e: AuditEntry, expected_seq: int, prev: str) -> str:
    if e.seq != expected_seq:
        missing = (
            f"entry {expected_seq} was deleted"
            if e.seq == expected_seq + 1
            else f"entries {expected_seq}..{e.seq - 1} were deleted"
        )
        return f"entry {e.seq} follows entry {expected_seq - 1}: {missing}"
    if e.prev_hash != prev:
        return f"entry {e.seq} does not link to the entry before it (prev_hash differs)"
    recomputed = entry_hash(
        seq=e.seq,
        at=e.at,
        actor=e.actor,
        action=e.action,
        subject=e.subject,
        details=e.details,
        prev_hash=e.prev_hash,
    )
    if recomputed != e.hash:
        return (
            f"entry {e.seq} ({e.action} {e.subject}) was modified after it was written "
            "(its content no longer matches its hash)"
        )
    return ""


def list_audit(
    db: Database, *, limit: int = 50, action: str | None = None, subject: str | None = None
) -> list[dict[str, Any]]:
    """The newest ``limit`` entries (optionally one action or subject prefix), newest first."""
    with db.transaction() as s:
        query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
        if action:
            query = query.where(AuditEntry.action == action)
        if subject:
            query = query.where(AuditEntry.subject.startswith(subject))
        return [
            {
                "seq": e.seq,
                "at": _canonical_time(e.at) + "Z",
                "actor": e.actor,
                "action": e.action,
                "subject": e.subject,
                "details": e.details,
                "hash": e.hash,
            }
            for e in s.scalars(query)
        ]
