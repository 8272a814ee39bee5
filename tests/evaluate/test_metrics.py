"""classification_metrics: hand-computed cases, agreement with scikit-learn, JSON-readiness."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from weakflow.errors import SchemaError
from weakflow.evaluate import classification_metrics
from weakflow.labelmodel import score_predictions

NAMES2 = ["HAM", "SPAM"]
NAMES3 = ["neg", "neu", "pos"]


def plain_types_only(obj: object) -> bool:
    """Only dict/list/str/int/float/bool/None, all the way down (no numpy scalars)."""
    if isinstance(obj, dict):
        return all(isinstance(k, str) and plain_types_only(v) for k, v in obj.items())
    if isinstance(obj, list):
        return all(plain_types_only(v) for v in obj)
    return obj is None or type(obj) in (str, int, float, bool)


def random_case(k: int, n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, proba


class TestHandComputed:
    def test_binary(self):
        # pred = [0, 1, 0, 1, 1]; y = [0, 1, 1, 0, 1]
        y = [0, 1, 1, 0, 1]
        proba = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.1, 0.9]]
        m = classification_metrics(y, proba, label_names=NAMES2)
        # tp(SPAM)=2, fp=1, fn=1; tp(HAM)=1, fp=1, fn=1
        assert m["n"] == 5
        assert m["accuracy"] == pytest.approx(3 / 5)
        assert m["per_class"]["SPAM"] == pytest.approx(
            {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3}
        )
        assert m["per_class"]["HAM"] == pytest.approx(
            {"precision": 1 / 2, "recall": 1 / 2, "f1": 1 / 2, "support": 2}
        )
        assert m["f1_macro"] == pytest.approx((2 / 3 + 1 / 2) / 2)
        assert m["precision_macro"] == pytest.approx((2 / 3 + 1 / 2) / 2)
        assert m["support"] == {"HAM": 2, "SPAM": 3}
        assert m["confusion_matrix"] == [[1, 1], [1, 2]]
        # P(SPAM) ranks: positives {0.8, 0.4, 0.9} vs negatives {0.1, 0.7}: 5 of 6 pairs right
        assert m["roc_auc"] == pytest.approx(5 / 6)
        expected_ll = -np.mean(np.log([0.9, 0.8, 0.4, 0.3, 0.9]))
        assert m["log_loss"] == pytest.approx(expected_ll)
        assert "roc_auc_reason" not in m

    def test_three_classes(self):
        y = [0, 1, 2, 2]
        proba = [[0.7, 0.2, 0.1], [0.1, 0.5, 0.4], [0.2, 0.3, 0.5], [0.3, 0.4, 0.3]]
        m = classification_metrics(y, proba, label_names=NAMES3)
        # pred = [0, 1, 2, 1]
        assert m["accuracy"] == pytest.approx(3 / 4)
        assert m["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
        assert m["per_class"]["neu"]["precision"] == pytest.approx(1 / 2)
        assert m["per_class"]["pos"]["recall"] == pytest.approx(1 / 2)
        assert m["f1_macro"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)

    def test_y_pred_overrides_argmax(self):
        y = [0, 1, 1, 0]
        proba = [[0.6, 0.4], [0.6, 0.4], [0.45, 0.55], [0.9, 0.1]]
        default = classification_metrics(y, proba, label_names=NAMES2)
        thresholded = classification_metrics(
            y,
            proba,
            label_names=NAMES2,
            y_pred=[0, 1, 1, 0],  # threshold 0.35 on P(SPAM)
        )
        assert default["accuracy"] == pytest.approx(3 / 4)
        assert thresholded["accuracy"] == 1.0
        assert thresholded["roc_auc"] == default["roc_auc"]  # ranking metrics ignore y_pred

    def test_log_loss_is_clipped(self):
        m = classification_metrics([1, 0], [[1.0, 0.0], [1.0, 0.0]], label_names=NAMES2)
        assert np.isfinite(m["log_loss"])
        assert m["log_loss"] == pytest.approx(-np.log(1e-15) / 2, rel=1e-6)


class TestAgainstScikitLearn:
    @pytest.mark.parametrize("k", [2, 3, 5])
    def test_every_number(self, k):
        y, proba = random_case(k, seed=k)
        names = [f"c{i}" for i in range(k)]
        m = classification_metrics(y, proba, label_names=names)
        pred = proba.argmax(axis=1)
        assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
        assert m["f1_macro"] == pytest.approx(f1_score(y, pred, average="macro"))
        assert m["precision_macro"] == pytest.approx(precision_score(y, pred, average="macro"))
        assert m["recall_macro"] == pytest.approx(recall_score(y, pred, average="macro"))
        per_class_f1 = f1_score(y, pred, average=None)
        assert [m["per_class"][n]["f1"] for n in names] == pytest.approx(per_class_f1)
        assert m["log_loss"] == pytest.approx(log_loss(y, proba))
        assert m["confusion_matrix"] == confusion_matrix(y, pred).tolist()
        expected_auc = (
            roc_auc_score(y, proba[:, 1])
            if k == 2
            else roc_auc_score(y, proba, multi_class="ovr", average="macro")
        )
        assert m["roc_auc"] == pytest.approx(expected_auc)
        assert sum(m["support"].values()) == m["n"] == len(y)

    @pytest.mark.parametrize("k", [2, 4])
    def test_f1_macro_matches_label_model_scoring(self, k):
        # The label model's dev selection and the report must agree on what macro F1 is,
        # including when a class is never predicted.
        y, proba = random_case(k, n=40, seed=10 + k)
        proba[:, k - 1] = 0.0
        proba /= proba.sum(axis=1, keepdims=True)
        m = classification_metrics(y, proba, label_names=[str(i) for i in range(k)])
        expected = score_predictions(y, proba.argmax(axis=1), "f1_macro", k)
        assert m["f1_macro"] == pytest.approx(expected)


class TestUndefinedAndOutput:
    def test_roc_auc_none_when_a_class_is_absent(self):
        m = classification_metrics([0, 0, 0], [[0.8, 0.2]] * 3, label_names=NAMES2)
        assert m["roc_auc"] is None
        assert "SPAM" in m["roc_auc_reason"]
        m3 = classification_metrics(
            [0, 1, 1], [[0.5, 0.3, 0.2], [0.2, 0.5, 0.3], [0.1, 0.6, 0.3]], label_names=NAMES3
        )
        assert m3["roc_auc"] is None
        assert "pos" in m3["roc_auc_reason"]
        assert m3["per_class"]["pos"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}

    def test_json_serializable_with_plain_types(self):
        y, proba = random_case(3)
        m = classification_metrics(y, proba, label_names=NAMES3)
        assert plain_types_only(m)
        assert json.loads(json.dumps(m, allow_nan=False)) == m

    def test_accepts_rows_summing_to_one_up_to_rounding(self):
        proba = np.array([[0.3333333, 0.3333333, 0.3333333], [0.1, 0.2, 0.7]])
        m = classification_metrics([0, 2], proba, label_names=NAMES3)
        assert m["n"] == 2


class TestInputErrors:
    @pytest.mark.parametrize(
        ("y", "proba", "names", "match"),
        [
            ([0, 1], [[0.5, 0.5]], NAMES2, "2 labels but proba has 1 rows"),
            ([0, 1], [[0.5, 0.5], [0.5, 0.5]], NAMES3, "2 columns but there are 3 classes"),
            ([0, 2], [[0.5, 0.5], [0.5, 0.5]], NAMES2, "label 2 at row 1"),
            ([0, 1], [[0.5, 0.9], [0.5, 0.5]], NAMES2, "sums to 1.4"),
            ([0, 1], [[2.0, -1.0], [0.5, 0.5]], NAMES2, "outside \\[0, 1\\]"),
            ([0, 1], [0.2, 0.7], NAMES2, "np.column_stack"),
            ([0, 1], [[np.nan, 0.5], [0.5, 0.5]], NAMES2, "non-finite"),
            ([], np.empty((0, 2)), NAMES2, "nothing to evaluate"),
        ],
    )
    def test_bad_inputs_say_what_and_how(self, y, proba, names, match):
        with pytest.raises(SchemaError, match=match):
            classification_metrics(y, proba, label_names=names)

    def test_label_names_must_be_a_list_of_distinct_names(self):
        with pytest.raises(SchemaError, match="sequence of names"):
            classification_metrics([0, 1], [[0.5, 0.5]] * 2, label_names="ab")
        with pytest.raises(SchemaError, match="distinct"):
            classification_metrics([0, 1], [[0.5, 0.5]] * 2, label_names=["a", "a"])

    def test_y_pred_shape_and_range(self):
        with pytest.raises(SchemaError, match="one predicted class per row"):
            classification_metrics([0, 1], [[0.5, 0.5]] * 2, label_names=NAMES2, y_pred=[0])
        with pytest.raises(SchemaError, match="y_pred has label -1"):
            classification_metrics([0, 1], [[0.5, 0.5]] * 2, label_names=NAMES2, y_pred=[0, -1])
