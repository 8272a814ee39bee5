"""Label-model speed, quality and memory: weakflow's models vs Snorkel's LabelModel.

Data: synthetic label matrices from the peers' generator (``<shared>/bench/synth_lf_matrix.py``,
``generate(n, m, k, seed=0)``), 1,000,000 rows x 50 LFs for k = 2 and k = 6 by default, with the
true labels y and the nominal LF accuracies. The matrices' int8 sha256 are checked against
RESULTS-snorkel.md, so Snorkel's published figures are on the same data.

Models: weakflow's MajorityVote, DawidSkene, MatrixCompletion, Triplet and LabelModel() (auto, no
dev set), on the int8 matrix; Snorkel's
``LabelModel(cardinality=K, verbose=False).fit(L, n_epochs=100, seed=0, progress_bar=False)`` and
``MajorityLabelVoter``, on L as int64 (as PandasLFApplier returns it).

Each model is measured in a fresh subprocess (this script re-invoked with ``--worker``), so its
peak memory is its own: the process loads L, resets its high-water mark, then fits and predicts
``--repeats`` times. Reported: fit and predict_proba wall seconds (medians), accuracy of
argmax(predict_proba) against y, MAE of the learned LF accuracies against the nominal ones
(Snorkel: ``get_weights()``), the process's peak RSS minus its RSS before fitting, and that peak.

Usage: python benchmarks/label_model_speed.py [--rows N] [--lfs M] [--classes 2 6] [--repeats R]
       [--snorkel-repeats S] [--skip-snorkel] [--models mv ds mc triplet auto snorkel-lm snorkel-mv]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from _common import (
    current_rss_mib,
    fmt,
    import_shared,
    load_average,
    machine_info,
    median,
    peak_rss_mib,
    print_table,
    published_snorkel,
    require_shared,
    reset_peak_rss,
    results_name,
    timed,
    write_results,
)

WEAKFLOW_MODELS = {
    "mv": "MajorityVote",
    "ds": "DawidSkene",
    "mc": "MatrixCompletion",
    "triplet": "Triplet",
    "auto": "LabelModel (auto)",
}
SNORKEL_MODELS = {"snorkel-lm": "snorkel LabelModel", "snorkel-mv": "snorkel MajorityLabelVoter"}
ALL_MODELS = {**WEAKFLOW_MODELS, **SNORKEL_MODELS}
GOAL_SPEEDUP = 20.0
RESULT_TAG = "WORKER-RESULT "


# -- worker processes -------------------------------------------------------------------------
def _make_model(name: str, k: int) -> tuple[Any, Any]:
    """The model and its fit call (a closure taking L; None when the model has no fit)."""
    if name in SNORKEL_MODELS:
        from snorkel.labeling.model import LabelModel as SnorkelLabelModel
        from snorkel.labeling.model import MajorityLabelVoter

        if name == "snorkel-lm":
            model = SnorkelLabelModel(cardinality=k, verbose=False)
            return model, lambda L: model.fit(L, n_epochs=100, seed=0, progress_bar=False)
        return MajorityLabelVoter(cardinality=k), None  # nothing to fit
    from weakflow.labelmodel import DawidSkene, LabelModel, MajorityVote, MatrixCompletion, Triplet

    classes = {"mv": MajorityVote, "ds": DawidSkene, "mc": MatrixCompletion, "triplet": Triplet}
    model = LabelModel() if name == "auto" else classes[name](cardinality=k)
    return model, lambda L: model.fit(L)


def _learned_accuracies(name: str, model: Any) -> np.ndarray | None:
    if name == "snorkel-lm":
        return np.asarray(model.get_weights(), dtype=float)
    acc = getattr(model, "lf_accuracies_", None)
    if acc is None or not np.isfinite(np.asarray(acc, dtype=float)).all():
        return None  # majority vote learns no accuracies
    return np.asarray(acc, dtype=float)


def run_worker(name: str, k: int, data_dir: Path, repeats: int) -> dict[str, Any]:
    """Fit and predict one model ``repeats`` times on the saved matrix; runs in its own process."""
    # Libraries are imported before the baseline (torch alone is ~350 MiB): memory is the model's.
    if name in SNORKEL_MODELS:
        import snorkel.labeling.model  # noqa: F401
    else:
        import weakflow.labelmodel  # noqa: F401
    L = np.load(data_dir / f"L_k{k}.npy")
    y = np.load(data_dir / f"y_k{k}.npy")
    acc = np.load(data_dir / f"acc_k{k}.npy")
    emp = np.load(data_dir / f"emp_k{k}.npy")
    if name in SNORKEL_MODELS:
        L = L.astype(np.int64)  # what Snorkel users hand over (PandasLFApplier returns int64)
    peak_before_reset = peak_rss_mib()
    reset = reset_peak_rss()
    rss_before = current_rss_mib()
    fit_s, predict_s = [], []
    model = P = None
    for _ in range(repeats):
        del model, P  # the previous repeat's model and probabilities are not counted twice
        model, fit = _make_model(name, k)
        if fit is not None:
            s, _ = timed(lambda: fit(L))  # noqa: B023 (called at once, inside this iteration)
            fit_s.append(s)
        s, P = timed(lambda: model.predict_proba(L))  # noqa: B023
        predict_s.append(s)
    peak = peak_rss_mib()
    assert P is not None
    pred = np.asarray(P).argmax(axis=1)
    learned = _learned_accuracies(name, model)
    out: dict[str, Any] = {
        "model": name,
        "classes": k,
        "fit_s": [round(t, 4) for t in fit_s],
        "predict_proba_s": [round(t, 4) for t in predict_s],
        "accuracy": float((pred == y).mean()),
        "weights_mae_vs_nominal": None if learned is None else float(np.abs(learned - acc).mean()),
        "weights_mae_vs_empirical": None
        if learned is None
        else float(np.abs(learned - emp).mean()),
        "L_dtype": str(L.dtype),
        "rss_before_fit_mib": round(rss_before, 1),
        "peak_rss_mib": round(peak, 1),
        "peak_increase_mib": round(peak - rss_before, 1),
        "peak_reset": reset,
        "peak_rss_before_reset_mib": round(peak_before_reset, 1),
    }
    if name == "auto":
        out["chosen"] = getattr(model, "method_", None)
    if name in SNORKEL_MODELS:
        import torch

        out["torch_threads"] = torch.get_num_threads()
    return out


def run_generator(rows: int, lfs: int, k: int, data_dir: Path) -> dict[str, Any]:
    """Generate one matrix with the peers' generator and save it (in its own process too)."""
    synth = import_shared("synth_lf_matrix")
    s, (L, y, _cov, acc) = timed(lambda: synth.generate(rows, lfs, k, 0))
    voted = L != -1
    emp = np.array([(L[voted[:, j], j] == y[voted[:, j]]).mean() for j in range(lfs)])
    for key, arr in (("L", L), ("y", y), ("acc", acc), ("emp", emp)):
        np.save(data_dir / f"{key}_k{k}.npy", arr)
    return {
        "sha256_int8": synth.sha(L),
        "generate_s": round(s, 3),
        "covered": float(voted.any(axis=1).mean()),
        "votes_per_row": float(voted.sum(axis=1).mean()),
    }


def _subprocess(args: list[str]) -> dict[str, Any]:
    """Run this script with ``args`` and return the JSON it reports."""
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith(RESULT_TAG)]
    if res.returncode != 0 or not lines:
        raise RuntimeError(
            f"{' '.join(args)} failed (exit {res.returncode}):\n{res.stderr[-3000:]}"
        )
    return json.loads(lines[-1][len(RESULT_TAG) :])  # type: ignore[no-any-return]


# -- the driver -------------------------------------------------------------------------------
def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--lfs", type=int, default=50)
    ap.add_argument("--classes", type=int, nargs="+", default=[2, 6])
    ap.add_argument("--repeats", type=int, default=3, help="fits per weakflow model (median)")
    ap.add_argument(
        "--snorkel-repeats",
        type=int,
        default=3,
        help="fits per Snorkel model (the first ~10-45 s at 1M rows, the next ones faster)",
    )
    ap.add_argument("--skip-snorkel", action="store_true")
    ap.add_argument("--models", nargs="+", choices=list(ALL_MODELS), default=list(ALL_MODELS))
    ap.add_argument("--worker", choices=[*ALL_MODELS, "generate"], help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def _summarize(r: dict[str, Any]) -> dict[str, Any]:
    fits = r["fit_s"]
    r["fit_median_s"] = median(fits) if fits else None  # None: nothing to fit
    r["fit_first_s"] = fits[0] if fits else None  # cold: the process's first fit
    r["predict_proba_median_s"] = median(r["predict_proba_s"])
    return r


def _ratio(ref: float | None, value: float | None) -> float | None:
    return ref / value if ref and value else None


def _table(k: int, results: dict[str, dict[str, Any]], rows: int, lfs: int) -> None:
    ref = results.get("snorkel-lm")
    out = []
    for name, r in results.items():
        fit, first = r["fit_median_s"], r["fit_first_s"]
        speed = _ratio(ref and ref["fit_median_s"], fit)
        cold = _ratio(ref and ref["fit_first_s"], first)
        total = _ratio(
            ref and ref["fit_median_s"] + ref["predict_proba_median_s"],
            (fit or 0.0) + r["predict_proba_median_s"],
        )
        r["speedup_fit_vs_snorkel_lm"] = speed
        r["speedup_first_fit_vs_snorkel_lm"] = cold
        r["speedup_fit_predict_vs_snorkel_lm"] = total
        r["accuracy_minus_snorkel_lm"] = r["accuracy"] - ref["accuracy"] if ref else None
        out.append(
            [
                ALL_MODELS[name],
                f"{fmt(fit)} (n={len(r['fit_s'])})" if fit is not None else "no fit",
                fmt(first),
                fmt(r["predict_proba_median_s"]),
                "n/a" if speed is None else f"{speed:,.1f}x",
                "n/a" if cold is None else f"{cold:,.1f}x",
                f"{r['accuracy']:.5f}",
                "n/a" if ref is None else f"{r['accuracy'] - ref['accuracy']:+.5f}",
                fmt(r["weights_mae_vs_nominal"], 5),
                f"{r['peak_increase_mib']:,.0f} / {r['peak_rss_mib']:,.0f}",
            ]
        )
    print_table(
        f"Label models, {rows:,} rows x {lfs} LFs, k={k} (wall seconds)",
        [
            "model",
            "fit s (median)",
            "1st fit s",
            "predict_proba s",
            "fit vs Snorkel LM",
            "1st fit vs LM",
            "accuracy",
            "acc - LM",
            "weights MAE",
            "peak MiB (+fit / abs)",
        ],
        out,
    )
    print(
        "1st fit: the first fit in the model's fresh process, with one-time costs (library "
        "warm-up, first touch of memory); the median is over all fits in that process."
    )
    auto = results.get("auto")
    if auto and auto.get("chosen"):
        print(f"LabelModel (auto) chose {auto['chosen']} (no dev set).")


def main(argv: list[str] | None = None) -> int:
    a = _parse(argv)
    if a.worker == "generate":
        print(RESULT_TAG + json.dumps(run_generator(a.rows, a.lfs, a.classes[0], a.data_dir)))
        return 0
    if a.worker:
        print(RESULT_TAG + json.dumps(run_worker(a.worker, a.classes[0], a.data_dir, a.repeats)))
        return 0

    load_at_start = load_average()
    require_shared()
    peer = published_snorkel()
    published = peer["label_matrix"]
    models = list(dict.fromkeys(a.models))
    skipped = None
    if a.skip_snorkel:
        skipped = "--skip-snorkel"
    elif importlib.util.find_spec("snorkel") is None:
        skipped = "snorkel is not importable here (it lives in .venv-bench: run `make bench`)"
    if skipped:
        models = [m for m in models if m not in SNORKEL_MODELS]
        print(f"Snorkel skipped: {skipped}.")
    print(f"load average {load_at_start:.2f} at start; each model runs in its own process")

    data_dir = Path(tempfile.mkdtemp(prefix="weakflow-lm-bench-"))
    per_k: dict[str, Any] = {}
    try:
        for k in a.classes:
            common = ["--rows", str(a.rows), "--lfs", str(a.lfs), "--classes", str(k)]
            common += ["--data-dir", str(data_dir)]
            data = _subprocess(["--worker", "generate", *common])
            pub = published.get((a.rows, a.lfs, k))
            data["published_sha256"] = pub
            data["matches_published"] = None if pub is None else data["sha256_int8"] == pub
            note = (
                "no published figure"
                if pub is None
                else ("= published" if data["matches_published"] else "≠ published!")
            )
            print(
                f"\nk={k}: L {a.rows:,} x {a.lfs} generated in {data['generate_s']:.1f} s, "
                f"sha256 {data['sha256_int8']} [{note}]"
            )
            results: dict[str, dict[str, Any]] = {}
            # Snorkel's LabelModel first, so every other row can be compared with it.
            for name in sorted(models, key=lambda m: m != "snorkel-lm"):
                reps = a.snorkel_repeats if name in SNORKEL_MODELS else a.repeats
                r = _subprocess(["--worker", name, "--repeats", str(reps), *common])
                results[name] = _summarize(r)
                print(
                    f"  {ALL_MODELS[name]}: fit {fmt(r['fit_median_s'])} s, predict_proba "
                    f"{r['predict_proba_median_s']:.3f} s, accuracy {r['accuracy']:.5f}, "
                    f"peak +{r['peak_increase_mib']:,.0f} MiB"
                )
            _table(k, results, a.rows, a.lfs)
            pub_lm = peer["lm"].get((a.rows, k))
            if pub_lm is not None:
                print(
                    f"Context: Snorkel's published LabelModel fit median for this matrix is "
                    f"{pub_lm['fit_s']:.2f} s, accuracy {pub_lm['accuracy']:.5f} "
                    "(RESULTS-snorkel.md, another run)."
                )
            per_k[str(k)] = {"data": data, "models": results, "snorkel_published": pub_lm}
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    goal: dict[str, Any] = {"target_speedup_fit": GOAL_SPEEDUP, "per_k": {}}
    for k, block in per_k.items():
        ref = block["models"].get("snorkel-lm")
        if ref is None:
            continue
        verdicts = {}
        for name, r in block["models"].items():
            if name in SNORKEL_MODELS:
                continue
            ok = r["speedup_fit_vs_snorkel_lm"] >= GOAL_SPEEDUP and r["accuracy"] >= ref["accuracy"]
            verdicts[name] = {
                "speedup_fit": round(r["speedup_fit_vs_snorkel_lm"], 2),
                "speedup_first_fit": round(r["speedup_first_fit_vs_snorkel_lm"], 2),
                "accuracy_minus_snorkel": round(r["accuracy_minus_snorkel_lm"], 6),
                "met": bool(ok),
            }
        goal["per_k"][k] = verdicts
        auto = verdicts.get("auto")
        if auto:
            print(
                f"Goal k={k}: LabelModel(auto) >= {GOAL_SPEEDUP:.0f}x faster fit than Snorkel's "
                f"LabelModel at >= its accuracy -> {auto['speedup_fit']:.1f}x (first fits: "
                f"{auto['speedup_first_fit']:.1f}x), accuracy "
                f"{auto['accuracy_minus_snorkel']:+.5f}: {'met' if auto['met'] else 'NOT met'}"
            )
        met = [n for n, v in verdicts.items() if v["met"]]
        print(f"  models meeting the goal at k={k}: {', '.join(met) or 'none'}")
    if not goal["per_k"]:
        print("Goal (>= 20x Snorkel's LabelModel fit at equal accuracy) not evaluated: no Snorkel.")

    payload = {
        "benchmark": "label_model_speed",
        "machine": machine_info(load_at_start),
        "loadavg_1m_at_end": round(load_average(), 2),
        "params": {
            "rows": a.rows,
            "lfs": a.lfs,
            "classes": a.classes,
            "seed": 0,
            "repeats": a.repeats,
            "snorkel_repeats": 0 if skipped else a.snorkel_repeats,
            "snorkel_skipped": skipped,
            "models": models,
            "snorkel_fit": "LabelModel(cardinality=K, verbose=False).fit(L_int64, n_epochs=100, "
            "seed=0, progress_bar=False)",
            "memory": "per model process: ru_maxrss after fit+predict (high-water mark reset "
            "after loading L) minus VmRSS before the first fit",
        },
        "results": per_k,
        "goal": goal,
    }
    path = write_results(results_name("label_model_speed", a.rows), payload)
    print(f"Results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
