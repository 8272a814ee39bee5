"""``weakflow demo``: the labeling part of the loop on the bundled YouTube spam comments."""

from __future__ import annotations

import time
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from weakflow.cli._console import out
from weakflow.data import YOUTUBE_CITATION, load_youtube
from weakflow.labeling import apply_lfs, label_stats, lf_summary
from weakflow.labeling.examples import youtube_spam_lfs
from weakflow.labelmodel import (
    DawidSkene,
    LabelModel,
    MajorityVote,
    MatrixCompletion,
    Triplet,
    score_predictions,
)

_DEV_ROWS = 100
_TEST_ROWS = 400


def _pct(x: float) -> str:
    return "-" if np.isnan(x) else f"{100 * x:.1f}%"


def demo(
    seed: Annotated[int, typer.Option(help="Seed of the train/dev/test split.")] = 0,
) -> None:
    """Label the bundled YouTube comments with LFs and compare label models.

    The comments are split into an unlabeled train pool, a small gold dev set (100 rows) and a
    gold test set (400 rows). Nine spam-tutorial LFs vote on every comment; label models learn
    from the train pool's votes alone and are scored on the test set.
    """
    out.rule("[bold]weakflow demo[/]: from no labels to training labels")
    out.print(f"Data: UCI YouTube Spam Collection. {YOUTUBE_CITATION}")
    df = load_youtube()
    order = np.random.default_rng(seed).permutation(len(df))
    dev_idx, test_idx = order[:_DEV_ROWS], order[_DEV_ROWS : _DEV_ROWS + _TEST_ROWS]
    train_idx = order[_DEV_ROWS + _TEST_ROWS :]
    y = df["label"].to_numpy()
    out.print(
        f"{len(df):,} comments -> train pool {len(train_idx):,} (labels hidden), "
        f"dev {len(dev_idx)} and test {len(test_idx)} (gold)."
    )

    lfs = youtube_spam_lfs()
    start = time.perf_counter()
    L = apply_lfs(lfs, df[["text"]], cardinality=2)
    out.print(f"Applied {len(lfs)} labeling functions in {time.perf_counter() - start:.2f} s.\n")
    L_train, L_dev, L_test = L.rows(train_idx), L.rows(dev_idx), L.rows(test_idx)

    auto = LabelModel(cardinality=2, random_state=seed).fit(L_train, L_dev=L_dev, y_dev=y[dev_idx])
    summary = lf_summary(L_train, cardinality=2)
    dev_summary = lf_summary(L_dev, y[dev_idx], cardinality=2)
    table = Table(
        title="Labeling functions: coverage, overlaps and conflicts (clash) on the train pool"
    )
    table.add_column("LF", no_wrap=True)
    for col in ("votes", "cover", "overlap", "clash", "dev acc", "learned"):
        table.add_column(col, justify="right")
    for (name, row), dev_acc, learned in zip(
        summary.iterrows(), dev_summary["emp_accuracy"], auto.lf_accuracies_, strict=True
    ):
        table.add_row(
            str(name),
            "spam" if row["polarity"] == [1] else "ham" if row["polarity"] == [0] else "-",
            _pct(row["coverage"]),
            _pct(row["overlaps"]),
            _pct(row["conflicts"]),
            _pct(dev_acc),
            _pct(learned),
        )
    out.print(table)
    totals = label_stats(L_train, 2)
    out.print(
        f"Train pool: {_pct(totals['coverage'])} of comments get at least one vote, "
        f"{_pct(totals['overlap'])} two or more, {_pct(totals['conflict'])} conflicting votes.\n"
    )

    models = {
        "majority vote": MajorityVote(cardinality=2),
        "Dawid-Skene": DawidSkene(cardinality=2),
        "matrix completion": MatrixCompletion(cardinality=2),
        "triplet": Triplet(cardinality=2),
    }
    scores = Table(title="Label models on the gold test set (fit on the train pool's votes)")
    for col in ("label model", "test accuracy", "test F1 (spam)"):
        scores.add_column(col, justify="left" if col == "label model" else "right")
    for name, model in models.items():
        model.fit(L_train, L_dev=L_dev, y_dev=y[dev_idx])
        pred = model.predict(L_test)
        scores.add_row(
            name,
            _pct(score_predictions(y[test_idx], pred, "accuracy", 2)),
            _pct(score_predictions(y[test_idx], pred, "f1", 2)),
        )
    pred = auto.predict(L_test)
    acc = score_predictions(y[test_idx], pred, "accuracy", 2)
    scores.add_row(
        f"[bold]auto[/] (chose {auto.method_})",
        f"[bold]{_pct(acc)}[/]",
        f"[bold]{_pct(score_predictions(y[test_idx], pred, 'f1', 2))}[/]",
    )
    out.print(scores)
    probs = auto.predict_proba(L_train)
    out.print(
        f"Probabilistic training labels: {len(train_idx):,} rows, mean confidence "
        f"{probs.max(axis=1).mean():.2f}; rows without votes get the class prior "
        f"{np.round(auto.class_balance_, 2).tolist()}."
    )
