"""`weakflow privacy erase` and the prediction log's retention, on a real project and store."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from loopkit import log_predictions
from weakflow.cli import app
from weakflow.monitor import watch_once
from weakflow.pipeline import Project, init_project, run_project
from weakflow.privacy import erase_subject
from weakflow.registry import open_registry
from weakflow.store import Database, add_feedback, default_url, list_audit, subject_digest
from weakflow.store._schema import AuditEntry, Feedback, MonitorWindow, Prediction

pytestmark = pytest.mark.slow
EMAIL = "jane.roe@example.org"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("privacy") / "youtube"
    init_project(root, example="youtube")
    cfg = root / "weakflow.toml"
    cfg.write_text(cfg.read_text() + '\n[privacy]\nsubject_column = "author"\n')
    run_project(root)
    return root


@pytest.fixture
def project(trained: Path, tmp_path: Path) -> Project:
    return Project.load(shutil.copytree(trained, tmp_path / "p"))


def _author_with_rows(project: Project) -> tuple[str, int]:
    train = pd.read_csv(project.root / "data" / "train.csv", dtype=str, keep_default_na=False)
    counts = train["author"].value_counts()
    return str(counts.index[0]), int(counts.iloc[0])


def test_erase_removes_the_subject_everywhere_and_marks_versions(project: Project) -> None:
    author, rows_in_train = _author_with_rows(project)
    # the server stores a digest of the subject id when it redacts; older logs may hold it raw
    theirs = log_predictions(project, ["my channel!", "great song"], subject_ids=[
        subject_digest(author), author])  # fmt: skip
    others = log_predictions(project, ["nice", "subscribe to me"], subject_ids=["someone", None])
    db = Database(default_url(project.state_dir))
    add_feedback(db, [(theirs[0], 1, "api"), (others[0], 0, "api")])
    with db.transaction() as s:
        s.add(MonitorWindow(
            model_name="youtube-spam", model_version=1, n=4, bad_targets=["text_drift:text"],
            alerts=[{"kind": "text_drift", "examples": [
                {"prediction_id": theirs[1], "inputs": {"text": "great song"}},
                {"prediction_id": others[1], "inputs": {"text": "subscribe to me"}}]}],
            result={"alerts": []},
        ))  # fmt: skip
    db.close()

    dry = erase_subject(project, author, actor="dpo", dry_run=True)
    assert (dry.predictions, dry.feedback, dry.monitor_examples) == (2, 1, 1)
    assert dry.dataset_rows == {"data/train.csv": rows_in_train}
    assert dry.versions_marked == [1]
    train_before = (project.root / "data" / "train.csv").read_bytes()

    done = erase_subject(project, author, actor="dpo")
    assert done.to_dict() | {"dry_run": True} == dry.to_dict()
    train = pd.read_csv(project.root / "data" / "train.csv", dtype=str, keep_default_na=False)
    assert author not in set(train["author"])
    assert len(train_before.splitlines()) - rows_in_train >= len(train)  # only their rows went
    db = Database(default_url(project.state_dir))
    try:
        with db.transaction() as s:
            left = set(s.scalars(select(Prediction.id)))
            assert not set(theirs) & left
            assert set(others) <= left
            assert [f.prediction_id for f in s.scalars(select(Feedback))] == [others[0]]
            window = s.scalars(select(MonitorWindow)).one()
            kept = [e["prediction_id"] for e in window.alerts[0]["examples"]]
            assert kept == [others[1]]
            log = [json.dumps(e.details) + e.subject for e in s.scalars(select(AuditEntry))]
        assert not any(author in entry for entry in log)  # the id itself is never recorded
        entry = list_audit(db, action="privacy_erase")[0]
        assert entry["actor"] == "dpo"
        assert entry["details"]["subject_sha256"] == subject_digest(author)[7:]
        assert entry["details"]["predictions"] == 2
    finally:
        db.close()
    registry = open_registry(project.state_dir, project.config.store.url)
    try:
        reason = registry.get("youtube-spam", 1).retrain_reason
    finally:
        registry.db.close()
    assert reason is not None
    assert "erased" in reason
    # the next run trains without them
    again = run_project(project)
    train_rows = next(d for d in again.report["data"]["datasets"] if d["role"] == "train")
    assert len(train) <= train_rows["rows"] <= len(train) + 1  # + the other user's feedback row


def test_erase_cli_and_errors(project: Project) -> None:
    runner = CliRunner()
    out = runner.invoke(
        app, ["privacy", "erase", "--subject-id", "nobody-here", "--project", str(project.root),
              "--json"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["predictions"] == 0
    assert report["dataset_rows"] == {}
    bad = runner.invoke(app, ["privacy", "erase", "--subject-id", " ", "--project",
                              str(project.root)])  # fmt: skip
    assert bad.exit_code == 1
    assert "subject" in bad.output


def test_watch_enforces_the_retention_policy(project: Project) -> None:
    cfg = project.root / "weakflow.toml"
    cfg.write_text(cfg.read_text() + "retention_days = 2\n")  # appended to [privacy]
    project = Project.load(project.root)
    old = log_predictions(project, ["old one", "old two", "old three"], minutes_ago=3 * 24 * 60)
    new = log_predictions(project, ["new one"] * 60)
    db = Database(default_url(project.state_dir))
    add_feedback(db, [(old[0], 0, "api")])  # labeled: training data, kept
    db.close()
    decisions = watch_once(project, now=dt.datetime.now(dt.UTC))
    purge = next(d for d in decisions if d["action"] == "retention_purge")
    assert purge["rows"] == 2
    db = Database(default_url(project.state_dir))
    try:
        with db.transaction() as s:
            left = set(s.scalars(select(Prediction.id)))
        assert left == {old[0], *new}
        assert list_audit(db, action="retention_purge")[0]["details"]["rows"] == 2
    finally:
        db.close()
