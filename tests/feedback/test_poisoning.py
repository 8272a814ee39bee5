"""Feedback poisoning: a source that floods or flips labels is quarantined, and the model holds.

The attacker is simulated end to end on a real store and real retraining: three honest sources
label logged predictions with the dataset's gold labels; one more source labels others with
30% of its labels flipped (a subtle attacker), or floods with flipped labels. The retrained
model is compared with the one retrained on the honest labels alone.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from loopkit import log_predictions
from weakflow.data import load_youtube, read_table
from weakflow.feedback import (
    feedback_frame,
    quarantined_sources,
    release_source,
    screen_sources,
    source_stats,
)
from weakflow.pipeline import Project, init_project, run_project
from weakflow.store import Database, add_feedback, default_url, list_audit
from weakflow.store._schema import Feedback

pytestmark = pytest.mark.slow
HONEST = ("alice", "bob", "carol")


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], np.ndarray]:
    """v1 trained, and 800 predictions on train-pool comments logged (ids, gold labels)."""
    root = tmp_path_factory.mktemp("poison") / "youtube"
    init_project(root, example="youtube")
    run_project(root)
    pool = read_table(root / "data" / "train.csv").sample(800, random_state=0)
    gold = load_youtube()["label"].to_numpy()[pool["id"].str.removeprefix("yt-").astype(int)]
    ids = log_predictions(Project.load(root), pool["text"].astype(str).tolist())
    return root, ids, gold.astype(int)


def _project(logged: tuple[Path, list[str], np.ndarray], tmp_path: Path, name: str) -> Project:
    return Project.load(shutil.copytree(logged[0], tmp_path / name))


def _label(project: Project, items: list[tuple[str, int, str]]) -> None:
    db = Database(default_url(project.state_dir))
    try:
        add_feedback(db, items)
    finally:
        db.close()


def _honest(ids: list[str], gold: np.ndarray) -> list[tuple[str, int, str]]:
    return [(ids[i], int(gold[i]), HONEST[i % 3]) for i in range(450)]


def _retrained_accuracy(project: Project) -> tuple[float, str]:
    result = run_project(project)
    load = next(s.detail for s in result.steps if s.name == "load")
    return float(result.report["end_model"]["test"]["accuracy"]), load


@pytest.mark.parametrize(
    ("n_attack", "flip_share"),
    [(150, 0.3), (200, 1.0)],
    ids=["30pct-of-its-labels-flipped", "30pct-of-all-labels-all-flipped"],
)
def test_a_poisoning_source_is_quarantined_and_the_model_holds(
    logged: tuple[Path, list[str], np.ndarray], tmp_path: Path, n_attack: int, flip_share: float
) -> None:
    _, ids, gold = logged
    clean = _project(logged, tmp_path, "clean")
    _label(clean, _honest(ids, gold))
    clean_acc, clean_load = _retrained_accuracy(clean)
    db = Database(default_url(clean.state_dir))
    assert quarantined_sources(db) == set()  # no honest source is flagged
    db.close()

    attacked = _project(logged, tmp_path, "attacked")
    rng = np.random.default_rng(7)
    targets = range(450, 450 + n_attack)
    flip = rng.random(n_attack) < flip_share
    attack = [(ids[i], int(1 - gold[i] if f else gold[i]), "mallory")
              for i, f in zip(targets, flip, strict=True)]  # fmt: skip
    _label(attacked, _honest(ids, gold) + attack)
    attacked_acc, attacked_load = _retrained_accuracy(attacked)

    db = Database(default_url(attacked.state_dir))
    try:
        assert quarantined_sources(db) == {"mallory"}
        entry = list_audit(db, action="feedback_quarantine")[0]
        assert entry["details"]["source"] == "mallory"
        assert "less than the other sources" in entry["details"]["reason"]
        with db.transaction() as s:  # nothing accepted is dropped: the labels are all stored
            stored = s.scalars(select(Feedback).where(Feedback.source == "mallory")).all()
            assert len(stored) == n_attack
    finally:
        db.close()
    assert attacked_load == clean_load  # the same rows train both models
    assert abs(attacked_acc - clean_acc) <= 0.01, (clean_acc, attacked_acc)


def test_flood_detection_and_an_audited_release(
    logged: tuple[Path, list[str], np.ndarray], tmp_path: Path
) -> None:
    _, ids, gold = logged
    project = _project(logged, tmp_path, "flood")
    few = [(ids[i], int(gold[i]), HONEST[i % 3]) for i in range(90)]
    flood = [(ids[i], int(gold[i]), "bot") for i in range(90, 600)]  # correct, but 85% of all
    _label(project, few + flood)
    db = Database(default_url(project.state_dir))
    try:
        frame = feedback_frame(db, "youtube-spam")
        found = {
            s.source: s
            for s in screen_sources(frame, source_stats(frame, label_names=["ham", "spam"]))
        }
        assert any(f.startswith("floods") for f in found["bot"].flags)
        assert not any(found[h].flags for h in HONEST)
        assert found["bot"].n == 510
        assert found["bot"].agree_peers is None  # no prediction was labeled by two sources
    finally:
        db.close()
    result = run_project(project)
    assert "train" in next(s.detail for s in result.steps if s.name == "load")
    db = Database(default_url(project.state_dir))
    try:
        assert quarantined_sources(db) == {"bot"}
        with pytest.raises(ValueError, match="needs a reason"):
            release_source(db, "bot", reason=" ", actor="admin")
        with pytest.raises(ValueError, match="not quarantined"):
            release_source(db, "alice", reason="x", actor="admin")
        release_source(db, "bot", reason="checked: a labeling vendor", actor="admin")
        assert quarantined_sources(db) == set()
        assert list_audit(db, action="feedback_release")[0]["actor"] == "admin"
    finally:
        db.close()
    again = run_project(project)  # released: its labels train again, and stay released
    detail = next(s.detail for s in again.steps if s.name == "load")
    assert detail != next(s.detail for s in result.steps if s.name == "load")
