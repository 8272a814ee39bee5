"""Model cards built from a real report: every section, generated limitations, PII, Markdown."""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from weakflow.registry._card import (
    CARD_FORMAT,
    CARD_SECTIONS,
    build_model_card,
    render_model_card,
)
from weakflow.registry._gates import evaluate_gates, metrics_from_report

REPORT = Path(__file__).parent / "data" / "report.json"
DATASHEET = "# Datasheet: training data of youtube-spam\n\n## Motivation\nSpam comments.\n"
RULES = [
    "accuracy >= 0.9",
    "ece <= 0.1",
    "f1_macro >= production.f1_macro - 0.01",
    "checks.pii == passed",
]


@cache
def _report() -> dict[str, Any]:
    return json.loads(REPORT.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture
def report() -> dict[str, Any]:
    """A fresh copy of the real ``weakflow run`` report (youtube-spam example)."""
    return copy.deepcopy(_report())


def gates_for(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [g.to_dict() for g in evaluate_gates(RULES, metrics_from_report(report), None)]


def card_of(report: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "name": "youtube-spam",
        "version": 3,
        "datasheet": DATASHEET,
        "intended_use": None,
        "gates": gates_for(report),
    }
    options.update(kwargs)
    return build_model_card(report, **options)


@pytest.fixture
def card(report: dict[str, Any]) -> dict[str, Any]:
    return card_of(report)


@pytest.fixture
def markdown(card: dict[str, Any]) -> str:
    return render_model_card(card)


def lines_under(markdown: str, title: str) -> list[str]:
    """The lines of one ``## title`` section."""
    out: list[str] = []
    inside = False
    for line in markdown.splitlines():
        if line.startswith("## "):
            inside = line == f"## {title}"
            continue
        if inside:
            out.append(line)
    assert out, f"no section {title!r}"
    return out


# -- the card dict --------------------------------------------------------------------------------


class TestCard:
    def test_every_section_in_order(self, card):
        assert list(card) == ["format", *CARD_SECTIONS]
        assert card["format"] == CARD_FORMAT

    def test_json_round_trip(self, card):
        assert json.loads(json.dumps(card)) == card

    def test_report_is_not_modified_and_not_aliased(self, report):
        before = copy.deepcopy(report)
        card = card_of(report)
        assert report == before
        card["model_details"]["end_model"]["params"]["type"] = "changed"
        card["lineage"]["packages"]["numpy"] = "changed"
        assert report == before

    def test_model_details(self, card, report):
        details = card["model_details"]
        assert details["name"] == "youtube-spam"
        assert details["version"] == 3
        assert details["run_id"] == report["run_id"]
        assert details["created_at"] == report["created_at"]
        assert details["label_names"] == ["ham", "spam"]
        assert details["end_model"]["type"] == "text"
        assert details["end_model"]["params"] == report["end_model"]["params"]
        assert details["end_model"]["artifact"] == report["end_model"]["artifact"]
        assert details["label_model"] == "ds(prior_strength=10)"

    def test_default_intended_use_names_the_labels(self, card):
        use = card["intended_use"]
        assert not use["provided"]
        assert "`ham` and `spam`" in use["description"]
        assert "intended_use under [project]" in use["description"]
        assert any("without human review" in item for item in use["out_of_scope"])
        assert any("another source" in item for item in use["out_of_scope"])

    def test_given_intended_use(self, report):
        card = card_of(report, intended_use="  Flag spam comments for moderators to review.  ")
        assert card["intended_use"]["provided"]
        assert card["intended_use"]["description"] == "Flag spam comments for moderators to review."
        assert card["intended_use"]["out_of_scope"]

    def test_training_data(self, card, report):
        data = card["training_data"]
        assert data["datasheet"] == DATASHEET
        assert [d["role"] for d in data["datasets"]] == ["train", "dev", "test"]
        assert data["datasets"][0]["sha256"] == report["data"]["datasets"][0]["sha256"]
        assert data["train_label_distribution"] == report["labeling"]["train_label_distribution"]

    def test_weak_sources(self, card, report):
        sources = card["weak_sources"]
        names = [lf["name"] for lf in report["labeling"]["lf_summary"]]
        assert sources["count"] == len(names) == 16
        assert [lf["name"] for lf in sources["lfs"]] == names
        first = sources["lfs"][0]
        assert first == {
            "name": "keyword_my",
            "kind": "keyword",
            "polarity": ["spam"],
            "coverage": pytest.approx(0.1850768105340161),
            "overlaps": pytest.approx(0.18068763716166789),
            "conflicts": pytest.approx(0.07973664959765911),
            "emp_accuracy": 0.75,
            "learned_accuracy": pytest.approx(0.995001135774975),
            "faults": 0,
            "source_sha256": report["provenance"]["lfs"][0]["source_sha256"],
        }

    def test_label_model(self, card, report):
        lm = card["label_model"]
        assert lm["method"] == "auto"
        assert lm["selected"] == "ds(prior_strength=10)"
        assert lm["class_balance"] == {
            "ham": pytest.approx(0.47058823529411764),
            "spam": pytest.approx(0.5294117647058824),
        }
        assert lm["test"]["accuracy"] == report["label_model"]["test"]["accuracy"]
        assert lm["selection"][0] == {"method": "mv", "score": 0.87}

    def test_metrics(self, card, report):
        metrics = card["metrics"]
        assert metrics["end_model"]["accuracy"] == report["end_model"]["test"]["accuracy"]
        assert metrics["end_model"]["ece"] == report["end_model"]["calibration"]["after"]["ece"]
        assert metrics["label_model"]["f1_macro"] == report["label_model"]["test"]["f1_macro"]
        assert metrics["dev"]["end_model"]["accuracy"] == 0.9
        assert metrics["per_class"]["spam"]["support"] == 242
        assert metrics["confusion_matrix"] == [[227, 20], [18, 224]]
        assert metrics["accuracy_margin_95"] == pytest.approx(0.0237, abs=1e-4)

    def test_slices(self, card):
        slices = card["slices"]
        assert slices["metric"] == "accuracy"
        assert slices["overall"] == pytest.approx(0.9222903885480572)
        assert [r["name"] for r in slices["rows"]][:2] == ["video = Eminem", "video = LMFAO"]
        assert slices["rows"][3]["n"] == 86

    def test_calibration(self, card, report):
        cal = card["calibration"]
        assert cal["method"] == "platt"
        assert cal["kept"] is True
        assert cal["reason"] == report["end_model"]["calibration"]["reason"]
        assert cal["ece_before"] == pytest.approx(0.054118480134364315)
        assert cal["ece_after"] == pytest.approx(0.041560042105062096)
        assert cal["dev_ece_after"] == pytest.approx(0.04252280029290301)

    def test_gates_are_kept_as_given(self, card, report):
        assert card["gates"] == gates_for(report)
        assert [g["passed"] for g in card["gates"]] == [True, True, True, False]

    def test_gate_results_are_accepted_as_objects(self, report):
        results = evaluate_gates(RULES, metrics_from_report(report), None)
        assert card_of(report, gates=results)["gates"] == gates_for(report)

    def test_lineage(self, card, report):
        lineage = card["lineage"]
        prov = report["provenance"]
        assert lineage["run_id"] == report["run_id"]
        assert lineage["lf_module"] == {
            "path": "lfs.py",
            "sha256": prov["lf_module"]["sha256"],
        }
        assert [d["sha256"] for d in lineage["datasets"]] == [d["sha256"] for d in prov["inputs"]]
        assert lineage["packages"] == prov["packages"]
        assert lineage["cache_keys"] == prov["cache_keys"]
        assert lineage["label_model"]["selected"] == "ds(prior_strength=10)"
        assert lineage["end_model"]["artifact"] == report["end_model"]["artifact"]
        assert lineage["git"] is None
        assert "source" not in json.dumps(lineage["lf_module"])

    def test_minimal_report(self):
        card = build_model_card({}, name="m", version=1)
        assert list(card) == ["format", *CARD_SECTIONS]
        assert json.loads(json.dumps(card)) == card
        assert render_model_card(card).startswith("# Model card: m, version 1\n")

    def test_not_a_dict(self):
        with pytest.raises(TypeError, match="report must be a dict"):
            build_model_card([], name="m", version=1)  # type: ignore[arg-type]


# -- limitations ----------------------------------------------------------------------------------


class TestLimitations:
    def test_weak_supervision_caveat_comes_first(self, card):
        assert card["limitations"][0].startswith("The training labels come from labeling functions")

    def test_low_coverage_lf(self, card):
        [line] = [x for x in card["limitations"] if "fewer than 5%" in x]
        assert line.startswith("1 labeling function votes on fewer than 5% of the train pool")
        assert "`shouting` (4.4%)" in line

    def test_inaccurate_lfs(self, card):
        [line] = [x for x in card["limitations"] if "accurate on the dev set" in x]
        assert "`keyword_song` (61.1%)" in line
        assert "`keyword_fan` (58.3%)" in line
        assert "keyword_my" not in line

    def test_lf_without_dev_votes_and_faults(self, report):
        report["labeling"]["lf_summary"][0]["emp_accuracy"] = None
        report["labeling"]["lf_summary"][1]["faults"] = 4
        limitations = card_of(report)["limitations"]
        assert any("never voted on the dev set" in x and "`keyword_my`" in x for x in limitations)
        assert any("raised on rows" in x and "`keyword_subscribe` (4)" in x for x in limitations)

    def test_dropped_rows(self, card):
        assert any(
            x.startswith("13 train rows got no labeling-function vote") for x in card["limitations"]
        )

    def test_test_set_size(self, card):
        assert any("489 rows" in x and "±0.024" in x for x in card["limitations"])

    def test_failed_data_checks(self, card):
        limitations = " ".join(card["limitations"])
        assert "leakage_exact, leakage_near_duplicate" in limitations
        assert "label_errors" in limitations
        assert "pii (warning)" in limitations

    def test_small_and_weak_slices(self, report):
        slices = report["end_model"]["slices"]
        slices[0].update(n=3, too_small=True, gap=None)
        slices[3].update(value=0.80, gap=0.80 - slices[3]["overall"])
        limitations = card_of(report)["limitations"]
        assert any("Slice `video = Eminem` has only 3 test rows" in x for x in limitations)
        assert any(
            x.startswith("Slice `video = KatyPerry` (86 test rows): accuracy 0.800 is 0.122 below")
            for x in limitations
        )
        assert not any("video = LMFAO" in x for x in limitations)

    def test_no_slices(self, report):
        report["end_model"]["slices"] = []
        card = card_of(report)
        assert any("No slices were evaluated" in x for x in card["limitations"])
        assert "No slices were evaluated" in lines_under(render_model_card(card), "Slices")[1]

    def test_calibration_not_kept_and_high_ece(self, report):
        cal = report["end_model"]["calibration"]
        cal.update(kept=False, reason="no method lowered the dev ECE.")
        cal["after"]["ece"] = 0.15
        limitations = card_of(report)["limitations"]
        assert any(x.startswith("No calibration method improved the dev ECE") for x in limitations)
        assert any("Test ECE is 0.150" in x for x in limitations)

    def test_class_imbalance_and_weak_class(self, report):
        report["label_model"]["class_balance"] = [0.9, 0.1]
        report["end_model"]["test"]["per_class"]["spam"]["f1"] = 0.7
        limitations = card_of(report)["limitations"]
        assert any(x.startswith("The classes are imbalanced (`ham` 90.0%") for x in limitations)
        assert any(x.startswith("Class `spam` has test F1 0.700") for x in limitations)

    def test_balanced_report_has_no_imbalance_note(self, card):
        assert not any("imbalanced" in x for x in card["limitations"])
        assert not any(x.startswith("Class `") for x in card["limitations"])


# -- ethical considerations -----------------------------------------------------------------------


class TestEthics:
    def test_pii_found_and_not_redacted(self, card):
        pii = card["ethical_considerations"]["pii"]
        assert pii["scanned"]
        assert not pii["redacted"]
        assert pii["region"] == "US"
        by_column = {c["column"]: c for c in pii["columns"]}
        assert by_column["train.text"]["entities"] == {"CREDIT_CARD": 2, "PHONE_NUMBER": 3}
        assert by_column["train.text"]["rows_affected"] == 5
        assert by_column["dev.text"]["handling"] == "not redacted"
        assert pii["handling"].startswith("Not redacted")
        assert "redact_pii = true under [data]" in pii["handling"]

    def test_pii_redacted(self, report):
        report["provenance"]["config"]["data"]["redact_pii"] = True
        pii = card_of(report)["ethical_considerations"]["pii"]
        assert pii["redacted"]
        assert pii["handling"].startswith("Redacted before labeling")
        assert {c["handling"] for c in pii["columns"]} == {"redacted"}

    def test_no_pii_found(self, report):
        report["data"]["pii"] = {}
        pii = card_of(report)["ethical_considerations"]["pii"]
        assert pii["scanned"]
        assert (
            pii["handling"] == "The PII scan found no personal data in the train, dev or test text."
        )

    @pytest.mark.parametrize("how", ["missing", "skipped"])
    def test_no_pii_scan(self, report, how):
        if how == "missing":
            report["data"]["pii"] = None
        else:
            report["data"]["pii"] = {}
            [check] = [c for c in report["data"]["checks"] if c["name"] == "pii"]
            check.update(passed=True, severity="info", message="Skipped (listed in ...).")
        pii = card_of(report)["ethical_considerations"]["pii"]
        assert not pii["scanned"]
        assert pii["handling"].startswith("No PII scan ran")

    def test_notes(self, card):
        notes = card["ethical_considerations"]["notes"]
        assert any("automation bias" in n and "person in the loop" in n for n in notes)
        assert any("Labeling functions encode their authors' assumptions" in n for n in notes)
        assert any("names, postal addresses" in n for n in notes)


# -- Markdown -------------------------------------------------------------------------------------


class TestMarkdown:
    def test_title_and_summary(self, markdown):
        lines = markdown.splitlines()
        assert lines[0] == "# Model card: youtube-spam, version 3"
        assert "test accuracy 0.922, F1 (macro) 0.922, ECE 0.042; gates failed." in lines[2]

    def test_a_heading_per_section_in_order(self, markdown):
        headings = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
        assert headings == list(CARD_SECTIONS.values())

    def test_deterministic(self, card, report):
        text = render_model_card(card)
        assert render_model_card(card) == text
        assert render_model_card(json.loads(json.dumps(card))) == text
        assert render_model_card(card_of(report)) == text
        assert text.endswith("\n")
        assert not text.endswith("\n\n")

    def test_lf_table_has_a_row_per_lf(self, markdown, report):
        section = lines_under(markdown, "Weak supervision sources")
        assert section[1].startswith("16 labeling functions; together they cover 99.0%")
        assert (
            "| LF | kind | polarity | coverage | conflicts | dev accuracy | learned accuracy | "
            "faults |"
        ) in section
        rows = [line for line in section if line.startswith("| `")]
        assert len(rows) == 16
        assert "| `keyword_my` | keyword | spam | 18.5% | 8.0% | 75.0% | 99.5% | 0 |" in rows
        for lf in report["labeling"]["lf_summary"]:
            assert any(row.startswith(f"| `{lf['name']}` |") for row in rows)

    def test_metrics_table(self, markdown):
        section = lines_under(markdown, "Metrics")
        assert "| accuracy | 0.922 | 0.900 |" in section
        assert "| ECE | 0.042 | n/a |" in section
        assert "| rows | 489 | 489 |" in section
        assert "| `ham` | 227 | 20 |" in section

    def test_slices_table(self, markdown):
        section = lines_under(markdown, "Slices")
        assert "| video = KatyPerry | 86 | 17.6% | 0.895 | 0.894 | -0.027 |  |" in section

    def test_gates_table(self, markdown):
        section = lines_under(markdown, "Promotion gates")
        assert section[1] == "1 of 4 gates failed."
        assert "| `accuracy >= 0.9` | pass | 0.922 | 0.900 | accuracy 0.922 >= 0.900 |" in section
        assert (
            "| `checks.pii == passed` | FAIL | warning | passed | data check 'pii' is 'warning', "
            "not 'passed' |"
        ) in section
        assert any("no production version to compare with" in line for line in section)

    def test_no_gates(self, report):
        markdown = render_model_card(card_of(report, gates=[]))
        assert lines_under(markdown, "Promotion gates")[1].startswith("No promotion gates")
        assert "; no promotion gates." in markdown.splitlines()[2]

    def test_all_gates_passed(self, report):
        gates = [g for g in gates_for(report) if g["passed"]]
        markdown = render_model_card(card_of(report, gates=gates))
        assert lines_under(markdown, "Promotion gates")[1] == "All 3 gates passed."

    def test_datasheet_is_embedded_with_demoted_headings(self, markdown):
        section = lines_under(markdown, "Training data")
        assert "### Datasheet: training data of youtube-spam" in section
        assert "#### Motivation" in section
        assert "| train | `data/train.csv` | 1,367 | `" in "\n".join(section)

    def test_datasheet_code_fences_are_left_alone(self, report):
        datasheet = "# Sheet\n```python\n# a comment, not a heading\n```\n"
        section = lines_under(
            render_model_card(card_of(report, datasheet=datasheet)), "Training data"
        )
        assert "### Sheet" in section
        assert "# a comment, not a heading" in section

    def test_pii_and_notes(self, markdown):
        section = lines_under(markdown, "Ethical considerations")
        assert "| `train.text` | 5 | 2 CREDIT_CARD, 3 PHONE_NUMBER | not redacted |" in section
        assert any(line.startswith("Not redacted") for line in section)
        assert any("automation bias" in line for line in section)

    def test_limitations_are_bullets(self, markdown, card):
        section = lines_under(markdown, "Limitations")
        assert [line for line in section if line.startswith("- ")] == [
            f"- {x}" for x in card["limitations"]
        ]

    def test_lineage(self, markdown, report):
        text = "\n".join(lines_under(markdown, "Lineage"))
        assert report["provenance"]["lf_module"]["sha256"] in text
        for d in report["provenance"]["inputs"]:
            assert d["sha256"] in text
        assert "| cache key: end_model |" in text
        assert "scikit-learn 1.9.1" in text
        assert "| git commit | none recorded" in text

    def test_git_commit(self, report):
        report["provenance"]["git"] = {"commit": "abc123", "dirty": True}
        text = render_model_card(card_of(report))
        assert "| git commit | `abc123` (uncommitted changes) |" in text

    def test_pipes_in_cells_are_escaped(self, report):
        report["end_model"]["slices"][0]["name"] = "a | b"
        section = lines_under(render_model_card(card_of(report)), "Slices")
        assert any(line.startswith(r"| a \| b | 119 |") for line in section)

    def test_tables_are_well_formed(self, markdown):
        for block in re.split(r"\n(?!\|)", markdown):
            rows = [line for line in block.splitlines() if line.startswith("|")]
            if not rows:
                continue
            widths = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}
            assert len(widths) == 1, rows
