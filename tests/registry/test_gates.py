"""Promotion gates: metrics from a real report, the rule grammar, and every verdict."""

from __future__ import annotations

import copy
import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from weakflow.errors import ConfigError
from weakflow.registry._gates import (
    CHECK_STATUSES,
    END_MODEL_METRICS,
    GateResult,
    MetricRef,
    evaluate_gates,
    metrics_from_report,
    parse_gate,
)

REPORT = Path(__file__).parent / "data" / "report.json"


@cache
def _report() -> dict[str, Any]:
    return json.loads(REPORT.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture
def report() -> dict[str, Any]:
    """A fresh copy of the real ``weakflow run`` report (youtube-spam example)."""
    return copy.deepcopy(_report())


@pytest.fixture
def metrics(report: dict[str, Any]) -> dict[str, Any]:
    return metrics_from_report(report)


def one(
    rule: str, candidate: dict[str, Any], production: dict[str, Any] | None = None
) -> GateResult:
    [result] = evaluate_gates([rule], candidate, production)
    return result


def simple(**end_model: float) -> dict[str, Any]:
    return {"end_model": dict(end_model), "label_model": {}, "slices": {}, "checks": {}}


# -- metrics_from_report --------------------------------------------------------------------------


class TestMetricsFromReport:
    def test_shape(self, metrics):
        assert list(metrics) == ["end_model", "label_model", "slices", "checks"]
        assert list(metrics["end_model"]) == list(END_MODEL_METRICS)
        assert set(metrics["label_model"]) == {
            "accuracy",
            "f1_macro",
            "precision_macro",
            "recall_macro",
            "roc_auc",
            "log_loss",
            "n",
        }

    def test_values_come_from_the_test_set_after_calibration(self, report, metrics):
        test = report["end_model"]["test"]
        assert metrics["end_model"]["accuracy"] == test["accuracy"]
        assert metrics["end_model"]["f1_macro"] == test["f1_macro"]
        assert metrics["end_model"]["n"] == 489
        assert isinstance(metrics["end_model"]["n"], int)
        assert metrics["end_model"]["ece"] == report["end_model"]["calibration"]["after"]["ece"]
        assert metrics["end_model"]["brier"] == test["calibration"]["brier"]
        assert metrics["label_model"]["accuracy"] == report["label_model"]["test"]["accuracy"]

    def test_slices(self, metrics):
        slices = metrics["slices"]
        assert list(slices) == [
            "video = Eminem",
            "video = LMFAO",
            "video = Shakira",
            "video = KatyPerry",
            "video = Psy",
        ]
        assert slices["video = KatyPerry"] == {
            "n": 86,
            "accuracy": pytest.approx(0.8953488372093024),
            "f1_macro": pytest.approx(0.89419002050581),
        }

    def test_check_statuses(self, metrics):
        checks = metrics["checks"]
        assert checks["schema"] == "passed"
        assert checks["pii"] == "warning"
        assert checks["duplicates"] == "warning"
        assert set(checks.values()) <= set(CHECK_STATUSES)

    def test_failed_and_skipped_checks(self, report):
        report["data"]["checks"][0]["passed"] = False  # schema, severity error
        report["data"]["checks"][2] = {
            "name": "missing_values",
            "severity": "info",
            "passed": True,
            "message": "Skipped (listed in the data_checks skip option).",
            "details": {},
        }
        checks = metrics_from_report(report)["checks"]
        assert checks["schema"] == "failed"
        assert checks["missing_values"] == "skipped"

    def test_plain_json(self, metrics):
        assert json.loads(json.dumps(metrics)) == metrics

        def walk(x: Any) -> None:
            if isinstance(x, dict):
                for v in x.values():
                    walk(v)
            else:
                assert type(x) in (float, int, str), x

        walk(metrics)

    def test_missing_and_none_metrics_are_left_out(self, report):
        report["end_model"]["test"]["roc_auc"] = None
        report["end_model"]["test"]["log_loss"] = float("nan")
        del report["label_model"]
        report["end_model"]["slices"][0].update(accuracy=None, value=None)
        metrics = metrics_from_report(report)
        assert "roc_auc" not in metrics["end_model"]
        assert "log_loss" not in metrics["end_model"]
        assert metrics["label_model"] == {}
        assert "accuracy" not in metrics["slices"]["video = Eminem"]

    def test_calibration_falls_back_to_the_calibration_section(self, report):
        del report["end_model"]["test"]["calibration"]
        metrics = metrics_from_report(report)
        assert metrics["end_model"]["ece"] == report["end_model"]["calibration"]["after"]["ece"]

    def test_slice_metric_other_than_accuracy_is_kept(self, report):
        for row in report["end_model"]["slices"]:
            row["metric"], row["value"] = "recall_macro", 0.5
        assert metrics_from_report(report)["slices"]["video = Psy"]["recall_macro"] == 0.5

    def test_empty_report(self):
        empty = {"end_model": {}, "label_model": {}, "slices": {}, "checks": {}}
        assert metrics_from_report({}) == empty

    def test_not_a_dict(self):
        with pytest.raises(TypeError, match="report must be a dict"):
            metrics_from_report([])  # type: ignore[arg-type]


# -- parse_gate -----------------------------------------------------------------------------------


class TestParse:
    @pytest.mark.parametrize(
        ("rule", "op", "left", "right", "offset"),
        [
            ("f1_macro >= 0.9", ">=", "f1_macro", None, 0.9),
            ("ece <= 0.05", "<=", "ece", None, 0.05),
            ("accuracy > 0.8", ">", "accuracy", None, 0.8),
            ("log_loss < 0.5", "<", "log_loss", None, 0.5),
            ("n == 489", "==", "n", None, 489.0),
            ("end_model.brier <= 1e-1", "<=", "brier", None, 0.1),
            ("label_model.accuracy >= 0.85", ">=", "label_model.accuracy", None, 0.85),
            (
                "f1_macro >= production.f1_macro - 0.01",
                ">=",
                "f1_macro",
                "production.f1_macro",
                -0.01,
            ),
            ("ece <= production.ece + 0.02", "<=", "ece", "production.ece", 0.02),
            ("accuracy >= production.accuracy", ">=", "accuracy", "production.accuracy", 0.0),
            (
                "roc_auc >= production.label_model.roc_auc",
                ">=",
                "roc_auc",
                "production.label_model.roc_auc",
                0.0,
            ),
            (
                "slice[video = Eminem].accuracy >= 0.8",
                ">=",
                "slice[video = Eminem].accuracy",
                None,
                0.8,
            ),
            ("slices.accuracy >= 0.8", ">=", "slices.accuracy", None, 0.8),
            ("slices.f1_macro >= f1_macro - 0.05", ">=", "slices.f1_macro", "f1_macro", -0.05),
            ("accuracy >= -0.5", ">=", "accuracy", None, -0.5),
        ],
    )
    def test_valid_rules(self, rule, op, left, right, offset):
        gate = parse_gate(rule)
        assert gate.kind == "metric"
        assert gate.rule == rule
        assert gate.op == op
        assert str(gate.left) == left
        assert (None if gate.right is None else str(gate.right)) == right
        assert gate.offset == pytest.approx(offset)
        assert gate.uses_production == (right is not None and right.startswith("production."))

    @pytest.mark.parametrize(
        "rule",
        [
            "f1_macro>=production.f1_macro-0.01",
            "  f1_macro   >=   production . f1_macro  -  0.01  ",
            "f1_macro >= production.f1_macro -0.01",
        ],
    )
    def test_whitespace_is_free(self, rule):
        gate = parse_gate(rule)
        assert gate.rule == rule.strip()
        assert (str(gate.left), gate.op, str(gate.right)) == (
            "f1_macro",
            ">=",
            "production.f1_macro",
        )
        assert gate.offset == pytest.approx(-0.01)

    @pytest.mark.parametrize(
        ("rule", "name"),
        [
            ("slice[video = Eminem].accuracy>=0.8", "video = Eminem"),
            ("slice [ video = Eminem ] . accuracy >= 0.8", "video = Eminem"),
            ("slice['a]b'].accuracy >= 0.8", "a]b"),
            ('slice["x >= 3"].accuracy >= 0.8', "x >= 3"),
            ("slice[author = O'Brien].accuracy >= 0.8", "author = O'Brien"),
            (
                "slice[age 18-25].accuracy >= production.slice[age 18-25].accuracy - 0.1",
                "age 18-25",
            ),
        ],
    )
    def test_slice_names(self, rule, name):
        gate = parse_gate(rule)
        assert gate.left == MetricRef("slice", "accuracy", name)
        assert gate.op == ">="

    def test_slice_name_in_production_reference(self):
        gate = parse_gate("slice[age 18-25].accuracy >= production.slice[age 18-25].accuracy - 0.1")
        assert gate.right == MetricRef("slice", "accuracy", "age 18-25", production=True)
        assert gate.offset == pytest.approx(-0.1)

    @pytest.mark.parametrize(
        ("rule", "check", "op", "status"),
        [
            ("checks.passed", None, ">=", None),
            ("  checks . passed ", None, ">=", None),
            ("checks.pii == passed", "pii", "==", "passed"),
            ("checks.leakage_exact != failed", "leakage_exact", "!=", "failed"),
            ("checks.schema=='Passed'", "schema", "==", "passed"),
        ],
    )
    def test_checks_rules(self, rule, check, op, status):
        gate = parse_gate(rule)
        assert gate.kind == "checks"
        assert (gate.check, gate.status) == (check, status)
        if check is not None:
            assert gate.op == op

    @pytest.mark.parametrize(
        ("rule", "problem"),
        [
            ("f1 >= 0.9", "unknown end model metric 'f1' (did you mean 'f1_macro'?)"),
            ("acuracy >= 0.9", "did you mean 'accuracy'?"),
            ("label_model.ece <= 0.1", "unknown label model metric 'ece'"),
            ("slices.foo >= 0.8", "unknown slice metric 'foo'"),
            ("slice[x].ece <= 0.1", "unknown slice metric 'ece'"),
            ("accuracy >= production.foo", "unknown end model metric 'foo'"),
            ("accuracy", "no comparison operator"),
            ("accuracy = 0.9", "'=' is not a comparison"),
            ("accuracy => 0.9", "write '>='"),
            ("accuracy != 0.9", "!= compares only data check statuses"),
            ("accuracy >=", "nothing to compare accuracy with"),
            ("production.accuracy >= 0.9", "goes on the right-hand side"),
            ("accuracy >= 0.9 - 0.1", "is not a number or a metric"),
            ("accuracy >= production.f1_macro * 0.9", "is not a metric name"),
            ("accuracy >= slices.accuracy", "only on the left-hand side"),
            ("slice[].accuracy >= 0.8", "needs a slice name"),
            ("slice x.accuracy >= 0.8", "is not a slice reference"),
            ("checks.pii", "needs a status"),
            ("checks.pii >= 1", "compare it with == or !="),
            ("checks.pii == ok", "unknown check status 'ok'"),
            ("checks.passed == true", "takes no comparison"),
            ("accuracy >= checks.pii", "checks gates stand alone"),
            ("", "the rule is empty"),
            ("   ", "the rule is empty"),
        ],
    )
    def test_errors_quote_the_rule_and_show_examples(self, rule, problem):
        with pytest.raises(ConfigError) as info:
            parse_gate(rule)
        message = str(info.value)
        assert message.startswith(f"Gate rule {rule.strip()!r} is not valid: ")
        assert problem in message
        assert "Valid rules look like:" in message
        assert "f1_macro >= production.f1_macro - 0.01" in message
        assert "checks.passed" in message
        assert info.value.problems
        assert problem in info.value.problems[0]

    def test_unknown_metric_lists_the_known_ones(self):
        with pytest.raises(ConfigError, match=r"known: accuracy, f1_macro, .*ece, mce, brier"):
            parse_gate("precision >= 0.9")

    def test_not_a_string(self):
        with pytest.raises(ConfigError, match="must be a string, got float"):
            parse_gate(0.9)  # type: ignore[arg-type]

    def test_gate_is_frozen(self):
        gate = parse_gate("accuracy >= 0.9")
        with pytest.raises(dataclasses.FrozenInstanceError):
            gate.op = "<"  # type: ignore[misc]


# -- absolute gates -------------------------------------------------------------------------------


class TestAbsolute:
    @pytest.mark.parametrize(
        ("rule", "passed"),
        [
            ("f1_macro >= 0.9", True),
            ("f1_macro >= 0.95", False),
            ("f1_macro > 0.922", True),
            ("f1_macro > 0.95", False),
            ("ece <= 0.05", True),
            ("ece <= 0.04", False),
            ("ece < 0.1", True),
            ("ece < 0.01", False),
            ("n == 489", True),
            ("n == 500", False),
            ("label_model.accuracy >= 0.85", True),
            ("label_model.accuracy >= 0.95", False),
        ],
    )
    def test_pass_and_fail(self, metrics, rule, passed):
        assert one(rule, metrics).passed is passed

    def test_reasons(self):
        candidate = simple(f1_macro=0.912, ece=0.08)
        result = one("f1_macro >= 0.9", candidate)
        assert result == GateResult("f1_macro >= 0.9", True, 0.912, 0.9, "f1_macro 0.912 >= 0.900")
        assert one("f1_macro >= 0.95", candidate).reason == "f1_macro 0.912 < 0.950"
        assert one("ece <= 0.05", candidate).reason == "ece 0.080 > 0.050"
        assert one("ece < 0.08", candidate).reason == "ece 0.080 >= 0.080"
        assert one("f1_macro == 0.9", candidate).reason == "f1_macro 0.912 != 0.900"

    def test_label_model_reason(self, metrics):
        result = one("label_model.accuracy >= 0.95", metrics)
        assert result.reason == "label_model.accuracy 0.900 < 0.950"

    def test_close_numbers_get_more_digits(self):
        result = one("accuracy >= 0.9", simple(accuracy=0.8999))
        assert not result.passed
        assert result.reason == "accuracy 0.8999 < 0.9000"

    def test_rows_are_shown_as_integers(self, metrics):
        assert one("n >= 500", metrics).reason == "n 489 < 500"

    def test_metric_missing_on_the_candidate_fails(self, report):
        report["end_model"]["test"]["roc_auc"] = None
        result = one("roc_auc >= 0.9", metrics_from_report(report))
        assert not result.passed
        assert result.value is None
        assert "roc_auc" in result.reason
        assert "the candidate's end model metrics have no roc_auc" in result.reason

    def test_label_model_metric_missing(self):
        result = one("label_model.f1_macro >= 0.5", simple(f1_macro=0.9))
        assert not result.passed
        assert result.reason == (
            "the candidate's label model metrics have no f1_macro (needed by label_model.f1_macro)"
        )


# -- regression gates -----------------------------------------------------------------------------


class TestRegression:
    RULE = "f1_macro >= production.f1_macro - 0.01"

    def test_fails_below_production(self):
        result = one(self.RULE, simple(f1_macro=0.88), simple(f1_macro=0.905))
        assert not result.passed
        assert result.value == 0.88
        assert result.threshold == pytest.approx(0.895)
        assert result.reason == "f1_macro 0.880 < production 0.905 - 0.010 = 0.895"

    def test_passes_within_tolerance(self):
        result = one(self.RULE, simple(f1_macro=0.9), simple(f1_macro=0.905))
        assert result.passed
        assert result.reason == "f1_macro 0.900 >= production 0.905 - 0.010 = 0.895"

    def test_plus_offset_for_lower_is_better(self):
        result = one("ece <= production.ece + 0.02", simple(ece=0.08), simple(ece=0.05))
        assert not result.passed
        assert result.reason == "ece 0.080 > production 0.050 + 0.020 = 0.070"

    def test_no_offset(self):
        result = one("accuracy >= production.accuracy", simple(accuracy=0.9), simple(accuracy=0.9))
        assert result.passed
        assert result.reason == "accuracy 0.900 >= production 0.900"

    def test_other_metric_on_the_right(self, metrics):
        result = one("accuracy >= production.label_model.accuracy", metrics, metrics)
        assert result.passed
        assert result.reason == "accuracy 0.922 >= production label_model.accuracy 0.900"

    def test_no_production_version_passes(self, metrics):
        result = one(self.RULE, metrics, None)
        assert result.passed
        assert result.threshold is None
        assert result.value == metrics["end_model"]["f1_macro"]
        assert result.reason.startswith("no production version to compare with")

    def test_production_without_the_metric_passes(self):
        result = one(self.RULE, simple(f1_macro=0.9), simple(accuracy=0.9))
        assert result.passed
        assert result.reason.startswith("no production version to compare with")
        assert "has no f1_macro" in result.reason

    def test_candidate_missing_the_metric_fails_even_without_production(self):
        result = one(self.RULE, simple(accuracy=0.9), None)
        assert not result.passed
        assert "f1_macro" in result.reason

    def test_production_is_a_real_report(self, report, metrics):
        report["end_model"]["test"]["f1_macro"] = 0.99
        production = metrics_from_report(report)
        result = one(self.RULE, metrics, production)
        assert not result.passed
        assert result.reason == "f1_macro 0.922 < production 0.990 - 0.010 = 0.980"

    def test_candidate_metric_on_the_right(self):
        result = one("f1_macro >= label_model.f1_macro", {**simple(f1_macro=0.8)}, None)
        assert not result.passed
        assert "label_model.f1_macro" in result.reason


# -- slice gates ----------------------------------------------------------------------------------


class TestSlices:
    def test_one_slice_passes(self, metrics):
        result = one("slice[video = Eminem].accuracy >= 0.9", metrics)
        assert result.passed
        assert result.reason == "slice[video = Eminem].accuracy 0.958 >= 0.900"

    def test_one_slice_fails(self, metrics):
        result = one("slice[video = KatyPerry].accuracy >= 0.9", metrics)
        assert not result.passed
        assert result.reason == "slice[video = KatyPerry].accuracy 0.895 < 0.900"

    def test_slice_rows(self, metrics):
        assert one("slice[video = Psy].n >= 100", metrics).reason == "slice[video = Psy].n 78 < 100"

    def test_unknown_slice_fails_listing_the_slices(self, metrics):
        result = one("slice[video = Adele].accuracy >= 0.5", metrics)
        assert not result.passed
        assert "no slice named 'video = Adele'" in result.reason
        assert "'video = Eminem'" in result.reason

    def test_slice_lacking_the_metric_fails(self, metrics):
        result = one("slice[video = Psy].roc_auc >= 0.5", metrics)
        assert not result.passed
        assert result.reason == "the candidate's slice 'video = Psy' has no roc_auc"

    def test_every_slice_passes_reporting_the_worst(self, metrics):
        result = one("slices.accuracy >= 0.85", metrics)
        assert result.passed
        assert result.value == pytest.approx(0.8953488372093024)
        assert (
            result.reason == "all 5 slices pass: worst 'video = KatyPerry' accuracy 0.895 >= 0.850"
        )

    def test_every_slice_fails_reporting_the_worst(self, metrics):
        result = one("slices.accuracy >= 0.9", metrics)
        assert not result.passed
        assert result.threshold == 0.9
        assert (
            result.reason == "1 of 5 slices fails: worst 'video = KatyPerry' accuracy 0.895 < 0.900"
        )
        assert "2 of 5 slices fail" in one("slices.accuracy >= 0.905", metrics).reason

    def test_upper_bounds_report_the_highest(self, metrics):
        result = one("slices.accuracy <= 0.95", metrics)
        assert not result.passed
        assert "worst 'video = Eminem' accuracy 0.958 > 0.950" in result.reason

    def test_slices_relative_to_overall(self, metrics):
        result = one("slices.accuracy >= accuracy - 0.02", metrics)
        assert not result.passed
        assert result.reason == (
            "2 of 5 slices fail: worst 'video = KatyPerry' accuracy 0.895 < accuracy 0.922 - "
            "0.020 = 0.902"
        )

    def test_slices_against_production(self, metrics):
        assert one("slices.accuracy >= production.accuracy - 0.05", metrics, metrics).passed
        result = one("slices.accuracy >= production.accuracy - 0.05", metrics, None)
        assert result.passed
        assert result.reason.startswith("no production version to compare with")

    def test_slice_without_the_metric_fails(self, report):
        report["end_model"]["slices"][1].update(n=0, accuracy=None, f1_macro=None, value=None)
        result = one("slices.accuracy >= 0.5", metrics_from_report(report))
        assert not result.passed
        assert "1 slice 'video = LMFAO' has no accuracy" in result.reason

    def test_no_slices_fails(self, metrics):
        metrics["slices"] = {}
        result = one("slices.accuracy >= 0.5", metrics)
        assert not result.passed
        assert "no slices" in result.reason
        assert "slice_columns" in result.reason


# -- checks gates ---------------------------------------------------------------------------------


class TestChecks:
    def test_passed_with_warnings(self, metrics):
        result = one("checks.passed", metrics)
        assert result.passed
        assert (result.value, result.threshold) == ("passed", "passed")
        assert result.reason.startswith("no data check failed (10 checks; warnings: duplicates")

    def test_passed_fails_on_a_failed_check(self, report):
        report["data"]["checks"][1]["passed"] = False  # empty, severity error
        result = one("checks.passed", metrics_from_report(report))
        assert not result.passed
        assert result.value == "failed"
        assert result.reason == "1 data check failed: empty"

    def test_one_check_equal(self, metrics):
        assert one("checks.schema == passed", metrics).reason == "data check 'schema' is 'passed'"
        result = one("checks.pii == passed", metrics)
        assert not result.passed
        assert (result.value, result.threshold) == ("warning", "passed")
        assert result.reason == "data check 'pii' is 'warning', not 'passed'"

    def test_one_check_not_equal(self, metrics):
        result = one("checks.pii != failed", metrics)
        assert result.passed
        assert result.reason == "data check 'pii' is 'warning', not 'failed'"
        result = one("checks.pii != warning", metrics)
        assert not result.passed
        assert result.reason == "data check 'pii' is 'warning', which the rule excludes"

    def test_unknown_check_fails_listing_the_checks(self, metrics):
        result = one("checks.spelling == passed", metrics)
        assert not result.passed
        assert "no data check named 'spelling'" in result.reason
        assert "schema, empty" in result.reason

    def test_no_check_results(self):
        result = one("checks.passed", {"end_model": {}})
        assert not result.passed
        assert result.reason == "the candidate has no data check results"


# -- evaluate_gates -------------------------------------------------------------------------------


class TestEvaluateGates:
    def test_results_in_rule_order(self, metrics):
        rules = ["accuracy >= 0.9", "ece <= 0.01", "checks.passed"]
        results = evaluate_gates(rules, metrics, None)
        assert [r.rule for r in results] == rules
        assert [r.passed for r in results] == [True, False, True]

    def test_no_rules(self, metrics):
        assert evaluate_gates([], metrics, None) == []

    def test_a_single_string(self, metrics):
        assert [r.rule for r in evaluate_gates("accuracy >= 0.9", metrics)] == ["accuracy >= 0.9"]

    def test_every_bad_rule_is_reported(self, metrics):
        with pytest.raises(ConfigError) as info:
            evaluate_gates(["f1 >= 0.9", "accuracy >= 0.9", "ece =< 0.1"], metrics, None)
        message = str(info.value)
        assert message.startswith("2 gate rules are not valid:")
        assert "'f1 >= 0.9'" in message
        assert "'ece =< 0.1'" in message
        assert len(info.value.problems) == 2

    def test_one_bad_rule_raises_its_own_error(self, metrics):
        with pytest.raises(ConfigError, match=r"^Gate rule 'f1 >= 0.9' is not valid"):
            evaluate_gates(["f1 >= 0.9"], metrics, None)

    def test_result_dicts_round_trip_through_json(self, metrics):
        rules = ["accuracy >= 0.9", "slices.accuracy >= 0.9", "checks.pii == passed", "roc_auc > 2"]
        for result in evaluate_gates(rules, metrics, None):
            data = json.loads(json.dumps(result.to_dict()))
            assert list(data) == ["rule", "passed", "value", "threshold", "reason"]
            assert GateResult.from_dict(data) == result

    def test_candidate_is_not_modified(self, metrics):
        before = copy.deepcopy(metrics)
        evaluate_gates(["slices.accuracy >= accuracy - 0.05", "checks.passed"], metrics, metrics)
        assert metrics == before
