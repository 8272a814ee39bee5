"""A full report dict built the way ``weakflow run`` builds one, on the bundled YouTube comments.

Everything is real: the spam-tutorial LFs, weakflow's label model, a scikit-learn end model
trained on the probabilistic labels, calibration chosen on dev, slices on test. Tests render it;
``python -m tests.evaluate.example out.html`` writes the page for a human to look at.
"""

from __future__ import annotations

import importlib.resources
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from weakflow.evaluate import (
    apply_slicing_functions,
    auto_slices,
    calibration_summary,
    choose_calibration,
    classification_metrics,
    slice_metrics,
    slicing_function,
)
from weakflow.labeling import apply_lfs, lf_summary
from weakflow.labeling.examples import youtube_spam_lfs
from weakflow.labelmodel import LabelModel

LABEL_NAMES = ["HAM", "SPAM"]


@slicing_function()
def short_comment(x: Any) -> bool:
    return len(str(x.text).split()) < 5


@slicing_function(vectorized=True)
def has_link(df: pd.DataFrame) -> Any:
    return df.text.str.contains("http", regex=False)


@slicing_function(vectorized=True)
def shouting(df: pd.DataFrame) -> Any:
    letters = df.text.str.count(r"[A-Za-z]").clip(lower=1)
    return df.text.str.count(r"[A-Z]") / letters > 0.5


def _metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    out = classification_metrics(y, proba, label_names=LABEL_NAMES)
    out["calibration"] = calibration_summary(y, proba)
    return out


def build_report(youtube: pd.DataFrame, seed: int = 0) -> dict[str, Any]:
    """The report of one run on ``youtube`` (text + CLASS columns)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(youtube))
    dev_idx, test_idx, train_idx = order[:250], order[250:750], order[750:]
    frame = youtube.reset_index(drop=True)
    L = apply_lfs(youtube_spam_lfs(), frame[["text"]], progress=False, cardinality=2)
    y = frame["CLASS"].to_numpy()
    lm = LabelModel(random_state=seed).fit(
        L.values[train_idx], L_dev=L.values[dev_idx], y_dev=y[dev_idx]
    )
    soft = lm.predict_proba(L.values[train_idx])
    covered = (L.values[train_idx] != -1).any(axis=1)
    vec = TfidfVectorizer(min_df=2)
    X = vec.fit_transform(frame["text"])
    # Probabilistic labels as sample weights: each row twice, once per class.
    Xtr = X[train_idx][covered]
    end = LogisticRegression(C=20.0, max_iter=2000).fit(
        np.vstack([Xtr.toarray(), Xtr.toarray()]),
        np.r_[np.zeros(Xtr.shape[0]), np.ones(Xtr.shape[0])],
        sample_weight=np.r_[soft[covered, 0], soft[covered, 1]],
    )
    p_dev = end.predict_proba(X[dev_idx].toarray())
    p_test = end.predict_proba(X[test_idx].toarray())
    choice = choose_calibration(p_dev, y[dev_idx])
    p_test_cal = choice.transform(p_test)
    test_frame = frame.iloc[test_idx].reset_index(drop=True)
    slices = apply_slicing_functions([short_comment, has_link, shouting], test_frame)
    slices |= auto_slices(test_frame, "text")
    slices["AUTHOR starts with A"] = test_frame["AUTHOR"].str.startswith("A").to_numpy()
    summary = lf_summary(L.values[dev_idx], y[dev_idx], model=lm.model_, cardinality=2)
    summary.index = pd.Index(L.lf_names, name="name")
    summary["kind"] = list(L.lf_kinds)
    votes = np.bincount((L.values != -1).sum(axis=1))
    cal = choice.to_dict()
    cal["before"] = calibration_summary(y[test_idx], p_test)
    cal["after"] = calibration_summary(y[test_idx], p_test_cal)
    end_test = _metrics(y[test_idx], p_test_cal)
    lm_test = _metrics(y[test_idx], lm.predict_proba(L.values[test_idx]))
    return {
        "run_id": "2024-05-01T12-00-00-youtube-3f2a",
        "created_at": "2024-05-01T12:00:00+00:00",
        "project": "youtube-spam",
        "label_names": LABEL_NAMES,
        "headline": {
            "label_model": {"test": {k: lm_test[k] for k in ("accuracy", "f1_macro")}},
            "end_model": {
                "test": {
                    "accuracy": end_test["accuracy"],
                    "f1_macro": end_test["f1_macro"],
                    "ece": end_test["calibration"]["ece"],
                    "brier": end_test["calibration"]["brier"],
                }
            },
        },
        "data": {
            "datasets": [
                {
                    "role": "train",
                    "source": "data/train.csv",
                    "rows": len(train_idx),
                    "sha256": "9f" * 32,
                },
                {
                    "role": "dev",
                    "source": "data/dev.csv",
                    "rows": len(dev_idx),
                    "sha256": "a1" * 32,
                },
                {
                    "role": "test",
                    "source": "data/test.csv",
                    "rows": len(test_idx),
                    "sha256": "b2" * 32,
                },
            ],
            "checks": [
                {
                    "name": "schema",
                    "severity": "error",
                    "passed": True,
                    "message": "All required columns present.",
                    "details": {},
                },
                {
                    "name": "duplicates",
                    "severity": "warning",
                    "passed": False,
                    "message": "12 rows of the test set also appear in train.",
                    "details": {"rows": 12, "examples": ["Check out my channel", "subscribe!!"]},
                },
                {
                    "name": "label_balance",
                    "severity": "info",
                    "passed": True,
                    "message": "Dev classes within 10 points of test.",
                    "details": None,
                },
                {
                    "name": "empty_text",
                    "severity": "error",
                    "passed": False,
                    "message": "3 rows have empty text.",
                    "details": {"rows": 3},
                },
            ],
            "pii": {"email": 4, "phone": 1, "url": 312},
        },
        "labeling": {
            "lf_summary": summary,
            "totals": summary.attrs["totals"],
            "votes_per_row": votes,
        },
        "label_model": {
            "method": "auto",
            "selected": lm.method_,
            "threshold": lm.threshold_,
            "selection": lm.selection_,
            "dev": _metrics(y[dev_idx], lm.predict_proba(L.values[dev_idx])),
            "test": lm_test,
        },
        "end_model": {
            "name": "tfidf+logistic_regression",
            "params": {"C": 20.0, "min_df": 2, "max_iter": 2000},
            "train_rows": int(covered.sum()),
            "dropped_abstained": int((~covered).sum()),
            # no calibration summary here: the calibrator was fitted on these very rows
            "dev": classification_metrics(
                y[dev_idx], choice.transform(p_dev), label_names=LABEL_NAMES
            ),
            "test": end_test,
            "calibration": cal,
            "slices": slice_metrics(y[test_idx], p_test_cal, slices, label_names=LABEL_NAMES),
        },
        "provenance": {
            "weakflow": "0.1.0",
            "python": sys.version.split()[0],
            "seed": seed,
            "lfs_sha256": "c3" * 32,
            "lf_module": {
                "path": "lfs.py",
                "source": "from weakflow import keyword_lf\n\nLFS = []\n",
            },
            "config": {
                "label_model": {"method": "auto"},
                "calibration": ["temperature", "isotonic", "platt"],
            },
        },
        "gates": {"passed": True, "rules": [{"metric": "f1_macro", "min": 0.8}]},
    }


def load_youtube() -> pd.DataFrame:
    """The bundled comments, read from the installed package (as tests/conftest.py does)."""
    folder = importlib.resources.files("weakflow") / "data" / "examples" / "youtube"
    frames = []
    for f in sorted(folder.iterdir(), key=lambda f: f.name):
        if f.name.endswith(".csv"):
            with f.open("rb") as fh:
                frames.append(pd.read_csv(fh))
    return pd.concat(frames, ignore_index=True).rename(columns={"CONTENT": "text"})


if __name__ == "__main__":  # pragma: no cover - manual use
    from weakflow.evaluate import render_report_html

    Path(sys.argv[1]).write_text(render_report_html(build_report(load_youtube())), encoding="utf-8")
