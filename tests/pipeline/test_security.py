"""``weakflow run`` measures robustness and membership inference: in the report (JSON and
HTML), the model card and the registered metrics, where gates read them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from weakflow.evaluate._robustness import TEXT_ATTACKS
from weakflow.pipeline import Project, RunResult, init_project, run_project
from weakflow.registry import open_registry

RULES = [
    "robustness.accuracy_min >= 0.5",  # passes: measured 0.894
    "robustness.homoglyph.accuracy >= 0.99",  # fails: measured 0.910
    "privacy.membership_auc <= 0.99",  # passes: measured 0.611
]


def _add_rules(root: Path, rules: list[str], extra: str = "") -> None:
    path = root / "weakflow.toml"
    text = path.read_text()
    assert text.count("rules = [") == 1
    listed = "".join(f'    "{r}",\n' for r in rules)
    path.write_text(text.replace("rules = [\n", "rules = [\n" + listed) + extra)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResult]:
    root = tmp_path_factory.mktemp("security") / "youtube"
    init_project(root, example="youtube")
    _add_rules(root, RULES, "\n[serve]\nprobability_decimals = 4\n")
    return root, run_project(root)


def test_the_report_has_robustness_per_attack_for_models_and_lfs(
    run: tuple[Path, RunResult],
) -> None:
    _, result = run
    report = result.report
    rb = report["robustness"]
    assert rb["attacks_run"] == list(TEXT_ATTACKS)
    assert set(rb["skipped"]) == {"noise"}  # the example has no numeric features
    assert rb["n"] == report["end_model"]["test"]["n"] == 489
    # the clean numbers are the test numbers: the same model, and the refitted label model
    # reproduces the label model step
    assert rb["clean"]["end_model"]["accuracy"] == report["end_model"]["test"]["accuracy"]
    assert rb["clean"]["label_model"]["accuracy"] == report["label_model"]["test"]["accuracy"]
    n_lfs = len(report["labeling"]["lf_summary"])
    for name, entry in rb["attacks"].items():
        assert 0 < entry["rows_changed"] <= 1, name
        assert len(entry["lfs"]) == n_lfs
        for model in ("end_model", "label_model"):
            assert 0 <= entry[model]["flip_rate"] <= 1
    # case-insensitive keyword LFs and a lower-casing text model do not notice case
    case = rb["attacks"]["case"]
    assert case["lf_votes_lost"] == 0
    assert case["end_model"]["flip_rate"] == 0
    # character attacks evade the keyword LFs, which the label model depends on
    for attack in ("char_swap", "homoglyph", "spacing"):
        entry = rb["attacks"][attack]
        assert entry["lf_votes_lost"] > 0.1, attack
        subscribe = next(x for x in entry["lfs"] if x["name"] == "keyword_subscribe")
        assert subscribe["lost_share"] > 0.3, attack
        assert entry["label_model"]["accuracy"] < rb["clean"]["label_model"]["accuracy"]
    assert rb["summary"]["accuracy_min"] == min(
        e["end_model"]["accuracy"] for e in rb["attacks"].values()
    )


def test_the_report_has_membership_inference_with_rounding(run: tuple[Path, RunResult]) -> None:
    _, result = run
    mi = result.report["privacy"]["membership"]
    assert mi["members"] == result.report["end_model"]["train_rows"]
    assert mi["non_members"] == 489 + 100  # test + dev
    assert 0.5 < mi["auc"] < 0.8  # measured 0.611: the model is more confident on its train rows
    assert mi["risk"] == ("low" if mi["auc"] < 0.6 else "medium" if mi["auc"] < 0.7 else "high")
    assert set(mi["rounded"]) == {"0", "1", "2", "3", "4"}  # [serve] probability_decimals = 4
    assert mi["rounded"]["0"]["auc"] == 0.5  # every top probability reads 1: no signal left
    on_disk = json.loads(result.report_json.read_text())
    assert on_disk["privacy"]["membership"]["auc"] == mi["auc"]


def test_html_card_and_registered_metrics_and_gates(run: tuple[Path, RunResult]) -> None:
    root, result = run
    html = result.report_html.read_text()
    assert 'id="robustness"' in html
    assert 'id="privacy"' in html
    assert "Accuracy under attack" in html  # the plot's title
    model = result.report["model"]
    gates = {g["rule"]: g for g in model["gates"]}
    assert gates[RULES[0]]["passed"] is True
    assert gates[RULES[1]]["passed"] is False
    assert (
        gates[RULES[1]]["value"]
        == (result.report["robustness"]["attacks"]["homoglyph"]["end_model"]["accuracy"])
    )
    assert gates[RULES[2]]["passed"] is True
    assert model["promoted"] is False  # one gate failed
    card = (result.run_dir / "model_card.md").read_text()
    assert "## Robustness" in card
    assert "## Privacy" in card
    assert f"Membership inference risk: **{result.report['privacy']['membership']['risk']}**" in (
        card
    )
    project = Project.load(root)
    registry = open_registry(project.state_dir, project.config.store.url)
    try:
        metrics = registry.get("youtube-spam", model["version"]).metrics
    finally:
        registry.db.close()
    assert metrics["robustness"]["homoglyph.accuracy"] == gates[RULES[1]]["value"]
    assert metrics["privacy"]["membership_auc"] == result.report["privacy"]["membership"]["auc"]


def test_turned_off_nothing_is_measured_and_gates_say_why(
    run: tuple[Path, RunResult], tmp_path: Path
) -> None:
    root, _ = run
    copy = Path(shutil.copytree(root, tmp_path / "off"))
    path = copy / "weakflow.toml"
    text = path.read_text().replace(
        "[evaluation]\n", "[evaluation]\nrobustness = false\nmembership = false\n"
    )
    path.write_text(text)
    result = run_project(copy)
    assert "robustness" not in result.report
    assert "privacy" not in result.report
    gates: dict[str, Any] = {g["rule"]: g for g in result.report["model"]["gates"]}
    assert not gates[RULES[0]]["passed"]
    assert "robustness = true" in gates[RULES[0]]["reason"]
    assert "membership = true" in gates[RULES[2]]["reason"]
    card = (result.run_dir / "model_card.md").read_text()
    assert "Not measured for this version" in card


TABULAR = """\
[data]
train = "data/train.csv"
dev = "data/dev.csv"
test = "data/test.csv"
text_column = ""
feature_columns = ["x1", "x2"]
label_names = ["no", "yes"]

[end_model]
type = "tabular"

[evaluation]
robustness_noise = 0.5
"""

TABULAR_LFS = """\
from weakflow import threshold_lf
LFS = [
    threshold_lf("x1", 0.3, 1, op=">=", name="x1_high"),
    threshold_lf("x1", -0.3, 0, op="<=", name="x1_low"),
    threshold_lf("x2", 0.5, 1, op=">=", name="x2_high"),
    threshold_lf("x2", -0.5, 0, op="<=", name="x2_low"),
]
"""


def _tabular(n: int, seed: int, labeled: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    frame = pd.DataFrame({"x1": x1, "x2": x2})
    if labeled:
        frame["label"] = np.where(x1 + 0.7 * x2 + 0.3 * rng.normal(size=n) > 0, "yes", "no")
    return frame


@pytest.mark.slow
def test_a_tabular_project_is_attacked_with_bounded_noise(tmp_path: Path) -> None:
    root = tmp_path / "tab"
    (root / "data").mkdir(parents=True)
    for role, (n, seed) in {"train": (1500, 0), "dev": (150, 1), "test": (400, 2)}.items():
        _tabular(n, seed, role != "train").to_csv(root / "data" / f"{role}.csv", index=False)
    (root / "weakflow.toml").write_text(TABULAR)
    (root / "lfs.py").write_text(TABULAR_LFS)
    rb = run_project(root).report["robustness"]
    assert rb["attacks_run"] == ["noise"]
    assert set(rb["skipped"]) == set(TEXT_ATTACKS)
    noise = rb["attacks"]["noise"]
    assert noise["rows_changed"] == 1.0  # every value moves
    # rows near a threshold or the decision boundary move across it: some, not most
    assert 0 < noise["end_model"]["flip_rate"] < 0.5
    assert 0 < noise["lf_votes_lost"] < 0.5
    assert any(lf["gained"] for lf in noise["lfs"])  # abstentions that now cross a threshold
    assert "example" not in noise  # no sample sentence for a numeric attack
