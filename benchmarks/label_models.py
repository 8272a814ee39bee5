"""Label-model quality on the WRENCH datasets: weakflow against majority vote and Snorkel.

For every dataset folder in ``<shared>/data/wrench`` (skipped cleanly when absent), all models fit
on the train split's weak labels only and are scored on the test split with WRENCH's metric for
that dataset (accuracy, or the F1 of class 1 for sms). The valid split's gold labels may be used
for model selection, decision thresholds and class balance, never for fitting.

Peers, run in the same process (``.venv-bench``):

- majority vote as the published baselines run it: Snorkel's ``MajorityLabelVoter`` with ties and
  rows without votes broken at random (mean of 5 seeds);
- Snorkel 0.10.0 ``LabelModel`` with its defaults (5 seeds), and with the class balance estimated
  from the valid split's gold labels (5 seeds); predictions break ties at random, as published.

weakflow: every label model with the valid-set class balance, and ``LabelModel(method="auto")``.
Goal (issue 2): auto >= the best peer on every dataset, and +2 points on average over the
per-dataset best peer.

Usage: python benchmarks/label_models.py [--datasets youtube sms ...] [--seeds 5] [--skip-snorkel]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    fmt,
    load_average,
    machine_info,
    print_table,
    shared_root,
    write_results,
)
from weakflow.data import load_wrench
from weakflow.labelmodel import (
    DawidSkene,
    LabelModel,
    MajorityVote,
    MatrixCompletion,
    Triplet,
    score_predictions,
)

#: WRENCH's metric per dataset (WRENCH paper and ../shared/data/README.md); accuracy otherwise.
WRENCH_METRIC = {"sms": "f1", "spouse": "f1", "cdr": "f1", "basketball": "f1", "tennis": "f1"}


def wrench_dir() -> Path:
    return shared_root() / "data" / "wrench"


def _snorkel() -> Any:
    try:
        import snorkel.labeling.model as sm
    except ImportError:
        return None
    return sm


def snorkel_scores(
    sm: Any, ds: Any, metric: str, seeds: int, with_valid_prior: bool
) -> list[float]:
    """Snorkel LabelModel test scores over seeds (ties broken at random, as published)."""
    k = ds.n_classes
    prior = None
    if with_valid_prior:
        counts = np.bincount(ds.valid.y, minlength=k).astype(float)
        prior = list(counts / counts.sum())
    scores = []
    for seed in range(seeds):
        lm = sm.LabelModel(cardinality=k, verbose=False)
        lm.fit(
            ds.train.L.values.astype(np.int64),
            class_balance=prior,
            seed=seed,
            progress_bar=False,
        )
        np.random.seed(seed)  # noqa: NPY002  (Snorkel's random tie-break uses the global RNG)
        pred = lm.predict(ds.test.L.values.astype(np.int64), tie_break_policy="random")
        scores.append(score_predictions(ds.test.y, np.asarray(pred), metric, k))
    return scores


def snorkel_majority(sm: Any, ds: Any, metric: str, seeds: int) -> list[float]:
    k = ds.n_classes
    scores = []
    for seed in range(seeds):
        mv = sm.MajorityLabelVoter(cardinality=k)
        np.random.seed(seed)  # noqa: NPY002  (as above)
        pred = mv.predict(ds.test.L.values.astype(np.int64), tie_break_policy="random")
        scores.append(score_predictions(ds.test.y, np.asarray(pred), metric, k))
    return scores


def weakflow_scores(ds: Any, metric: str) -> dict[str, dict[str, Any]]:
    """Every weakflow model (valid-set class balance) and auto, with fit times."""
    k = ds.n_classes
    models: dict[str, Any] = {
        "mv": MajorityVote(cardinality=k),
        "ds": DawidSkene(cardinality=k),
        "mc": MatrixCompletion(cardinality=k),
        "triplet": Triplet(cardinality=k),
        "auto": LabelModel(cardinality=k, metric=metric),
    }
    out = {}
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(ds.train.L, L_dev=ds.valid.L, y_dev=ds.valid.y)
        seconds = time.perf_counter() - start
        pred = model.predict(ds.test.L)
        entry: dict[str, Any] = {
            "score": score_predictions(ds.test.y, pred, metric, k),
            "fit_seconds": seconds,
        }
        if name == "auto":
            entry["selected"] = model.method_
            entry["threshold"] = model.threshold_
            entry["selection"] = model.selection_
            if k == 2 and metric == "f1":
                entry["test_oracle_threshold_f1"] = _oracle_f1(model, ds)
        out[name] = entry
    return out


def _oracle_f1(model: Any, ds: Any) -> float:
    """Diagnostic only: the best test F1 any threshold on auto's P(class 1) could reach."""
    p1 = model.predict_proba(ds.test.L)[:, 1]
    cuts = np.concatenate([[-1.0], np.unique(p1)])
    return max(score_predictions(ds.test.y, (p1 > t).astype(np.int64), "f1", 2) for t in cuts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", nargs="*", help="dataset folder names (default: all)")
    ap.add_argument("--seeds", type=int, default=5, help="seeds for the random peers")
    ap.add_argument("--skip-snorkel", action="store_true")
    args = ap.parse_args()
    load = load_average()
    root = wrench_dir()
    if not root.is_dir():
        print(f"skipped: WRENCH data {root} not found (set WEAKFLOW_SHARED to the shared folder).")
        return 0
    names = args.datasets or sorted(p.name for p in root.iterdir() if (p / "train.json").is_file())
    sm = None if args.skip_snorkel else _snorkel()
    if sm is None and not args.skip_snorkel:
        print("note: snorkel is not importable here; run `make bench` for the peer columns.")
    rows, results = [], {}
    gains = []
    for name in names:
        ds = load_wrench(root / name)
        metric = WRENCH_METRIC.get(name, "accuracy")
        print(
            f"{name}: {len(ds.train)} train rows, {ds.n_lfs} LFs, {ds.n_classes} classes",
            flush=True,
        )
        ours = weakflow_scores(ds, metric)
        peers: dict[str, list[float]] = {}
        if sm is not None:
            peers["majority vote (random ties)"] = snorkel_majority(sm, ds, metric, args.seeds)
            peers["snorkel LabelModel"] = snorkel_scores(sm, ds, metric, args.seeds, False)
            peers["snorkel + valid prior"] = snorkel_scores(sm, ds, metric, args.seeds, True)
        peer_means = {p: float(np.mean(v)) for p, v in peers.items()}
        best_peer = max(peer_means.values()) if peer_means else float("nan")
        gain = ours["auto"]["score"] - best_peer
        gains.append(gain)
        results[name] = {
            "metric": metric,
            "weakflow": ours,
            "peers": {
                p: {"mean": peer_means[p], "std": float(np.std(v)), "runs": v}
                for p, v in peers.items()
            },
            "best_peer": best_peer,
            "auto_minus_best_peer": gain,
        }
        rows.append(
            [
                name,
                "F1" if metric == "f1" else "acc",
                *(fmt(100 * peer_means[p], 2) for p in peers),
                *(fmt(100 * ours[m]["score"], 2) for m in ("mv", "ds", "mc", "triplet")),
                f"{fmt(100 * ours['auto']['score'], 2)} ({ours['auto']['selected']})",
                fmt(100 * gain, 2),
            ]
        )
    peer_cols = list(next(iter(results.values()))["peers"]) if results else []
    print_table(
        f"Label models on WRENCH test splits (x100); peers are means over {args.seeds} seeds",
        [
            "dataset",
            "metric",
            *peer_cols,
            "wf mv",
            "wf ds",
            "wf mc",
            "wf triplet",
            "wf auto (chose)",
            "auto - best peer",
        ],
        rows,
    )
    finite = [g for g in gains if g == g]
    summary = {
        "mean_gain_over_best_peer_points": 100 * float(np.mean(finite)) if finite else None,
        "auto_at_least_best_peer_everywhere": bool(finite) and all(g >= 0 for g in finite),
        "goal": "auto >= best peer on every dataset and +2 points on average",
    }
    if finite:
        everywhere = summary["auto_at_least_best_peer_everywhere"]
        print(
            f"\nauto - best peer: mean {summary['mean_gain_over_best_peer_points']:+.2f} points; "
            f"at least the best peer on every dataset: {everywhere}"
        )
    path = write_results(
        "label_models",
        {"machine": machine_info(load), "datasets": results, "summary": summary},
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
