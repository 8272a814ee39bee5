"""Feedback poisoning: the retrained model's test accuracy with and without weakflow's screen.

Why: feedback labels train the next model as gold rows (``[data] feedback_to_train``), so one
source that submits flipped labels steers it. ``weakflow.feedback.screen_feedback`` quarantines
a source that floods or agrees with the model / LF majority far less than its peers. This
measures what that buys, on the bundled YouTube example (no shared data needed).

Setup, per seed: ``weakflow init --example youtube`` + ``weakflow run`` (v1); 800 comments of
the train pool are logged as predictions with v1's outputs and LF votes; three honest sources
label 450 of them with the dataset's gold labels. Attacks, by one more source ("mallory"), on
other predictions: ``subtle`` = 150 labels, 30% of them flipped; ``flood`` = 200 labels, all
flipped (30% of all feedback). Each project copy is retrained once:

- ``clean``: honest labels only;
- ``defended``: honest + attacker, screen on (the default);
- ``undefended``: honest + attacker, ``[feedback] screen = false``.

Reported: test accuracy of each retrained model (the gold test split), whether the attacker was
quarantined, and honest sources wrongly quarantined. Goal (issue 8): the defended model within 1
point of the clean one.

Usage: python benchmarks/poisoning.py [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt, load_average, machine_info, print_table, write_results
from weakflow.data import load_youtube, read_table
from weakflow.feedback import quarantined_sources
from weakflow.pipeline import Project, init_project, run_project
from weakflow.registry import open_registry
from weakflow.serve._lfs import load_lfs
from weakflow.store import Database, add_feedback, default_url, write_predictions

ATTACKS = {"subtle": (150, 0.3), "flood": (200, 1.0)}
HONEST = ("alice", "bob", "carol")


def log(project: Project, texts: list[str]) -> list[str]:
    registry = open_registry(project.state_dir, project.config.store.url)
    try:
        info = registry.resolve("youtube-spam", "production")
        proba = np.asarray(registry.load_model(info.name, info.version).predict_proba(texts))
        lfs = load_lfs(info.lineage, project, label="bench", k=2)
        assert lfs is not None
        votes = lfs.votes([{"text": t} for t in texts])
        now = dt.datetime.now(dt.UTC)
        rows = [
            {"id": uuid.uuid4().hex, "created_at": now, "model_name": info.name,
             "model_version": info.version, "variant": "primary", "inputs": {"text": t},
             "lf_votes": votes[i].tolist(), "label": int(proba[i].argmax()),
             "probabilities": proba[i].tolist(), "latency_ms": 0.0, "client_key": None,
             "subject_id": None}
            for i, t in enumerate(texts)
        ]  # fmt: skip
        write_predictions(registry.db, rows)
        return [r["id"] for r in rows]
    finally:
        registry.db.close()


def retrain(base: Path, where: Path, items: list[tuple[str, int, str]], screen: bool) -> dict:
    root = Path(shutil.copytree(base, where))
    if not screen:
        cfg = root / "weakflow.toml"
        cfg.write_text(cfg.read_text() + "\n[feedback]\nscreen = false\n")
    project = Project.load(root)
    db = Database(default_url(project.state_dir))
    add_feedback(db, items)
    db.close()
    result = run_project(project)
    db = Database(default_url(project.state_dir))
    quarantined = quarantined_sources(db)
    db.close()
    return {
        "accuracy": float(result.report["end_model"]["test"]["accuracy"]),
        "quarantined": sorted(quarantined),
    }


def run_seed(seed: int, tmp: Path) -> dict[str, Any]:
    base = tmp / f"seed{seed}" / "base"
    init_project(base, example="youtube", seed=seed)
    run_project(base)
    pool = read_table(base / "data" / "train.csv").sample(800, random_state=seed)
    gold = load_youtube()["label"].to_numpy()[pool["id"].str.removeprefix("yt-").astype(int)]
    ids = log(Project.load(base), pool["text"].astype(str).tolist())
    honest = [(ids[i], int(gold[i]), HONEST[i % 3]) for i in range(450)]
    out: dict[str, Any] = {"clean": retrain(base, tmp / f"seed{seed}" / "clean", honest, True)}
    rng = np.random.default_rng(seed)
    for name, (n, share) in ATTACKS.items():
        flip = rng.random(n) < share
        attack = [(ids[i], int(1 - gold[i] if f else gold[i]), "mallory")
                  for i, f in zip(range(450, 450 + n), flip, strict=True)]  # fmt: skip
        for screen in (True, False):
            label = f"{name}_{'defended' if screen else 'undefended'}"
            out[label] = retrain(base, tmp / f"seed{seed}" / label, honest + attack, screen)
            out[label]["flipped_labels"] = int(flip.sum())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    load = load_average()
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="weakflow-poison-") as tmp:
        for seed in args.seeds:
            runs[str(seed)] = run_seed(seed, Path(tmp))
            print(f"seed {seed}: " + ", ".join(
                f"{k} {v['accuracy']:.4f}" for k, v in runs[str(seed)].items()))  # fmt: skip
    rows, summary = [], {}
    for variant in ("clean", *(f"{a}_{d}" for a in ATTACKS for d in ("defended", "undefended"))):
        accs = [runs[s][variant]["accuracy"] for s in runs]
        gaps = [runs[s][variant]["accuracy"] - runs[s]["clean"]["accuracy"] for s in runs]
        caught = [("mallory" in runs[s][variant]["quarantined"]) for s in runs]
        false_q = [len(set(runs[s][variant]["quarantined"]) - {"mallory"}) for s in runs]
        summary[variant] = {
            "mean_accuracy": float(np.mean(accs)), "mean_gap_vs_clean": float(np.mean(gaps)),
            "max_abs_gap_vs_clean": float(np.max(np.abs(gaps))),
            "attacker_quarantined": f"{sum(caught)}/{len(caught)}",
            "honest_quarantined": int(sum(false_q)),
        }  # fmt: skip
        s = summary[variant]
        rows.append([variant, fmt(s["mean_accuracy"], 4), fmt(100 * s["mean_gap_vs_clean"], 2),
                     fmt(100 * s["max_abs_gap_vs_clean"], 2), s["attacker_quarantined"],
                     s["honest_quarantined"]])  # fmt: skip
    print_table(
        "Retrained model's test accuracy under feedback poisoning (mean over seeds)",
        ["variant", "accuracy", "gap pts", "max |gap| pts", "attacker quarantined",
         "honest quarantined"],
        rows,
    )  # fmt: skip
    path = write_results(
        "poisoning",
        {
            "machine": machine_info(load),
            "seeds": args.seeds,
            "summary": summary,
            "runs": runs,
        },
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
