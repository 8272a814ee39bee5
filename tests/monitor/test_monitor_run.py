"""`weakflow monitor run` on a real project and store, with a simulated prediction log."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from loopkit import log_predictions
from weakflow.cli import app
from weakflow.data import crypto_scam_comments, read_table
from weakflow.monitor import parse_window, run_monitor
from weakflow.pipeline import Project, init_project, run_project
from weakflow.registry import open_registry

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("monitor") / "youtube"
    init_project(root, example="youtube")
    run_project(root)
    return root


@pytest.fixture
def project(trained: Path, tmp_path: Path) -> Project:
    return Project.load(shutil.copytree(trained, tmp_path / "p"))


def _log(
    project: Project,
    texts: list[str],
    *,
    minutes_ago: float = 1.0,
    alias: str = "production",
    variant: str = "primary",
) -> list[str]:
    return log_predictions(project, texts, minutes_ago=minutes_ago, alias=alias, variant=variant)


def _crypto(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [
        f"Earn {rng.integers(100, 999)} USDT daily with my crypto bot!! DM telegram @coin{i}"
        for i in range(n)
    ]


def test_in_distribution_traffic_raises_nothing(project: Project) -> None:
    test = read_table(project.path("data/test.csv"))
    _log(project, test["text"].astype(str).tolist())
    result = run_monitor(project, window="1h")
    assert result["n"] == len(test)
    assert result["alerts"] == []
    assert result["drift"]["text"]["auc"] < 0.6
    est = result["estimated"]
    assert 0.85 <= est["accuracy"] <= 1.0
    assert est["interval"]["accuracy"][0] <= est["accuracy"] <= est["interval"]["accuracy"][1]
    assert {"cbpe", "lf", "combined"} <= set(est["by_method"])


def test_drift_alerts_after_k_bad_windows_with_examples(project: Project) -> None:
    test = read_table(project.path("data/test.csv"))["text"].astype(str).tolist()
    _log(project, test[:200] + _crypto(300), minutes_ago=90)
    first = run_monitor(project, last=500)
    kinds = {s["kind"] for s in first["signals"]}
    assert {"text_drift", "lf_drift"} <= kinds
    assert first["alerts"] == []  # [monitor] consecutive = 2: one bad window is not enough
    second = run_monitor(project, last=500)
    alerts = {a["kind"]: a for a in second["alerts"]}
    assert "text_drift" in alerts
    text = alerts["text_drift"]
    assert text["value"] > text["threshold"]
    assert "telegram" in text["message"] or "crypto" in text["message"] or "usdt" in text["message"]
    assert text["examples"]
    assert "crypto" in text["examples"][0]["inputs"]["text"]
    for alert in second["alerts"]:
        assert set(alert) >= {"kind", "target", "statistic", "value", "threshold", "message"}
    assert run_monitor(project, window="10m")["n"] == 0  # the window is 90 minutes old


def test_feedback_gives_realized_metrics_and_cli_json(project: Project) -> None:
    test = read_table(project.path("data/test.csv"))
    ids = _log(project, test["text"].astype(str).tolist())
    from weakflow.store import Database, add_feedback, default_url

    db = Database(default_url(project.state_dir))
    gold = (test["label"] == "spam").astype(int).tolist()
    add_feedback(db, [(i, y, "review") for i, y in zip(ids[:200], gold[:200], strict=True)])
    db.close()
    result = CliRunner().invoke(app, ["monitor", "run", "--project", str(project.root), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["realized"]["n"] == 200
    assert 0.8 <= data["realized"]["accuracy"] <= 1.0
    assert set(data) >= {"window", "n", "alerts", "estimated"}
    assert set(data["estimated"]) >= {"accuracy", "f1_macro", "interval"}
    text = CliRunner().invoke(app, ["monitor", "run", "--project", str(project.root)])
    assert "Estimated accuracy" in text.stdout
    assert "Realized accuracy" in text.stdout


def test_window_specs() -> None:
    assert parse_window("30m") == dt.timedelta(minutes=30)
    assert parse_window("7d") == dt.timedelta(days=7)
    from weakflow.errors import ConfigError

    with pytest.raises(ConfigError, match=r"e\.g\. 30m, 1h, 7d"):
        parse_window("yesterday")


def test_online_metrics_and_ab_verdict(project: Project) -> None:
    from weakflow.monitor import ab_verdict, labeled_predictions, online_metrics
    from weakflow.store import Database, add_feedback, default_url

    test = read_table(project.path("data/test.csv"))
    ids = _log(project, test["text"].astype(str).tolist())
    gold = (test["label"] == "spam").astype(int).tolist()
    db = Database(default_url(project.state_dir))
    add_feedback(db, [(i, y, "user") for i, y in zip(ids[:300], gold[:300], strict=True)])
    add_feedback(db, [(ids[0], 1 - gold[0], "review")])  # a later correction wins
    frame = labeled_predictions(db, "youtube-spam")
    db.close()
    assert len(frame) == 300
    assert frame.loc[frame["id"] == ids[0], "gold"].item() == 1 - gold[0]
    (row,) = online_metrics(frame)
    assert (row["version"], row["variant"], row["n"]) == (1, "primary", 300)
    low, high = row["interval"]
    assert low < row["accuracy"] < high
    assert 0.8 < row["accuracy"] <= 1.0
    assert ab_verdict(850, 1000, 900, 1000).verdict == "better"
    assert ab_verdict(900, 1000, 850, 1000).verdict == "worse"
    tied = ab_verdict(45, 50, 44, 50)
    assert tied.verdict == "inconclusive"
    assert 0 < tied.p_better < 0.5


def test_feedback_joins_the_dev_set_on_the_next_run(project: Project) -> None:
    from weakflow.store import Database, add_feedback, default_url

    new = _crypto(40, seed=3)
    ids = _log(project, new)
    db = Database(default_url(project.state_dir))
    add_feedback(db, [(i, 1, "review") for i in ids])
    db.close()
    result = run_project(project)
    load = next(s for s in result.steps if s.name == "load")
    # [data] feedback_to_train = 0.8: a stable hash sends each row to dev or to train, not both
    found = re.search(r"feedback labels: dev (\d+), train (\d+)", load.detail)
    assert found, load.detail
    n_dev, n_train = map(int, found.groups())
    assert n_dev + n_train == 40
    assert 1 <= n_dev <= 20
    report = json.loads(Path(result.summary()["report_json"]).read_text())
    assert report["label_model"]["dev"]["n"] == 100 + n_dev
    assert result.summary()["model"]["version"] == 2
    again = run_project(project)  # the same feedback splits the same way
    assert next(s for s in again.steps if s.name == "load").detail == load.detail


def test_feedback_teaches_the_next_model(project: Project) -> None:
    """Corrected predictions of a new spam style train the retrained model (gold rows)."""
    from weakflow.store import Database, add_feedback, default_url

    fresh = crypto_scam_comments(60, seed=11)
    registry = open_registry(project.state_dir, project.config.store.url)
    v1 = registry.load_model("youtube-spam", 1)
    registry.db.close()
    before = float(np.mean(v1.predict_proba(fresh).argmax(axis=1) == 1))
    ids = _log(project, crypto_scam_comments(120, seed=5))
    db = Database(default_url(project.state_dir))
    add_feedback(db, [(i, 1, "review") for i in ids])
    db.close()
    result = run_project(project)
    registry = open_registry(project.state_dir, project.config.store.url)
    v2 = registry.load_model("youtube-spam", result.summary()["model"]["version"])
    registry.db.close()
    after = float(np.mean(v2.predict_proba(fresh).argmax(axis=1) == 1))
    assert after >= before + 0.3, (before, after)


def _feedback(project: Project, ids: list[str], labels: list[int]) -> None:
    from weakflow.store import Database, add_feedback, default_url

    db = Database(default_url(project.state_dir))
    add_feedback(db, [(i, y, "user") for i, y in zip(ids, labels, strict=True)])
    db.close()


def _predicted(project: Project, ids: list[str]) -> list[int]:
    from weakflow.monitor import load_window
    from weakflow.store import Database, default_url

    db = Database(default_url(project.state_dir))
    frame = load_window(db, "youtube-spam", include_shadow=True)
    db.close()
    by_id = dict(zip(frame["id"], frame["label"], strict=True))
    return [int(by_id[i]) for i in ids]


def test_loop_rolls_back_a_promotion_that_regresses(project: Project) -> None:
    from weakflow.monitor import LOOP_ACTOR, watch_once
    from weakflow.store import list_audit

    run_project(project)  # v2 passes the gates and replaces v1 in production
    test = read_table(project.path("data/test.csv"))["text"].astype(str).tolist()
    ids = _log(project, test[:60], minutes_ago=0)
    wrong = [1 - y for y in _predicted(project, ids)]  # every v2 answer was wrong
    _feedback(project, ids, wrong)
    decisions = watch_once(project)
    assert decisions[0]["action"] == "rollback"
    assert (decisions[0]["from"], decisions[0]["to"]) == (2, 1)
    assert "realized accuracy 0.000" in decisions[0]["reason"]
    registry = open_registry(project.state_dir, None)
    try:
        assert registry.alias_version("youtube-spam", "production") == 1
        last = registry.history("youtube-spam", "production")[-1]
        assert last.actor == LOOP_ACTOR
        assert last.action == "rollback"
        audit = list_audit(registry.db, limit=5)
        assert audit[0]["action"] == "loop_decision"
        assert audit[0]["details"]["action"] == "rollback"
        assert audit[1]["action"] == "rollback"
    finally:
        registry.db.close()


def test_loop_retrains_on_feedback_then_promotes_the_canary(project: Project) -> None:
    from weakflow.monitor import watch_once

    toml = project.root / "weakflow.toml"
    toml.write_text(toml.read_text() + "\n[loop]\nfeedback_count = 30\ncanary_min_feedback = 30\n")
    project = Project.load(project.root)
    test = read_table(project.path("data/test.csv"))
    texts = test["text"].astype(str).tolist()
    gold = (test["label"] == "spam").astype(int).tolist()
    assert watch_once(project)[0]["action"] == "none"  # nothing logged yet
    ids = _log(project, texts[:40])
    _feedback(project, ids, gold[:40])
    (retrain,) = watch_once(project)
    assert retrain["action"] == "retrain"
    assert "40 new feedback labels" in retrain["reason"]
    assert (retrain["version"], retrain["alias"], retrain["promoted"]) == (2, "canary", True)
    waiting = watch_once(project)
    assert waiting[0]["action"] == "wait"
    # live traffic: the canary answers right, the primary is corrected half the time
    cids = _log(project, texts[40:80], alias="canary", variant="canary", minutes_ago=0)
    _feedback(project, cids, _predicted(project, cids))
    pids = _log(project, texts[80:120], minutes_ago=0)
    predicted = _predicted(project, pids)
    _feedback(project, pids, [y if i % 2 else 1 - y for i, y in enumerate(predicted)])
    decisions = watch_once(project)
    assert decisions[0]["action"] == "promote_canary"
    assert decisions[0]["evidence"]["ab"]["verdict"] == "better"
    registry = open_registry(project.state_dir, None)
    try:
        assert registry.alias_version("youtube-spam", "production") == 2
        assert registry.alias_version("youtube-spam", "canary") is None
    finally:
        registry.db.close()
