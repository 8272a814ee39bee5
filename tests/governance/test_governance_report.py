"""`weakflow governance report` on a real project with real records (runs, moves, traffic).

One module-scoped project: two `weakflow run`s (v1, v2, both promoted by the gates), a rollback
and a staging promotion with actors and reasons, logged predictions (in-distribution, then a
crypto-scam drift), feedback from two reviewers and the API, two monitored windows (the second
raises the drift alert), and a loop decision answering it. The report must show those records'
real numbers, map them to NIST AI RMF and ISO/IEC 42001 with explicit gaps, and render to
well-formed, self-contained HTML and to Markdown.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from weakflow.cli import app
from weakflow.data import crypto_scam_comments, read_table
from weakflow.errors import ModelNotFoundError
from weakflow.governance import (
    STATUSES,
    build_governance_report,
    render_html,
    render_markdown,
    write_governance_report,
)
from weakflow.monitor import LOOP_ACTOR, run_monitor
from weakflow.pipeline import Project, init_project, run_project
from weakflow.registry import open_registry
from weakflow.store import add_feedback, write_predictions

pytestmark = pytest.mark.slow

NAME = "youtube-spam"
ROLLBACK_REASON = "moderators report v2 flags song lyrics as spam (ticket GOV-17)"
LOOP_REASON = "retrain triggered (drift alert); waiting for the on-call reviewer"


@dataclass(frozen=True)
class Scenario:
    project: Project
    before: dict[str, Any]  # the report before erasures and quarantines were recorded
    disagreed: dict[str, int]  # feedback labels that differ from the served label, by source


def _log(project: Project, texts: list[str], *, minutes_ago: float) -> list[tuple[str, int]]:
    """Score ``texts`` with the production version and log them as the server would."""
    registry = open_registry(project.state_dir, project.config.store.url)
    try:
        info = registry.resolve(NAME, "production")
        proba = registry.load_model(NAME, info.version).predict_proba(texts)
        at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
        rows = [
            {
                "id": uuid.uuid4().hex, "created_at": at + dt.timedelta(milliseconds=i),
                "model_name": NAME, "model_version": info.version, "variant": "primary",
                "inputs": {"text": t}, "lf_votes": None, "label": int(proba[i].argmax()),
                "probabilities": proba[i].tolist(), "latency_ms": 1.0, "client_key": None,
                "subject_id": None,
            }
            for i, t in enumerate(texts)
        ]  # fmt: skip
        write_predictions(registry.db, rows)
    finally:
        registry.db.close()
    return [(r["id"], r["label"]) for r in rows]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    root = tmp_path_factory.mktemp("governance") / "youtube"
    init_project(root, example="youtube")
    run_project(root, actor="carol")  # v1 -> production (gates)
    run_project(root, actor="carol")  # v2 -> production (gates; the step cache makes it quick)
    project = Project.load(root)
    registry = open_registry(project.state_dir, project.config.store.url)
    try:
        registry.rollback(NAME, "production", actor="alice", reason=ROLLBACK_REASON)
        registry.promote(NAME, 2, "staging", actor="bob", reason="second look by the review board")
    finally:
        registry.db.close()

    test = read_table(project.path("data/test.csv"))
    texts = test["text"].astype(str).tolist()
    gold = (test["label"] == "spam").astype(int).tolist()
    served = _log(project, texts[:200] + crypto_scam_comments(300), minutes_ago=5)
    run_monitor(project, last=500)  # one bad window: no alert yet ([monitor] consecutive = 2)
    run_monitor(project, last=500)  # the second in a row raises the drift alert

    items = [(pid, y, "review") for (pid, _), y in zip(served[:50], gold[:50], strict=True)]
    items_api = [(pid, 1, "api") for pid, _ in served[200:225]]  # the scams: all spam
    registry = open_registry(project.state_dir, project.config.store.url)
    try:
        add_feedback(registry.db, items[:35], token_name="reviewer-ana")
        add_feedback(registry.db, items[35:], token_name="reviewer-ben")
        add_feedback(registry.db, items_api)
        registry.audit(
            "loop_decision", NAME, {"action": "wait", "reason": LOOP_REASON, "window_n": 500,
                                    "alerts": ["text_drift:text"]}, actor=LOOP_ACTOR,
        )  # fmt: skip
    finally:
        registry.db.close()
    labels = dict(served)
    disagreed = {
        "review": sum(labels[p] != y for p, y, _ in items),
        "api": sum(labels[p] != y for p, y, _ in items_api),
    }
    before = build_governance_report(project)

    # Records that other features write (erasure, retention, quarantine), in their documented
    # audit shapes; the report must show them once they exist.
    registry = open_registry(project.state_dir, project.config.store.url)
    try:
        registry.audit(
            "privacy_erase", f"model:{NAME}",
            {"subject_sha256": "ab" * 32, "rows": {"predictions": 3, "feedback": 1},
             "versions_marked": [1, 2]}, actor="dpo",
        )  # fmt: skip
        registry.audit(
            "retention_purge", f"model:{NAME}", {"days": 90, "rows": {"predictions": 0}},
            actor="weakflow-retention",
        )  # fmt: skip
        registry.audit(
            "feedback_quarantine", "feedback_source:token:spammy",
            {"source": "token:spammy", "reason": "labels disagree with every other source"},
            actor="alice",
        )  # fmt: skip
    finally:
        registry.db.close()
    return Scenario(project=project, before=before, disagreed=disagreed)


@pytest.fixture(scope="module")
def report(scenario: Scenario) -> dict[str, Any]:
    return build_governance_report(scenario.project)


@pytest.fixture(scope="module")
def html(report: dict[str, Any]) -> str:
    return render_html(report)


def test_report_holds_the_real_records(scenario: Scenario, report: dict[str, Any]) -> None:
    assert report["model"]["versions"] == 2
    assert report["model"]["aliases"] == {"production": 1, "staging": 2}
    assert report["model"]["focus_version"] == 1  # what production serves after the rollback
    registry = open_registry(scenario.project.state_dir)
    try:
        v1 = registry.get(NAME, 1)
    finally:
        registry.db.close()
    lineage = report["lineage"][0]
    assert lineage["run_id"] == v1.run_id
    assert lineage["lf_module"]["sha256"] == v1.lineage["lf_module"]["sha256"]
    assert {d["sha256"] for d in lineage["inputs"]} == {d["sha256"] for d in v1.lineage["inputs"]}
    assert lineage["packages"]["weakflow"]
    assert lineage["complete"]

    moves = report["alias_history"]
    rollback = next(m for m in moves if m["action"] == "rollback")
    assert (rollback["from"], rollback["to"], rollback["actor"]) == (2, 1, "alice")
    assert rollback["reason"] == ROLLBACK_REASON
    assert report["alias_counts"] == {"gate": 2, "promote": 1, "rollback": 1}

    gates = report["gates"]
    assert gates["total"] == 2
    assert gates["passed"] == 2
    assert all(d["actor"] == "carol" for d in gates["decisions"])

    checks = report["data_checks"]
    assert checks["missing_reports"] == []
    names = {c["name"] for c in checks["checks"]}
    assert {"schema", "pii", "leakage_exact"} <= names
    assert all(set(c["by_version"]) == {"1", "2"} for c in checks["checks"] if c["name"] == "pii")

    fb = report["feedback"]
    assert fb["by_source"] == {"review": 50, "api": 25}
    assert fb["reviewers"] == {"review": {"reviewer-ana": 35, "reviewer-ben": 15}}
    assert fb["overruled"] == scenario.disagreed
    assert sum(d["review"] + d["api"] for d in fb["by_day"]) == 75

    assert report["predictions"]["total"] == 500
    mon = report["monitoring"]
    assert mon["windows"] == 2
    assert mon["windows_with_alerts"] == 1
    assert "text_drift" in mon["alert_kinds"]
    newest = mon["recent"][0]
    assert newest["alerts"]
    assert not mon["recent"][1]["alerts"]
    assert [d["action"] for d in newest["responses"]] == ["wait"]  # the answer to the alert
    assert report["loop"]["by_action"] == {"wait": 1}

    audit = report["audit"]
    assert audit["ok"]
    assert audit["checked"] == audit["entries"] > 10
    assert audit["by_action"]["rollback"] == 1
    assert audit["actors"]["alice"] >= 1
    assert report["model_card"]["version"] == 1
    assert report["model_card"]["markdown"] == v1.card_markdown
    json.dumps(report)  # JSON-ready throughout


def test_each_nist_function_has_evidence_or_an_explicit_gap(report: dict[str, Any]) -> None:
    functions = {fn["function"]: fn for fn in report["nist_ai_rmf"]}
    assert list(functions) == ["GOVERN", "MAP", "MEASURE", "MANAGE"]
    for name, fn in functions.items():
        assert fn["items"], name
        for item in fn["items"]:
            assert item["id"].startswith(name + " "), item["id"]
            assert item["status"] in STATUSES
            assert item["evidence"]
            assert all(e["text"] for e in item["evidence"])
            if item["status"] != "evidence found":
                assert item["gaps"], item["id"]  # a partial or a gap says what is missing
    ids = {i["id"]: i for fn in report["nist_ai_rmf"] for i in fn["items"]}
    assert ids["MANAGE 2.4"]["status"] == "evidence found"  # the rollback was exercised
    assert ROLLBACK_REASON in ids["MANAGE 2.4"]["evidence"][0]["text"]
    assert ids["MEASURE 2.4"]["status"] == "evidence found"  # windows were monitored
    assert ids["MAP 5.1"]["status"] == "gap"  # no impact assessment anywhere
    assert "75 feedback labels" in ids["MEASURE 3.3"]["evidence"][0]["text"]
    iso = {i["id"]: i for i in report["iso_42001"]["items"]}
    assert {"A.6.2.4", "A.6.2.8", "A.7.4", "A.7.5", "A.5.2"} <= set(iso)
    assert iso["A.6.2.8"]["status"] == "evidence found"
    assert iso["A.5.2"]["status"] == "gap"
    total = sum(report["counts"]["nist_ai_rmf"].values())
    assert total == len(ids)


def test_gaps_are_listed_plainly(report: dict[str, Any], html: str) -> None:
    texts = " ".join(g["text"] for g in report["gaps"])
    for missing in ("impact assessment", "human-oversight policy", "incident response plan"):
        assert missing in texts
    assert all(g["refs"] for g in report["gaps"])
    assert "Gaps: what weakflow does not record" in html
    assert "No incident response plan or contacts" in html


def test_erasures_and_quarantine_none_recorded_then_shown(
    scenario: Scenario, report: dict[str, Any], html: str
) -> None:
    before = scenario.before
    assert before["erasures"]["erasures"] == 0
    assert before["quarantine"]["total"] == 0
    old_html, old_md = render_html(before), render_markdown(before)
    assert "No erasure is in the audit log" in old_html
    assert "No feedback source was ever quarantined" in old_html
    assert "Erasures (`privacy_erase`): none recorded." in old_md

    erased = report["erasures"]["privacy_erase"]
    assert erased[0]["rows"] == {"predictions": 3, "feedback": 1}
    assert erased[0]["versions_marked"] == [1, 2]
    assert erased[0]["actor"] == "dpo"
    assert report["erasures"]["retention_purge"][0]["days"] == 90
    assert report["quarantine"]["quarantined"] == ["token:spammy"]
    assert "labels disagree with every other source" in html
    assert "v1, v2" in html  # the versions the erasure marked for retraining


def test_robustness_and_membership_shown_when_the_card_has_them(
    scenario: Scenario, report: dict[str, Any], html: str
) -> None:
    registry = open_registry(scenario.project.state_dir)
    try:
        card = registry.get(NAME, 1).card
    finally:
        registry.db.close()
    if (card.get("robustness") or {}).get("measured"):
        assert report["robustness"]["focus"]["version"] == 1
        assert "Perturbation attacks" in html
    else:
        assert report["robustness"]["focus"] is None
        assert "No robustness results for v1" in html
    if (card.get("privacy") or {}).get("measured"):
        assert report["privacy_tests"]["focus"]["membership"]["auc"] == card["privacy"]["auc"]
        assert "Membership inference" in html
    else:
        assert "No membership-inference or privacy test results for v1" in html


class _Checker(HTMLParser):
    VOID = frozenset(
        [
            "area",
            "base",
            "br",
            "col",
            "embed",
            "hr",
            "img",
            "input",
            "link",
            "meta",
            "source",
            "track",
            "wbr",
        ]
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.seen: dict[str, int] = {}
        self.external: list[str] = []
        self.head_th_without_scope = 0
        self.lang: str | None = None
        self.ids: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.seen[tag] = self.seen.get(tag, 0) + 1
        if tag == "html":
            self.lang = a.get("lang")
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
        if tag in ("script", "link", "img", "iframe", "style", "object", "embed"):
            for key in ("src", "href", "data"):
                if str(a.get(key) or "").startswith(("http:", "https:", "//")):
                    self.external.append(f"{tag} {key}={a[key]}")
        if tag == "th" and "thead" in self.stack and not a.get("scope"):
            self.head_th_without_scope += 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()


def test_html_is_well_formed_accessible_and_self_contained(html: str) -> None:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    assert checker.external == []
    assert "<script" not in html
    assert "@import" not in html
    assert checker.lang == "en"
    for landmark in ("header", "nav", "main", "footer"):
        assert checker.seen.get(landmark) == 1, landmark
    assert checker.seen["h1"] == 1
    assert checker.seen["h2"] >= 15
    assert checker.head_th_without_scope == 0
    assert len(checker.ids) == len(set(checker.ids))
    missing = [h for h in checker.links if h.startswith("#") and h[1:] not in checker.ids]
    assert missing == []
    assert "@media print" in html
    assert ROLLBACK_REASON in html
    assert "reviewer-ana" in html


def test_markdown_has_every_section_and_the_numbers(report: dict[str, Any]) -> None:
    md = render_markdown(report)
    for heading in (
        "## NIST AI RMF 1.0", "### GOVERN", "### MAP", "### MEASURE", "### MANAGE",
        "## ISO/IEC 42001:2023 Annex A", "## Gaps", "## Lineage", "## Alias history",
        "## Audit chain", "## Human review and feedback",
    ):  # fmt: skip
        assert f"\n{heading}" in md, heading
    assert ROLLBACK_REASON in md
    assert "| `review` | 50 |" in md
    assert "| `api` | 25 |" in md
    assert "**Intact.**" in md
    assert "\n# Model card" not in md  # the card's headings sit under the report's


def test_cli_writes_both_formats_and_json(scenario: Scenario, tmp_path: Path) -> None:
    out = tmp_path / "audit" / "q3.html"
    result = CliRunner().invoke(
        app,
        ["governance", "report", "--project", str(scenario.project.root), "--out", str(out),
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["model"]["versions"] == 2
    assert data["outputs"] == {"html": str(out), "md": str(out.with_suffix(".md"))}
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert ROLLBACK_REASON in out.with_suffix(".md").read_text(encoding="utf-8")
    assert f"runs/{data['lineage'][0]['run_id']}/report.html" in page  # linked, relative

    md_only = CliRunner().invoke(
        app,
        ["governance", "report", "--project", str(scenario.project.root), "--format", "md",
         "--out", str(tmp_path / "md")],
    )  # fmt: skip
    assert md_only.exit_code == 0, md_only.output
    assert (tmp_path / "md" / "governance-report.md").is_file()
    assert not (tmp_path / "md" / "governance-report.html").exists()
    assert "governance-report.md" in md_only.stdout


def test_relative_links_resolve(scenario: Scenario, report: dict[str, Any], tmp_path: Path) -> None:
    paths = write_governance_report(report, tmp_path / "out", ["html"])
    page = paths["html"].read_text(encoding="utf-8")
    checker = _Checker()
    checker.feed(page)
    files = [h for h in checker.links if not h.startswith("#")]
    assert files, "the report links the run reports"
    for href in files:
        assert (paths["html"].parent / href).resolve().is_file(), href


def test_unknown_model_lists_the_registered_ones(scenario: Scenario) -> None:
    result = CliRunner().invoke(
        app, ["governance", "report", "--project", str(scenario.project.root), "--model", "nope"]
    )
    assert result.exit_code == 1
    assert "youtube-spam" in result.output
    assert "Traceback" not in result.output


def test_a_project_that_never_ran_says_to_run_first(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    init_project(root)
    with pytest.raises(ModelNotFoundError, match="weakflow run"):
        build_governance_report(root)
    result = CliRunner().invoke(app, ["governance", "report", "--project", str(root)])
    assert result.exit_code == 1
    assert "weakflow run" in result.output
    assert "Traceback" not in result.output
    assert not (root / ".weakflow").exists()  # looking does not create a store
    assert not (root / "governance-report.html").exists()


def test_a_missing_project_fails_cleanly(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["governance", "report", "--project", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "weakflow init" in result.output
    assert "Traceback" not in result.output


def test_a_tampered_audit_log_is_reported_not_hidden(scenario: Scenario, tmp_path: Path) -> None:
    import shutil
    import sqlite3
    from contextlib import closing

    root = Path(shutil.copytree(scenario.project.root, tmp_path / "copy"))
    with closing(sqlite3.connect(root / ".weakflow" / "weakflow.db")) as conn, conn:
        conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    data = build_governance_report(root)
    assert not data["audit"]["ok"]
    assert data["audit"]["first_bad"] == 3
    assert any("hash chain is broken at entry 3" in g["text"] for g in data["gaps"])
    iso = {i["id"]: i for i in data["iso_42001"]["items"]}
    assert iso["A.6.2.8"]["status"] == "partial"
    assert "The audit log does not verify" in render_html(data)
    result = CliRunner().invoke(
        app, ["governance", "report", "--project", str(root), "--format", "html"]
    )
    assert result.exit_code == 0, result.output  # the report was written; it says so
    assert "does not verify" in result.output
    assert (root / "governance-report.html").is_file()


def test_statuses_follow_the_records(report: dict[str, Any]) -> None:
    """Without monitoring, feedback, loop or moves, items fall back to partial or gap."""
    import copy

    from weakflow.governance._frameworks import assess

    bare = copy.deepcopy(report)
    bare["monitoring"].update(windows=0, windows_with_alerts=0, alert_kinds={}, recent=[])
    bare["predictions"].update(total=0, by_version=[])
    bare["feedback"].update(total=0, sources=[], by_source={}, overruled={}, reviewers={})
    bare["loop"].update(total=0, by_action={}, decisions=[])
    bare["alias_history"], bare["alias_counts"] = [], {}
    bare["quarantine"].update(total=0, events=[], quarantined=[])
    bare["robustness"]["focus"] = bare["privacy_tests"]["focus"] = None
    mapped = assess(bare)
    ids = {i["id"]: i for fn in mapped["nist_ai_rmf"] for i in fn["items"]}
    assert ids["MEASURE 2.4"]["status"] == "gap"
    assert ids["MANAGE 2.4"]["status"] == "partial"
    assert "never exercised" in ids["MANAGE 2.4"]["gaps"][0]
    assert ids["GOVERN 5.2"]["status"] == "gap"
    assert ids["MEASURE 2.5"]["status"] == "partial"
    gaps = " ".join(g["text"] for g in mapped["gaps"])
    assert "No production monitoring recorded" in gaps
    assert "No robustness test results for v1" in gaps
    assert "No membership-inference" in gaps
