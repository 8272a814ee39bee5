"""PII sent to the server never lands anywhere: store, server log, monitor output, reports.

A real ``weakflow serve`` takes requests whose text, subject id and client key carry an email,
a phone number, a card number and an IP address; users send feedback; ``weakflow monitor run``
reports on the window; the loop retrains on the feedback (report, model card, datasheet). Then
every byte under the project folder (the SQLite database and its WAL included) and the server's
log are searched for the raw values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from servekit import MODEL, copy_project, make_token, set_serve_config, wait_for
from sqlalchemy import func, select
from typer.testing import CliRunner

from weakflow.cli import app
from weakflow.pipeline import Project, run_project
from weakflow.store import Database, default_url
from weakflow.store._schema import Feedback, Prediction

PII = {
    "email": "jane.roe@example.org",
    "phone": "+1 415 555 0134",
    "card": "4111 1111 1111 1111",
    "ip": "203.0.113.77",
}
TEXTS = [
    f"check out my channel, mail me at {PII['email']}",
    f"call {PII['phone']} for free money!!",
    f"pay with {PII['card']} and win",
    f"my server {PII['ip']} has great songs",
]


@pytest.mark.slow
def test_pii_in_requests_never_reaches_disk(
    served_project: Path, start_server: Any, tmp_path: Path
) -> None:
    project = copy_project(served_project, tmp_path / "p")
    set_serve_config(project, "[serve]\nrate_limit = 0\nlog_flush_interval = 0.05")
    token = make_token(project, ["predict", "feedback"])
    server = start_server(project)
    headers = {"Authorization": f"Bearer {token}", "X-Client-Key": PII["email"]}
    ids: list[str] = []
    with httpx.Client(base_url=server.url, headers=headers) as http:
        for i in range(15):
            body = {"instances": [{"text": t, "subject_id": PII["email"]} for t in TEXTS]}
            r = http.post(f"/v1/models/{MODEL}/predict", json=body)
            assert r.status_code == 200, r.text
            ids += [p["id"] for p in r.json()["predictions"]]
            if i == 0:  # a bad request echoes nothing of the input back into the log either
                bad = http.post(f"/v1/models/{MODEL}/predict", json={"instances": [
                    {"text": 5, "subject_id": PII["card"]}]})  # fmt: skip
                assert bad.status_code == 422
        fb = [{"prediction_id": pid, "label": "spam", "source": PII["email"]} for pid in ids]
        assert http.post("/v1/feedback", json=fb).status_code == 200

    db = Database(default_url(Project.load(project).state_dir))
    try:

        def logged() -> bool:
            with db.transaction() as s:
                return bool(s.scalar(select(func.count(Prediction.id))) == len(ids))

        wait_for(logged, "the prediction log")
        with db.transaction() as s:
            sources = set(s.scalars(select(Feedback.source)))
    finally:
        db.close()
    monitor = CliRunner().invoke(app, ["monitor", "run", "--project", str(project), "--json"])
    assert monitor.exit_code == 0, monitor.output
    result = run_project(project)  # the feedback rows train the next version
    assert result.summary()["model"]["version"] == 2
    server.stop()

    assert sources == {"<EMAIL_ADDRESS>"}  # even a `source` label is redacted
    found: dict[str, list[str]] = {}
    texts = [("monitor output", monitor.stdout.encode()), ("server log", server.log().encode())]
    for path in sorted(project.rglob("*")):
        if path.is_file():
            texts.append((str(path.relative_to(project)), path.read_bytes()))
    for where, data in texts:
        for kind, value in PII.items():
            if value.encode() in data:
                found.setdefault(kind, []).append(where)
    assert not found, found
    report = json.loads(Path(result.summary()["report_json"]).read_text())
    assert PII["email"] not in json.dumps(report)
    assert "<EMAIL_ADDRESS>" in json.dumps(report) or report["end_model"]["train_rows"] > 0
