"""Promotion gates: declarative rules that decide whether a new model version may go live.

Why rules in ``weakflow.toml`` instead of code: the decision to move the ``production`` alias has
to be reviewable (it is in the config, under version control), reproducible (the same metrics
give the same verdict) and explainable (every verdict carries the numbers it compared). A gate
is one line such as ``f1_macro >= production.f1_macro - 0.01``; :func:`parse_gate` checks it when
the config is loaded, so a typo fails before hours of training rather than after, and
:func:`evaluate_gates` turns each rule into a :class:`GateResult` with a human sentence.

Gates compare the compact metrics of :func:`metrics_from_report`, the same dict the registry
stores with every version, so a candidate is always judged against what production was judged
on. Grammar (whitespace is free around operators, dots and brackets)::

    f1_macro >= 0.9                            end model test metric against a number
    label_model.accuracy >= 0.85               label model test metric
    f1_macro >= production.f1_macro - 0.01     regression against the production version
    slice[video = Eminem].accuracy >= 0.8      one slice of the test set
    slices.accuracy >= 0.8                     every slice (the worst one is reported)
    slices.accuracy >= accuracy - 0.05         every slice within 5 points of overall
    checks.passed                              no data check failed
    checks.pii == passed                       one data check's status (== or !=)
    robustness.accuracy_min >= 0.8             end model accuracy under the worst attack
    robustness.homoglyph.accuracy >= 0.8       under one attack (names in ROBUSTNESS_ATTACKS)
    privacy.membership_auc <= 0.6              membership inference AUC of the end model

Operators: ``>=``, ``>``, ``<=``, ``<``, ``==``. The right-hand side is a number or a metric
(``production.`` for the production version's) plus or minus an optional number.
"""

from __future__ import annotations

import difflib
import math
import numbers
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, NoReturn

from weakflow.errors import ConfigError

__all__ = [
    "CHECK_STATUSES",
    "END_MODEL_METRICS",
    "LABEL_MODEL_METRICS",
    "PRIVACY_METRICS",
    "ROBUSTNESS_ATTACKS",
    "ROBUSTNESS_ATTACK_METRICS",
    "ROBUSTNESS_METRICS",
    "SLICE_METRICS",
    "Gate",
    "GateResult",
    "MetricRef",
    "check_status",
    "evaluate_gates",
    "metrics_from_report",
    "parse_gate",
    "privacy_from_report",
    "robustness_from_report",
]

END_MODEL_METRICS: Final[tuple[str, ...]] = (
    "accuracy",
    "f1_macro",
    "precision_macro",
    "recall_macro",
    "roc_auc",
    "log_loss",
    "n",
    "ece",
    "mce",
    "brier",
)
"""End model metrics on the test set; ``ece``, ``mce`` and ``brier`` are after calibration."""

LABEL_MODEL_METRICS: Final[tuple[str, ...]] = (
    "accuracy",
    "f1_macro",
    "precision_macro",
    "recall_macro",
    "roc_auc",
    "log_loss",
    "n",
)
"""Label model metrics on the test set (the label model is not calibrated, so no ECE)."""

SLICE_METRICS: Final[tuple[str, ...]] = (
    "n",
    "accuracy",
    "f1_macro",
    "precision_macro",
    "recall_macro",
    "roc_auc",
)
"""Metrics a slice may carry: ``n``, ``accuracy``, ``f1_macro`` and the project's slice metric."""

ROBUSTNESS_METRICS: Final[tuple[str, ...]] = (
    "accuracy_min",
    "accuracy_drop_max",
    "flip_rate_max",
    "label_model_accuracy_min",
    "lf_votes_lost_max",
)
"""Worst case over the attacks run (``robustness.<metric>``): the end model's lowest accuracy,
largest drop from its clean accuracy, largest flip rate; the label model's lowest accuracy; the
largest share of LF votes lost."""

ROBUSTNESS_ATTACKS: Final[tuple[str, ...]] = (
    "char_swap",
    "homoglyph",
    "spacing",
    "case",
    "synonym",
    "noise",
)
"""The attacks of :mod:`weakflow.evaluate._robustness` (``robustness.<attack>.<metric>``)."""

ROBUSTNESS_ATTACK_METRICS: Final[tuple[str, ...]] = (
    "accuracy",
    "accuracy_drop",
    "flip_rate",
    "label_model_accuracy",
    "label_model_flip_rate",
    "lf_majority_accuracy",
    "lf_votes_lost",
)
"""Metrics of one attack: ``accuracy``, ``accuracy_drop`` and ``flip_rate`` are the end model's."""

PRIVACY_METRICS: Final[tuple[str, ...]] = ("membership_auc", "membership_advantage")
"""Membership inference on the end model (``privacy.<metric>``): the AUC of its confidence as a
membership score, and the best threshold's TPR - FPR."""

CHECK_STATUSES: Final[tuple[str, ...]] = ("passed", "warning", "failed", "skipped")
"""Data check statuses: ``failed`` is a failed check of severity ``error``, ``warning`` one of
lower severity, ``skipped`` one listed in the ``data_checks`` skip option."""

_TEST_KEYS: Final[tuple[str, ...]] = (
    "accuracy",
    "f1_macro",
    "precision_macro",
    "recall_macro",
    "roc_auc",
    "log_loss",
    "n",
)
_CALIBRATION_KEYS: Final[tuple[str, ...]] = ("ece", "mce", "brier")
_SLICE_SCORE_KEYS: Final[tuple[str, ...]] = ("accuracy", "f1_macro")

_OPS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
_NUMERIC_OPS: Final[tuple[str, ...]] = (">=", ">", "<=", "<", "==")
_NEGATED: Final[dict[str, str]] = {
    ">=": "<",
    ">": "<=",
    "<=": ">",
    "<": ">=",
    "==": "!=",
    "!=": "==",
}

_EXAMPLES: Final[tuple[str, ...]] = (
    "f1_macro >= 0.9",
    "ece <= 0.05",
    "label_model.accuracy >= 0.85",
    "f1_macro >= production.f1_macro - 0.01",
    "slice[video = Eminem].accuracy >= 0.8",
    "slices.accuracy >= 0.8",
    "checks.passed",
    "checks.pii == passed",
    "robustness.accuracy_min >= 0.8",
    "privacy.membership_auc <= 0.6",
)

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER_RE = re.compile(rf"[+-]?{_NUMBER}")
_OFFSET_RE = re.compile(rf"(.*?)\s*([+-])\s*({_NUMBER})", re.DOTALL)
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PREFIX_RE = re.compile(
    r"(production|label_model|end_model|slices|checks|robustness|privacy)\s*\.\s*(.*)", re.DOTALL
)
_SLICE_RE = re.compile(r"slice\s*\[(.*)\]\s*\.\s*(.*)", re.DOTALL)

Scope = Literal["end_model", "label_model", "slice", "slices", "robustness", "privacy"]


# -- metrics --------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None for missing, non-numeric, boolean or NaN values."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _pick(source: Any, keys: Sequence[str]) -> dict[str, Any]:
    """The numeric entries of ``source`` among ``keys``; ``n`` stays an int."""
    out: dict[str, Any] = {}
    if not isinstance(source, Mapping):
        return out
    for key in keys:
        value = _number(source.get(key))
        if value is not None:
            out[key] = int(value) if key == "n" else value
    return out


def check_status(check: Mapping[str, Any]) -> str:
    """The status of one data check result of a report, one of :data:`CHECK_STATUSES`."""
    if check.get("passed"):
        skipped = str(check.get("message", "")).startswith("Skipped")
        return "skipped" if skipped else "passed"
    return "failed" if check.get("severity") == "error" else "warning"


def metrics_from_report(report: Mapping[str, Any]) -> dict[str, Any]:
    """The compact metrics kept with a model version and compared by the gates.

    Parameters
    ----------
    report : mapping
        The report of ``weakflow run`` (``runs/<run id>/report.json``).

    Returns
    -------
    dict
        Plain JSON-serializable values, every key present (possibly empty)::

            {"end_model": {accuracy, f1_macro, precision_macro, recall_macro, roc_auc,
                           log_loss, n, ece, mce, brier},       # test set, after calibration
             "label_model": {accuracy, f1_macro, precision_macro, recall_macro, roc_auc,
                             log_loss, n},                      # test set
             "slices": {"<slice name>": {"n", "accuracy", "f1_macro", "<slice metric>"}},
             "checks": {"<check name>": "passed" | "warning" | "failed" | "skipped"},
             "robustness": {accuracy_min, ..., "<attack>.accuracy", ...},  # when measured
             "privacy": {membership_auc, membership_advantage}}           # when measured

        ``robustness`` (:func:`robustness_from_report`) and ``privacy``
        (:func:`privacy_from_report`) are there only when the run measured them. Metrics the
        report lacks (or holds as ``None``, e.g. ROC AUC when a class has no test
        rows) are left out, so a gate on them fails with a reason instead of comparing None.

    Examples
    --------
    >>> report = {"end_model": {"test": {"accuracy": 0.91, "n": 400, "roc_auc": None,
    ...                                  "calibration": {"ece": 0.03}}},
    ...           "data": {"checks": [{"name": "schema", "severity": "error", "passed": True}]}}
    >>> metrics_from_report(report)
    {'end_model': {'accuracy': 0.91, 'n': 400, 'ece': 0.03}, 'label_model': {}, 'slices': {}, \
'checks': {'schema': 'passed'}}
    """
    if not isinstance(report, Mapping):
        raise TypeError(
            f"report must be a dict (a run's report.json), got {type(report).__name__}."
        )
    end = report.get("end_model") or {}
    test = end.get("test") or {}
    calibration = test.get("calibration")
    if not isinstance(calibration, Mapping):
        calibration = (end.get("calibration") or {}).get("after")
    end_metrics = {**_pick(test, _TEST_KEYS), **_pick(calibration, _CALIBRATION_KEYS)}
    label_metrics = _pick((report.get("label_model") or {}).get("test"), _TEST_KEYS)

    slices: dict[str, dict[str, Any]] = {}
    for row in end.get("slices") or []:
        if not isinstance(row, Mapping) or "name" not in row:
            continue
        entry = _pick(row, ("n", *_SLICE_SCORE_KEYS))
        metric, value = row.get("metric"), _number(row.get("value"))
        if isinstance(metric, str) and value is not None and metric != "n":
            entry.setdefault(metric, value)
        slices[str(row["name"])] = entry

    checks = {
        str(c["name"]): check_status(c)
        for c in (report.get("data") or {}).get("checks") or []
        if isinstance(c, Mapping) and "name" in c
    }
    out: dict[str, Any] = {
        "end_model": end_metrics,
        "label_model": label_metrics,
        "slices": slices,
        "checks": checks,
    }
    if isinstance(report.get("robustness"), Mapping):
        out["robustness"] = robustness_from_report(report["robustness"])
    if isinstance(report.get("privacy"), Mapping):
        out["privacy"] = privacy_from_report(report["privacy"])
    return out


def robustness_from_report(robustness: Mapping[str, Any]) -> dict[str, float]:
    """The gate-able numbers of a report's ``robustness`` section, flat.

    ``{"accuracy_min": ..., "flip_rate_max": ..., "homoglyph.accuracy": ...,
    "homoglyph.flip_rate": ...}``: :data:`ROBUSTNESS_METRICS` from its summary, then
    :data:`ROBUSTNESS_ATTACK_METRICS` for each attack that ran.
    """
    out: dict[str, float] = dict(_pick(robustness.get("summary"), ROBUSTNESS_METRICS))
    attacks = robustness.get("attacks")
    for attack, entry in attacks.items() if isinstance(attacks, Mapping) else ():
        if not isinstance(entry, Mapping):
            continue
        end, lm = entry.get("end_model") or {}, entry.get("label_model") or {}
        values = {
            "accuracy": end.get("accuracy"),
            "accuracy_drop": end.get("accuracy_drop"),
            "flip_rate": end.get("flip_rate"),
            "label_model_accuracy": lm.get("accuracy"),
            "label_model_flip_rate": lm.get("flip_rate"),
            "lf_majority_accuracy": (entry.get("lf_majority") or {}).get("accuracy"),
            "lf_votes_lost": entry.get("lf_votes_lost"),
        }
        for key, value in values.items():
            number = _number(value)
            if number is not None:
                out[f"{attack}.{key}"] = number
    return out


def privacy_from_report(privacy: Mapping[str, Any]) -> dict[str, float]:
    """The gate-able numbers of a report's ``privacy`` section: :data:`PRIVACY_METRICS`."""
    membership = privacy.get("membership")
    if not isinstance(membership, Mapping):
        return {}
    picked = _pick(membership, ("auc", "advantage"))
    return {f"membership_{k}": v for k, v in picked.items()}


# -- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateResult:
    """The verdict of one gate on a candidate version.

    Attributes
    ----------
    rule : str
        The rule as written in ``weakflow.toml`` (surrounding whitespace removed).
    passed : bool
        Whether the candidate meets it.
    value : float, str or None
        The candidate's value: a metric, the worst slice's metric, or a check status. None when
        the candidate lacks it.
    threshold : float, str or None
        What the value was compared with (number or status). None when there was nothing to
        compare with (no production version, or a missing metric).
    reason : str
        A sentence with the numbers, e.g. ``"f1_macro 0.880 < production 0.905 - 0.010 = 0.895"``.
    """

    rule: str
    passed: bool
    value: float | str | None
    threshold: float | str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-serializable dict (kept in the audit log and the model card)."""
        return {
            "rule": self.rule,
            "passed": self.passed,
            "value": self.value,
            "threshold": self.threshold,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateResult:
        """Rebuild a result from :meth:`to_dict` output."""
        return cls(
            rule=str(data["rule"]),
            passed=bool(data["passed"]),
            value=data.get("value"),
            threshold=data.get("threshold"),
            reason=str(data.get("reason", "")),
        )


# -- parsed gates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricRef:
    """A metric named in a rule: its scope, its name, and whose metrics (candidate/production)."""

    scope: Scope
    metric: str
    slice_name: str | None = None
    production: bool = False

    def text(self, *, with_production: bool = True) -> str:
        """The reference in canonical rule syntax, e.g. ``production.label_model.accuracy``."""
        if self.scope == "end_model":
            body = self.metric
        elif self.scope == "label_model":
            body = f"label_model.{self.metric}"
        elif self.scope == "slice":
            body = f"slice[{self.slice_name}].{self.metric}"
        elif self.scope in ("robustness", "privacy"):
            body = f"{self.scope}.{self.metric}"
        else:
            body = f"slices.{self.metric}"
        return f"production.{body}" if self.production and with_production else body

    def __str__(self) -> str:
        return self.text()

    def lookup(self, metrics: Mapping[str, Any]) -> float | None:
        """The value in ``metrics`` (a :func:`metrics_from_report` dict), None if absent."""
        if self.scope == "slice":
            section = (metrics.get("slices") or {}).get(self.slice_name) or {}
        else:
            section = metrics.get(self.scope) or {}
        return _number(section.get(self.metric)) if isinstance(section, Mapping) else None


@dataclass(frozen=True)
class Gate:
    """One parsed rule; :meth:`evaluate` gives its verdict on a candidate.

    A metric gate compares ``left`` with ``right + offset`` (``right`` None: with ``offset``
    alone). A checks gate compares the status of ``check`` with ``status`` (``check`` None:
    ``checks.passed``, no check may have failed).
    """

    rule: str
    kind: Literal["metric", "checks"]
    op: str = ">="
    left: MetricRef | None = None
    right: MetricRef | None = None
    offset: float = 0.0
    check: str | None = None
    status: str | None = None

    @property
    def uses_production(self) -> bool:
        """Whether the rule compares with the production version (a regression gate)."""
        return self.right is not None and self.right.production

    def evaluate(
        self, candidate: Mapping[str, Any], production: Mapping[str, Any] | None = None
    ) -> GateResult:
        """The verdict on ``candidate`` (and ``production``): :func:`metrics_from_report` dicts."""
        if self.kind == "checks":
            return self._evaluate_checks(candidate)
        return self._evaluate_metric(candidate, production)

    # -- metric gates

    def _result(
        self, passed: bool, value: float | str | None, threshold: float | str | None, reason: str
    ) -> GateResult:
        return GateResult(self.rule, passed, value, threshold, reason)

    def _threshold(
        self, candidate: Mapping[str, Any], production: Mapping[str, Any] | None
    ) -> tuple[float | None, float | None, str]:
        """(base value or None, threshold or None, why None) for the right-hand side."""
        if self.right is None:
            return None, self.offset, ""
        if self.right.production:
            if production is None:
                return None, None, "no production version to compare with"
            base = self.right.lookup(production)
            if base is None:
                return (
                    None,
                    None,
                    (
                        f"no production version to compare with: the production version has no "
                        f"{self.right.text(with_production=False)}"
                    ),
                )
        else:
            base = self.right.lookup(candidate)
            if base is None:
                return None, None, f"the candidate has no {self.right}"
        return base, base + self.offset, ""

    def _describe(self, value: float, base: float | None, threshold: float, metric: str) -> str:
        """``"<value> <op> <rhs>"`` with the op negated when the comparison fails."""
        passed = _OPS[self.op](value, threshold)
        op = self.op if passed else _NEGATED[self.op]
        nums = [value, threshold, *([] if base is None else [base, abs(self.offset)])]
        digits = _digits(nums)

        def fmt(x: float) -> str:
            return _fmt(x, digits, integer=metric == "n" and float(x).is_integer())

        if self.right is None or base is None:
            rhs = fmt(threshold)
        else:
            assert self.left is not None
            same = self.right.text(with_production=False) == self.left.text()
            if self.right.production:
                label = (
                    "production" if same else f"production {self.right.text(with_production=False)}"
                )
            else:
                label = str(self.right)
            rhs = f"{label} {fmt(base)}"
            if self.offset:
                sign = "+" if self.offset > 0 else "-"
                rhs += f" {sign} {fmt(abs(self.offset))} = {fmt(threshold)}"
        return f"{fmt(value)} {op} {rhs}"

    def _evaluate_metric(
        self, candidate: Mapping[str, Any], production: Mapping[str, Any] | None
    ) -> GateResult:
        left = self.left
        assert left is not None
        if left.scope == "slices":
            return self._evaluate_slices(candidate, production)
        value = left.lookup(candidate)
        if value is None:
            return self._result(False, None, None, _missing(left, candidate))
        base, threshold, why = self._threshold(candidate, production)
        if threshold is None:
            passed = self.uses_production
            return self._result(passed, value, None, f"{why} ({left} {_fmt(value, 3)})")
        passed = bool(_OPS[self.op](value, threshold))
        return self._result(
            passed,
            value,
            threshold,
            f"{left} {self._describe(value, base, threshold, left.metric)}",
        )

    def _evaluate_slices(
        self, candidate: Mapping[str, Any], production: Mapping[str, Any] | None
    ) -> GateResult:
        left = self.left
        assert left is not None
        metric = left.metric
        slices = candidate.get("slices") or {}
        if not slices:
            return self._result(
                False,
                None,
                None,
                "the candidate has no slices: set slice_columns (or slicing_module) under "
                "[evaluation] in weakflow.toml, or remove this gate",
            )
        values: dict[str, float] = {}
        lacking: list[str] = []
        for name, entry in slices.items():
            value = _number(entry.get(metric)) if isinstance(entry, Mapping) else None
            if value is None:
                lacking.append(str(name))
            else:
                values[str(name)] = value
        if lacking:
            return self._result(
                False,
                None,
                None,
                f"{_plural(len(lacking), 'slice')} {_names(lacking)} "
                f"{'has' if len(lacking) == 1 else 'have'} no {metric} (an empty slice has no "
                f"scores; slices carry {', '.join(SLICE_METRICS[:3])} and the slice metric)",
            )
        base, threshold, why = self._threshold(candidate, production)
        if threshold is None:
            return self._result(self.uses_production, None, None, f"{why} (slices.{metric})")
        cmp = _OPS[self.op]
        failing = [n for n, v in values.items() if not cmp(v, threshold)]
        worst = min(values, key=lambda n: (_margin(self.op, values[n], threshold), n))
        shown = self._describe(values[worst], base, threshold, metric)
        total = _plural(len(values), "slice")
        if failing:
            reason = (
                f"{len(failing)} of {total} fail{'s' if len(failing) == 1 else ''}: "
                f"worst {worst!r} {metric} {shown}"
            )
        else:
            reason = f"all {total} pass: worst {worst!r} {metric} {shown}"
        return self._result(not failing, values[worst], threshold, reason)

    # -- checks gates

    def _evaluate_checks(self, candidate: Mapping[str, Any]) -> GateResult:
        checks = candidate.get("checks")
        if not isinstance(checks, Mapping):
            return self._result(False, None, None, "the candidate has no data check results")
        if self.check is None:
            failed = [str(n) for n, s in checks.items() if s == "failed"]
            warned = [str(n) for n, s in checks.items() if s == "warning"]
            if failed:
                reason = f"{_plural(len(failed), 'data check')} failed: {', '.join(failed)}"
                return self._result(False, "failed", "passed", reason)
            reason = f"no data check failed ({_plural(len(checks), 'check')}"
            reason += f"; warnings: {', '.join(warned)})" if warned else ")"
            return self._result(True, "passed", "passed", reason)
        status = checks.get(self.check)
        if status is None:
            known = ", ".join(str(n) for n in checks) or "none"
            return self._result(
                False,
                None,
                self.status,
                f"no data check named {self.check!r} in this run (checks run: {known})",
            )
        passed = bool(_OPS[self.op](status, self.status))
        reason = f"data check {self.check!r} is {status!r}"
        if self.op == "==" and not passed:
            reason += f", not {self.status!r}"
        elif self.op == "!=":
            reason += f", not {self.status!r}" if passed else ", which the rule excludes"
        return self._result(passed, str(status), self.status, reason)


def _margin(op: str, value: float, threshold: float) -> float:
    """How comfortably ``value`` meets ``op threshold``: negative when it does not."""
    if op in (">=", ">"):
        return value - threshold
    if op in ("<=", "<"):
        return threshold - value
    return -abs(value - threshold)


def _digits(numbers: Sequence[float]) -> int:
    """Decimals (3 to 8) that show each number nonzero and tell different numbers apart."""
    digits = 3
    while digits < 8:
        shown = [f"{x:.{digits}f}" for x in numbers]
        hidden = any(x != 0 and float(s) == 0 for x, s in zip(numbers, shown, strict=True))
        clash = any(
            shown[i] == shown[j] and numbers[i] != numbers[j]
            for i in range(len(numbers))
            for j in range(i + 1, len(numbers))
        )
        if not hidden and not clash:
            break
        digits += 1
    return digits


def _fmt(x: float, digits: int, *, integer: bool = False) -> str:
    return str(int(x)) if integer else f"{x:.{digits}f}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _names(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _missing(ref: MetricRef, candidate: Mapping[str, Any]) -> str:
    """Why ``ref`` is absent from the candidate's metrics, naming the metric."""
    if ref.scope == "slice":
        slices = candidate.get("slices") or {}
        if ref.slice_name not in slices:
            known = _names([str(n) for n in slices]) or "none"
            return f"the candidate has no slice named {ref.slice_name!r} (slices: {known})"
        return f"the candidate's slice {ref.slice_name!r} has no {ref.metric}"
    if ref.scope in ("robustness", "privacy"):
        measured = ref.scope in candidate
        what = "robustness = true" if ref.scope == "robustness" else "membership = true"
        if not measured:
            return (
                f"the candidate has no {ref.scope} metrics (needed by {ref}): the run did not "
                f"measure them; set {what} under [evaluation] in weakflow.toml"
            )
        if ref.scope == "robustness" and "." in ref.metric:
            attack = ref.metric.split(".", 1)[0]
            ran = sorted({k.split(".", 1)[0] for k in candidate[ref.scope] if "." in k})
            if attack not in ran:
                return (
                    f"the candidate has no {ref}: the {attack} attack did not run (attacks run: "
                    f"{', '.join(ran) or 'none'}; see robustness_attacks under [evaluation])"
                )
        return f"the candidate's {ref.scope} metrics have no {ref.metric} (needed by {ref})"
    section = "end model" if ref.scope == "end_model" else "label model"
    return f"the candidate's {section} metrics have no {ref.metric} (needed by {ref})"


# -- parsing --------------------------------------------------------------------------------------


def _error(rule: object, problem: str) -> ConfigError:
    examples = "\n".join(f"  {e}" for e in _EXAMPLES)
    return ConfigError(
        f"Gate rule {rule!r} is not valid: {problem}\nValid rules look like:\n{examples}",
        problems=[f"gates.rules: {rule!r}: {problem}"],
    )


def _split(rule: str) -> tuple[str, str | None, str]:
    """(left, operator or None, right), finding the operator outside brackets and quotes."""
    depth, quote, i = 0, "", 0
    while i < len(rule):
        ch = rule[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'" and rule[:i].rstrip().endswith("["):
            quote = ch  # a quoted slice name: slice["a]b"]; an apostrophe elsewhere is text
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        elif depth == 0 and ch in "<>=!":
            two = rule[i : i + 2]
            if two in _OPS:
                return rule[:i], two, rule[i + 2 :]
            if ch in "<>":
                return rule[:i], ch, rule[i + 1 :]
            if two in ("=>", "=<"):
                raise _error(rule, f"{two!r} is not a comparison; write {two[::-1]!r}.")
            raise _error(rule, f"{ch!r} is not a comparison; use one of >=, >, <=, <, ==.")
        i += 1
    return rule, None, ""


def _metric(rule: str, name: str, scope: Scope) -> str:
    name = name.strip()
    known = {
        "end_model": END_MODEL_METRICS,
        "label_model": LABEL_MODEL_METRICS,
        "slice": SLICE_METRICS,
        "slices": SLICE_METRICS,
    }[scope]
    if name in known:
        return name
    what = {
        "end_model": "end model",
        "label_model": "label model",
        "slice": "slice",
        "slices": "slice",
    }[scope]
    close = [k for k in known if k.startswith(name.lower())] or difflib.get_close_matches(
        name.lower(), known, n=1
    )
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    if not _NAME_RE.fullmatch(name):
        return _raise(
            rule,
            f"{name!r} is not a metric name (a metric may be followed only by + or - a number); "
            f"{what} metrics: {', '.join(known)}.",
        )
    return _raise(rule, f"unknown {what} metric {name!r}{hint}; known: {', '.join(known)}.")


def _group_metric(rule: str, text: str, scope: Literal["robustness", "privacy"]) -> str:
    """The metric after ``robustness.`` (``accuracy_min`` or ``<attack>.<metric>``) or
    ``privacy.`` (``membership_auc``), validated."""
    name = re.sub(r"\s*\.\s*", ".", text.strip())
    if scope == "privacy":
        known: tuple[str, ...] = PRIVACY_METRICS
        if name in known:
            return name
        close = difflib.get_close_matches(name.lower(), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return _raise(rule, f"unknown privacy metric {name!r}{hint}; known: {', '.join(known)}.")
    if name in ROBUSTNESS_METRICS:
        return name
    attack, dot, metric = name.partition(".")
    usage = (
        f"write robustness.<metric> with a metric among {', '.join(ROBUSTNESS_METRICS)}, or "
        f"robustness.<attack>.<metric> with an attack among {', '.join(ROBUSTNESS_ATTACKS)} "
        f"and a metric among {', '.join(ROBUSTNESS_ATTACK_METRICS)}"
    )
    if not dot:
        close = difflib.get_close_matches(name.lower(), ROBUSTNESS_METRICS, n=1)
        if name in ROBUSTNESS_ATTACKS:
            problem = f"robustness.{name} needs a metric, e.g. 'robustness.{name}.accuracy'"
        else:
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problem = f"unknown robustness metric {name!r}{hint}"
        return _raise(rule, f"{problem}; {usage}.")
    if attack not in ROBUSTNESS_ATTACKS:
        close = difflib.get_close_matches(attack.lower(), ROBUSTNESS_ATTACKS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return _raise(rule, f"unknown attack {attack!r}{hint}; {usage}.")
    if metric not in ROBUSTNESS_ATTACK_METRICS:
        close = difflib.get_close_matches(metric.lower(), ROBUSTNESS_ATTACK_METRICS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return _raise(
            rule,
            f"unknown metric {metric!r} of the {attack} attack{hint}; known: "
            f"{', '.join(ROBUSTNESS_ATTACK_METRICS)}.",
        )
    return f"{attack}.{metric}"


def _raise(rule: str, problem: str) -> NoReturn:
    raise _error(rule, problem)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _parse_ref(rule: str, text: str, *, side: Literal["left", "right"]) -> MetricRef:
    """A metric reference: ``m``, ``end_model.m``, ``label_model.m``, ``slice[x].m``,
    ``slices.m``, each optionally after ``production.`` (right-hand side only)."""
    text = text.strip()
    production = False
    match = _PREFIX_RE.fullmatch(text)
    if match and match.group(1) == "production":
        if side == "left":
            _raise(
                rule,
                "production.<metric> goes on the right-hand side, e.g. "
                "'f1_macro >= production.f1_macro - 0.01'.",
            )
        production = True
        text = match.group(2).strip()
        match = _PREFIX_RE.fullmatch(text)
    if not text:
        _raise(rule, f"the {side}-hand side names no metric.")
    slice_match = _SLICE_RE.fullmatch(text)
    if slice_match:
        name = _unquote(slice_match.group(1))
        if not name:
            _raise(rule, "slice[] needs a slice name, e.g. 'slice[video = Eminem].accuracy'.")
        return MetricRef("slice", _metric(rule, slice_match.group(2), "slice"), name, production)
    if match:
        prefix, rest = match.group(1), match.group(2)
        if prefix == "production":
            _raise(rule, "production. may appear only once.")
        if prefix == "checks":
            _raise(
                rule,
                "checks gates stand alone: write 'checks.passed' or 'checks.<check name> == "
                f"<status>' with a status among {', '.join(CHECK_STATUSES)}.",
            )
        if prefix == "slices":
            if side == "right":
                _raise(
                    rule,
                    "slices.<metric> is allowed only on the left-hand side (it means every "
                    "slice); compare one slice with slice[<name>].<metric>.",
                )
            return MetricRef("slices", _metric(rule, rest, "slices"), None, production)
        if prefix in ("robustness", "privacy"):
            group: Literal["robustness", "privacy"] = (
                "robustness" if prefix == "robustness" else "privacy"
            )
            return MetricRef(group, _group_metric(rule, rest, group), None, production)
        scope: Scope = "label_model" if prefix == "label_model" else "end_model"
        return MetricRef(scope, _metric(rule, rest, scope), None, production)
    if text.startswith("slice"):
        _raise(rule, f"{text!r} is not a slice reference; write 'slice[<slice name>].<metric>'.")
    return MetricRef("end_model", _metric(rule, text, "end_model"), None, production)


def _parse_checks(rule: str, body: str, op: str | None, right: str) -> Gate:
    body = body.strip()
    if body == "passed":
        if op is not None:
            _raise(rule, "'checks.passed' takes no comparison; write just 'checks.passed'.")
        return Gate(rule, "checks")
    if op is None:
        _raise(
            rule,
            f"'checks.{body}' needs a status: write 'checks.{body} == passed' (statuses: "
            f"{', '.join(CHECK_STATUSES)}), or 'checks.passed' for no failed check.",
        )
    if not _NAME_RE.fullmatch(body):
        _raise(rule, f"{body!r} is not a data check name (e.g. schema, duplicates, pii).")
    if op not in ("==", "!="):
        _raise(
            rule, f"a data check has a status, not a number: compare it with == or !=, not {op}."
        )
    status = _unquote(right).lower()
    if status not in CHECK_STATUSES:
        _raise(
            rule, f"unknown check status {right.strip()!r}; statuses: {', '.join(CHECK_STATUSES)}."
        )
    return Gate(rule, "checks", op=op, check=body, status=status)


def parse_gate(rule: str) -> Gate:
    """Parse one promotion rule, so a bad rule fails when the config is loaded.

    Parameters
    ----------
    rule : str
        A rule such as ``"f1_macro >= 0.9"``, ``"f1_macro >= production.f1_macro - 0.01"``,
        ``"slices.accuracy >= 0.8"`` or ``"checks.passed"`` (grammar in the module docstring).

    Returns
    -------
    Gate
        The parsed rule; ``gate.evaluate(candidate, production)`` gives its verdict.

    Raises
    ------
    ConfigError
        The rule is not valid; the message quotes it, says what is wrong and shows valid rules.

    Examples
    --------
    >>> gate = parse_gate("f1_macro >= production.f1_macro - 0.01")
    >>> gate.op, str(gate.left), str(gate.right), gate.offset, gate.uses_production
    ('>=', 'f1_macro', 'production.f1_macro', -0.01, True)
    >>> try:
    ...     parse_gate("f1 >= 0.9")
    ... except ConfigError as exc:
    ...     print(str(exc).splitlines()[0])  # doctest: +ELLIPSIS
    Gate rule 'f1 >= 0.9' is not valid: unknown end model metric 'f1' (did you mean 'f1_macro'?)...
    """
    if not isinstance(rule, str):
        raise _error(rule, f"a rule must be a string, got {type(rule).__name__}.")
    rule = rule.strip()
    if not rule:
        raise _error(rule, "the rule is empty.")
    left, op, right = _split(rule)
    checks = _PREFIX_RE.fullmatch(left.strip())
    if checks and checks.group(1) == "checks":
        return _parse_checks(rule, checks.group(2), op, right)
    if op is None:
        _raise(
            rule, "no comparison operator; use one of >=, >, <=, <, == (e.g. 'f1_macro >= 0.9')."
        )
    assert op is not None
    if op not in _NUMERIC_OPS:
        _raise(rule, f"{op} compares only data check statuses; use one of >=, >, <=, <, ==.")
    ref = _parse_ref(rule, left, side="left")
    right = right.strip()
    if not right:
        _raise(rule, f"nothing to compare {ref} with after {op}; add a number or a metric.")
    if _NUMBER_RE.fullmatch(right):
        return Gate(rule, "metric", op=op, left=ref, offset=float(right))
    offset = 0.0
    split = _OFFSET_RE.fullmatch(right)
    if split and split.group(1).strip():
        right = split.group(1)
        offset = float(split.group(3)) * (-1 if split.group(2) == "-" else 1)
    try:
        other = _parse_ref(rule, right, side="right")
    except ConfigError as exc:
        if re.match(r"[A-Za-z_]", right.strip()):
            raise  # a metric reference with a mistake in it: the specific message is better
        raise _error(
            rule,
            f"the right-hand side {right.strip()!r} is not a number or a metric "
            "(a number, 'production.<metric>', or either plus or minus a number).",
        ) from exc
    return Gate(rule, "metric", op=op, left=ref, right=other, offset=offset)


def evaluate_gates(
    rules: Sequence[str],
    candidate: Mapping[str, Any],
    production: Mapping[str, Any] | None = None,
) -> list[GateResult]:
    """Judge a candidate version by every rule, in order.

    Parameters
    ----------
    rules : sequence of str
        The rules (``gates.rules`` in ``weakflow.toml``).
    candidate : mapping
        :func:`metrics_from_report` of the new version.
    production : mapping or None
        :func:`metrics_from_report` of the version the alias points at; None when there is
        none yet, in which case regression gates pass ("no production version to compare with").

    Returns
    -------
    list of GateResult
        One per rule. The candidate may be promoted when every ``passed`` is True.

    Raises
    ------
    ConfigError
        Some rules are not valid; ``problems`` lists every one.

    Examples
    --------
    >>> candidate = {"end_model": {"f1_macro": 0.88}, "label_model": {}, "slices": {},
    ...              "checks": {"schema": "passed"}}
    >>> production = {"end_model": {"f1_macro": 0.905}}
    >>> rules = ["f1_macro >= production.f1_macro - 0.01", "checks.passed"]
    >>> for r in evaluate_gates(rules, candidate, production):
    ...     print(r.passed, r.reason)
    False f1_macro 0.880 < production 0.905 - 0.010 = 0.895
    True no data check failed (1 check)
    >>> evaluate_gates(rules, candidate, None)[0].reason
    'no production version to compare with (f1_macro 0.880)'
    """
    if isinstance(rules, str):
        rules = [rules]
    gates: list[Gate] = []
    errors: list[ConfigError] = []
    for rule in rules:
        try:
            gates.append(parse_gate(rule))
        except ConfigError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        problems = [p for e in errors for p in e.problems]
        raise ConfigError(
            f"{len(errors)} gate rules are not valid:\n"
            + "\n".join(f"- {str(e).splitlines()[0]}" for e in errors)
            + "\nValid rules look like:\n"
            + "\n".join(f"  {e}" for e in _EXAMPLES),
            problems=problems,
        )
    return [gate.evaluate(candidate, production) for gate in gates]
