"""The database schema: everything weakflow keeps across runs (SQLAlchemy 2 declarative).

Tables and why they exist:

- ``runs``: one row per ``weakflow run``: what ran, when, and where its report is.
- ``registered_models`` / ``model_versions``: the registry. A version points at its artifact by
  sha256 and carries its lineage (the run's provenance), metrics, model card and gate verdicts.
- ``aliases`` / ``alias_history``: which version an alias (``production``, ``staging``) points
  at, and every move (from, to, who, when, why), so rollback is one step and the history of what
  was live is never lost.
- ``audit_log``: append-only, hash-chained record of every state change; tampering with any
  entry breaks the chain, which ``weakflow audit verify`` detects.
- ``predictions`` / ``feedback``: the serving log (inputs with PII redacted, LF votes, outputs,
  version, latency) and the labels that come back for it, joined by prediction id.
- ``api_tokens``: serving credentials, kept as sha256 hashes with their scopes.
- ``monitor_windows``: each monitored window's signals and alerts (alerts wait for K bad
  windows in a row).

Schema changes go through Alembic migrations (``weakflow/store/migrations``), never
``create_all`` on an existing database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Alias",
    "AliasHistory",
    "ApiToken",
    "AuditEntry",
    "Base",
    "Feedback",
    "FeedbackSource",
    "ModelVersion",
    "MonitorWindow",
    "Prediction",
    "RegisteredModel",
    "RunRecord",
]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """The store's declarative base: its metadata is what the migrations build."""


class RunRecord(Base):
    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    status: Mapped[str] = mapped_column(String(20))  # "succeeded" | "failed"
    report_path: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RegisteredModel(Base):
    __tablename__ = "registered_models"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    description: Mapped[str] = mapped_column(Text, default="")


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_name", "version", name="uq_model_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(ForeignKey("registered_models.name"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="registered")  # | "archived"
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    card: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    card_markdown: Mapped[str] = mapped_column(Text, default="")
    gates: Mapped[list[Any]] = mapped_column(JSON, default=list)
    gates_passed: Mapped[bool | None] = mapped_column(Boolean)
    #: Why this version must be retrained (e.g. a data subject it learned from was erased).
    retrain_reason: Mapped[str | None] = mapped_column(Text)


class Alias(Base):
    __tablename__ = "aliases"
    __table_args__ = (
        ForeignKeyConstraint(
            ["model_name", "version"], ["model_versions.model_name", "model_versions.version"]
        ),
    )

    model_name: Mapped[str] = mapped_column(ForeignKey("registered_models.name"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class AliasHistory(Base):
    __tablename__ = "alias_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(ForeignKey("registered_models.name"), index=True)
    alias: Mapped[str] = mapped_column(String(100), index=True)
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int | None] = mapped_column(Integer)  # None: the alias was removed
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(String(20))  # "promote" | "rollback" | "gate"
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Prediction(Base):
    """One served prediction: what came in (PII redacted), the LF votes, what went out."""

    __tablename__ = "predictions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[int] = mapped_column(Integer, index=True)
    variant: Mapped[str] = mapped_column(String(20), default="primary")  # | canary | shadow
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    lf_votes: Mapped[list[Any] | None] = mapped_column(JSON)
    label: Mapped[int] = mapped_column(Integer)
    probabilities: Mapped[list[Any]] = mapped_column(JSON)
    latency_ms: Mapped[float] = mapped_column(Float)
    client_key: Mapped[str | None] = mapped_column(String(200))
    subject_id: Mapped[str | None] = mapped_column(String(200), index=True)


class Feedback(Base):
    """A label for a served prediction, from a user, a reviewer or a downstream system."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prediction_id: Mapped[str] = mapped_column(String(32), index=True)
    label: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(200), default="api", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    token_name: Mapped[str | None] = mapped_column(String(200))


class FeedbackSource(Base):
    """A feedback source's standing: a quarantined source's labels are kept, never trained on.

    The source is the token name that sent the labels (``token:<name>``), else the ``source``
    field of the feedback (development mode, or labels written through the Python API).
    """

    __tablename__ = "feedback_sources"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))  # "quarantined" | "released"
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ApiToken(Base):
    """An API token: only its sha256 is kept; the secret is shown once, at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class MonitorWindow(Base):
    """One monitored window: what was compared, every signal, and which alerts it raised.

    Kept so that alerts can wait for K consecutive bad windows, and so the dashboard can chart
    drift and estimated accuracy over time.
    """

    __tablename__ = "monitor_windows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, index=True
    )
    model_name: Mapped[str] = mapped_column(String(200), index=True)
    model_version: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    n: Mapped[int] = mapped_column(Integer)
    bad_targets: Mapped[list[Any]] = mapped_column(JSON, default=list)
    alerts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
