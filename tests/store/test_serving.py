"""The serving tables on SQLite and PostgreSQL: prediction log, feedback, hashed API tokens."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from weakflow.errors import RegistryError
from weakflow.store import (
    Database,
    add_feedback,
    create_token,
    existing_predictions,
    list_audit,
    list_tokens,
    lookup_token,
    revoke_token,
    verify_audit,
    write_predictions,
)
from weakflow.store._schema import ApiToken, Feedback


def _row(i: int, version: int = 1) -> dict[str, object]:
    return {
        "id": f"p{i:04d}",
        "created_at": dt.datetime.now(dt.UTC),
        "model_name": "spam",
        "model_version": version,
        "variant": "primary",
        "inputs": {"text": f"comment {i}"},
        "lf_votes": [1, -1, 0],
        "label": i % 2,
        "probabilities": [0.3, 0.7],
        "latency_ms": 1.5,
        "client_key": None,
        "subject_id": None,
    }


def test_prediction_log_and_feedback(store_url: str) -> None:
    db = Database(store_url)
    assert write_predictions(db, []) == 0
    assert write_predictions(db, [_row(i) for i in range(600)] + [_row(600, version=2)]) == 601
    found = existing_predictions(db, ["p0001", "p0600", "nope", "p0001"])
    assert found == {"p0001": 1, "p0600": 2}
    ids = add_feedback(db, [("p0001", 1, "user"), ("p0002", 0, "review")], token_name="t")
    assert len(ids) == 2
    with db.transaction() as s:
        rows = s.scalars(select(Feedback).order_by(Feedback.id)).all()
        assert [(r.prediction_id, r.label, r.source, r.token_name) for r in rows] == [
            ("p0001", 1, "user", "t"), ("p0002", 0, "review", "t"),
        ]  # fmt: skip
    db.close()


def test_tokens_are_hashed_scoped_revocable_and_audited(store_url: str) -> None:
    db = Database(store_url)
    info, secret = create_token(db, "ci", ["predict", "feedback"], actor="alice")
    assert info.scopes == ("feedback", "predict")
    assert secret.startswith("wf_")
    assert len(secret) > 40
    with db.transaction() as s:
        stored = s.scalars(select(ApiToken)).one()
        assert secret not in (stored.token_hash, stored.name)  # only the hash is kept
    found = lookup_token(db, secret)
    assert found is not None
    assert found.allows("predict")
    assert not found.allows("admin")
    assert lookup_token(db, secret + "x") is None
    admin, admin_secret = create_token(db, "ops", ["admin"], actor="alice")
    assert admin.allows("feedback")  # admin may do everything
    with pytest.raises(RegistryError, match="exists"):
        create_token(db, "ci", ["predict"], actor="alice")
    with pytest.raises(RegistryError, match="choose from predict, feedback, admin"):
        create_token(db, "bad", ["root"], actor="alice")
    assert revoke_token(db, "ci", actor="bob").revoked
    revoked = lookup_token(db, secret)
    assert revoked is not None
    assert not revoked.allows("predict")
    with pytest.raises(RegistryError, match="No token named"):
        revoke_token(db, "ghost", actor="bob")
    assert [t.name for t in list_tokens(db)] == ["ci", "ops"]
    actions = [e["action"] for e in list_audit(db)]
    assert actions == ["token_revoke", "token_create", "token_create"]
    assert admin_secret not in str(list_audit(db))
    assert verify_audit(db).ok
    db.close()
