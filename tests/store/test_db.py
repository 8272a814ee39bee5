"""The store database on SQLite and PostgreSQL: migrations, transactions, the audit chain."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from weakflow.errors import StoreError
from weakflow.store import Database, append_audit, list_audit, verify_audit
from weakflow.store._schema import AuditEntry, Base, RegisteredModel


def _append(db: Database, n: int, action: str = "test") -> None:
    for i in range(n):
        with db.transaction(exclusive=True) as s:
            append_audit(
                s, actor="alice", action=action, subject=f"m/v{i}",
                details={"i": i, "score": 0.1 * i, "note": "ünïcode ✓", "none": None},
            )  # fmt: skip


def test_migrations_build_exactly_the_declared_schema(store_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    db = Database(store_url)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        revision = MigrationContext.configure(conn).get_current_revision()
    assert diff == []
    assert revision == "0004"
    Database(store_url).close()  # reopening an up-to-date database is a no-op
    db.close()


def test_default_sqlite_uses_wal(tmp_path) -> None:
    from weakflow.store import default_url

    db = Database(default_url(tmp_path / ".weakflow"))
    assert (tmp_path / ".weakflow" / "weakflow.db").exists()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.close()


def test_failed_transaction_writes_nothing(store_url: str) -> None:
    db = Database(store_url)

    def half_done() -> None:
        with db.transaction(exclusive=True) as s:
            s.add(RegisteredModel(name="half"))
            s.flush()
            append_audit(s, actor="a", action="register", subject="half", details={})
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        half_done()
    with db.transaction() as s:
        assert s.get(RegisteredModel, "half") is None
        assert s.scalars(select(AuditEntry)).all() == []
    db.close()


def test_audit_chain_verifies_and_lists(store_url: str) -> None:
    db = Database(store_url)
    empty = verify_audit(db)
    assert empty.ok
    assert empty.checked == 0
    _append(db, 5)
    _append(db, 2, action="other")
    result = verify_audit(db)
    assert result.ok
    assert result.checked == 7
    assert result.first_bad is None
    newest = list_audit(db, limit=3)
    assert [e["seq"] for e in newest] == [7, 6, 5]
    assert newest[0]["details"] == {"i": 1, "score": 0.1, "note": "ünïcode ✓", "none": None}
    assert [e["seq"] for e in list_audit(db, action="other")] == [7, 6]
    assert [e["seq"] for e in list_audit(db, subject="m/v4")] == [5]
    db.close()


@pytest.mark.parametrize(
    ("statement", "bad", "checked", "reason"),
    [
        ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", 3, 2, "modified"),
        ("UPDATE audit_log SET details = '{\"i\": 99}' WHERE seq = 4", 4, 3, "modified"),
        ("DELETE FROM audit_log WHERE seq = 2", 3, 1, "entry 2 was deleted"),
        ("UPDATE audit_log SET prev_hash = hash WHERE seq = 5", 5, 4, "link"),
    ],
)
def test_tampering_is_detected_at_the_first_bad_entry(
    store_url: str, statement: str, bad: int, checked: int, reason: str
) -> None:
    db = Database(store_url)
    _append(db, 6)
    with db.engine.begin() as conn:
        conn.execute(text(statement))
    result = verify_audit(db)
    assert not result.ok
    assert result.first_bad == bad
    assert reason in result.reason
    assert result.checked == checked
    db.close()


def test_rewriting_an_entry_with_a_fresh_hash_breaks_the_next_link(store_url: str) -> None:
    """A forger who recomputes the edited entry's hash still breaks the entry after it."""
    from weakflow.store._audit import entry_hash

    db = Database(store_url)
    _append(db, 4)
    with db.transaction() as s:
        e = s.get(AuditEntry, 2)
        assert e is not None
        forged = entry_hash(
            seq=e.seq, at=e.at, actor="mallory", action=e.action, subject=e.subject,
            details=e.details, prev_hash=e.prev_hash,
        )  # fmt: skip
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_log SET actor = 'mallory', hash = :h WHERE seq = 2"), {"h": forged}
        )
    result = verify_audit(db)
    assert (result.ok, result.first_bad) == (False, 3)
    db.close()


def test_unsupported_and_unreachable_urls_say_how_to_fix() -> None:
    with pytest.raises(StoreError, match=r"Unsupported store URL.*sqlite:///"):
        Database("mysql://x@localhost/db")
    with pytest.raises(StoreError, match=r"Cannot open the store database") as info:
        Database("postgresql+psycopg://alice:s3cret@127.0.0.1:1/nowhere")
    assert "s3cret" not in str(info.value)
    assert "***" in str(info.value)
