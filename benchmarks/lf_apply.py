"""LF application throughput: weakflow (local and Dask engines) vs Snorkel's PandasLFApplier.

The seven LFs of Snorkel's spam tutorial on the bundled YouTube comments (1,956 rows, five CSVs in
file-name order, CONTENT column) tiled to N rows: row i is comment i mod 1956, in a DataFrame with
a single ``text`` column. weakflow runs six of them as vectorized builders and ``short_comment``
as a row-wise ``@labeling_function()``; Snorkel runs the definitions of the peers' own script
(``<shared>/bench/lf_apply_snorkel.py``). Every engine runs in this one process on the same
DataFrame, repeats interleaved, and the medians are compared. All matrices must be identical, and
their int8 sha256 is checked against Snorkel's published fingerprint (RESULTS-snorkel.md).

Usage: python benchmarks/lf_apply.py [--rows N] [--repeats R] [--snorkel-repeats S]
       [--skip-snorkel] [--skip-dask]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from _common import (
    fmt,
    import_shared,
    load_average,
    machine_info,
    median,
    peak_rss_mib,
    print_table,
    published_snorkel,
    require_shared,
    results_name,
    sha256_int8,
    timed,
    write_results,
)
from weakflow.data import example_path
from weakflow.labeling import apply_lfs
from weakflow.labeling.examples import youtube_spam_lfs

GOAL_SPEEDUP = 50.0


def weakflow_lfs() -> list[Any]:
    """The tutorial LFs as weakflow ships them, in the column order of the fingerprints."""
    return youtube_spam_lfs()[:7]


def load_texts() -> np.ndarray:
    files = sorted(example_path("youtube").glob("*.csv"))
    frame = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    return frame["CONTENT"].astype(object).to_numpy()


def snorkel_applier() -> tuple[Any, str] | tuple[None, str]:
    """Snorkel's PandasLFApplier over the peers' LF definitions, or None and why not."""
    if importlib.util.find_spec("snorkel") is None:
        return None, "snorkel is not importable here (it lives in .venv-bench: run `make bench`)"
    peer = import_shared("lf_apply_snorkel")
    from snorkel.labeling import PandasLFApplier

    return PandasLFApplier(peer.LFS), ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3, help="runs per weakflow engine (median)")
    ap.add_argument(
        "--snorkel-repeats",
        type=int,
        default=None,
        help="Snorkel runs (default: 1 at >= 1M rows, where one takes ~70 s; else --repeats)",
    )
    ap.add_argument("--skip-snorkel", action="store_true")
    ap.add_argument("--skip-dask", action="store_true")
    a = ap.parse_args(argv)
    load_at_start = load_average()
    require_shared()
    peer = published_snorkel()
    published = peer["lf_apply"]
    snorkel_repeats = a.snorkel_repeats or (1 if a.rows >= 1_000_000 else a.repeats)

    applier, why = (None, "--skip-snorkel") if a.skip_snorkel else snorkel_applier()
    if applier is None:
        print(f"Snorkel skipped: {why}.")

    texts = load_texts()
    nb = len(texts)
    lfs = weakflow_lfs()
    df = pd.DataFrame({"text": texts[np.arange(a.rows) % nb]})
    print(
        f"{a.rows:,} rows (the {nb:,} YouTube comments tiled; text dtype {df['text'].dtype}), "
        f"{len(lfs)} LFs; load average {load_at_start:.2f} at start"
    )

    # The base matrix: fingerprints of both tools on the 1,956 comments (also warms both up).
    base_frame = pd.DataFrame({"text": texts})
    base = apply_lfs(lfs, base_frame, progress=False, cardinality=2).values
    checks: dict[str, Any] = {
        "base_rows": nb,
        "base_sha256_int8": sha256_int8(base),
        "base_published_sha256": published.get(nb),
    }
    if applier is not None:
        base_snorkel = applier.apply(base_frame, progress_bar=False)
        checks["base_equal_snorkel"] = bool(np.array_equal(base, base_snorkel))

    client = cluster = None
    dask_startup = warmup = None
    if not a.skip_dask:
        t0 = time.perf_counter()
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
        dask_startup = time.perf_counter() - t0
        # Warm the workers up (imports, the LFs) on the base rows, as the local engine was.
        warmup, base_dask = timed(
            lambda: apply_lfs(lfs, base_frame, engine=client, progress=False, cardinality=2)
        )
        checks["base_equal_dask"] = bool(np.array_equal(base, base_dask.values))
        print(
            f"Dask LocalCluster (2 workers x 1 thread) started in {dask_startup:.2f} s "
            f"(+ {warmup:.2f} s for a first apply on the {nb:,} base rows)"
        )

    times: dict[str, list[float]] = {"weakflow local": []}
    if client is not None:
        times["weakflow dask"] = []
    if applier is not None:
        times["snorkel PandasLFApplier"] = []
    identical: dict[str, bool] = {name: True for name in times}
    ref: np.ndarray | None = None

    def record(name: str, seconds: float, values: np.ndarray) -> None:
        nonlocal ref
        times[name].append(seconds)
        ref = values if ref is None else ref
        identical[name] &= bool(np.array_equal(ref, values))

    try:
        for r in range(max(a.repeats, snorkel_repeats if applier is not None else 0)):
            if r < a.repeats:
                s, L = timed(lambda: apply_lfs(lfs, df, progress=False, cardinality=2))
                record("weakflow local", s, L.values)
                if client is not None:
                    s, L = timed(
                        lambda: apply_lfs(lfs, df, engine=client, progress=False, cardinality=2)
                    )
                    record("weakflow dask", s, L.values)
                del L
            if applier is not None and r < snorkel_repeats:
                s, Ls = timed(lambda: applier.apply(df, progress_bar=False))
                record("snorkel PandasLFApplier", s, Ls)
                del Ls
            done = ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items() if len(v) > r)
            print(f"  run {r + 1}: {done}")
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    # Identity: every engine's matrix, the tiled base, and the published fingerprints.
    assert ref is not None
    checks["sha256_int8"] = sha256_int8(ref)
    checks["published_sha256"] = published.get(a.rows)
    checks["identical"] = identical  # every run of every engine vs the first weakflow run
    checks["equals_tiled_base"] = bool(np.array_equal(ref, base[np.arange(a.rows) % nb]))
    for prefix in ("", "base_"):
        pub = checks[f"{prefix}published_sha256"]
        mine = checks[f"{prefix}sha256_int8"]
        checks[f"{prefix}matches_published"] = None if pub is None else mine == pub

    snorkel_med = median(times.get("snorkel PandasLFApplier", []))
    rows_out, engines = [], {}
    for name, ts in times.items():
        med = median(ts)
        speedup = snorkel_med / med if applier is not None else None
        engines[name] = {
            "runs_s": [round(t, 4) for t in ts],
            "median_s": round(med, 4),
            "rows_per_s": round(a.rows / med, 1),
            "speedup_vs_snorkel": None if speedup is None else round(speedup, 2),
        }
        rows_out.append(
            [
                name,
                f"{a.rows:,}",
                f"{fmt(med)} (n={len(ts)})",
                f"{a.rows / med:,.0f}",
                "n/a" if speedup is None else f"{speedup:.1f}x",
            ]
        )
    print_table(
        f"LF apply, {a.rows:,} rows x {len(lfs)} LFs (median wall seconds)",
        ["engine", "rows", "median s", "rows/s", "vs Snorkel"],
        rows_out,
    )
    if dask_startup is not None:
        print(f"Dask LocalCluster startup (not in the Dask times): {dask_startup:.2f} s")
    if applier is not None and snorkel_repeats == 1:
        print("Snorkel: a single run (--snorkel-repeats 1), so its 'median' is that one run.")
    pub_s = peer["lf_apply_s"].get(a.rows)
    if pub_s is not None:
        local = engines["weakflow local"]["median_s"]
        print(
            f"Context: Snorkel's published median for {a.rows:,} rows is {pub_s:.1f} s "
            f"(RESULTS-snorkel.md, another run); weakflow local here is {pub_s / local:.1f}x that."
        )

    def published_note(mine: str, pub: str | None) -> str:
        return (
            "no published figure"
            if pub is None
            else ("= published" if mine == pub else "≠ published!")
        )

    print(
        f"L sha256 (int8, C order) {checks['sha256_int8']} "
        f"[{published_note(checks['sha256_int8'], checks['published_sha256'])}]; "
        f"base {nb:,} rows {checks['base_sha256_int8'][:8]}…{checks['base_sha256_int8'][-4:]} "
        f"[{published_note(checks['base_sha256_int8'], checks['base_published_sha256'])}]"
    )
    base_checks = [v for key, v in checks.items() if key.startswith("base_equal")]
    same = all(identical.values()) and checks["equals_tiled_base"] and all(base_checks)
    print(
        f"All matrices identical: {same} (every run of every engine, the tiled base matrix, "
        f"and the base matrix on each engine: {identical}, "
        f"{ {k: v for k, v in checks.items() if k.startswith('base_equal')} })"
    )

    goal: dict[str, Any] = {"target_speedup_local": GOAL_SPEEDUP}
    if applier is not None:
        got = engines["weakflow local"]["speedup_vs_snorkel"]
        goal.update(speedup_local=got, met=bool(got >= GOAL_SPEEDUP and same))
        print(
            f"Goal: weakflow local >= {GOAL_SPEEDUP:.0f}x Snorkel -> {got:.1f}x: "
            f"{'met' if goal['met'] else 'NOT met'}"
        )
    else:
        goal["met"] = None
        print("Goal (local >= 50x Snorkel) not evaluated: Snorkel was skipped.")

    payload = {
        "benchmark": "lf_apply",
        "machine": machine_info(load_at_start),
        "loadavg_1m_at_end": round(load_average(), 2),
        "params": {
            "rows": a.rows,
            "repeats": a.repeats,
            "snorkel_repeats": snorkel_repeats if applier is not None else 0,
            "snorkel_skipped": why or None,
            "lf_names": [lf.name for lf in lfs],
            "text_dtype": str(df["text"].dtype),
        },
        "snorkel_published_median_s": pub_s,
        "dask_startup_s": None if dask_startup is None else round(dask_startup, 3),
        "dask_warmup_s": None if warmup is None else round(warmup, 3),
        "engines": engines,
        "checks": checks,
        "goal": goal,
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }
    path = write_results(results_name("lf_apply", a.rows), payload)
    print(f"Results: {path}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
