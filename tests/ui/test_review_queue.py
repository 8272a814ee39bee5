"""Which predictions the review queue offers, in which order, and why."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from weakflow.ui import build_queue, vote_analysis


def _frame(rows: list[tuple[str, list[float], list[int] | None]]) -> pd.DataFrame:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return pd.DataFrame(
        [
            {
                "id": pid, "created_at": start + dt.timedelta(minutes=i), "model_version": 1,
                "variant": "primary", "inputs": {"text": pid}, "lf_votes": votes,
                "label": int(max(range(len(proba)), key=proba.__getitem__)),
                "probabilities": proba,
            }
            for i, (pid, proba, votes) in enumerate(rows)
        ]
    )  # fmt: skip


def test_vote_analysis_finds_conflicts_and_majorities() -> None:
    assert vote_analysis(None) == (False, None)
    assert vote_analysis([-1, -1]) == (False, None)
    assert vote_analysis([1, -1, 1]) == (False, 1)
    assert vote_analysis([1, 0, 1]) == (True, 1)
    assert vote_analysis([1, 0]) == (True, None)


def test_each_reason_and_the_order_of_the_queue() -> None:
    frame = _frame(
        [
            ("confident-agreed", [0.02, 0.98], [1, -1, 1]),
            ("low-confidence", [0.4, 0.6], [1, -1, -1]),
            ("conflict", [0.05, 0.95], [1, 0, 1]),
            ("model-vs-lfs", [0.9, 0.1], [1, 1, -1]),
            ("everything", [0.55, 0.45], [1, 1, 0]),
            ("no-votes", [0.03, 0.97], None),
        ]
        + [(f"sure-{i}", [0.01, 0.99], [1, -1, -1]) for i in range(14)]
    )
    queue = build_queue(frame, reviewed=set(), low_confidence=0.7, uncertain_share=0.1)
    reasons = {item.prediction_id: item.reasons for item in queue}
    assert reasons["low-confidence"] == ("low_confidence", "uncertain")
    assert reasons["conflict"] == ("lf_conflict",)
    assert reasons["model-vs-lfs"] == ("model_vs_lfs",)
    assert reasons["everything"] == ("low_confidence", "lf_conflict", "model_vs_lfs", "uncertain")
    assert "confident-agreed" not in reasons
    assert "no-votes" not in reasons
    assert not any(pid.startswith("sure-") for pid in reasons)
    assert queue[0].prediction_id == "everything"
    assert [item.priority for item in queue] == sorted((i.priority for i in queue), reverse=True)


def test_reviewed_predictions_are_skipped() -> None:
    frame = _frame([("a", [0.5, 0.5], None), ("b", [0.45, 0.55], None)])
    assert [i.prediction_id for i in build_queue(frame, reviewed={"a"})] == ["b"]
    assert build_queue(frame, reviewed={"a", "b"}) == []
    assert build_queue(frame.iloc[0:0], reviewed=set()) == []
