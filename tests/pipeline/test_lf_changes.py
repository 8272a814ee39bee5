"""The LF-poisoning screen: each run compares its LFs with the registered version's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from weakflow.labeling import compare_lf_votes
from weakflow.pipeline import init_project, run_project

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lfchanges") / "youtube"
    init_project(root, example="youtube")
    first = run_project(root)
    check = next(c for c in first.report["data"]["checks"] if c["name"] == "lf_changes")
    assert check["message"].startswith("Skipped")  # v1 has nothing to compare with
    assert first.summary()["model"]["promoted"]
    return root


def _copy(trained: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "p"))


def test_a_sabotaged_lf_is_flagged_and_the_gate_blocks_it(trained: Path, tmp_path: Path) -> None:
    project = _copy(trained, tmp_path)
    lfs = project / "lfs.py"
    lfs.write_text(
        lfs.read_text().replace('keyword_lf("subscribe", SPAM', 'keyword_lf("subscribe", HAM')
    )
    result = run_project(project)
    changes = result.report["labeling"]["changes"]
    assert changes["version"] == 1
    assert '+keyword_subscribe = keyword_lf("subscribe", HAM' in changes["diff"]
    by_name = {c["name"]: c for c in changes["lfs"]}
    sub = by_name["keyword_subscribe"]
    assert sub["flagged"]
    assert sub["flip_rate"] == 1.0
    assert sub["agreement_after"] < sub["agreement_before"] - 0.15
    assert [n for n, c in by_name.items() if c["flagged"]] == ["keyword_subscribe"]
    model = result.summary()["model"]
    gate = next(g for g in model["gates"] if g["rule"] == "checks.lf_changes != warning")
    assert not gate["passed"]
    assert not model["promoted"]
    stored = json.loads(Path(result.summary()["report_json"]).read_text())
    assert stored["labeling"]["changes"]["lfs"] == changes["lfs"]


def test_an_edit_that_changes_no_vote_is_not_flagged(trained: Path, tmp_path: Path) -> None:
    project = _copy(trained, tmp_path)
    lfs = project / "lfs.py"
    lfs.write_text(lfs.read_text() + "\n# reviewed 2026-11-24: no behaviour change\n")
    result = run_project(project)
    changes = result.report["labeling"]["changes"]
    assert changes["diff"].count("\n+") >= 1
    assert not any(c["flagged"] for c in changes["lfs"])
    assert {c["status"] for c in changes["lfs"]} == {"unchanged"}
    assert result.summary()["model"]["promoted"]


def test_compare_lf_votes_reports_added_removed_and_dev_accuracy() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    good = np.where(rng.random(200) < 0.5, y, -1)
    before = np.c_[good, np.where(rng.random(200) < 0.5, 1 - y, -1)]
    after = np.c_[np.where(good == -1, -1, 1 - good), rng.integers(0, 2, 200)]
    out = {
        c.name: c
        for c in compare_lf_votes(
            before, ["a", "gone"], after, ["a", "new"], dev_before=before, dev_after=after, y_dev=y
        )
    }
    assert out["gone"].status == "removed"
    assert out["new"].status == "added"
    assert out["a"].dev_accuracy_before == 1.0
    assert out["a"].dev_accuracy_after == 0.0
    assert any("dev accuracy 1.00 -> 0.00" in r for r in out["a"].reasons)
    with pytest.raises(ValueError, match="same rows"):
        compare_lf_votes(before, ["a", "b"], after[:10], ["a", "b"])
