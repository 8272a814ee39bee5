"""Mapping the evidence to NIST AI RMF 1.0 and ISO/IEC 42001:2023 Annex A, with its gaps.

The mapping is deliberately modest. It cites only the subcategories (NIST AI 100-1, January
2023) and Annex A controls (ISO/IEC 42001:2023) for which weakflow keeps a record that bears on
them, plus a few it has no record for at all, so the gap is stated rather than left out. For
each it says what was found (with counts and the report section that holds the records) and a
status:

- ``evidence found``: weakflow's records cover the technical part of the outcome and show it in
  use; organizational parts the records cannot show are still listed as gaps;
- ``partial``: some records exist, but a core part of the outcome is missing or was never
  exercised;
- ``gap``: weakflow records nothing for it.

The outcome texts are short paraphrases; read the framework for the full wording. A status is
evidence for an assessor, never a conformity claim: neither framework is certified by a report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = ["EVIDENCE", "GAP", "PARTIAL", "STATUSES", "assess"]

EVIDENCE: Final = "evidence found"
PARTIAL: Final = "partial"
GAP: Final = "gap"
STATUSES: Final = (EVIDENCE, PARTIAL, GAP)

NIST_FUNCTIONS: Final = {
    "GOVERN": "A culture of risk management is cultivated and present.",
    "MAP": "Context is recognized and risks related to context are identified.",
    "MEASURE": "Identified risks are assessed, analyzed, or tracked.",
    "MANAGE": "Risks are prioritized and acted upon based on a projected impact.",
}
"""The four functions of NIST AI RMF 1.0 and their one-line purpose."""


def _ev(text: str, section: str | None = None) -> dict[str, Any]:
    return {"text": text, "section": section}


def _item(
    ref: str,
    outcome: str,
    status: str,
    evidence: list[dict[str, Any]],
    gaps: list[str],
) -> dict[str, Any]:
    if not evidence:
        evidence = [_ev("No record in weakflow bears on this outcome.")]
    return {"id": ref, "outcome": outcome, "status": status, "evidence": evidence, "gaps": gaps}


def _pct(x: Any) -> str:
    return "n/a" if not isinstance(x, int | float) else f"{100 * x:.1f}%"


def _num(x: Any) -> str:
    return "n/a" if not isinstance(x, int | float) else f"{x:.3f}"


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else many or word + 's'}"


class _Facts:
    """The numbers the items need, read once from the collected evidence."""

    def __init__(self, r: Mapping[str, Any]) -> None:
        self.r = r
        self.model = r["model"]
        self.project = r["project"]
        self.focus = self.model["focus_version"]
        self.lineage = r["lineage"]
        self.focus_lineage = next(
            (x for x in self.lineage if x["version"] == self.focus), self.lineage[-1]
        )
        self.checks = next(
            (x for x in r["data_checks"]["per_version"] if x["version"] == self.focus), None
        )
        self.gates = r["gates"]
        self.rules = list(self.gates["rules"])
        self.moves = r["alias_history"]
        self.counts = r["alias_counts"]
        self.rollbacks = [m for m in self.moves if m["action"] == "rollback"]
        self.promotions = sum(self.counts.get(a, 0) for a in ("promote", "gate"))
        self.removals = self.counts.get("remove", 0)
        self.mon = r["monitoring"]
        self.loop = r["loop"]
        self.fb = r["feedback"]
        self.review = int(self.fb["by_source"].get("review", 0))
        self.audit = r["audit"]
        self.card = r["model_card"]
        self.robust = r["robustness"]["focus"]
        self.privacy = r["privacy_tests"]["focus"]
        self.erase = r["erasures"]
        self.quarantine = r["quarantine"]
        self.predictions = r["predictions"]["total"]
        self.with_realized = [w for w in self.mon["recent"] if w.get("realized_n")]

    def audit_line(self) -> dict[str, Any]:
        a = self.audit
        state = (
            f"hash chain verified intact over all {a['checked']:,} entries"
            if a["ok"]
            else f"hash chain BROKEN at entry {a['first_bad']} ({a['reason']})"
        )
        return _ev(f"Audit log: {_plural(a['entries'], 'entry', 'entries')}, {state}.", "audit")


# -- NIST AI RMF 1.0 -------------------------------------------------------------------------


def _govern(f: _Facts) -> list[dict[str, Any]]:
    a = f.audit
    items = []
    ev = [f.audit_line()]
    if f.rules:
        ev.insert(
            0,
            _ev(
                f"{_plural(len(f.rules), 'promotion gate rule')} in weakflow.toml decide whether "
                f"a version may move `{f.project['gate_alias']}`; "
                f"{_plural(f.gates['total'], 'gate decision')} audited.",
                "gates",
            ),
        )
    items.append(
        _item(
            "GOVERN 1.4",
            "The risk management process and its outcomes are established through transparent "
            "policies, procedures and other controls.",
            PARTIAL if a["entries"] else GAP,
            ev,
            [
                "The organizational policy these controls implement (who set the thresholds, "
                "on what basis, how often they are reviewed) is not recorded."
            ],
        )
    )
    others = [m for m in f.model["registered_models"] if m != f.model["name"]]
    items.append(
        _item(
            "GOVERN 1.6",
            "Mechanisms are in place to inventory AI systems.",
            EVIDENCE,
            [
                _ev(
                    f"The registry lists {_plural(len(f.model['registered_models']), 'model')} "
                    f"in this store; `{f.model['name']}` has "
                    f"{_plural(f.model['versions'], 'version')}"
                    + (f" (other models: {', '.join(others)})" if others else "")
                    + ".",
                    "lineage",
                )
            ],
            ["The inventory covers this store only; AI systems outside weakflow are not listed."],
        )
    )
    actors = a["actors"]
    top = ", ".join(f"{k} ({v})" for k, v in list(actors.items())[:5])
    items.append(
        _item(
            "GOVERN 2.1",
            "Roles, responsibilities and lines of communication for managing AI risk are "
            "documented and clear.",
            PARTIAL if actors else GAP,
            [
                _ev(
                    f"The audit log names who made each change: {_plural(len(actors), 'actor')}"
                    + (f" ({top})" if top else "")
                    + ".",
                    "audit",
                ),
                _ev(
                    f"{_plural(len(f.moves), 'alias move')} record actor and reason.",
                    "alias-history",
                ),
            ]
            if actors
            else [],
            [
                "Roles, responsibilities and lines of communication are not recorded: the log "
                "shows who acted, not who was accountable or who approved."
            ],
        )
    )
    ev = []
    if f.card["intended_use_provided"]:
        ev.append(_ev(f"Stated intended use: \u201c{f.card['intended_use']}\u201d", "model-card"))
    if f.review:
        ev.append(
            _ev(
                f"{_plural(f.review, 'label')} from the review queue (source `review`).",
                "human-review",
            )
        )
    items.append(
        _item(
            "GOVERN 3.2",
            "Policies and procedures define roles and responsibilities for human-AI "
            "configurations and oversight of AI systems.",
            PARTIAL if ev else GAP,
            ev,
            ["No human-oversight policy document is recorded."],
        )
    )
    m = f.mon
    items.append(
        _item(
            "GOVERN 4.3",
            "Organizational practices enable AI testing, identification of incidents and "
            "information sharing.",
            PARTIAL if (f.gates["total"] or m["windows"]) else GAP,
            [
                _ev(
                    f"Every registered version is tested by the gates: "
                    f"{_plural(f.gates['total'], 'gate decision')}.",
                    "gates",
                ),
                _ev(
                    f"{_plural(m['windows'], 'monitored window')}, "
                    f"{m['windows_with_alerts']:,} with alerts.",
                    "monitoring",
                ),
            ],
            [
                "Sharing of incident information, inside or outside the organization, is not "
                "recorded."
            ],
        )
    )
    fb, q = f.fb, f.quarantine
    ev = []
    if fb["total"]:
        by = ", ".join(f"{k}: {v:,}" for k, v in fb["by_source"].items())
        into = (
            "they join the dev set of the next run ([data] feedback_to_dev = true)"
            if f.project["feedback_to_dev"]
            else "they are not added to the next run's dev set ([data] feedback_to_dev = false)"
        )
        ev.append(_ev(f"{_plural(fb['total'], 'feedback label')} ({by}); {into}.", "human-review"))
    retrains = f.loop["by_action"].get("retrain", 0)
    if retrains:
        ev.append(_ev(f"{_plural(retrains, 'retraining decision')} by the loop.", "loop"))
    if q["total"]:
        now = ", ".join(q["quarantined"]) or "none"
        ev.append(
            _ev(
                f"{_plural(q['total'], 'feedback-source quarantine event')} (quarantined now: "
                f"{now}).",
                "quarantine",
            )
        )
    gaps = ["How a feedback label is adjudicated (who confirms it is correct) is not recorded."]
    if not q["total"]:
        gaps.append("No feedback-source quarantine is recorded.")
    if fb["total"] and f.project["feedback_to_dev"] and q["total"]:
        status = EVIDENCE
    elif fb["total"]:
        status = PARTIAL
    else:
        status = GAP
    items.append(
        _item(
            "GOVERN 5.2",
            "Mechanisms let the team regularly incorporate adjudicated feedback from relevant "
            "AI actors into system design and implementation.",
            status,
            ev,
            gaps,
        )
    )
    return items


def _map(f: _Facts) -> list[dict[str, Any]]:
    items = []
    c = f.card
    ev = [
        _ev(
            ("Stated intended use" if c["intended_use_provided"] else "Generated default use")
            + f" in the model card of v{c['version']}: \u201c{c['intended_use']}\u201d",
            "model-card",
        ),
        _ev(f"{_plural(len(c['out_of_scope']), 'out-of-scope use')} listed.", "model-card"),
    ]
    gaps = [
        "Context-specific laws, norms, the users and their expectations, and the settings of "
        "deployment are not recorded."
    ]
    if not c["intended_use_provided"]:
        gaps.insert(0, "No intended use is configured ([project] intended_use in weakflow.toml).")
    items.append(
        _item(
            "MAP 1.1",
            "Intended purposes, beneficial uses, context, norms and prospective settings of "
            "deployment are understood and documented.",
            PARTIAL if c["intended_use_provided"] else GAP,
            ev,
            gaps,
        )
    )
    ev = []
    if f.rules:
        ev.append(_ev("Gate thresholds: " + "; ".join(f"`{r}`" for r in f.rules) + ".", "gates"))
    ev.append(
        _ev(
            f"Monitoring alerts after {f.project['monitor_consecutive']} bad window(s) in a row.",
            "monitoring",
        )
    )
    items.append(
        _item(
            "MAP 1.5",
            "Organizational risk tolerances are determined and documented.",
            PARTIAL if f.rules else GAP,
            ev,
            [
                "These are technical thresholds in weakflow.toml; the organization's risk "
                "tolerance they stand for, and who accepted it, is not recorded."
            ],
        )
    )
    lin = f.focus_lineage
    items.append(
        _item(
            "MAP 2.1",
            "The tasks and methods the AI system implements are defined.",
            EVIDENCE,
            [
                _ev(
                    f"v{lin['version']}: classification; {_plural(lin['lfs'], 'labeling function')}"
                    f", label model `{lin['label_model']}`, end model `{lin['end_model']}`.",
                    "lineage",
                )
            ],
            [],
        )
    )
    n_lim = len(c["limitations"])
    items.append(
        _item(
            "MAP 2.2",
            "The system's knowledge limits and how its output may be used and overseen by "
            "humans are documented.",
            EVIDENCE if n_lim else PARTIAL,
            [
                _ev(
                    f"Model card of v{c['version']}: {_plural(n_lim, 'limitation')}, "
                    f"{_plural(len(c['out_of_scope']), 'out-of-scope use')}, "
                    f"{_plural(len(c['ethical_notes']), 'ethical note')} (automation bias, "
                    "LF bias).",
                    "model-card",
                )
            ],
            [] if n_lim else ["The model card lists no limitations."],
        )
    )
    ch = f.checks
    ev = []
    if ch and ch["checks"]:
        ev.append(
            _ev(
                f"v{f.focus}: {_plural(ch['checks'], 'data check')} (representativeness, "
                f"leakage, duplicates, label errors, PII, ...): {ch['failed']} failed, "
                f"{ch['warnings']} with warnings.",
                "data-checks",
            )
        )
    if ch and ch["datasheet"]:
        ev.append(_ev(f"Datasheet: {ch['datasheet']}.", "data-checks"))
    items.append(
        _item(
            "MAP 2.3",
            "Scientific integrity and TEVV considerations, including data collection and "
            "selection (representativeness, suitability), are identified and documented.",
            PARTIAL if ev else GAP,
            ev,
            [
                "How the data was collected and selected (origin, consent, sampling, licence) is "
                "not recorded beyond file paths, row counts and hashes."
            ],
        )
    )
    ev = []
    if f.review:
        reviewers = f.fb["reviewers"].get("review", {})
        over = f.fb["overruled"].get("review", 0)
        ev.append(
            _ev(
                f"{_plural(f.review, 'review-queue label')} from "
                f"{_plural(len(reviewers), 'named reviewer')}; reviewers disagreed with the "
                f"model on {over:,} ({_pct(over / f.review)}).",
                "human-review",
            )
        )
    items.append(
        _item(
            "MAP 3.5",
            "Processes for human oversight are defined, assessed and documented.",
            PARTIAL if ev else GAP,
            ev,
            [
                "The human-oversight process (who reviews what, when, with what authority) is not "
                "documented in weakflow."
            ],
        )
    )
    items.append(
        _item(
            "MAP 5.1",
            "The likelihood and magnitude of each identified impact, beneficial and harmful, "
            "are identified and documented.",
            GAP,
            [],
            [
                "weakflow records no impact assessment of the system on individuals, groups or "
                "society."
            ],
        )
    )
    return items


def _measure(f: _Facts) -> list[dict[str, Any]]:
    items = []
    lin = f.focus_lineage
    test = next((d for d in lin["inputs"] if d.get("role") == "test"), None)
    complete = sum(1 for x in f.lineage if x["complete"])
    ev = []
    if test:
        ev.append(
            _ev(
                f"v{lin['version']} test set `{test.get('source')}`: {test.get('rows')} rows, "
                f"sha256 {str(test.get('sha256'))[:12]}...; accuracy "
                f"{_num(lin['metrics']['accuracy'])}, F1 (macro) "
                f"{_num(lin['metrics']['f1_macro'])}, ECE {_num(lin['metrics']['ece'])}.",
                "lineage",
            )
        )
    ev.append(
        _ev(
            f"Package versions, config and input hashes recorded for {complete} of "
            f"{_plural(len(f.lineage), 'version')}.",
            "lineage",
        )
    )
    items.append(
        _item(
            "MEASURE 2.1",
            "Test sets, metrics and details about the tools used during TEVV are documented.",
            EVIDENCE if test and complete == len(f.lineage) else PARTIAL,
            ev,
            [],
        )
    )
    ev = [
        _ev(
            f"Gold test set: accuracy {_num(lin['metrics']['accuracy'])} on "
            f"{lin['metrics']['n']} rows.",
            "lineage",
        )
    ]
    if f.with_realized:
        w = f.with_realized[0]
        ev.append(
            _ev(
                f"On production traffic (window {w['id']}): realized accuracy "
                f"{_num(w['realized_accuracy'])} on {w['realized_n']} labeled predictions, "
                f"estimated {_num(w['estimated_accuracy'])}.",
                "monitoring",
            )
        )
    items.append(
        _item(
            "MEASURE 2.3",
            "Performance is measured and demonstrated for conditions similar to deployment.",
            EVIDENCE if f.with_realized else PARTIAL,
            ev,
            []
            if f.with_realized
            else ["No measurement on production traffic with feedback labels is recorded."],
        )
    )
    m = f.mon
    ev = []
    if f.predictions:
        ev.append(_ev(f"{_plural(f.predictions, 'prediction')} logged.", "monitoring"))
    if m["windows"]:
        kinds = ", ".join(f"{k} ({v})" for k, v in m["alert_kinds"].items()) or "none"
        ev.append(
            _ev(
                f"{_plural(m['windows'], 'monitored window')}, {m['windows_with_alerts']:,} with "
                f"alerts; alert kinds: {kinds}.",
                "monitoring",
            )
        )
    items.append(
        _item(
            "MEASURE 2.4",
            "The functionality and behavior of the system are monitored in production.",
            EVIDENCE if m["windows"] else PARTIAL if f.predictions else GAP,
            ev,
            [] if m["windows"] else ["No monitored window is recorded (`weakflow monitor run`)."],
        )
    )
    c = f.card
    margin = c.get("accuracy_margin_95")
    ev = [
        _ev(
            f"v{f.focus}: test accuracy {_num(lin['metrics']['accuracy'])}"
            + (f" \u00b1 {_num(margin)} (95%)" if isinstance(margin, int | float) else "")
            + f", ECE after calibration {_num(lin['metrics']['ece'])}, "
            f"{_plural(c['slices'], 'slice')} evaluated, "
            f"{_plural(len(c['limitations']), 'limitation')} documented.",
            "model-card",
        )
    ]
    gaps = []
    if f.robust:
        attacks = [a for a in f.robust.get("attacks") or [] if a.get("accuracy_drop") is not None]
        if attacks:
            worst = max(attacks, key=lambda a: a["accuracy_drop"])
            text = (
                f"Robustness of v{f.robust['version']}: "
                f"{_plural(len(attacks), 'perturbation attack')}; the worst, `{worst['name']}`, "
                "drops test accuracy by "
                f"{_num(worst['accuracy_drop'])} (flip rate {_pct(worst.get('flip_rate'))})."
            )
        else:
            text = (
                f"Robustness results for v{f.robust['version']} ({len(f.robust['rows'])} values, "
                f"from {f.robust['source']})."
            )
        ev.append(_ev(text, "robustness"))
    else:
        gaps.append(f"No robustness (perturbation) results are recorded for v{f.focus}.")
    items.append(
        _item(
            "MEASURE 2.5",
            "The system is demonstrated to be valid and reliable; limits of generalizability "
            "are documented.",
            EVIDENCE if f.robust else PARTIAL,
            ev,
            gaps,
        )
    )
    pii = c["pii"] or {}
    ev = []
    if pii.get("scanned"):
        rows = sum(int(x.get("rows_affected") or 0) for x in pii.get("columns") or [])
        ev.append(
            _ev(
                f"PII scan of the training data: {_plural(rows, 'row')} with personal data; "
                f"{'redacted before training' if pii.get('redacted') else 'not redacted'}.",
                "model-card",
            )
        )
    ev.append(
        _ev(
            "Serving log: inputs "
            + ("redacted" if f.project["redact_pii_serving"] else "NOT redacted")
            + " before logging ([serve] redact_pii).",
            None,
        )
    )
    if f.privacy:
        mi = f.privacy.get("membership") or {}
        if mi:
            text = (
                f"Membership inference on v{f.privacy['version']}: AUC {_num(mi.get('auc'))}, "
                f"advantage {_num(mi.get('advantage'))}, risk {mi.get('risk')}."
            )
        else:
            text = (
                f"Privacy test results for v{f.privacy['version']} ({len(f.privacy['rows'])} "
                f"values, from {f.privacy['source']})."
            )
        ev.append(_ev(text, "privacy-tests"))
    e = f.erase
    ev.append(
        _ev(
            f"{_plural(e['erasures'], 'erasure')} and {_plural(e['purges'], 'retention purge')} "
            "recorded.",
            "erasures",
        )
    )
    gaps = []
    if not f.privacy:
        gaps.append(f"No membership-inference (privacy attack) test is recorded for v{f.focus}.")
    if not pii.get("scanned"):
        gaps.append("No PII scan of the training data is recorded.")
    items.append(
        _item(
            "MEASURE 2.10",
            "Privacy risk of the AI system is examined and documented.",
            EVIDENCE if pii.get("scanned") and f.privacy else PARTIAL if ev else GAP,
            ev,
            gaps,
        )
    )
    slice_cols = (f.focus_lineage["config"].get("evaluation") or {}).get("slice_columns") or []
    items.append(
        _item(
            "MEASURE 2.11",
            "Fairness and bias are evaluated and the results documented.",
            PARTIAL if c["slices"] else GAP,
            [
                _ev(
                    f"{_plural(c['slices'], 'slice')} of the test set evaluated"
                    + (f" (columns: {', '.join(map(str, slice_cols))})" if slice_cols else "")
                    + ".",
                    "model-card",
                )
            ]
            if c["slices"]
            else [],
            [
                "No protected characteristics or fairness metrics are recorded; slices cover "
                "only the configured columns and slicing functions."
            ],
        )
    )
    ev = []
    if m["windows"]:
        ev.append(
            _ev(
                f"{_plural(m['windows'], 'window')} stored over time; an alert needs "
                f"{f.project['monitor_consecutive']} bad window(s) in a row.",
                "monitoring",
            )
        )
    if f.loop["total"]:
        ev.append(_ev(f"{_plural(f.loop['total'], 'loop decision')} audited.", "loop"))
    items.append(
        _item(
            "MEASURE 3.1",
            "Approaches, personnel and documentation are in place to identify and track "
            "existing and emergent risks from performance in deployment.",
            PARTIAL if ev else GAP,
            ev,
            ["Who is responsible for tracking these risks is not recorded."],
        )
    )
    fb = f.fb
    items.append(
        _item(
            "MEASURE 3.3",
            "Feedback processes for end users and impacted communities to report problems and "
            "appeal outcomes are established and integrated into evaluation.",
            PARTIAL if fb["total"] else GAP,
            [
                _ev(
                    f"{_plural(fb['total'], 'feedback label')} from "
                    f"{_plural(len(fb['sources']), 'source')}; they give realized accuracy "
                    "in monitoring and join the next run's dev set.",
                    "human-review",
                )
            ]
            if fb["total"]
            else [],
            [
                "No process for affected people to report problems or appeal an outcome is "
                "recorded; feedback carries labels, not complaints or appeals."
            ],
        )
    )
    return items


def _manage(f: _Facts) -> list[dict[str, Any]]:
    items = []
    g = f.gates
    items.append(
        _item(
            "MANAGE 1.1",
            "A determination is made whether the system achieves its intended purposes and "
            "whether development or deployment should proceed.",
            EVIDENCE if g["total"] else PARTIAL,
            [
                _ev(
                    f"{_plural(g['total'], 'gate decision')}: {g['passed']} passed, "
                    f"{g['failed']} failed; {_plural(f.promotions, 'promotion')}.",
                    "gates",
                )
            ],
            [],
        )
    )
    loop = f.loop["by_action"]
    ev = []
    if f.mon["windows"]:
        ev.append(_ev(f"{_plural(f.mon['windows'], 'monitored window')}.", "monitoring"))
    if f.loop["total"]:
        ev.append(
            _ev(
                "Loop decisions: " + ", ".join(f"{k} {v}" for k, v in loop.items()) + ".",
                "loop",
            )
        )
    items.append(
        _item(
            "MANAGE 2.2",
            "Mechanisms are in place and applied to sustain the value of deployed AI systems.",
            EVIDENCE if f.mon["windows"] and f.loop["total"] else PARTIAL if ev else GAP,
            ev,
            []
            if f.loop["total"]
            else ["The retraining loop (`weakflow monitor watch`) has recorded no decision."],
        )
    )
    ev = []
    if f.rollbacks:
        last = f.rollbacks[-1]
        ev.append(
            _ev(
                f"{_plural(len(f.rollbacks), 'rollback')}; latest: `{last['alias']}` "
                f"v{last['from']} -> v{last['to']} by {last['actor']} ({last['at']}): "
                f"\u201c{last['reason']}\u201d.",
                "alias-history",
            )
        )
    rejected = loop.get("reject_canary", 0)
    if rejected or f.removals:
        ev.append(
            _ev(
                f"{_plural(rejected, 'canary rejection')}, {_plural(f.removals, 'alias removal')}.",
                "alias-history",
            )
        )
    if f.model["archived"]:
        ev.append(_ev(f"{_plural(f.model['archived'], 'archived version')}.", "lineage"))
    exercised = bool(f.rollbacks or rejected or f.removals)
    gaps = ["Who is responsible for superseding or deactivating the system is not recorded."]
    if not exercised:
        gaps.insert(0, "Rollback exists (`weakflow models rollback`) but was never exercised.")
    items.append(
        _item(
            "MANAGE 2.4",
            "Mechanisms to supersede, disengage or deactivate systems that perform "
            "inconsistently with intended use are in place and applied.",
            EVIDENCE if exercised else PARTIAL,
            ev,
            gaps,
        )
    )
    ev = [
        _ev(
            f"Change management: {_plural(len(f.moves), 'alias move')} with actor and reason.",
            "alias-history",
        ),
        f.audit_line(),
    ]
    if f.mon["windows"]:
        ev.append(_ev(f"{_plural(f.mon['windows'], 'monitored window')}.", "monitoring"))
    if f.fb["total"]:
        ev.append(_ev(f"{_plural(f.fb['total'], 'feedback label')}.", "human-review"))
    items.append(
        _item(
            "MANAGE 4.1",
            "Post-deployment monitoring plans are implemented, including user input, appeal "
            "and override, decommissioning, incident response, recovery and change management.",
            PARTIAL,
            ev,
            [
                "No incident response plan or contacts are recorded.",
                "No appeal process is recorded; no decommissioning plan is recorded.",
            ],
        )
    )
    alerting = [w for w in f.mon["recent"] if w["alerts"]]
    answered = sum(1 for w in alerting if w["responses"])
    ev = []
    if alerting:
        ev.append(
            _ev(
                f"{_plural(len(alerting), 'recent window')} with alerts; {answered} followed by "
                "a recorded loop decision.",
                "monitoring",
            )
        )
    if f.rollbacks:
        ev.append(_ev(f"{_plural(len(f.rollbacks), 'rollback')} with reasons.", "alias-history"))
    items.append(
        _item(
            "MANAGE 4.3",
            "Incidents and errors are communicated to relevant AI actors; tracking, response "
            "and recovery are followed and documented.",
            PARTIAL if ev else GAP,
            ev,
            [
                "Communication of incidents to relevant AI actors and affected communities is not "
                "recorded; weakflow keeps no incident register."
            ],
        )
    )
    return items


# -- ISO/IEC 42001:2023 Annex A --------------------------------------------------------------


def _iso(f: _Facts) -> list[dict[str, Any]]:
    items = []
    items.append(
        _item(
            "A.2.2",
            "AI policy",
            GAP,
            [],
            ["No AI policy is recorded; weakflow.toml holds technical settings, not policy."],
        )
    )
    actors = f.audit["actors"]
    items.append(
        _item(
            "A.3.2",
            "AI roles and responsibilities",
            PARTIAL if actors else GAP,
            [_ev(f"Actors of every change recorded ({_plural(len(actors), 'actor')}).", "audit")]
            if actors
            else [],
            ["Roles and responsibilities are not defined in any weakflow record."],
        )
    )
    lin = f.lineage
    with_packages = sum(1 for x in lin if x["packages"])
    items.append(
        _item(
            "A.4.4",
            "Tooling resources",
            EVIDENCE if with_packages == len(lin) else PARTIAL,
            [
                _ev(
                    f"Python and package versions recorded for {with_packages} of "
                    f"{_plural(len(lin), 'version')}.",
                    "lineage",
                )
            ],
            ["Compute resources (hardware, environment) are not recorded."],
        )
    )
    items.append(
        _item(
            "A.5.2",
            "AI system impact assessment process",
            GAP,
            [],
            ["No impact assessment process or result is recorded."],
        )
    )
    g = f.gates
    items.append(
        _item(
            "A.6.2.4",
            "AI system verification and validation",
            EVIDENCE if g["total"] else PARTIAL,
            [
                _ev(
                    f"{_plural(len(f.rules), 'gate rule')} checked on every version: "
                    f"{_plural(g['total'], 'gate decision')} ({g['passed']} passed, "
                    f"{g['failed']} failed).",
                    "gates",
                )
            ],
            [],
        )
    )
    items.append(
        _item(
            "A.6.2.5",
            "AI system deployment",
            EVIDENCE if f.moves else PARTIAL,
            [
                _ev(
                    f"{_plural(len(f.moves), 'alias move')} ("
                    + ", ".join(f"{k} {v}" for k, v in f.counts.items())
                    + "), each with actor, time and reason.",
                    "alias-history",
                )
            ],
            [],
        )
    )
    m = f.mon
    items.append(
        _item(
            "A.6.2.6",
            "AI system operation and monitoring",
            EVIDENCE if m["windows"] else PARTIAL if f.predictions else GAP,
            [
                _ev(
                    f"{_plural(f.predictions, 'prediction')} logged; "
                    f"{_plural(m['windows'], 'monitored window')}; "
                    f"{_plural(f.loop['total'], 'loop decision')}.",
                    "monitoring",
                )
            ],
            [] if m["windows"] else ["No monitored window is recorded."],
        )
    )
    n_cards = sum(1 for x in lin if x["card"])
    items.append(
        _item(
            "A.6.2.7",
            "AI system technical documentation",
            EVIDENCE if n_cards == len(lin) else PARTIAL,
            [
                _ev(
                    f"Model cards generated at registration for {n_cards} of "
                    f"{_plural(len(lin), 'version')} (shown: v{f.card['version']}), with "
                    "lineage, run reports and datasheets.",
                    "model-card",
                )
            ],
            [],
        )
    )
    a = f.audit
    items.append(
        _item(
            "A.6.2.8",
            "AI system recording of event logs",
            EVIDENCE if a["ok"] and a["entries"] else PARTIAL,
            [
                f.audit_line(),
                _ev(f"{_plural(f.predictions, 'prediction')} in the serving log.", "monitoring"),
            ],
            []
            if a["ok"]
            else ["The audit chain does not verify: investigate before relying on it."],
        )
    )
    ch = f.checks
    items.append(
        _item(
            "A.7.4",
            "Quality of data for AI systems",
            EVIDENCE if ch and ch["checks"] else GAP,
            [
                _ev(
                    f"v{f.focus}: {_plural(ch['checks'], 'data check')}, {ch['failed']} failed, "
                    f"{ch['warnings']} warnings.",
                    "data-checks",
                )
            ]
            if ch and ch["checks"]
            else [],
            [],
        )
    )
    complete = sum(1 for x in lin if x["complete"])
    items.append(
        _item(
            "A.7.5",
            "Data provenance",
            EVIDENCE if complete == len(lin) else PARTIAL,
            [
                _ev(
                    f"Input files with sha256, LF module hash and config recorded for {complete} "
                    f"of {_plural(len(lin), 'version')}.",
                    "lineage",
                )
            ],
            [
                "Where the data came from before it reached the project (origin, licence, consent) "
                "is not recorded."
            ],
        )
    )
    lin_f = f.focus_lineage
    items.append(
        _item(
            "A.7.6",
            "Data preparation",
            EVIDENCE,
            [
                _ev(
                    f"v{lin_f['version']}: {_plural(lin_f['lfs'], 'labeling function')} with "
                    f"source hashes, label model `{lin_f['label_model']}` selected on the dev set, "
                    "PII handling and abstain handling in the run report.",
                    "lineage",
                )
            ],
            [],
        )
    )
    items.append(
        _item(
            "A.8.4",
            "Communication of incidents",
            GAP,
            [
                _ev(
                    f"Alerts are recorded ({_plural(m['windows_with_alerts'], 'window')} with "
                    "alerts), but not their communication.",
                    "monitoring",
                )
            ],
            ["No record of incidents being communicated to users or other interested parties."],
        )
    )
    c = f.card
    items.append(
        _item(
            "A.9.4",
            "Intended use of the AI system",
            EVIDENCE if c["intended_use_provided"] else PARTIAL,
            [_ev(f"Intended use: \u201c{c['intended_use']}\u201d", "model-card")],
            []
            if c["intended_use_provided"]
            else ["Only the generated default; set [project] intended_use in weakflow.toml."],
        )
    )
    return items


# -- gaps ------------------------------------------------------------------------------------

_ALWAYS: Final[list[tuple[str, list[str]]]] = [
    (
        "No stakeholder or impact assessment: weakflow does not record who is affected by the "
        "model's outputs, how, or how badly.",
        ["MAP 5.1", "A.5.2"],
    ),
    (
        "No AI policy and no documented roles or responsibilities: the audit log names who "
        "acted, not who was accountable or who approved.",
        ["GOVERN 1.4", "GOVERN 2.1", "A.2.2", "A.3.2"],
    ),
    (
        "No human-oversight policy document: the review queue and feedback show oversight "
        "activity, not the policy that governs it.",
        ["GOVERN 3.2", "MAP 3.5"],
    ),
    (
        "No incident response plan or contacts: alerts are recorded, but weakflow neither "
        "notifies anyone nor records who was told.",
        ["MANAGE 4.1", "MANAGE 4.3", "A.8.4"],
    ),
    (
        "No appeal or contestation process for people affected by predictions.",
        ["MEASURE 3.3", "MANAGE 4.1"],
    ),
    (
        "No register of legal or regulatory requirements, and no record of data origin, "
        "licences or consent beyond file hashes.",
        ["GOVERN 1.1", "MAP 4.1", "A.7.5"],
    ),
    (
        "No fairness evaluation on protected characteristics: slices cover the configured "
        "columns only.",
        ["MEASURE 2.11"],
    ),
    (
        "No environmental impact (compute, energy) measurement.",
        ["MEASURE 2.12"],
    ),
    (
        "No independent review: promotions record an actor, not a reviewer separate from the "
        "developers.",
        ["MEASURE 1.3"],
    ),
]


def _conditional_gaps(f: _Facts) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    if not f.card["intended_use_provided"]:
        out.append(
            ("No intended use is configured ([project] intended_use).", ["MAP 1.1", "A.9.4"])
        )
    if not f.robust:
        out.append(
            (f"No robustness test results for v{f.focus} (the version shown).", ["MEASURE 2.5"])
        )
    if not f.privacy:
        out.append(
            (f"No membership-inference (privacy) test results for v{f.focus}.", ["MEASURE 2.10"])
        )
    no_git = [x["version"] for x in f.lineage if not x["git"]]
    if no_git:
        out.append(
            (
                "No git commit recorded for "
                + ", ".join(f"v{v}" for v in no_git)
                + " (the project was not in a git repository when it ran).",
                ["A.7.5"],
            )
        )
    dirty = [x["version"] for x in f.lineage if x["git"] and x["git"].get("dirty")]
    if dirty:
        out.append(
            (
                "Uncommitted changes in the working tree when "
                + ", ".join(f"v{v}" for v in dirty)
                + " ran: the commit alone does not reproduce them.",
                ["A.7.5"],
            )
        )
    missing = f.r["data_checks"]["missing_reports"]
    if missing:
        out.append(
            (
                "Run report (report.json) not found for "
                + ", ".join(f"v{v}" for v in missing)
                + ": their data checks cannot be shown.",
                ["MAP 2.3", "A.7.4"],
            )
        )
    if not f.mon["windows"]:
        out.append(("No production monitoring recorded.", ["MEASURE 2.4", "A.6.2.6"]))
    if not f.fb["total"]:
        out.append(("No feedback or human review recorded.", ["GOVERN 5.2", "MAP 3.5"]))
    if not f.audit["ok"]:
        out.append(
            (
                f"The audit log's hash chain is broken at entry {f.audit['first_bad']}: the log "
                "cannot be relied on after that point.",
                ["A.6.2.8"],
            )
        )
    return out


def _counts(items: list[dict[str, Any]]) -> dict[str, int]:
    return {s: sum(1 for i in items if i["status"] == s) for s in STATUSES}


def assess(r: Mapping[str, Any]) -> dict[str, Any]:
    """The framework mapping and gap list for the evidence of :func:`collect_evidence`."""
    f = _Facts(r)
    builders: list[tuple[str, Callable[[_Facts], list[dict[str, Any]]]]] = [
        ("GOVERN", _govern),
        ("MAP", _map),
        ("MEASURE", _measure),
        ("MANAGE", _manage),
    ]
    nist: list[dict[str, Any]] = []
    for function, build in builders:
        items = build(f)
        nist.append(
            {
                "function": function,
                "purpose": NIST_FUNCTIONS[function],
                "items": items,
                "counts": _counts(items),
            }
        )
    iso = _iso(f)
    gaps = [{"text": t, "refs": refs} for t, refs in _ALWAYS + _conditional_gaps(f)]
    all_nist = [i for fn in nist for i in fn["items"]]
    return {
        "nist_ai_rmf": nist,
        "iso_42001": {"items": iso, "counts": _counts(iso)},
        "gaps": gaps,
        "counts": {"nist_ai_rmf": _counts(all_nist), "iso_42001": _counts(iso)},
    }
