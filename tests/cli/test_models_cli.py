"""`weakflow run` registers and gates; each `weakflow models` and `weakflow audit` verb."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from weakflow.cli import app
from weakflow.pipeline import init_project, run_project

runner = CliRunner()
NAME = "youtube-spam"
pytestmark = pytest.mark.slow


def _set_rules(root: Path, rules: list[str]) -> None:
    toml = (root / "weakflow.toml").read_text()
    block = "rules = [\n" + "".join(f"    {json.dumps(r)},\n" for r in rules) + "]\n"
    toml = re.sub(r"rules = \[.*?\]\n", lambda _: block, toml, count=1, flags=re.S)
    (root / "weakflow.toml").write_text(toml)


def _cli(root: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--project", str(root)])
    assert result.exit_code == code, result.output
    return result.output


def _json(root: Path, *args: str) -> object:
    return json.loads(_cli(root, *args, "--json"))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    """Three runs: v1 passes the gates, v2 fails a strict one, v3 passes again."""
    root = tmp_path_factory.mktemp("models") / "youtube"
    init_project(root, example="youtube")
    toml = (root / "weakflow.toml").read_text()
    (root / "weakflow.toml").write_text(
        toml.replace('type = "text"', 'type = "text"\nportable = true')
    )
    default_rules = ["accuracy >= 0.85", "ece <= 0.15", "f1_macro >= production.f1_macro - 0.02",
                     "checks.passed"]  # fmt: skip
    summaries = []
    for rules in (default_rules, [*default_rules, "accuracy >= 0.999"], default_rules):
        _set_rules(root, rules)
        summaries.append(run_project(root).summary())
    return root, summaries


def test_run_registers_every_version_and_gates_the_alias(project) -> None:
    _root, summaries = project
    models = [s["model"] for s in summaries]
    assert [m["version"] for m in models] == [1, 2, 3]
    assert [m["promoted"] for m in models] == [True, False, True]
    assert [m["previous"] for m in models] == [None, 1, 1]
    failed = [g for g in models[1]["gates"] if not g["passed"]]
    assert [g["rule"] for g in failed] == ["accuracy >= 0.999"]
    assert "0.999" in failed[0]["reason"]
    regression = next(g for g in models[2]["gates"] if "production" in g["rule"])
    assert regression["passed"]
    assert regression["threshold"] is not None
    for run in summaries:
        card = Path(run["report_html"]).parent / "model_card.md"
        assert card.is_file()
        assert NAME in card.read_text()


def test_models_list_and_show(project) -> None:
    root, summaries = project
    listed = _json(root, "models", "list")
    assert [(v["version"], v["aliases"], v["gates_passed"]) for v in listed] == [
        (1, [], True), (2, [], False), (3, ["production"], True)
    ]  # fmt: skip
    assert "production" in _cli(root, "models", "list", NAME)
    shown = _json(root, "models", "show", NAME, "2")
    assert shown["run_id"] == summaries[1]["run_id"]
    assert shown["gates_passed"] is False
    lineage = shown["lineage"]
    assert len(lineage["lf_module"]["sha256"]) == 64
    assert "def " in lineage["lf_module"]["source"]
    assert {d["role"] for d in lineage["inputs"]} >= {"train", "dev", "test"}
    assert all(len(d["sha256"]) == 64 for d in lineage["inputs"])
    assert "scikit-learn" in json.dumps(lineage["packages"])
    assert lineage["label_model"]["selected"]
    em = shown["metrics"]["end_model"]
    assert 0.85 <= em["accuracy"] <= 1
    assert 0 <= em["ece"] <= 0.15
    text = _cli(root, "models", "show", NAME, "2")
    assert "FAIL" in text
    assert "accuracy >= 0.999" in text


def test_models_card(project) -> None:
    root, _ = project
    md = _cli(root, "models", "card", NAME, "3")
    for heading in ("Intended use", "Training data", "Limitations", "Ethical considerations"):
        assert heading.lower() in md.lower(), heading
    assert "keyword_my" in md
    assert "moderators" in md
    card = _json(root, "models", "card", NAME, "3")
    lf_names = {lf["name"] for lf in card["weak_sources"]["lfs"]}
    assert {"keyword_my", "short_comment"} <= lf_names
    assert card["model_details"]["version"] == 3
    assert card["intended_use"]["provided"] is True
    assert card["ethical_considerations"]["pii"]
    assert len(card["lineage"]["lf_module"]["sha256"]) == 64
    assert [g["rule"] for g in card["gates"]][-1] == "checks.passed"


def test_promote_history_rollback_archive(project, tmp_path: Path) -> None:
    import shutil

    root = Path(shutil.copytree(project[0], tmp_path / "copy"))
    move = _json(root, "models", "promote", NAME, "2", "--alias", "staging", "--reason", "try v2")
    assert (move["from_version"], move["to_version"], move["reason"]) == (None, 2, "try v2")
    back = _json(root, "models", "rollback", NAME, "--alias", "production", "--reason", "bad")
    assert (back["from_version"], back["to_version"], back["action"]) == (3, 1, "rollback")
    hist = _json(root, "models", "history", NAME, "--alias", "production")
    assert [(h["from_version"], h["to_version"], h["action"]) for h in hist] == [
        (None, 1, "gate"), (1, 3, "gate"), (3, 1, "rollback")
    ]  # fmt: skip
    assert "rollback" in _cli(root, "models", "history", NAME, "--alias", "production")
    out = _cli(root, "models", "rollback", NAME, "--alias", "production", code=1)
    assert "no earlier version" in out
    out = _cli(root, "models", "archive", NAME, "2", code=1)
    assert "staging" in out
    assert _json(root, "models", "archive", NAME, "3")["status"] == "archived"
    out = _cli(root, "models", "promote", NAME, "3", "--alias", "production", code=1)
    assert "archived" in out
    out = _cli(root, "models", "promote", NAME, "9", "--alias", "production", code=1)
    assert "No version 9" in out
    actions = [e["action"] for e in _json(root, "audit", "log", "--limit", "100")]
    assert actions.count("register") == 3
    assert actions.count("gate_decision") == 3
    assert {"promote", "rollback", "archive", "gate"} <= set(actions)


def test_audit_verify_detects_tampering(project, tmp_path: Path) -> None:
    import shutil

    root = Path(shutil.copytree(project[0], tmp_path / "copy"))
    assert "intact" in _cli(root, "audit", "verify")
    with sqlite3.connect(root / ".weakflow" / "weakflow.db") as conn:
        conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 4")
    result = runner.invoke(app, ["audit", "verify", "--project", str(root)])
    assert result.exit_code == 1
    assert "entry 4" in result.output
    assert "modified" in result.output
    data = json.loads(
        runner.invoke(app, ["audit", "verify", "--project", str(root), "--json"]).stdout
    )
    assert (data["ok"], data["first_bad"]) == (False, 4)


def test_export_onnx_with_parity(project) -> None:
    root, _ = project
    out = _json(root, "models", "export", NAME, "3", "--format", "onnx")
    path = Path(out["path"])
    assert path.is_file()
    assert path.stat().st_size == out["size_bytes"] > 0
    assert out["parity"]["passed"]
    assert out["parity"]["max_abs_proba_diff"] <= 1e-5
    assert out["parity"]["label_agreement"] == 1.0
    assert out["parity"]["n"] == 489
    assert out["latency_ms"]["p50"] > 0
    text = _cli(root, "models", "export", NAME, "1", "--format", "onnx")
    assert "Parity on 489 test rows" in text
    bad = _cli(root, "models", "export", NAME, "1", "--format", "pmml", code=2)
    assert "onnx" in bad


def test_run_registers_into_postgresql(tmp_path: Path, pg_url: str, monkeypatch) -> None:
    root = tmp_path / "pg"
    init_project(root, example="youtube")
    monkeypatch.setenv("WEAKFLOW_STORE_URL", pg_url)
    summary = run_project(root).summary()
    assert summary["model"]["version"] == 1
    assert summary["model"]["promoted"]
    assert _json(root, "models", "list")[0]["aliases"] == ["production"]
    assert not (root / ".weakflow" / "weakflow.db").exists()
    assert "intact" in _cli(root, "audit", "verify")
