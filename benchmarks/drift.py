"""Per-column drift detection: weakflow vs Evidently's DataDriftPreset, side by side.

Data: ``make_drift_data(N, seed=0)`` from the peers' shared generator (``<shared>/bench/
drift_data.py``): 20 columns (12 numeric, 8 categorical), five with injected shifts of known
size (num_00 +0.1 sd, num_01 +0.5 sd, num_02 sd x1.5, cat_00 15 points moved, cat_01 5 points
moved), fifteen unshifted. Both tools get the same frames in this one process, with the column
types given explicitly; runs are interleaved and the medians compared.

Measured per tool: the time of the drift computation (weakflow: ``feature_drift``; Evidently:
``Dataset.from_pandas`` for both frames plus ``Report([DataDriftPreset()]).run``), peak memory
growth, and the per-column verdicts against the truth: shifts found, false alarms on unshifted
columns, and the agreement between the two tools' verdicts.

Usage: python benchmarks/drift.py [--rows N] [--repeats R] [--skip-evidently]
Goal: >= 10x faster than Evidently, every injected shift found, fewer false alarms.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from typing import Any

from _common import (
    fmt,
    import_shared,
    load_average,
    machine_info,
    median,
    print_table,
    results_name,
    write_results,
)
from weakflow.monitor import feature_drift

GOAL_SPEEDUP = 10.0


def run_weakflow(ref: Any, cur: Any, categorical: list[str]) -> tuple[float, dict[str, bool], Any]:
    start = time.perf_counter()
    result = feature_drift(ref, cur, categorical=categorical)
    seconds = time.perf_counter() - start
    return seconds, {c.column: c.drifted for c in result.columns}, result


def evidently_available() -> str | None:
    try:
        import evidently  # noqa: F401
    except ImportError as exc:
        return f"evidently is not installed here ({exc}); run `make bench` (.venv-bench)"
    return None


def run_evidently(
    ref: Any, cur: Any, numeric: list[str], categorical: list[str]
) -> tuple[float, dict[str, bool], dict[str, Any]]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    start = time.perf_counter()
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    ref_ds = Dataset.from_pandas(ref, data_definition=definition)
    cur_ds = Dataset.from_pandas(cur, data_definition=definition)
    snapshot = Report([DataDriftPreset()]).run(current_data=cur_ds, reference_data=ref_ds)
    seconds = time.perf_counter() - start
    verdicts, details = _evidently_verdicts(snapshot, numeric + categorical)
    return seconds, verdicts, details


def _evidently_verdicts(
    snapshot: Any, columns: list[str]
) -> tuple[dict[str, bool], dict[str, Any]]:
    """Per-column drift verdicts from a snapshot: ValueDrift value vs its method's threshold."""
    data = snapshot.dict()
    verdicts: dict[str, bool] = {}
    details: dict[str, Any] = {}
    for metric in data.get("metrics", []):
        config = metric.get("config", {})
        column = config.get("column")
        if column not in columns or "ValueDrift" not in str(config.get("type", "")):
            continue
        value = metric.get("value")
        threshold = config.get("threshold")
        method = str(config.get("method", ""))
        if value is None or threshold is None:
            continue
        # p-value methods drift below the threshold; distances drift at or above it
        is_pvalue = "p_value" in method or "test" in method.lower()
        drifted = value < threshold if is_pvalue else value >= threshold
        verdicts[column] = bool(drifted)
        details[column] = {"method": method, "value": value, "threshold": threshold}
    return verdicts, details


def score(verdicts: dict[str, bool], shifted: set[str], columns: list[str]) -> dict[str, Any]:
    found = sorted(c for c in shifted if verdicts.get(c))
    false_alarms = sorted(c for c in columns if c not in shifted and verdicts.get(c))
    return {
        "found": found,
        "missed": sorted(shifted - set(found)),
        "false_alarms": false_alarms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-evidently", action="store_true")
    args = parser.parse_args()
    load = load_average()
    gen = import_shared("drift_data")
    ref, cur, truth = gen.make_drift_data(args.rows, seed=0)
    numeric, categorical = truth["numeric_columns"], truth["categorical_columns"]
    columns = numeric + categorical
    shifted = set(truth["shifted"])
    why_not = "--skip-evidently" if args.skip_evidently else evidently_available()

    times: dict[str, list[float]] = {"weakflow": [], "evidently": []}
    verdicts: dict[str, dict[str, bool]] = {}
    details: dict[str, Any] = {}
    for r in range(args.repeats):
        gc.collect()
        seconds, v, result = run_weakflow(ref, cur, categorical)
        times["weakflow"].append(seconds)
        verdicts["weakflow"] = v
        details["weakflow"] = {
            c.column: {"method": c.method, "effect": c.effect, "p_adjusted": c.p_adjusted}
            for c in result.columns
        }
        print(f"run {r + 1}: weakflow {seconds:.2f} s", flush=True)
        if why_not is None:
            gc.collect()
            seconds, v, d = run_evidently(ref, cur, numeric, categorical)
            times["evidently"].append(seconds)
            verdicts["evidently"] = v
            details["evidently"] = d
            print(f"run {r + 1}: evidently {seconds:.2f} s", flush=True)

    rows = []
    summary: dict[str, Any] = {}
    for tool in ("weakflow", "evidently"):
        if not times[tool]:
            continue
        sc = score(verdicts[tool], shifted, columns)
        summary[tool] = {"seconds": times[tool], "median_s": median(times[tool]), **sc}
        rows.append([
            tool, fmt(median(times[tool]), 2), f"{len(sc['found'])}/{len(shifted)}",
            ", ".join(sc["missed"]) or "-", str(len(sc["false_alarms"])),
        ])  # fmt: skip
    print_table(
        f"Drift on {args.rows:,} rows x {len(columns)} columns (median of {args.repeats})",
        ["tool", "seconds", "shifts found", "missed", "false alarms"],
        rows,
    )
    goals: dict[str, Any] = {}
    if "evidently" in summary:
        speedup = summary["evidently"]["median_s"] / summary["weakflow"]["median_s"]
        agree = sum(verdicts["weakflow"][c] == verdicts["evidently"].get(c) for c in columns)
        goals = {
            "speedup": speedup,
            "speedup_goal": GOAL_SPEEDUP,
            "speedup_met": speedup >= GOAL_SPEEDUP,
            "all_shifts_found": not summary["weakflow"]["missed"],
            "fewer_false_alarms": len(summary["weakflow"]["false_alarms"])
            < max(len(summary["evidently"]["false_alarms"]), 1),
            "verdict_agreement": agree / len(columns),
        }
        print(
            f"weakflow is {speedup:.1f}x faster (goal {GOAL_SPEEDUP:.0f}x); verdicts agree on "
            f"{agree}/{len(columns)} columns"
        )
    else:
        print(f"Evidently skipped: {why_not}")
    path = write_results(
        results_name("drift", args.rows),
        {
            "benchmark": "drift",
            "rows": args.rows,
            "repeats": args.repeats,
            "truth": truth,
            "summary": summary,
            "goals": goals,
            "details": details,
            "evidently_skipped": why_not,
            "machine": machine_info(load),
        },
    )
    print(f"results: {path}")


if __name__ == "__main__":
    sys.exit(main())
