"""``weakflow wrench``: score a label model on a WRENCH-format benchmark dataset."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from weakflow.cli._console import err, fail, out
from weakflow.data import load_wrench
from weakflow.errors import DatasetFormatError, WeakflowError
from weakflow.labelmodel import LabelModel, score_predictions


class Method(StrEnum):
    auto = "auto"
    mv = "mv"
    ds = "ds"
    mc = "mc"
    triplet = "triplet"


class Metric(StrEnum):
    acc = "acc"
    f1 = "f1"


def wrench(
    dataset_dir: Annotated[
        Path, typer.Argument(help="A WRENCH folder: label.json and train/valid/test.json.")
    ],
    method: Annotated[
        Method,
        typer.Option(
            help="Label model: auto (picks by the valid split), mv (majority vote), ds "
            "(Dawid-Skene), mc (matrix completion, Snorkel's method), triplet (FlyingSquid)."
        ),
    ] = Method.auto,
    metric: Annotated[
        Metric,
        typer.Option(
            help="Test metric: acc (accuracy) or f1 (F1 of class 1 for binary tasks, macro F1 "
            "otherwise). 'auto' also selects by it on the valid split."
        ),
    ] = Metric.acc,
    seed: Annotated[int, typer.Option(help="Random seed passed to the label model.")] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
) -> None:
    """Fit a label model on a WRENCH dataset and print its test score (a fraction in [0, 1]).

    The model learns from the train split's weak labels only, never its gold labels. The valid
    split's gold labels may choose the model ('auto'), its decision threshold and the class
    balance. The score is on the test split.

    Example: weakflow wrench data/wrench/youtube --method auto --metric acc --json
    """
    try:
        ds = load_wrench(dataset_dir)
    except DatasetFormatError as exc:
        fail(str(exc), code=2)
    k = ds.n_classes
    metric_name = "accuracy" if metric is Metric.acc else ("f1" if k == 2 else "f1_macro")
    model = LabelModel(method.value, cardinality=k, metric=metric_name, random_state=seed)
    try:
        start = time.perf_counter()
        model.fit(ds.train.L, L_dev=ds.valid.L, y_dev=ds.valid.y)
        fit_seconds = time.perf_counter() - start
        score = score_predictions(ds.test.y, model.predict(ds.test.L), metric_name, k)
    except WeakflowError as exc:
        fail(str(exc))
    result = {
        "dataset": ds.name,
        "method": method.value,
        "metric": metric.value,
        "test_score": score,
        "fit_seconds": round(fit_seconds, 4),
        "n_train": len(ds.train),
        "n_lfs": ds.n_lfs,
        "n_classes": k,
        "selected_method": model.method_,
    }
    if as_json:
        out.print(json.dumps(result), soft_wrap=True)
        return
    table = Table(title=f"WRENCH {ds.name}: test {metric_name}")
    for col in ("method", "selected", "test score", "fit s", "train rows", "LFs", "classes"):
        table.add_column(col)
    table.add_row(
        method.value,
        model.method_,
        f"{score:.4f}",
        f"{fit_seconds:.2f}",
        str(len(ds.train)),
        str(ds.n_lfs),
        str(k),
    )
    out.print(table)
    if model.method == "auto":
        err.print(
            "candidates on valid: "
            + ", ".join(f"{c['method']}={c['score']:.3f}" for c in model.selection_)
        )
