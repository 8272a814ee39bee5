"""Registry semantics: versions, aliases with history, rollback, archive (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from weakflow.errors import ModelNotFoundError, RegistryError, StoreError
from weakflow.registry import Registry
from weakflow.store import list_audit, verify_audit


def _register(registry: Registry, sha: str, n: int, name: str = "spam") -> list[int]:
    return [
        registry.register(name, artifact_sha256=sha, actor="ci", run_id=f"run{i}").version
        for i in range(n)
    ]


def test_versions_count_up_per_model_and_keep_lineage(registry: Registry, model_sha: str) -> None:
    assert _register(registry, model_sha, 3) == [1, 2, 3]
    assert _register(registry, model_sha, 1, name="other") == [1]
    info = registry.register(
        "spam",
        artifact_sha256=model_sha,
        actor="bob",
        run_id="r9",
        metrics={"end_model": {"accuracy": 0.91}},
        lineage={"lf_module": {"sha256": "abc"}},
        card=lambda v: ({"model_details": {"version": v}}, f"# spam v{v}"),
        gates=[{"rule": "accuracy >= 0.9", "passed": True}],
        gates_passed=True,
    )
    assert info.version == 4
    got = registry.get("spam", 4)
    assert got.card == {"model_details": {"version": 4}}
    assert got.card_markdown == "# spam v4"
    assert got.metrics["end_model"]["accuracy"] == 0.91
    assert got.lineage == {"lf_module": {"sha256": "abc"}}
    assert (got.created_by, got.run_id, got.gates_passed) == ("bob", "r9", True)
    assert [v.version for v in registry.versions("spam")] == [1, 2, 3, 4]
    assert registry.models() == ["other", "spam"]
    assert len(registry.versions()) == 5


def test_unknown_things_say_what_exists(registry: Registry, model_sha: str) -> None:
    with pytest.raises(ModelNotFoundError, match="Nothing is registered yet"):
        registry.get("spam", 1)
    _register(registry, model_sha, 1)
    with pytest.raises(ModelNotFoundError, match=r"No version 7 of model 'spam'.*spam"):
        registry.get("spam", 7)
    with pytest.raises(ModelNotFoundError, match="No model named 'ham'"):
        registry.versions("ham")
    with pytest.raises(ModelNotFoundError, match="weakflow models promote spam VERSION"):
        registry.resolve("spam", "production")
    with pytest.raises(RegistryError, match="not in the store"):
        registry.register("spam", artifact_sha256="0" * 64, actor="ci")
    with pytest.raises(RegistryError, match="letters, digits"):
        registry.promote("spam", 1, "prod uction", actor="ci")


def test_promote_history_and_rollback_walk_back(registry: Registry, model_sha: str) -> None:
    _register(registry, model_sha, 3)
    for v in (1, 2, 3):
        registry.promote("spam", v, "production", actor="alice", reason=f"release {v}")
    assert registry.resolve("spam", "production").version == 3
    assert registry.promote("spam", 3, "production", actor="alice").action == "noop"

    back = registry.rollback("spam", "production", actor="bob", reason="bad release")
    assert (back.from_version, back.to_version, back.action) == (3, 2, "rollback")
    assert registry.rollback("spam", "production", actor="bob").to_version == 1
    with pytest.raises(RegistryError, match="no earlier version"):
        registry.rollback("spam", "production", actor="bob")
    with pytest.raises(RegistryError, match="no alias 'staging'"):
        registry.rollback("spam", "staging", actor="bob")

    moves = registry.history("spam", "production")
    assert [(m.from_version, m.to_version, m.action) for m in moves] == [
        (None, 1, "promote"), (1, 2, "promote"), (2, 3, "promote"),
        (3, 2, "rollback"), (2, 1, "rollback"),
    ]  # fmt: skip
    assert moves[0].reason == "release 1"
    assert moves[3].reason == "bad release"
    assert moves[3].actor == "bob"
    assert moves[3].at is not None
    assert registry.get("spam", 1).aliases == ["production"]
    # aliases are independent
    registry.promote("spam", 3, "staging", actor="alice")
    assert registry.alias_version("spam", "staging") == 3
    assert registry.alias_version("spam", "production") == 1


def test_archive_rules(registry: Registry, model_sha: str) -> None:
    _register(registry, model_sha, 2)
    registry.promote("spam", 1, "production", actor="a")
    registry.promote("spam", 2, "production", actor="a")
    with pytest.raises(RegistryError, match="move the alias"):
        registry.archive("spam", 2, actor="a")
    assert registry.archive("spam", 1, actor="a", reason="old").status == "archived"
    with pytest.raises(RegistryError, match="archived"):
        registry.promote("spam", 1, "staging", actor="a")
    with pytest.raises(RegistryError, match="archived"):
        registry.rollback("spam", "production", actor="a")
    assert registry.alias_version("spam", "production") == 2


def test_every_state_change_is_audited_and_chained(registry: Registry, model_sha: str) -> None:
    _register(registry, model_sha, 2)
    registry.promote("spam", 1, "production", actor="alice", reason="first")
    registry.promote("spam", 2, "production", actor="alice")
    registry.record_gate_decision(
        "spam", 2, results=[{"rule": "f1 >= 0"}], passed=True, alias="production", actor="ci"
    )
    registry.rollback("spam", "production", actor="bob")
    registry.archive("spam", 2, actor="bob")
    registry.record_run(
        "r1", project="spam", status="succeeded", report_path=None, summary={}, actor="ci"
    )
    actions = [e["action"] for e in reversed(list_audit(registry.db, limit=100))]
    assert actions == [
        "register", "register", "promote", "promote", "gate_decision", "rollback", "archive",
        "run",
    ]  # fmt: skip
    rollback = list_audit(registry.db, action="rollback")[0]
    assert rollback["actor"] == "bob"
    assert rollback["subject"] == "spam@production"
    assert rollback["details"]["from"] == 2
    assert rollback["details"]["to"] == 1
    assert verify_audit(registry.db).checked == 8


def test_load_model_verifies_the_artifact_hash(registry: Registry, model_sha: str) -> None:
    _register(registry, model_sha, 1)
    model = registry.load_model("spam", 1)
    assert model.predict([[1.0, 0.0, 0.0]]).tolist() == [1]
    path = registry.artifacts.root / "objects" / model_sha[:2] / model_sha[2:]
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(StoreError, match=f"{model_sha[:12]}.*corrupted"):
        registry.load_model("spam", 1)
