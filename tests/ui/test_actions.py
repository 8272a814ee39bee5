"""Signing in, promote, rollback and review labels: what they change, and what they refuse."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from uikit import MODEL, feedback_rows, make_token

from weakflow.pipeline import Project
from weakflow.registry import open_registry
from weakflow.store import list_audit


def _registry(project: Path):  # type: ignore[no-untyped-def]
    proj = Project.load(project)
    return open_registry(proj.state_dir, proj.config.store.url)


def _alias(project: Path, alias: str = "production") -> int | None:
    registry = _registry(project)
    try:
        return registry.alias_version(MODEL, alias)
    finally:
        registry.db.close()


def _sign_in(client: TestClient, token: str) -> str:
    """Sign in through the form; returns the CSRF field of the pages."""
    response = client.post("/ui/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/ui/").text
    match = re.search(r'<meta name="weakflow-csrf" content="([0-9a-f]+)">', page)
    assert match, "no csrf token on the page of a signed-in user"
    return match.group(1)


@pytest.fixture
def admin(project_copy: Path) -> str:
    return make_token(project_copy, ["admin"], name="alice")


def test_sign_in_sets_a_strict_httponly_cookie_and_goes_back(
    project_copy: Path, ui_client: Callable[..., TestClient], admin: str
) -> None:
    client = ui_client(project_copy)
    response = client.post(
        "/ui/login", data={"token": admin, "next": "/ui/review"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/review"
    cookie = response.headers["set-cookie"].lower()
    assert "weakflow_ui_token=" in cookie
    for attribute in ("httponly", "samesite=strict", "path=/ui"):
        assert attribute in cookie
    assert "Signed in as <strong>alice</strong>" in unescape(client.get("/ui/").text)
    elsewhere = client.post(
        "/ui/login", data={"token": admin, "next": "//evil.example/x"}, follow_redirects=False
    )
    assert elsewhere.headers["location"] == "/ui/"


@pytest.mark.parametrize(
    ("token", "message"),
    [("", "token: required"), ("wf_nope", "token: unknown to this project's store")],
)
def test_a_bad_sign_in_names_the_token_field(
    project_copy: Path, ui_client: Callable[..., TestClient], token: str, message: str
) -> None:
    response = ui_client(project_copy).post("/ui/login", data={"token": token})
    assert response.status_code == 401
    assert message in unescape(response.text)


def test_pages_need_a_token_when_reads_are_closed(
    project_copy: Path, ui_client: Callable[..., TestClient], admin: str
) -> None:
    client = ui_client(project_copy, open_reads=False)
    response = client.get("/ui/monitoring?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login?next=%2Fui%2Fmonitoring%3Fx%3D1"
    assert client.get("/ui/login").status_code == 200
    reader = make_token(project_copy, ["predict"], name="reader")
    client.post("/ui/login", data={"token": reader})
    assert client.get("/ui/monitoring").status_code == 200


def test_promote_and_rollback_through_the_forms_land_in_the_audit_log(
    project_copy: Path, ui_client: Callable[..., TestClient], admin: str
) -> None:
    client = ui_client(project_copy)
    csrf = _sign_in(client, admin)
    response = client.post(
        "/ui/models/2/promote",
        data={"alias": "production", "reason": "v2 reviewed by ops", "confirm": "yes",
              "csrf": csrf},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/ui/models/2"
    assert "Promoted v2 to production (was v1)" in unescape(client.get("/ui/models/2").text)
    assert _alias(project_copy) == 2
    response = client.post(
        "/ui/rollback",
        data={"alias": "production", "reason": "complaints about v2", "confirm": "on",
              "csrf": csrf},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303, response.text
    assert _alias(project_copy) == 1
    registry = _registry(project_copy)
    try:
        moves = registry.history(MODEL, "production")
        entries = list_audit(registry.db, limit=5)
    finally:
        registry.db.close()
    assert [(m.action, m.to_version, m.actor, m.reason) for m in moves[-2:]] == [
        ("promote", 2, "ui:alice", "v2 reviewed by ops"),
        ("rollback", 1, "ui:alice", "complaints about v2"),
    ]
    reasons = [(e["actor"], e["details"].get("reason")) for e in entries]
    assert ("ui:alice", "v2 reviewed by ops") in reasons
    assert ("ui:alice", "complaints about v2") in reasons
    assert "complaints about v2" in unescape(client.get("/ui/models").text)


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"alias": "production", "confirm": "yes"}, 422, "reason: required"),
        ({"alias": "production", "reason": "   ", "confirm": "yes"}, 422, "reason: required"),
        ({"alias": "production", "reason": "why not"}, 422, "confirm: tick the confirmation"),
        ({"alias": "prod uction", "reason": "r", "confirm": "yes"}, 422, "alias: 'prod uction'"),
    ],
)
def test_promote_refuses_a_form_without_reason_or_confirmation(
    project_copy: Path, ui_client: Callable[..., TestClient], admin: str,
    form: dict[str, str], status: int, message: str,
) -> None:  # fmt: skip
    client = ui_client(project_copy)
    csrf = _sign_in(client, admin)
    response = client.post("/ui/models/2/promote", data={**form, "csrf": csrf})
    assert response.status_code == status
    assert message in unescape(response.text)
    as_json = client.post(
        "/ui/models/2/promote", json={**form, "csrf": csrf},
        headers={"Accept": "application/json"},
    )  # fmt: skip
    assert as_json.status_code == status
    assert as_json.json()["detail"][0]["loc"] == ["body", message.split(":")[0]]
    assert _alias(project_copy) == 1


def test_promote_needs_an_admin_token_and_a_valid_csrf_field(
    project_copy: Path, ui_client: Callable[..., TestClient], admin: str
) -> None:
    form = {"alias": "production", "reason": "r", "confirm": "yes"}
    anonymous = ui_client(project_copy)
    response = anonymous.post("/ui/models/2/promote", data=form)
    assert response.status_code == 401
    assert "You are not signed in" in unescape(response.text)
    reviewer = ui_client(project_copy)
    csrf = _sign_in(reviewer, make_token(project_copy, ["feedback"], name="bob"))
    response = reviewer.post("/ui/models/2/promote", data={**form, "csrf": csrf})
    assert response.status_code == 403
    assert "needs scope 'admin'" in unescape(response.text)
    client = ui_client(project_copy)
    _sign_in(client, admin)
    response = client.post("/ui/models/2/promote", data={**form, "csrf": "0" * 64})
    assert response.status_code == 403
    assert "csrf:" in unescape(response.text)
    response = client.post("/ui/models/2/promote", data=form)
    assert response.status_code == 403
    assert "csrf:" in unescape(response.text)
    csrf = _sign_in(client, admin)
    response = client.post(
        "/ui/models/2/promote", data={**form, "csrf": csrf},
        headers={"Origin": "https://evil.example"},
    )  # fmt: skip
    assert response.status_code == 403
    assert "another site" in unescape(response.text)
    assert _alias(project_copy) == 1
    # a script sends the token in a header: no cookie, no csrf field needed
    script = ui_client(project_copy)
    response = script.post(
        "/ui/models/2/promote", json=form,
        headers={"Authorization": f"Bearer {admin}", "Accept": "application/json"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["ok"] is True
    assert _alias(project_copy) == 2


def test_a_revoked_token_stops_working_at_once(
    project_copy: Path, ui_client: Callable[..., TestClient], admin: str
) -> None:
    from weakflow.store import revoke_token

    client = ui_client(project_copy)
    csrf = _sign_in(client, admin)
    registry = _registry(project_copy)
    try:
        revoke_token(registry.db, "alice", actor="tests")
    finally:
        registry.db.close()
    response = client.post(
        "/ui/rollback", data={"reason": "r", "confirm": "yes", "csrf": csrf}
    )  # fmt: skip
    assert response.status_code == 401
    assert "was revoked" in unescape(response.text)
    assert "Signed in as" not in unescape(client.get("/ui/").text)


def test_rollback_without_an_earlier_version_is_a_clear_conflict(
    project_copy: Path, ui_client: Callable[..., TestClient], admin: str
) -> None:
    client = ui_client(project_copy)
    csrf = _sign_in(client, admin)
    response = client.post("/ui/rollback", data={"reason": "r", "confirm": "yes", "csrf": csrf})
    assert response.status_code == 409
    assert "no earlier version to roll back to" in unescape(response.text)


def test_review_labels_are_stored_as_feedback_and_leave_the_queue(
    project_copy: Path, ui_client: Callable[..., TestClient]
) -> None:
    from weakflow.feedback import feedback_rows as gold_rows
    from weakflow.ui import review_queue

    client = ui_client(project_copy)
    csrf = _sign_in(client, make_token(project_copy, ["feedback"], name="reviewer"))
    registry = _registry(project_copy)
    try:
        before = review_queue(registry.db, MODEL)
        picked = before[:5]
        for i, item in enumerate(picked):
            label = ["ham", "spam"][i % 2]
            response = client.post(
                "/ui/review",
                data={"prediction_id": item.prediction_id, "label": label, "position": "0",
                      "csrf": csrf},
                follow_redirects=False,
            )  # fmt: skip
            assert response.status_code == 303, response.text
            assert response.headers["location"] == "/ui/review?position=0"
        after = review_queue(registry.db, MODEL)
        gold = gold_rows(registry.db, MODEL, label_names=["ham", "spam"])
    finally:
        registry.db.close()
    rows = feedback_rows(project_copy)
    assert [(r["prediction_id"], r["source"], r["token_name"]) for r in rows] == [
        (item.prediction_id, "review", "reviewer") for item in picked
    ]
    assert [r["label"] for r in rows] == [0, 1, 0, 1, 0]
    assert len(after) == len(before) - 5
    assert not {i.prediction_id for i in picked} & {i.prediction_id for i in after}
    # the gold rows the next run trains on (or, for a share, measures with in dev)
    assert set(gold["id"]) == {f"feedback-{i.prediction_id}" for i in picked}
    page = client.get("/ui/review").text
    assert page.count("<td>reviewer</td>") == 5


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"label": "ham"}, 422, "prediction_id: required"),
        ({"prediction_id": "nope", "label": "ham"}, 404, "prediction_id: no logged prediction"),
        ({"prediction_id": "PID", "label": "eggs"}, 422,
         "label: must be one of 'ham' (or 0), 'spam' (or 1); got 'eggs'"),
        ({"prediction_id": "PID"}, 422, "label: must be one of"),
    ],
)  # fmt: skip
def test_review_refuses_bad_fields_by_name(
    project_copy: Path, ui_client: Callable[..., TestClient],
    form: dict[str, str], status: int, message: str,
) -> None:  # fmt: skip
    from weakflow.ui import review_queue

    registry = _registry(project_copy)
    try:
        pid = review_queue(registry.db, MODEL)[0].prediction_id
    finally:
        registry.db.close()
    client = ui_client(project_copy)
    csrf = _sign_in(client, make_token(project_copy, ["feedback"]))
    data = {k: (pid if v == "PID" else v) for k, v in form.items()}
    response = client.post("/ui/review", data={**data, "csrf": csrf})
    assert response.status_code == status
    assert message in unescape(response.text)
    assert feedback_rows(project_copy) == []


def test_review_needs_the_feedback_scope(
    project_copy: Path, ui_client: Callable[..., TestClient]
) -> None:
    client = ui_client(project_copy)
    csrf = _sign_in(client, make_token(project_copy, ["predict"], name="predictor"))
    response = client.post(
        "/ui/review", data={"prediction_id": "x", "label": "ham", "csrf": csrf}
    )  # fmt: skip
    assert response.status_code == 403
    assert "needs scope 'feedback'" in unescape(response.text)
    assert "To label items, <a" in unescape(client.get("/ui/review").text)


def test_forms_must_be_urlencoded_or_json(
    project_copy: Path, ui_client: Callable[..., TestClient]
) -> None:
    client = ui_client(project_copy)
    response = client.post(
        "/ui/review", content=b"x", headers={"Content-Type": "text/plain"}
    )  # fmt: skip
    assert response.status_code == 415
    response = client.post(
        "/ui/review", content=b"[1]",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "object of field names" in unescape(response.text)
