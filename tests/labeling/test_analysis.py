"""lf_summary and label_stats on small matrices whose statistics are worked out by hand.

Definitions (Snorkel's LFAnalysis):
- coverage: share of rows the LF votes on;
- overlaps: share of rows the LF votes on where at least one other LF votes too;
- conflicts: share of rows the LF votes on whose non-abstain votes are not all equal
  (an LF agreeing with one LF but not with a third still counts);
- totals: coverage (>= 1 vote), overlap (>= 2 votes), conflict (disagreeing votes) over rows.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from weakflow.errors import SchemaError
from weakflow.labeling import (
    LabelMatrix,
    apply_lfs,
    keyword_lf,
    label_stats,
    labeling_function,
    lf_summary,
    regex_lf,
)

# rows:            lf0 lf1 lf2      votes  conflicted
L6 = np.array(
    [
        [1, 1, -1],  # r0: 2      no (1, 1)
        [0, 1, 1],  # r1: 3      yes (0 vs 1)
        [-1, -1, -1],  # r2: 0      no
        [0, -1, 0],  # r3: 2      no (0, 0)
        [-1, 1, 1],  # r4: 2      no (1, 1)
        [1, -1, -1],  # r5: 1      no
    ]
)
Y6 = np.array([1, 0, 0, 1, 1, 0])


class _FittedModel:
    """The one thing lf_summary reads from a label model."""

    def __init__(self, acc):
        self.lf_accuracies_ = acc


class TestLfSummary:
    def test_coverage_overlaps_conflicts(self):
        s = lf_summary(L6)
        assert list(s.index) == ["lf_0", "lf_1", "lf_2"]
        assert s.index.name == "name"
        # lf0 votes on r0 r1 r3 r5; lf1 on r0 r1 r4; lf2 on r1 r3 r4
        assert s["coverage"].tolist() == pytest.approx([4 / 6, 3 / 6, 3 / 6])
        # with another LF: lf0 on r0 r1 r3 (not r5); lf1 on r0 r1 r4; lf2 on r1 r3 r4
        assert s["overlaps"].tolist() == pytest.approx([3 / 6, 3 / 6, 3 / 6])
        # only r1 is conflicted, and all three LFs vote on it
        assert s["conflicts"].tolist() == pytest.approx([1 / 6, 1 / 6, 1 / 6])
        assert s["polarity"].tolist() == [[0, 1], [1], [0, 1]]
        assert "kind" not in s.columns
        assert "correct" not in s.columns
        assert "learned_accuracy" not in s.columns

    def test_totals(self):
        s = lf_summary(L6)
        # rows with >= 1 vote: all but r2; >= 2 votes: r0 r1 r3 r4; conflicted: r1
        assert s.attrs["totals"] == pytest.approx(
            {"coverage": 5 / 6, "overlap": 4 / 6, "conflict": 1 / 6}
        )
        assert label_stats(L6) == pytest.approx(
            {"coverage": 5 / 6, "overlap": 4 / 6, "conflict": 1 / 6}
        )

    def test_with_gold_labels(self):
        s = lf_summary(L6, Y=Y6)
        # lf0: r0 1=1 ok, r1 0=0 ok, r3 0!=1, r5 1!=0  -> 2 correct, 2 incorrect
        # lf1: r0 ok, r1 1!=0, r4 ok                   -> 2, 1
        # lf2: r1 1!=0, r3 0!=1, r4 ok                 -> 1, 2
        assert s["correct"].tolist() == [2, 2, 1]
        assert s["incorrect"].tolist() == [2, 1, 2]
        assert s["emp_accuracy"].tolist() == pytest.approx([2 / 4, 2 / 3, 1 / 3])

    def test_with_a_fitted_model(self):
        s = lf_summary(L6, Y=Y6, model=_FittedModel([0.9, 0.8, 0.7]))
        assert s["learned_accuracy"].tolist() == pytest.approx([0.9, 0.8, 0.7])
        s = lf_summary(L6, model=_FittedModel(np.array([0.5, 0.6, 0.7])))
        assert s["learned_accuracy"].tolist() == pytest.approx([0.5, 0.6, 0.7])
        assert "emp_accuracy" not in s.columns

    def test_label_matrix_gives_the_lf_names(self):
        L = LabelMatrix(L6, lf_names=["kw", "regex", "short"])
        s = lf_summary(L, Y=Y6)
        assert list(s.index) == ["kw", "regex", "short"]
        assert s.loc["regex", "correct"] == 2
        assert s.loc["short", "coverage"] == pytest.approx(0.5)

    def test_lf_that_never_votes(self):
        L = np.array([[1, -1], [0, -1], [1, -1]])
        s = lf_summary(L, Y=[1, 1, 1])
        assert s["coverage"].tolist() == [1.0, 0.0]
        assert s["overlaps"].tolist() == [0.0, 0.0]
        assert s["conflicts"].tolist() == [0.0, 0.0]
        assert s["polarity"].tolist() == [[0, 1], []]
        assert s["correct"].tolist() == [2, 0]
        assert s["incorrect"].tolist() == [1, 0]
        assert s["emp_accuracy"].iloc[0] == pytest.approx(2 / 3)
        assert math.isnan(s["emp_accuracy"].iloc[1])

    def test_three_classes(self):
        L = np.array(
            [
                [2, 2, -1],  # agree on class 2
                [0, 2, 2],  # conflicted
                [1, -1, -1],  # alone
                [-1, 1, 0],  # conflicted
            ]
        )
        s = lf_summary(L, Y=[2, 2, 0, 0], cardinality=3)
        assert s["coverage"].tolist() == pytest.approx([3 / 4, 3 / 4, 2 / 4])
        assert s["overlaps"].tolist() == pytest.approx([2 / 4, 3 / 4, 2 / 4])
        assert s["conflicts"].tolist() == pytest.approx([1 / 4, 2 / 4, 2 / 4])
        assert s["polarity"].tolist() == [[0, 1, 2], [1, 2], [0, 2]]
        # lf0: 2=2 ok, 0!=2, 1!=0; lf1: ok, ok, 1!=0; lf2: 2=2 ok, 0=0 ok
        assert s["correct"].tolist() == [1, 2, 2]
        assert s["incorrect"].tolist() == [2, 1, 0]
        assert s.attrs["totals"] == pytest.approx(
            {"coverage": 1.0, "overlap": 3 / 4, "conflict": 2 / 4}
        )

    def test_gold_labels_are_checked(self):
        with pytest.raises(SchemaError, match="5 labels but the label matrix has 6 rows"):
            lf_summary(L6, Y=Y6[:5])
        with pytest.raises(SchemaError, match=r"gold labels must be in 0\.\.1"):
            lf_summary(L6, Y=[0, 1, 2, 0, 1, 0])
        with pytest.raises(SchemaError, match=r"gold labels must be in 0\.\.1"):
            lf_summary(L6, Y=[0, 1, -1, 0, 1, 0])

    def test_model_without_accuracies(self):
        with pytest.raises(SchemaError, match="no learned LF accuracies"):
            lf_summary(L6, model=object())

    def test_model_with_wrong_number_of_accuracies(self):
        with pytest.raises(SchemaError, match="2 LF accuracies but L has 3 LFs"):
            lf_summary(L6, model=_FittedModel([0.5, 0.5]))

    def test_bad_matrix(self):
        with pytest.raises(SchemaError):
            lf_summary(np.array([[0, 5]]), cardinality=2)
        with pytest.raises(SchemaError, match="must be 2-D"):
            lf_summary([1, 0, -1])


class TestLabelStats:
    def test_docstring_example_by_hand(self):
        # rows: (1,1) agree, (0,1) conflict, none, (0,) alone
        assert label_stats([[1, 1], [0, 1], [-1, -1], [0, -1]]) == {
            "coverage": 0.75,
            "overlap": 0.5,
            "conflict": 0.25,
        }

    def test_all_abstain(self):
        assert label_stats([[-1, -1], [-1, -1]]) == {
            "coverage": 0.0,
            "overlap": 0.0,
            "conflict": 0.0,
        }

    def test_cardinality_counts_every_class(self):
        # classes 2 and 3 disagree; the conflict must be seen with cardinality=4
        assert label_stats([[2, 3], [3, 3]], cardinality=4) == {
            "coverage": 1.0,
            "overlap": 1.0,
            "conflict": 0.5,
        }

    def test_label_matrix_input(self):
        assert label_stats(LabelMatrix(L6)) == pytest.approx(
            {"coverage": 5 / 6, "overlap": 4 / 6, "conflict": 1 / 6}
        )


def test_lf_summary_shows_the_kind_of_each_lf_from_apply_lfs(youtube):
    lfs = [keyword_lf("http", 1), regex_lf("check.*out", 1, flags=re.I)]

    @labeling_function()
    def short(x):
        return 0 if len(x.text.split()) < 5 else -1

    L = apply_lfs([*lfs, short], youtube, progress=False, cardinality=2)
    summary = lf_summary(L)
    assert summary["kind"].tolist() == ["keyword", "regex", "python"]
    assert lf_summary(L.lfs(["short", "keyword_http"]))["kind"].tolist() == ["python", "keyword"]
