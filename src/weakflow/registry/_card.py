"""Model cards: what a registered model version is, what it is for, and where it falls short.

Why generate them: a model trained on weak labels is easy to over-trust. Its training labels came
from heuristics, not people, so the card has to say which heuristics (and how accurate each was
on the gold dev set), how far the label model and the end model got on the gold test set, where
the model is weaker (slices, classes), whether its probabilities are calibrated, what personal
data the training text held and what was done about it, and exactly which code, data and
packages produced it. Written by hand, that goes stale the first time someone retrains; built
from the run's report at registration time, it is true of every version by construction.

:func:`build_model_card` gives a JSON-serializable dict (stored with the version, diffable
between versions); :func:`render_model_card` turns it into Markdown for people. Section order
follows Mitchell et al., "Model Cards for Model Reporting" (FAT* 2019), with sections that weak
supervision adds (weak sources, label model, calibration, promotion gates, lineage).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from weakflow.registry._gates import GateResult, metrics_from_report

__all__ = [
    "CARD_FORMAT",
    "CARD_SECTIONS",
    "build_model_card",
    "render_model_card",
]

CARD_FORMAT: Final = "weakflow-model-card/1"
"""Identifies the card's JSON layout, so readers can tell future layouts apart."""

CARD_SECTIONS: Final[dict[str, str]] = {
    "model_details": "Model details",
    "intended_use": "Intended use",
    "training_data": "Training data",
    "weak_sources": "Weak supervision sources",
    "label_model": "Label model",
    "metrics": "Metrics",
    "slices": "Slices",
    "calibration": "Calibration",
    "robustness": "Robustness",
    "privacy": "Privacy",
    "gates": "Promotion gates",
    "limitations": "Limitations",
    "ethical_considerations": "Ethical considerations",
    "lineage": "Lineage",
}
"""The card's sections, in order: JSON key to Markdown heading."""

# Thresholds of the generated limitations: deliberately simple, and stated in each sentence.
LOW_COVERAGE: Final = 0.05
"""An LF voting on fewer train rows than this share adds little signal."""
LOW_LF_ACCURACY: Final = 0.7
"""An LF less accurate than this on the dev set is flagged."""
SLICE_GAP: Final = 0.05
"""A slice whose metric is this far below overall is flagged."""
FEW_ROWS: Final = 30
"""A slice with fewer test rows has scores too uncertain to read."""
IMBALANCE_RATIO: Final = 3.0
"""Classes whose estimated shares differ by more than this factor are flagged."""
CLASS_F1_GAP: Final = 0.1
"""A class whose test F1 is this far below the macro F1 is flagged."""
HIGH_ECE: Final = 0.1
"""Test ECE above this means the probabilities should not be read as probabilities."""
ROBUSTNESS_DROP: Final = 0.05
"""An attack that costs the end or label model this much test accuracy is flagged."""

_WEAK_SUPERVISION_CAVEAT: Final = (
    "The training labels come from labeling functions combined by a label model, not from "
    "people: the model learns the heuristics' systematic errors along with their signal, and "
    "nothing but the gold dev and test sets measures how large those errors are."
)
_AUTOMATION_BIAS: Final = (
    "People reviewing a model's output tend to accept it (automation bias), and a confident "
    "score reads as a verdict. Keep a person in the loop for decisions that affect people, give "
    "reviewers the means to overrule the model, and monitor its predictions in production."
)
_LF_BIAS: Final = (
    "Labeling functions encode their authors' assumptions (keywords, patterns, lists): they can "
    "correlate with dialect, language or group membership and teach the model that correlation. "
    "Compare the slice metrics for the groups the model affects before relying on it."
)


# -- helpers --------------------------------------------------------------------------------------


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _plain(value: Any) -> Any:
    """A deep copy, so the card never aliases (and later mutates) the report it came from."""
    return copy.deepcopy(value)


def _pct(value: Any, digits: int = 1) -> str:
    x = _num(value)
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def _fmt(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    x = _num(value)
    if x is None:
        return "n/a" if value is None else str(value)
    return f"{x:.{digits}f}"


def _names(names: Sequence[str]) -> str:
    quoted = [f"`{n}`" for n in names]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _verb(n: int, singular: str, plural: str) -> str:
    return singular if n == 1 else plural


# -- sections -------------------------------------------------------------------------------------


def _model_details(report: Mapping[str, Any], name: str, version: int) -> dict[str, Any]:
    end, prov = _map(report.get("end_model")), _map(report.get("provenance"))
    packages = _map(prov.get("packages"))
    return {
        "name": name,
        "version": version,
        "project": report.get("project"),
        "run_id": report.get("run_id", prov.get("run_id")),
        "created_at": report.get("created_at", prov.get("created_at")),
        "task": "classification",
        "label_names": [str(n) for n in _list(report.get("label_names"))],
        "end_model": {
            "type": end.get("name", _map(end.get("params")).get("type")),
            "params": _plain(end.get("params", {})),
            "artifact": end.get("artifact"),
            "train_rows": end.get("train_rows"),
            "dropped_abstained": end.get("dropped_abstained"),
            "examples_fitted": end.get("examples_fitted"),
        },
        "label_model": _map(report.get("label_model")).get("selected"),
        "weakflow": prov.get("weakflow", packages.get("weakflow")),
    }


def _intended_use(report: Mapping[str, Any], intended_use: str | None, name: str) -> dict[str, Any]:
    labels = [str(n) for n in _list(report.get("label_names"))]
    config = _map(_map(report.get("provenance")).get("config"))
    text_column = _map(config.get("data")).get("text_column")
    n_lfs = len(_list(_map(report.get("labeling")).get("lf_summary")))
    shown = _names(labels) if labels else "its classes"
    provided = bool(intended_use and intended_use.strip())
    if provided:
        description = str(intended_use).strip()
    else:
        inputs = f"texts (column `{text_column}`)" if text_column else "rows"
        description = (
            f"Classifies {inputs} as {shown} for project `{report.get('project', name)}`. It was "
            f"trained with weak supervision ({_plural(n_lfs, 'labeling function')} and a label "
            "model instead of hand labels) and is meant for data drawn like its training data: "
            "same source, population and period. No intended use was given; set intended_use "
            "under [project] in weakflow.toml to state it."
        )
    return {
        "description": description,
        "provided": provided,
        "label_names": labels,
        "out_of_scope": [
            "Data from another source, population, language or period than the training data, "
            "until the model is re-evaluated on a gold set drawn from it.",
            f"Inputs that belong to none of {shown}: the model always answers with one of them.",
            "Fully automated decisions with legal or similarly significant effects on people, "
            "without human review.",
            "Groups or slices on which the model is weaker (see Slices and Limitations), unless "
            "the lower accuracy is acceptable there.",
        ],
    }


def _training_data(report: Mapping[str, Any], datasheet: str) -> dict[str, Any]:
    data, prov = _map(report.get("data")), _map(report.get("provenance"))
    datasets = _list(data.get("datasets")) or _list(prov.get("inputs"))
    labeling = _map(report.get("labeling"))
    return {
        "datasheet": datasheet,
        "datasets": [
            {k: d.get(k) for k in ("role", "source", "rows", "sha256")}
            for d in datasets
            if isinstance(d, Mapping)
        ],
        "train_label_distribution": _plain(labeling.get("train_label_distribution", {})),
        "votes_per_row": _plain(labeling.get("votes_per_row", [])),
    }


def _weak_sources(report: Mapping[str, Any]) -> dict[str, Any]:
    labeling = _map(report.get("labeling"))
    hashes = {
        lf.get("name"): lf.get("source_sha256")
        for lf in _list(_map(report.get("provenance")).get("lfs"))
        if isinstance(lf, Mapping)
    }
    lfs = []
    for row in _list(labeling.get("lf_summary")):
        if not isinstance(row, Mapping):
            continue
        lfs.append(
            {
                "name": str(row.get("name")),
                "kind": row.get("kind"),
                "polarity": [str(p) for p in _list(row.get("polarity"))],
                "coverage": row.get("coverage"),
                "overlaps": row.get("overlaps"),
                "conflicts": row.get("conflicts"),
                "emp_accuracy": row.get("emp_accuracy"),
                "learned_accuracy": row.get("learned_accuracy"),
                "faults": row.get("faults", 0),
                "source_sha256": hashes.get(row.get("name")),
            }
        )
    return {"count": len(lfs), "totals": _plain(labeling.get("totals", {})), "lfs": lfs}


def _label_model(report: Mapping[str, Any], metrics: Mapping[str, Any]) -> dict[str, Any]:
    lm = _map(report.get("label_model"))
    labels = [str(n) for n in _list(report.get("label_names"))]
    balance = _list(lm.get("class_balance"))
    return {
        "method": lm.get("method"),
        "selected": lm.get("selected"),
        "threshold": lm.get("threshold"),
        "class_balance": (
            dict(zip(labels, balance, strict=True)) if len(balance) == len(labels) else balance
        ),
        "selection": [
            {k: s.get(k) for k in ("method", "score")}
            for s in _list(lm.get("selection"))
            if isinstance(s, Mapping)
        ],
        "test": _plain(metrics.get("label_model", {})),
    }


def _split_metrics(split: Any) -> dict[str, Any]:
    keys = ("accuracy", "f1_macro", "precision_macro", "recall_macro", "roc_auc", "log_loss", "n")
    return {
        k: split[k] for k in keys if isinstance(split, Mapping) and _num(split.get(k)) is not None
    }


def _metrics(report: Mapping[str, Any], metrics: Mapping[str, Any]) -> dict[str, Any]:
    end, lm = _map(report.get("end_model")), _map(report.get("label_model"))
    test = _map(end.get("test"))
    out: dict[str, Any] = {
        "split": "test",
        "end_model": _plain(metrics.get("end_model", {})),
        "label_model": _plain(metrics.get("label_model", {})),
        "dev": {
            "end_model": _split_metrics(end.get("dev")),
            "label_model": _split_metrics(lm.get("dev")),
        },
        "per_class": _plain(test.get("per_class", {})),
        "confusion_matrix": _plain(test.get("confusion_matrix", [])),
    }
    accuracy, n = _num(test.get("accuracy")), _num(test.get("n"))
    if accuracy is not None and n:
        # Normal-approximation 95% interval: enough to tell "0.92 on 50 rows" from "on 5,000".
        out["accuracy_margin_95"] = 1.96 * math.sqrt(accuracy * (1 - accuracy) / n)
    return out


def _slices(report: Mapping[str, Any]) -> dict[str, Any]:
    rows = [r for r in _list(_map(report.get("end_model")).get("slices")) if isinstance(r, Mapping)]
    keys = ("name", "n", "share", "accuracy", "f1_macro", "value", "gap", "too_small")
    first = rows[0] if rows else {}
    evaluation = _map(_map(_map(report.get("provenance")).get("config")).get("evaluation"))
    return {
        "metric": first.get("metric", evaluation.get("slice_metric")),
        "overall": first.get("overall"),
        "rows": [{k: r.get(k) for k in keys} for r in rows],
    }


def _calibration(report: Mapping[str, Any]) -> dict[str, Any]:
    cal = _map(_map(report.get("end_model")).get("calibration"))
    before, after = _map(cal.get("before")), _map(cal.get("after"))
    dev_before, dev_after = _map(cal.get("dev_before")), _map(cal.get("dev_after"))
    out: dict[str, Any] = {
        "method": cal.get("method"),
        "kept": cal.get("kept"),
        "reason": cal.get("reason"),
        "cv_folds": cal.get("cv_folds"),
        "n_bins": after.get("n_bins", before.get("n_bins")),
    }
    for metric in ("ece", "mce", "brier"):
        out[f"{metric}_before"] = before.get(metric)
        out[f"{metric}_after"] = after.get(metric)
    out["dev_ece_before"] = dev_before.get("ece")
    out["dev_ece_after"] = dev_after.get("ece")
    out["candidates"] = _plain(cal.get("candidates", {}))
    return out


def _robustness(report: Mapping[str, Any]) -> dict[str, Any]:
    rb = _map(report.get("robustness"))
    if not rb:
        return {"measured": False}
    clean = _map(rb.get("clean"))
    attacks = []
    for name, a in _map(rb.get("attacks")).items():
        a = _map(a)
        end, lm = _map(a.get("end_model")), _map(a.get("label_model"))
        lfs = [_map(x) for x in _list(a.get("lfs"))]
        evaded = sorted(
            (x for x in lfs if (_num(x.get("lost_share")) or 0.0) > 0),
            key=lambda x: (-(_num(x.get("lost_share")) or 0.0), str(x.get("name"))),
        )[:3]
        attacks.append(
            {
                "name": str(name),
                "description": a.get("description"),
                "end_model_accuracy": end.get("accuracy"),
                "accuracy_drop": end.get("accuracy_drop"),
                "flip_rate": end.get("flip_rate"),
                "label_model_accuracy": lm.get("accuracy"),
                "label_model_accuracy_drop": lm.get("accuracy_drop"),
                "lf_votes_lost": a.get("lf_votes_lost"),
                "most_evaded_lfs": [
                    {"name": x.get("name"), "lost_share": x.get("lost_share")} for x in evaded
                ],
            }
        )
    return {
        "measured": True,
        "rows": rb.get("n"),
        "rate": rb.get("rate"),
        "noise": rb.get("noise"),
        "seed": rb.get("seed"),
        "clean_end_model_accuracy": _map(clean.get("end_model")).get("accuracy"),
        "clean_label_model_accuracy": _map(clean.get("label_model")).get("accuracy"),
        "attacks": attacks,
        "summary": _plain(_map(rb.get("summary"))),
        "skipped": _plain(_map(rb.get("skipped"))),
    }


def _privacy(report: Mapping[str, Any]) -> dict[str, Any]:
    mi = _map(_map(report.get("privacy")).get("membership"))
    if not mi:
        return {"measured": False}
    keys = (
        *("auc", "auc_se", "advantage", "risk", "members", "non_members", "member_rows"),
        *("non_member_rows", "mean_confidence_members", "mean_confidence_non_members"),
    )
    out: dict[str, Any] = {"measured": True, **{k: _plain(mi.get(k)) for k in keys}}
    out["rounded"] = _plain(_map(mi.get("rounded")))
    return out


def _limitations(
    report: Mapping[str, Any], card: Mapping[str, Any], metrics: Mapping[str, Any]
) -> list[str]:
    out = [_WEAK_SUPERVISION_CAVEAT]
    lfs = card["weak_sources"]["lfs"]

    low = [lf for lf in lfs if (_num(lf["coverage"]) or 0.0) < LOW_COVERAGE]
    if low:
        shown = ", ".join(f"`{lf['name']}` ({_pct(lf['coverage'])})" for lf in low)
        out.append(
            f"{_plural(len(low), 'labeling function')} {_verb(len(low), 'votes', 'vote')} on "
            f"fewer than {_pct(LOW_COVERAGE, 0)} of the train pool, so "
            f"{_verb(len(low), 'it adds', 'they add')} little signal: {shown}."
        )
    inaccurate = [
        lf for lf in lfs if (acc := _num(lf["emp_accuracy"])) is not None and acc < LOW_LF_ACCURACY
    ]
    if inaccurate:
        shown = ", ".join(f"`{lf['name']}` ({_pct(lf['emp_accuracy'])})" for lf in inaccurate)
        out.append(
            f"{_plural(len(inaccurate), 'labeling function')} "
            f"{_verb(len(inaccurate), 'is', 'are')} less than "
            f"{_pct(LOW_LF_ACCURACY, 0)} accurate on the dev set: {shown}. The label model "
            "down-weights them, but their errors still reach the training labels."
        )
    unmeasured = [lf["name"] for lf in lfs if lf["emp_accuracy"] is None]
    if unmeasured:
        out.append(
            f"{_plural(len(unmeasured), 'labeling function')} never voted on the dev set, so "
            f"{_verb(len(unmeasured), 'its', 'their')} accuracy is unmeasured: "
            f"{_names(unmeasured)}."
        )
    faulty = [lf for lf in lfs if (_num(lf["faults"]) or 0) > 0]
    if faulty:
        shown = ", ".join(f"`{lf['name']}` ({int(lf['faults'])})" for lf in faulty)
        out.append(f"Some labeling functions raised on rows and abstained there instead: {shown}.")

    end = _map(report.get("end_model"))
    dropped, coverage = (
        end.get("dropped_abstained"),
        _map(card["weak_sources"]["totals"]).get("coverage"),
    )
    if isinstance(dropped, int) and dropped > 0:
        out.append(
            f"{_plural(dropped, 'train row')} got no labeling-function vote (coverage "
            f"{_pct(coverage)}) and {_verb(dropped, 'was', 'were')} not used for training: the "
            "model has seen no labels for inputs like them."
        )

    for row in card["slices"]["rows"]:
        n = row.get("n")
        if row.get("too_small") or (isinstance(n, int) and n < FEW_ROWS):
            out.append(
                f"Slice `{row['name']}` has only {_plural(int(n or 0), 'test row')}: its scores "
                "are too uncertain to rely on."
            )
            continue
        gap = _num(row.get("gap"))
        if gap is not None and gap <= -SLICE_GAP:
            metric = card["slices"]["metric"] or "the slice metric"
            out.append(
                f"Slice `{row['name']}` ({_plural(int(n or 0), 'test row')}): {metric} "
                f"{_fmt(row.get('value'))} is {-gap:.3f} below overall "
                f"{_fmt(card['slices']['overall'])}."
            )
    if not card["slices"]["rows"]:
        out.append(
            "No slices were evaluated, so performance on subgroups is unknown: set slice_columns "
            "(or slicing_module) under [evaluation] in weakflow.toml."
        )

    shares = {k: _num(v) for k, v in _map(card["label_model"]["class_balance"]).items()}
    known = {k: v for k, v in shares.items() if v is not None and v > 0}
    if len(known) >= 2 and max(known.values()) / min(known.values()) > IMBALANCE_RATIO:
        shown = ", ".join(f"`{k}` {_pct(v)}" for k, v in known.items())
        out.append(
            f"The classes are imbalanced ({shown} estimated): accuracy overstates performance on "
            "the rare classes; read the per-class metrics."
        )
    macro = _num(_map(metrics.get("end_model")).get("f1_macro"))
    per_class = _map(card["metrics"]["per_class"])
    for label, scores in per_class.items():
        f1 = _num(_map(scores).get("f1"))
        if macro is not None and f1 is not None and f1 < macro - CLASS_F1_GAP:
            out.append(
                f"Class `{label}` has test F1 {f1:.3f}, well below the macro F1 {macro:.3f}."
            )

    cal = card["calibration"]
    ece = _num(cal.get("ece_after"))
    if cal.get("kept") is False:
        out.append(
            "No calibration method improved the dev ECE, so the probabilities are the end "
            f"model's own (test ECE {_fmt(ece)}): {cal.get('reason') or 'see Calibration'}"
        )
    if ece is not None and ece > HIGH_ECE:
        out.append(
            f"Test ECE is {ece:.3f} (above {HIGH_ECE}): do not read scores as probabilities, and "
            "set decision thresholds on held-out data."
        )

    margin, n = card["metrics"].get("accuracy_margin_95"), _map(metrics.get("end_model")).get("n")
    if margin is not None and n:
        out.append(
            f"The test set has {_plural(int(n), 'row')}: test accuracy is known to about "
            f"±{margin:.3f} (95% interval), and smaller differences between versions are noise."
        )

    checks = metrics.get("checks", {})
    leaky = [c for c in ("leakage_exact", "leakage_near_duplicate") if checks.get(c) == "warning"]
    if leaky:
        out.append(
            "Some dev or test rows (near-)duplicate train rows (" + ", ".join(leaky) + "): test "
            "scores may be inflated."
        )
    if checks.get("label_errors") == "warning":
        out.append(
            "Some gold labels look wrong (label_errors check): scores are measured against them."
        )
    other = [
        f"{c} ({s})"
        for c, s in checks.items()
        if s in ("warning", "failed")
        and c not in ("leakage_exact", "leakage_near_duplicate", "label_errors")
    ]
    if other:
        out.append("Other data checks did not pass: " + ", ".join(other) + " (see the datasheet).")

    evading = []
    for a in card["robustness"].get("attacks", []):
        drops = [
            f"{who} accuracy -{drop:.3f}"
            for who, drop in (
                ("end model", _num(a["accuracy_drop"])),
                ("label model", _num(a["label_model_accuracy_drop"])),
            )
            if drop is not None and drop >= ROBUSTNESS_DROP
        ]
        if drops:
            lost = _num(a["lf_votes_lost"])
            votes = f", {_pct(lost)} of LF votes lost" if lost else ""
            evading.append(f"{a['name']} ({', '.join(drops)}{votes})")
    if evading:
        out.append(
            f"Perturbed inputs cost at least {ROBUSTNESS_DROP} test accuracy under "
            f"{_plural(len(evading), 'attack')}: {'; '.join(evading)}. Text written to evade "
            "the rules (typos, lookalike letters, split words) gets through more often; see the "
            "Robustness section."
        )
    privacy = card["privacy"]
    if privacy.get("measured") and privacy.get("risk") in ("medium", "high"):
        rounded = _map(privacy.get("rounded"))
        auc_by_decimals = [
            f"{d} decimal{'' if d == '1' else 's'} {_fmt(_map(x).get('auc'))}"
            for d, x in sorted(rounded.items(), key=lambda i: -int(i[0]) if i[0].isdigit() else 0)
        ]
        effect = (
            " The attack's AUC with the served probabilities rounded ([serve] "
            f"probability_decimals): {', '.join(auc_by_decimals)}."
            if auc_by_decimals
            else ""
        )
        out.append(
            f"Membership inference risk is {privacy['risk']} (AUC {_fmt(privacy['auc'])}): the "
            "model is more confident on its training rows than on new ones, so its scores hint "
            f"at which texts it was trained on.{effect} [serve] top_k hides the other classes' "
            "probabilities, not the top one's, which is what this attack reads; see "
            "docs/security.md."
        )
    return out


def _ethics(report: Mapping[str, Any], metrics: Mapping[str, Any]) -> dict[str, Any]:
    data = _map(report.get("data"))
    config = _map(_map(_map(report.get("provenance")).get("config")).get("data"))
    redacted = bool(config.get("redact_pii"))
    region = config.get("pii_region")
    pii_check = _map(metrics.get("checks")).get("pii")
    raw = data.get("pii")
    columns: list[dict[str, Any]] = []
    for key, found in _map(raw).items():
        found = _map(found)
        entities = {str(k): v for k, v in _map(found.get("counts")).items() if v}
        dataset, _, column = str(key).partition(".")
        columns.append(
            {
                "column": str(key),
                "dataset": dataset,
                "text_column": column,
                "rows_affected": found.get("rows_affected"),
                "entities": entities,
            }
        )
    found_any = any(c["rows_affected"] or c["entities"] for c in columns)
    if raw is None or pii_check == "skipped":
        scanned = False
        handling = (
            "No PII scan ran for this model (the pii data check was skipped or there is no text "
            "column): personal data in the training data is unknown."
        )
    elif not found_any:
        scanned = True
        handling = "The PII scan found no personal data in the train, dev or test text."
    elif redacted:
        scanned = True
        handling = (
            "Redacted before labeling: each match was replaced by a placeholder such as "
            "`<PHONE_NUMBER>`, so the labeling functions, the end model, the cache and the report "
            "saw only the redacted text."
        )
    else:
        scanned = True
        handling = (
            "Not redacted: the labeling functions and the end model saw the raw text, so the end "
            "model (e.g. a text model's vocabulary) and cached artifacts may contain it. Set "
            "redact_pii = true under [data] in weakflow.toml, or remove it at the source."
        )
    for c in columns:
        c["handling"] = "redacted" if redacted else "not redacted"
    entity_types = sorted(
        {e for c in columns for e in _map(_map(raw).get(c["column"])).get("counts", {})}
    )
    notes = [_AUTOMATION_BIAS, _LF_BIAS]
    if scanned:
        kinds = (
            ", ".join(entity_types)
            if entity_types
            else "e-mail addresses, phone numbers, credit cards, IBANs and IP addresses"
        )
        notes.append(
            f"The PII scan matches patterns ({kinds}); names, postal addresses and other "
            "identifying details are not detected."
        )
    return {
        "pii": {
            "scanned": scanned,
            "redacted": redacted,
            "region": region,
            "columns": columns,
            "handling": handling,
        },
        "notes": notes,
    }


def _lineage(report: Mapping[str, Any], card: Mapping[str, Any]) -> dict[str, Any]:
    prov = _map(report.get("provenance"))
    lf_module = _map(prov.get("lf_module"))
    return {
        "run_id": prov.get("run_id", report.get("run_id")),
        "created_at": prov.get("created_at", report.get("created_at")),
        "weakflow": prov.get("weakflow"),
        "git": _plain(prov.get("git")),
        "lf_module": {"path": lf_module.get("path"), "sha256": lf_module.get("sha256")},
        "lfs": _plain(_list(prov.get("lfs"))),
        "datasets": _plain(card["training_data"]["datasets"]),
        "label_model": _plain(prov.get("label_model", {})),
        "end_model": _plain(prov.get("end_model", {})),
        "seeds": _plain(prov.get("seeds", {})),
        "packages": _plain(prov.get("packages", {})),
        "cache_keys": _plain(prov.get("cache_keys", {})),
    }


def build_model_card(
    report: Mapping[str, Any],
    *,
    name: str,
    version: int,
    datasheet: str = "",
    intended_use: str | None = None,
    gates: Sequence[Mapping[str, Any] | GateResult] = (),
) -> dict[str, Any]:
    """The model card of a registered version, from the report of the run that trained it.

    Parameters
    ----------
    report : mapping
        The run's report (``runs/<run id>/report.json``).
    name : str
        The registered model's name.
    version : int
        The version number the registry gave it.
    datasheet : str
        The training data's Markdown datasheet (``runs/<run id>/datasheet.md``), embedded as is.
    intended_use : str or None
        What the model is for (``intended_use`` under ``[project]``); None or empty gives a
        default naming the labels, with a note to state it.
    gates : sequence of mapping or GateResult
        The version's gate verdicts (``GateResult`` or its ``to_dict()``), in rule order.

    Returns
    -------
    dict
        JSON-serializable, with ``format`` (:data:`CARD_FORMAT`) and one key per section of
        :data:`CARD_SECTIONS`; :func:`render_model_card` turns it into Markdown.

    Examples
    --------
    >>> card = build_model_card({"label_names": ["ham", "spam"]}, name="spam", version=2)
    >>> card["model_details"]["version"], card["intended_use"]["label_names"]
    (2, ['ham', 'spam'])
    >>> list(card)[1:4]
    ['model_details', 'intended_use', 'training_data']
    """
    if not isinstance(report, Mapping):
        raise TypeError(
            f"report must be a dict (a run's report.json), got {type(report).__name__}."
        )
    metrics = metrics_from_report(report)
    card: dict[str, Any] = {"format": CARD_FORMAT}
    card["model_details"] = _model_details(report, name, version)
    card["intended_use"] = _intended_use(report, intended_use, name)
    card["training_data"] = _training_data(report, datasheet)
    card["weak_sources"] = _weak_sources(report)
    card["label_model"] = _label_model(report, metrics)
    card["metrics"] = _metrics(report, metrics)
    card["slices"] = _slices(report)
    card["calibration"] = _calibration(report)
    card["robustness"] = _robustness(report)
    card["privacy"] = _privacy(report)
    card["gates"] = [
        g.to_dict() if isinstance(g, GateResult) else {str(k): _plain(v) for k, v in g.items()}
        for g in gates
    ]
    card["limitations"] = _limitations(report, card, metrics)
    card["ethical_considerations"] = _ethics(report, metrics)
    card["lineage"] = _lineage(report, card)
    return card


# -- Markdown -------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else _fmt(value)
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _code(value: Any) -> str:
    return "n/a" if value in (None, "") else f"`{value}`"


def _demote(markdown: str, levels: int = 2) -> list[str]:
    """``markdown``'s lines with headings moved down ``levels`` levels (outside code fences)."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6}\s", line):
            line = "#" * levels + line
        out.append(line)
    return out


def _md_model_details(card: Mapping[str, Any]) -> list[str]:
    d = _map(card.get("model_details"))
    end = _map(d.get("end_model"))
    params = _map(end.get("params"))
    shown = ", ".join(f"{k}={v}" for k, v in params.items() if k != "type") or "defaults"
    rows = [
        ("name", d.get("name")),
        ("version", d.get("version")),
        ("project", d.get("project")),
        ("run", _code(d.get("run_id"))),
        ("trained", d.get("created_at")),
        ("task", f"{d.get('task', 'classification')} into {_names(_list(d.get('label_names')))}"),
        ("end model", f"{_code(end.get('type'))} ({shown})"),
        ("label model", _code(d.get("label_model"))),
        ("train rows used", end.get("train_rows")),
        ("train rows dropped (no vote)", end.get("dropped_abstained")),
        ("artifact", _code(end.get("artifact"))),
        ("weakflow", d.get("weakflow")),
    ]
    return _table(("field", "value"), rows)


def _md_intended_use(card: Mapping[str, Any]) -> list[str]:
    use = _map(card.get("intended_use"))
    lines = [str(use.get("description", "")), "", "Out of scope:"]
    lines += [f"- {item}" for item in _list(use.get("out_of_scope"))]
    return lines


def _md_training_data(card: Mapping[str, Any]) -> list[str]:
    td = _map(card.get("training_data"))
    rows = [
        (d.get("role"), _code(d.get("source")), d.get("rows"), _code(d.get("sha256")))
        for d in _list(td.get("datasets"))
    ]
    lines = _table(("role", "source", "rows", "sha256"), rows)
    dist = _map(td.get("train_label_distribution"))
    if dist:
        shown = ", ".join(f"`{k}` {_pct(v)}" for k, v in dist.items())
        lines += ["", f"Estimated class balance of the train pool (label model): {shown}."]
    datasheet = str(td.get("datasheet") or "").strip()
    if datasheet:
        lines += ["", *_demote(datasheet)]
    return lines


def _md_weak_sources(card: Mapping[str, Any]) -> list[str]:
    ws = _map(card.get("weak_sources"))
    totals = _map(ws.get("totals"))
    lines = [
        f"{_plural(int(ws.get('count', 0)), 'labeling function')}; together they cover "
        f"{_pct(totals.get('coverage'))} of the train pool, overlap on "
        f"{_pct(totals.get('overlap'))} and conflict on {_pct(totals.get('conflict'))}.",
        "",
    ]
    rows = [
        (
            f"`{lf.get('name')}`",
            lf.get("kind") or "",
            ", ".join(_list(lf.get("polarity"))),
            _pct(lf.get("coverage")),
            _pct(lf.get("conflicts")),
            _pct(lf.get("emp_accuracy")),
            _pct(lf.get("learned_accuracy")),
            lf.get("faults", 0),
        )
        for lf in _list(ws.get("lfs"))
    ]
    headers = (
        "LF",
        "kind",
        "polarity",
        "coverage",
        "conflicts",
        "dev accuracy",
        "learned accuracy",
        "faults",
    )
    return lines + _table(headers, rows)


def _md_label_model(card: Mapping[str, Any]) -> list[str]:
    lm = _map(card.get("label_model"))
    lines = [
        f"Method {_code(lm.get('method'))}, selected {_code(lm.get('selected'))} "
        f"(decision threshold {_fmt(lm.get('threshold'))}).",
    ]
    balance = lm.get("class_balance")
    if isinstance(balance, Mapping) and balance:
        shown = ", ".join(f"`{k}` {_pct(v)}" for k, v in balance.items())
        lines += ["", f"Class balance: {shown}."]
    selection = _list(lm.get("selection"))
    if selection:
        lines += ["", "Candidates (dev score):", ""]
        lines += _table(
            ("method", "score"), [(_code(s.get("method")), s.get("score")) for s in selection]
        )
    return lines


_METRIC_LABELS: Final[dict[str, str]] = {
    "accuracy": "accuracy",
    "f1_macro": "F1 (macro)",
    "precision_macro": "precision (macro)",
    "recall_macro": "recall (macro)",
    "roc_auc": "ROC AUC",
    "log_loss": "log loss",
    "ece": "ECE",
    "mce": "MCE",
    "brier": "Brier score",
    "n": "rows",
}


def _md_metrics(card: Mapping[str, Any]) -> list[str]:
    m = _map(card.get("metrics"))
    end, lm = _map(m.get("end_model")), _map(m.get("label_model"))
    keys = [k for k in _METRIC_LABELS if k in end or k in lm]
    lines = ["On the gold test set (the end model's probabilities after calibration):", ""]
    lines += _table(
        ("metric", "end model", "label model"),
        [(_METRIC_LABELS[k], end.get(k), lm.get(k)) for k in keys],
    )
    margin = m.get("accuracy_margin_95")
    if margin is not None:
        lines += ["", f"Accuracy 95% interval: about ±{_fmt(margin)}."]
    per_class = _map(m.get("per_class"))
    if per_class:
        lines += ["", "Per class (end model, test):", ""]
        lines += _table(
            ("class", "precision", "recall", "F1", "support"),
            [
                (f"`{c}`", s.get("precision"), s.get("recall"), s.get("f1"), s.get("support"))
                for c, s in ((c, _map(s)) for c, s in per_class.items())
            ],
        )
    matrix = _list(m.get("confusion_matrix"))
    labels = _list(_map(card.get("intended_use")).get("label_names"))
    if matrix and len(matrix) == len(labels):
        lines += ["", "Confusion matrix (rows: gold, columns: predicted):", ""]
        lines += _table(
            ("gold \\ predicted", *[f"`{n}`" for n in labels]),
            [(f"`{labels[i]}`", *row) for i, row in enumerate(matrix)],
        )
    return lines


def _md_slices(card: Mapping[str, Any]) -> list[str]:
    s = _map(card.get("slices"))
    rows = _list(s.get("rows"))
    if not rows:
        return ["No slices were evaluated (slice_columns or slicing_module under [evaluation])."]
    metric = s.get("metric") or "metric"
    lines = [
        f"Test-set slices; gap is the slice's {metric} minus overall ({_fmt(s.get('overall'))}).",
        "",
    ]
    lines += _table(
        ("slice", "rows", "share", "accuracy", "F1 (macro)", f"{metric} gap", "note"),
        [
            (
                r.get("name"),
                r.get("n"),
                _pct(r.get("share")),
                r.get("accuracy"),
                r.get("f1_macro"),
                r.get("gap"),
                "too small" if r.get("too_small") else "",
            )
            for r in rows
        ],
    )
    return lines


def _md_calibration(card: Mapping[str, Any]) -> list[str]:
    c = _map(card.get("calibration"))
    if c.get("method") is None and c.get("kept") is None:
        return ["No calibration information in the report."]
    kept = "kept" if c.get("kept") else "not kept"
    lines = [f"Method {_code(c.get('method'))}, {kept}. {c.get('reason') or ''}".rstrip(), ""]
    lines += _table(
        ("test metric", "before", "after"),
        [
            ("ECE", c.get("ece_before"), c.get("ece_after")),
            ("MCE", c.get("mce_before"), c.get("mce_after")),
            ("Brier score", c.get("brier_before"), c.get("brier_after")),
        ],
    )
    return lines


def _md_robustness(card: Mapping[str, Any]) -> list[str]:
    rb = _map(card.get("robustness"))
    if not rb.get("measured"):
        return [
            "Not measured for this version (robustness = true under [evaluation] in "
            "weakflow.toml measures it)."
        ]
    lines = [
        f"The {_fmt(rb.get('rows'))} test rows perturbed by each attack ({_pct(rb.get('rate'))} "
        f"of each text's eligible characters or words, numeric noise up to "
        f"{_fmt(rb.get('noise'), 2)} SD, seed {rb.get('seed')}). Clean test accuracy: end model "
        f"{_fmt(rb.get('clean_end_model_accuracy'))}, label model "
        f"{_fmt(rb.get('clean_label_model_accuracy'))}. The flip rate is the share of rows whose "
        "predicted class changed.",
        "",
    ]
    rows = [
        (
            f"`{a.get('name')}`",
            a.get("end_model_accuracy"),
            a.get("flip_rate"),
            a.get("label_model_accuracy"),
            _pct(a.get("lf_votes_lost")),
            ", ".join(
                f"`{x.get('name')}` {_pct(x.get('lost_share'), 0)}"
                for x in _list(a.get("most_evaded_lfs"))
            )
            or "none",
        )
        for a in (_map(x) for x in _list(rb.get("attacks")))
    ]
    lines += _table(
        (
            "attack",
            "end model accuracy",
            "flip rate",
            "label model accuracy",
            "LF votes lost",
            "LFs most evaded (votes lost)",
        ),
        rows,
    )
    skipped = _map(rb.get("skipped"))
    if skipped:
        lines += ["", "Not run: " + ", ".join(f"{k} ({v})" for k, v in skipped.items()) + "."]
    return lines


def _md_privacy(card: Mapping[str, Any]) -> list[str]:
    p = _map(card.get("privacy"))
    if not p.get("measured"):
        return [
            "Membership inference was not measured for this version (membership = true under "
            "[evaluation] in weakflow.toml measures it)."
        ]
    lines = [
        f"Membership inference risk: **{p.get('risk')}**. The end model's confidence tells its "
        f"{_fmt(p.get('members'))} training rows from {_fmt(p.get('non_members'))} held-out rows "
        f"with AUC {_fmt(p.get('auc'))} ± {_fmt(p.get('auc_se'))} (0.5: not at all) and "
        f"advantage {_fmt(p.get('advantage'))} (best TPR - FPR); mean confidence "
        f"{_fmt(p.get('mean_confidence_members'))} on training rows, "
        f"{_fmt(p.get('mean_confidence_non_members'))} on held-out rows. Risk levels: low below "
        "AUC 0.6, medium below 0.7, high above.",
    ]
    rounded = _map(p.get("rounded"))
    if rounded:
        lines += [""]
        lines += _table(
            ("served probabilities", "AUC", "advantage", "risk"),
            [("full precision", p.get("auc"), p.get("advantage"), p.get("risk"))]
            + [
                (
                    f"rounded to {d} decimal{'' if d == '1' else 's'}",
                    _map(x).get("auc"),
                    _map(x).get("advantage"),
                    _map(x).get("risk"),
                )
                for d, x in rounded.items()
            ],
        )
    return lines


def _md_gates(card: Mapping[str, Any]) -> list[str]:
    gates = [_map(g) for g in _list(card.get("gates"))]
    if not gates:
        return ["No promotion gates are configured (rules under [gates] in weakflow.toml)."]
    failed = sum(1 for g in gates if not g.get("passed"))
    summary = (
        f"All {_plural(len(gates), 'gate')} passed."
        if not failed
        else f"{failed} of {_plural(len(gates), 'gate')} failed."
    )
    rows = [
        (
            f"`{g.get('rule')}`",
            "pass" if g.get("passed") else "FAIL",
            g.get("value"),
            g.get("threshold"),
            g.get("reason", ""),
        )
        for g in gates
    ]
    return [summary, "", *_table(("rule", "verdict", "value", "threshold", "reason"), rows)]


def _md_limitations(card: Mapping[str, Any]) -> list[str]:
    return [f"- {item}" for item in _list(card.get("limitations"))]


def _md_ethics(card: Mapping[str, Any]) -> list[str]:
    e = _map(card.get("ethical_considerations"))
    pii = _map(e.get("pii"))
    lines = ["Personal data (PII):", "", str(pii.get("handling", ""))]
    columns = _list(pii.get("columns"))
    if columns:
        lines.append("")
        lines += _table(
            ("column", "rows affected", "found", "handling"),
            [
                (
                    f"`{c.get('column')}`",
                    c.get("rows_affected"),
                    ", ".join(f"{v} {k}" for k, v in _map(c.get("entities")).items()) or "none",
                    c.get("handling"),
                )
                for c in columns
            ],
        )
    lines += ["", *[f"- {note}" for note in _list(e.get("notes"))]]
    return lines


def _md_lineage(card: Mapping[str, Any]) -> list[str]:
    lin = _map(card.get("lineage"))
    git = _map(lin.get("git"))
    commit = (
        f"`{git.get('commit')}`" + (" (uncommitted changes)" if git.get("dirty") else "")
        if git
        else "none recorded (not a git repository, or git unavailable)"
    )
    lf_module = _map(lin.get("lf_module"))
    seeds = ", ".join(f"{k}={v}" for k, v in _map(lin.get("seeds")).items()) or "n/a"
    rows: list[tuple[Any, ...]] = [
        ("run", _code(lin.get("run_id"))),
        ("created", lin.get("created_at")),
        ("git commit", commit),
        ("LF module", f"{_code(lf_module.get('path'))} sha256 {_code(lf_module.get('sha256'))}"),
        ("label model", _code(_map(lin.get("label_model")).get("selected"))),
        ("end model artifact", _code(_map(lin.get("end_model")).get("artifact"))),
        ("seeds", seeds),
    ]
    rows += [
        (f"data: {d.get('role')}", f"{_code(d.get('source'))} sha256 {_code(d.get('sha256'))}")
        for d in _list(lin.get("datasets"))
    ]
    rows += [(f"cache key: {k}", _code(v)) for k, v in _map(lin.get("cache_keys")).items()]
    packages = _map(lin.get("packages"))
    if packages:
        rows.append(("packages", ", ".join(f"{k} {v}" for k, v in packages.items())))
    return _table(("item", "value"), rows)


_RENDERERS: Final = {
    "model_details": _md_model_details,
    "intended_use": _md_intended_use,
    "training_data": _md_training_data,
    "weak_sources": _md_weak_sources,
    "label_model": _md_label_model,
    "metrics": _md_metrics,
    "slices": _md_slices,
    "calibration": _md_calibration,
    "robustness": _md_robustness,
    "privacy": _md_privacy,
    "gates": _md_gates,
    "limitations": _md_limitations,
    "ethical_considerations": _md_ethics,
    "lineage": _md_lineage,
}


def render_model_card(card: Mapping[str, Any]) -> str:
    """The card as Markdown: a heading per section, tables for LFs, metrics, slices and gates.

    Parameters
    ----------
    card : mapping
        A card from :func:`build_model_card` (or its JSON read back).

    Returns
    -------
    str
        Markdown; the same card always renders to the same text (no timestamps, no set order).

    Examples
    --------
    >>> card = build_model_card({"label_names": ["ham", "spam"]}, name="spam", version=2)
    >>> text = render_model_card(card)
    >>> text.splitlines()[0]
    '# Model card: spam, version 2'
    >>> [line for line in text.splitlines() if line.startswith("## ")][:3]
    ['## Model details', '## Intended use', '## Training data']
    """
    details = _map(card.get("model_details"))
    gates = [_map(g) for g in _list(card.get("gates"))]
    verdict = (
        "no promotion gates"
        if not gates
        else "gates passed"
        if all(g.get("passed") for g in gates)
        else "gates failed"
    )
    end = _map(_map(card.get("metrics")).get("end_model"))
    lines = [
        f"# Model card: {details.get('name')}, version {details.get('version')}",
        "",
        f"Trained by run {_code(details.get('run_id'))} at {details.get('created_at', 'n/a')}; "
        f"test accuracy {_fmt(end.get('accuracy'))}, F1 (macro) {_fmt(end.get('f1_macro'))}, "
        f"ECE {_fmt(end.get('ece'))}; {verdict}. Generated by weakflow from the run's report.",
    ]
    for key, title in CARD_SECTIONS.items():
        lines += ["", f"## {title}", "", *_RENDERERS[key](card)]
    return "\n".join(lines).rstrip() + "\n"
