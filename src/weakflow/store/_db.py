"""The database behind the store: one SQLAlchemy engine, migrated on open, safe for many processes.

Why the transaction rules matter: registry moves (register, promote, rollback) read the
current state and write a change plus its hash-chained audit entry. Two processes doing that at
once must not both read the same state, or the alias history and the audit chain would fork. So
writers take an exclusive lock for the whole transaction:

- SQLite (the default, ``sqlite:///<project>/.weakflow/weakflow.db``): WAL journal, so readers
  never block, and ``BEGIN IMMEDIATE`` for writers, which takes the database's write lock at the
  start of the transaction rather than at its first write; other writers wait (busy timeout).
- PostgreSQL (``postgresql+psycopg://...``): ``pg_advisory_xact_lock`` on one key for the
  duration of the transaction: writers queue, readers run under MVCC.

Everything a state change writes is in one transaction, so a crash (even ``kill -9``) leaves
either all of it or none of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from weakflow.errors import MissingDependencyError, StoreError

__all__ = ["Database", "default_url"]

#: The advisory-lock key writers take on PostgreSQL ("weakflow" in ASCII, as an int64).
_PG_LOCK_KEY = 0x7765616B666C6F77
_EXCLUSIVE = "weakflow_exclusive"
#: How long a SQLite writer waits for another writer before giving up (seconds).
SQLITE_BUSY_TIMEOUT = 60.0


def default_url(state_dir: str | Path) -> str:
    """The embedded default: a SQLite file in the project's state folder (``.weakflow``)."""
    return f"sqlite:///{Path(state_dir).resolve() / 'weakflow.db'}"


def _redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def _sqlite_engine(url: str) -> Engine:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy (below) emit BEGIN itself; pysqlite's implicit transactions would
        # otherwise start deferred transactions we cannot make IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        exclusive = conn.get_execution_options().get(_EXCLUSIVE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if exclusive else "BEGIN")

    return engine


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    if url.startswith("postgresql"):
        try:
            return create_engine(url, pool_pre_ping=True)
        except ModuleNotFoundError as exc:
            raise MissingDependencyError(
                f"The store URL {_redact(url)} needs a PostgreSQL driver: "
                'pip install "weakflow[postgres]" (psycopg 3), and use postgresql+psycopg://...'
            ) from exc
    raise StoreError(
        f"Unsupported store URL {_redact(url)!r}: use sqlite:///path/to/weakflow.db or "
        "postgresql+psycopg://user@host:5432/dbname ([store] url in weakflow.toml or "
        "$WEAKFLOW_STORE_URL)."
    )


class Database:
    """A store database: engine, migrations and transactions.

    Parameters
    ----------
    url : str
        SQLAlchemy URL: ``sqlite:///...`` or ``postgresql+psycopg://...``.
    migrate : bool
        Bring the schema to the newest Alembic revision on open (under the writers' lock, so
        concurrent first opens are safe).
    """

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = _make_engine(url)
        self._exclusive_engine = self.engine.execution_options(**{_EXCLUSIVE: True})
        if migrate:
            self.migrate()

    def __repr__(self) -> str:
        return f"Database({_redact(self.url)!r})"

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return str(self.engine.dialect.name)

    @contextmanager
    def transaction(self, *, exclusive: bool = False) -> Iterator[Session]:
        """A session in one transaction, committed on success and rolled back on error.

        ``exclusive=True`` for anything that writes registry state or the audit log: it holds
        the writers' lock for the whole transaction (see the module docstring).
        """
        bind = self._exclusive_engine if exclusive else self.engine
        session = Session(bind, expire_on_commit=False)
        try:
            with session.begin():
                if exclusive and self.dialect == "postgresql":
                    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
                yield session
        except OperationalError as exc:
            raise StoreError(
                f"The store database {_redact(self.url)} failed: {exc.orig}. Nothing of this "
                "change was written; check that the database is reachable and has free space, "
                "then retry."
            ) from exc
        finally:
            session.close()

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    # -- migrations ----------------------------------------------------------------------------
    def migrate(self) -> None:
        """Upgrade the schema to the newest revision (a no-op when it is current)."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        location = str(resources.files("weakflow.store") / "migrations")
        cfg = Config()
        cfg.set_main_option("script_location", location)
        head = ScriptDirectory.from_config(cfg).get_current_head()
        try:
            with self.engine.connect() as conn:
                if MigrationContext.configure(conn).get_current_revision() == head:
                    return
            with self._exclusive_engine.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except (OperationalError, DBAPIError) as exc:
            raise StoreError(
                f"Cannot open the store database {_redact(self.url)}: {exc.orig}. Check the URL "
                "([store] url in weakflow.toml or $WEAKFLOW_STORE_URL) and that the server runs."
            ) from exc
