"""The model registry: versions with lineage, aliases with history, one-step rollback.

Every state change runs in one exclusive database transaction together with its audit entry,
so it either happens completely (version row, alias move, history row, audit entry) or not at
all: a crash in the middle of a registration leaves no half-registered version, and two
processes promoting the same alias are serialized, each move recorded with the version it
actually replaced.

Rollback is defined on the alias's timeline: it moves the alias back to the version it pointed
at before the move that brought the current version, so repeated rollbacks walk back through
releases (v3 -> v2 -> v1) instead of toggling between two.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from weakflow.errors import ModelNotFoundError, RegistryError
from weakflow.store import ArtifactStore, Database, append_audit
from weakflow.store._schema import Alias, AliasHistory, ModelVersion, RegisteredModel, RunRecord

__all__ = ["AliasMove", "Registry", "VersionInfo"]

CardBuilder = Callable[[int], tuple[dict[str, Any], str]]


def _iso(t: dt.datetime | None) -> str | None:
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.isoformat()


@dataclass(frozen=True)
class VersionInfo:
    """One registered model version, as the CLI and the server show it."""

    name: str
    version: int
    run_id: str | None
    artifact_sha256: str
    status: str
    created_at: str | None
    created_by: str
    metrics: dict[str, Any]
    lineage: dict[str, Any]
    card: dict[str, Any]
    card_markdown: str
    gates: list[Any]
    gates_passed: bool | None
    aliases: list[str] = field(default_factory=list)
    #: Set when the version must be retrained (e.g. it learned from an erased data subject).
    retrain_reason: str | None = None

    def to_dict(self, *, full: bool = True) -> dict[str, Any]:
        out = {
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
            "artifact_sha256": self.artifact_sha256,
            "status": self.status,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "aliases": self.aliases,
            "gates_passed": self.gates_passed,
            "metrics": self.metrics,
            "retrain_reason": self.retrain_reason,
        }
        if full:
            out.update(lineage=self.lineage, gates=self.gates, card=self.card)
        return out


@dataclass(frozen=True)
class AliasMove:
    """One move of an alias: from which version to which, by whom, when and why."""

    name: str
    alias: str
    from_version: int | None
    to_version: int | None
    actor: str
    reason: str
    action: str
    at: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _move(h: AliasHistory) -> AliasMove:
    return AliasMove(
        name=h.model_name,
        alias=h.alias,
        from_version=h.from_version,
        to_version=h.to_version,
        actor=h.actor,
        reason=h.reason,
        action=h.action,
        at=_iso(h.at),
    )


class Registry:
    """Registered models of one store (database + artifact folder)."""

    def __init__(self, db: Database, artifacts: ArtifactStore) -> None:
        self.db = db
        self.artifacts = artifacts

    # -- reading ---------------------------------------------------------------------------
    def _row(self, session: Session, name: str, version: int) -> ModelVersion:
        row = session.scalar(
            select(ModelVersion).where(
                ModelVersion.model_name == name, ModelVersion.version == version
            )
        )
        if row is None:
            known = self._names(session)
            hint = (
                f" Registered models: {', '.join(known)}."
                if known
                else " Nothing is registered yet: run `weakflow run` first."
            )
            raise ModelNotFoundError(f"No version {version} of model {name!r}.{hint}")
        return row

    def _names(self, session: Session) -> list[str]:
        return list(session.scalars(select(RegisteredModel.name).order_by(RegisteredModel.name)))

    def _aliases_of(self, session: Session, name: str) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for a in session.scalars(select(Alias).where(Alias.model_name == name)):
            out.setdefault(a.version, []).append(a.alias)
        return out

    def _info(self, row: ModelVersion, aliases: dict[int, list[str]]) -> VersionInfo:
        return VersionInfo(
            name=row.model_name,
            version=row.version,
            run_id=row.run_id,
            artifact_sha256=row.artifact_sha256,
            status=row.status,
            created_at=_iso(row.created_at),
            created_by=row.created_by,
            metrics=row.metrics,
            lineage=row.lineage,
            card=row.card,
            card_markdown=row.card_markdown,
            gates=row.gates,
            gates_passed=row.gates_passed,
            aliases=sorted(aliases.get(row.version, [])),
            retrain_reason=row.retrain_reason,
        )

    def models(self) -> list[str]:
        with self.db.transaction() as s:
            return self._names(s)

    def versions(self, name: str | None = None) -> list[VersionInfo]:
        """Every version of ``name`` (or of every model), oldest first."""
        with self.db.transaction() as s:
            query = select(ModelVersion).order_by(ModelVersion.model_name, ModelVersion.version)
            if name is not None:
                if name not in self._names(s):
                    raise ModelNotFoundError(f"No model named {name!r}.")
                query = query.where(ModelVersion.model_name == name)
            rows = list(s.scalars(query))
            alias_maps = {n: self._aliases_of(s, n) for n in {r.model_name for r in rows}}
            return [self._info(r, alias_maps[r.model_name]) for r in rows]

    def get(self, name: str, version: int) -> VersionInfo:
        with self.db.transaction() as s:
            return self._info(self._row(s, name, version), self._aliases_of(s, name))

    def alias_version(self, name: str, alias: str) -> int | None:
        """The version ``alias`` points at, or None."""
        with self.db.transaction() as s:
            row = s.get(Alias, (name, alias))
            return None if row is None else row.version

    def resolve(self, name: str, alias: str) -> VersionInfo:
        version = self.alias_version(name, alias)
        if version is None:
            raise ModelNotFoundError(
                f"Model {name!r} has no alias {alias!r}. Promote a version first: "
                f"weakflow models promote {name} VERSION --alias {alias}"
            )
        return self.get(name, version)

    def history(self, name: str, alias: str) -> list[AliasMove]:
        """Every move of ``alias``, oldest first."""
        with self.db.transaction() as s:
            rows = s.scalars(
                select(AliasHistory)
                .where(AliasHistory.model_name == name, AliasHistory.alias == alias)
                .order_by(AliasHistory.id)
            )
            return [_move(h) for h in rows]

    def load_model(self, name: str, version: int) -> Any:
        """The version's model, its artifact hash verified before anything is loaded."""
        info = self.get(name, version)
        return self.artifacts.get_model(info.artifact_sha256)

    # -- writing ---------------------------------------------------------------------------
    def record_run(
        self,
        run_id: str,
        *,
        project: str,
        status: str,
        report_path: str | None,
        summary: dict[str, Any],
        actor: str,
    ) -> None:
        with self.db.transaction(exclusive=True) as s:
            s.merge(
                RunRecord(
                    run_id=run_id,
                    project=project,
                    status=status,
                    report_path=report_path,
                    summary=summary,
                )
            )
            append_audit(
                s, actor=actor, action="run", subject=f"{project}/{run_id}",
                details={"status": status},
            )  # fmt: skip

    def register(
        self,
        name: str,
        *,
        artifact_sha256: str,
        actor: str,
        run_id: str | None = None,
        metrics: dict[str, Any] | None = None,
        lineage: dict[str, Any] | None = None,
        card: CardBuilder | None = None,
        gates: list[Any] | None = None,
        gates_passed: bool | None = None,
    ) -> VersionInfo:
        """Register a new version of ``name`` (created on first use); returns it.

        ``card`` builds the model card for the version number it is given, inside the same
        transaction, so the card always names its own version.
        """
        if not self.artifacts.exists(artifact_sha256):
            raise RegistryError(
                f"Artifact {artifact_sha256[:12]}... is not in the store {self.artifacts.root}; "
                "register models produced by `weakflow run`."
            )
        with self.db.transaction(exclusive=True) as s:
            if s.get(RegisteredModel, name) is None:
                s.add(RegisteredModel(name=name))
                s.flush()
            last = s.scalar(
                select(func.max(ModelVersion.version)).where(ModelVersion.model_name == name)
            )
            version = int(last or 0) + 1
            card_json, card_md = card(version) if card is not None else ({}, "")
            row = ModelVersion(
                model_name=name,
                version=version,
                run_id=run_id,
                artifact_sha256=artifact_sha256,
                created_by=actor,
                metrics=metrics or {},
                lineage=lineage or {},
                card=card_json,
                card_markdown=card_md,
                gates=gates or [],
                gates_passed=gates_passed,
            )
            s.add(row)
            s.flush()
            append_audit(
                s,
                actor=actor,
                action="register",
                subject=f"{name}/v{version}",
                details={
                    "artifact_sha256": artifact_sha256,
                    "run_id": run_id,
                    "gates_passed": gates_passed,
                },
            )
            return self._info(row, self._aliases_of(s, name))

    def _set_alias(
        self,
        s: Session,
        name: str,
        alias: str,
        to_version: int,
        *,
        actor: str,
        reason: str,
        action: str,
    ) -> AliasMove:
        current = s.get(Alias, (name, alias))
        from_version = None if current is None else current.version
        if current is None:
            s.add(Alias(model_name=name, alias=alias, version=to_version))
        else:
            current.version = to_version
            current.updated_at = dt.datetime.now(dt.UTC)
        h = AliasHistory(
            model_name=name,
            alias=alias,
            from_version=from_version,
            to_version=to_version,
            actor=actor,
            reason=reason,
            action=action,
        )
        s.add(h)
        s.flush()
        append_audit(
            s,
            actor=actor,
            action=action,
            subject=f"{name}@{alias}",
            details={"from": from_version, "to": to_version, "reason": reason},
        )
        return _move(h)

    def promote(
        self,
        name: str,
        version: int,
        alias: str,
        *,
        actor: str,
        reason: str = "",
        action: str = "promote",
    ) -> AliasMove:
        """Point ``alias`` at ``version`` and record the move (a no-op when it already does)."""
        _check_alias(alias)
        with self.db.transaction(exclusive=True) as s:
            row = self._row(s, name, version)
            if row.status == "archived":
                raise RegistryError(
                    f"{name} v{version} is archived; an archived version cannot be promoted."
                )
            current = s.get(Alias, (name, alias))
            if current is not None and current.version == version:
                return AliasMove(name, alias, version, version, actor, reason, "noop", None)
            return self._set_alias(
                s, name, alias, version, actor=actor, reason=reason, action=action
            )

    def rollback(self, name: str, alias: str, *, actor: str, reason: str = "") -> AliasMove:
        """Move ``alias`` back to the version it pointed at before its current one."""
        with self.db.transaction(exclusive=True) as s:
            current = s.get(Alias, (name, alias))
            if current is None:
                raise RegistryError(f"Model {name!r} has no alias {alias!r} to roll back.")
            arrivals = s.scalars(
                select(AliasHistory)
                .where(
                    AliasHistory.model_name == name,
                    AliasHistory.alias == alias,
                    AliasHistory.to_version == current.version,
                    AliasHistory.action != "rollback",
                )
                .order_by(AliasHistory.id.desc())
            ).first()
            target = None if arrivals is None else arrivals.from_version
            if target is None:
                raise RegistryError(
                    f"{name}@{alias} points at v{current.version}, its first version: there is "
                    "no earlier version to roll back to."
                )
            target_row = self._row(s, name, target)
            if target_row.status == "archived":
                raise RegistryError(
                    f"Cannot roll {name}@{alias} back to v{target}: it is archived. Promote a "
                    "version explicitly instead."
                )
            why = reason or f"rollback from v{current.version}"
            return self._set_alias(
                s, name, alias, target, actor=actor, reason=why, action="rollback"
            )

    def remove_alias(self, name: str, alias: str, *, actor: str, reason: str = "") -> AliasMove:
        """Remove ``alias`` (e.g. end a canary); the removal is kept in its history."""
        with self.db.transaction(exclusive=True) as s:
            current = s.get(Alias, (name, alias))
            if current is None:
                raise RegistryError(f"Model {name!r} has no alias {alias!r} to remove.")
            from_version = current.version
            s.delete(current)
            h = AliasHistory(
                model_name=name, alias=alias, from_version=from_version, to_version=None,
                actor=actor, reason=reason, action="remove",
            )  # fmt: skip
            s.add(h)
            s.flush()
            append_audit(
                s, actor=actor, action="alias_remove", subject=f"{name}@{alias}",
                details={"from": from_version, "reason": reason},
            )  # fmt: skip
            return _move(h)

    def audit(self, action: str, subject: str, details: dict[str, Any], *, actor: str) -> None:
        """Record a decision that changes no registry row (e.g. the loop chose not to act)."""
        with self.db.transaction(exclusive=True) as s:
            append_audit(s, actor=actor, action=action, subject=subject, details=details)

    def record_gate_decision(
        self, name: str, version: int, *, results: list[Any], passed: bool, alias: str, actor: str
    ) -> None:
        """Audit the gates' verdict on a candidate, whether or not it moves the alias."""
        with self.db.transaction(exclusive=True) as s:
            self._row(s, name, version)
            append_audit(
                s,
                actor=actor,
                action="gate_decision",
                subject=f"{name}/v{version}",
                details={"alias": alias, "passed": passed, "gates": results},
            )

    def archive(self, name: str, version: int, *, actor: str, reason: str = "") -> VersionInfo:
        """Archive a version (kept, never served or promoted); aliases must point elsewhere."""
        with self.db.transaction(exclusive=True) as s:
            row = self._row(s, name, version)
            holding = self._aliases_of(s, name).get(version, [])
            if holding:
                raise RegistryError(
                    f"{name} v{version} is what {', '.join(holding)} points at; move the alias "
                    "to another version before archiving it."
                )
            row.status = "archived"
            append_audit(
                s, actor=actor, action="archive", subject=f"{name}/v{version}",
                details={"reason": reason},
            )  # fmt: skip
            return self._info(row, {})


def _check_alias(alias: str) -> None:
    if not alias or not alias.replace("-", "").replace("_", "").isalnum():
        raise RegistryError(
            f"Alias {alias!r} must be letters, digits, '-' or '_' (e.g. production, staging)."
        )
