"""What every label model shares: class balance modes, input errors, conventions, scoring."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from weakflow.errors import NotFittedError, SchemaError
from weakflow.labeling import LabelMatrix, lf_summary
from weakflow.labelmodel import (
    CILabelModel,
    DawidSkene,
    LabelModel,
    MajorityVote,
    MatrixCompletion,
    score_predictions,
)
from weakflow.labelmodel._kernels import normalize_log
from weakflow.labelmodel._majority import majority_class_shares

from .models import CI_MODELS, MODELS, make
from .synth import make_synthetic

ALL = list(MODELS)
CI = list(CI_MODELS)


@pytest.fixture(scope="module")
def data2():
    return make_synthetic(600, 5, 2, seed=11)


@pytest.fixture(scope="module")
def data3():
    return make_synthetic(600, 5, 3, seed=12)


def class_dependent_abstention(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four LFs that fire on 60% of class-1 rows but 10% of class-0 rows (accuracy 0.8)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    L = np.full((n, 4), -1)
    for j in range(4):
        fire = rng.random(n) < np.where(y == 1, 0.6, 0.1)
        L[:, j] = np.where(fire, np.where(rng.random(n) < 0.8, y, 1 - y), -1)
    return L, y


# -- class balance -------------------------------------------------------------------------------
class TestClassBalance:
    @pytest.mark.parametrize("name", ALL)
    def test_given_array_is_normalized(self, name, data3):
        model = make(name, class_balance=[2.0, 1.0, 1.0]).fit(data3.L)
        np.testing.assert_allclose(model.class_balance_, [0.5, 0.25, 0.25], rtol=1e-12)

    @pytest.mark.parametrize("name", ALL)
    def test_dev_is_add_one_smoothed_frequencies(self, name, data3):
        y_dev = np.array([0, 0, 0, 0, 0, 1, 1, 0])  # class 2 never seen: still positive
        expected = np.array([6 + 1, 2 + 1, 0 + 1]) / (8 + 3)
        model = make(name, cardinality=3, class_balance="dev")
        model.fit(data3.L, L_dev=data3.L[:8], y_dev=y_dev)
        np.testing.assert_allclose(model.class_balance_, expected, rtol=1e-12)

    @pytest.mark.parametrize("name", ALL)
    def test_dev_with_y_dev_only(self, name, data2):
        # y_dev alone (no L_dev) is enough to set the prior
        model = make(name, class_balance="dev").fit(data2.L, y_dev=[1, 1, 1])
        np.testing.assert_allclose(model.class_balance_, [1 / 5, 4 / 5], rtol=1e-12)

    @pytest.mark.parametrize("name", ALL)
    def test_dev_without_y_dev_is_an_error(self, name, data2):
        with pytest.raises(SchemaError, match=r"class_balance='dev' needs gold labels.*y_dev"):
            make(name, class_balance="dev").fit(data2.L)

    @pytest.mark.parametrize("name", ALL)
    def test_uniform(self, name, data3):
        model = make(name, class_balance="uniform").fit(data3.L)
        np.testing.assert_allclose(model.class_balance_, [1 / 3] * 3, rtol=1e-12)

    @pytest.mark.parametrize("name", ALL)
    def test_majority_is_the_majority_vote_label_shares(self, name, data3):
        # DawidSkene computes them from its one-hot matrix, the others from vote counts
        model = make(name, class_balance="majority").fit(data3.L)
        np.testing.assert_allclose(
            model.class_balance_, majority_class_shares(data3.L, 3), rtol=1e-12
        )

    @pytest.mark.parametrize("name", ["mv", "mc", "triplet", "lm"])
    def test_learn_uses_majority_vote_shares(self, name, data3):
        # MV, the moment methods and the label-free LabelModel take the MV label shares
        model = make(name, class_balance="learn").fit(data3.L)
        np.testing.assert_allclose(
            model.class_balance_, majority_class_shares(data3.L, 3), rtol=1e-12
        )

    def test_learn_dawid_skene_is_the_em_fixed_point(self):
        # DS re-estimates the prior in every M-step: (posterior mass + 1) / (n + k)
        d = make_synthetic(4000, 6, 3, seed=5)
        ds = DawidSkene(class_balance="learn").fit(d.L)
        # EM's posterior on every row (predict_proba gives all-abstain rows the prior instead)
        post, _ = normalize_log(ds._log_joint_rows(d.L))
        np.testing.assert_allclose(
            ds.class_balance_, (post.sum(axis=0) + 1) / (len(d.L) + 3), atol=1e-4
        )
        # and it is close to the true class shares (the data are CI)
        np.testing.assert_allclose(ds.class_balance_, np.bincount(d.y) / len(d.y), atol=0.03)

    @pytest.mark.parametrize("name", ALL)
    def test_auto_is_dev_with_y_dev(self, name, data2):
        y_dev = np.array([1, 0, 1, 1, 1, 1])
        model = make(name).fit(data2.L, L_dev=data2.L[:6], y_dev=y_dev)
        np.testing.assert_allclose(model.class_balance_, [2 / 8, 6 / 8], rtol=1e-12)

    @pytest.mark.parametrize("name", ALL)
    def test_auto_is_learn_without_y_dev(self, name, data3):
        auto = make(name).fit(data3.L)
        learn = make(name, class_balance="learn").fit(data3.L)
        np.testing.assert_array_equal(auto.class_balance_, learn.class_balance_)
        np.testing.assert_array_equal(auto.predict_proba(data3.L), learn.predict_proba(data3.L))

    @pytest.mark.parametrize("name", ALL)
    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("balanced", r"must be 'auto', 'dev', 'learn', 'majority', 'uniform' or 3"),
            ([0.5, 0.5], r"class_balance must hold 3 positive probabilities"),
            ([0.5, 0.5, 0.0], r"positive probabilities"),
            ([0.6, 0.6, -0.2], r"positive probabilities"),
            ([0.5, np.nan, 0.5], r"positive probabilities"),
            ([[0.3, 0.3, 0.4]], r"positive probabilities"),
        ],
    )
    def test_invalid_values(self, name, value, message, data3):
        with pytest.raises(SchemaError, match=message):
            make(name, class_balance=value).fit(data3.L)


# -- rows without votes ---------------------------------------------------------------------------
class TestRowsWithoutVotes:
    @pytest.mark.parametrize("tie_break", ["prior", "random", "first", "abstain"])
    @pytest.mark.parametrize("cb", ["learn", "uniform", [0.2, 0.5, 0.3]])
    def test_majority_vote_gives_the_prior(self, tie_break, cb, data3):
        mv = MajorityVote(class_balance=cb, tie_break=tie_break).fit(data3.L)
        proba = mv.predict_proba(np.full((3, 5), -1))
        np.testing.assert_allclose(proba, np.tile(mv.class_balance_, (3, 1)), rtol=1e-12)

    @pytest.mark.parametrize("method", ["mv", "ds", "mc", "triplet", "auto"])
    def test_label_model_matches_its_chosen_model(self, method, data2):
        lm = LabelModel(method, class_balance=[0.3, 0.7]).fit(data2.L)
        empty = np.full((2, 5), -1)
        np.testing.assert_array_equal(lm.predict_proba(empty), lm.model_.predict_proba(empty))
        if method == "mv":
            np.testing.assert_allclose(lm.predict_proba(empty), [[0.3, 0.7]] * 2, rtol=1e-12)

    @pytest.mark.parametrize("name", CI)
    def test_ci_models_give_an_empty_row_the_prior_even_with_abstain_evidence(self, name):
        # Issue 2: rows with no votes get the class prior, even where abstaining depends on the
        # class and the model's own posterior, prior[y] * prod_j P(abstain_j | y), would differ.
        L, _ = class_dependent_abstention()
        model = make(name).fit(L)
        joint = model.class_balance_ * np.prod(model.confusion_[:, :, 2], axis=0)
        assert not np.allclose(joint / joint.sum(), model.class_balance_, atol=0.05)
        np.testing.assert_array_equal(
            model.predict_proba(np.full((2, 4), -1)), np.tile(model.class_balance_, (2, 1))
        )
        mixed = np.array([[-1, -1, -1, -1], [1, -1, -1, -1]])
        assert not np.allclose(model.predict_proba(mixed)[1], model.class_balance_)

    def test_dawid_skene_learns_the_abstention_rates_behind_an_empty_row(self):
        # truth: P(all 4 abstain | y=0) = 0.9^4, | y=1) = 0.4^4, prior 1/2 -> P(y=0) = 0.962;
        # the learned tables recover it (predict_proba reports the prior there by contract)
        L, _ = class_dependent_abstention(n=20_000, seed=3)
        p0 = 0.9**4 / (0.9**4 + 0.4**4)
        model = DawidSkene().fit(L)
        joint = model.class_balance_ * np.prod(model.confusion_[:, :, 2], axis=0)
        assert abs(joint[0] / joint.sum() - p0) < 0.02

    @pytest.mark.parametrize("name", CI)
    def test_without_abstain_evidence_an_empty_row_gets_the_prior(self, name):
        L, _ = class_dependent_abstention()
        model = make(name, abstain_evidence=False).fit(L)
        np.testing.assert_allclose(
            model.predict_proba(np.full((2, 4), -1)),
            np.tile(model.class_balance_, (2, 1)),
            rtol=1e-12,
        )

    @pytest.mark.parametrize("name", CI)
    def test_documented_empty_row_gets_the_class_prior(self, name):
        L, _ = class_dependent_abstention()
        model = make(name).fit(L)
        np.testing.assert_allclose(
            model.predict_proba(np.full((1, 4), -1))[0], model.class_balance_, atol=0.05
        )


# -- abstain_evidence ----------------------------------------------------------------------------
class TestAbstainEvidence:
    @pytest.mark.parametrize("name", CI)
    def test_changes_predictions_only(self, name, data3):
        with_ev = make(name).fit(data3.L)
        without = make(name, abstain_evidence=False).fit(data3.L)
        np.testing.assert_array_equal(without.confusion_, with_ev.confusion_)
        np.testing.assert_array_equal(without.class_balance_, with_ev.class_balance_)
        np.testing.assert_array_equal(without.lf_accuracies_, with_ev.lf_accuracies_)

    @pytest.mark.parametrize("name", CI)
    def test_posterior_ignores_abstentions(self, name, data3):
        # brute force: prior[y] * prod over voting LFs only of confusion_[j, y, vote]
        model = make(name, abstain_evidence=False).fit(data3.L)
        rows = data3.L[:40]
        expected = np.empty((40, 3))
        for r, row in enumerate(rows):
            for y in range(3):
                p = model.class_balance_[y]
                for j, vote in enumerate(row):
                    if vote != -1:
                        p *= model.confusion_[j, y, vote]
                expected[r, y] = p
        expected /= expected.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(model.predict_proba(rows), expected, rtol=1e-10)

    @pytest.mark.parametrize("name", CI)
    def test_is_a_parameter(self, name):
        assert make(name).get_params()["abstain_evidence"] is True
        assert make(name, abstain_evidence=False).get_params()["abstain_evidence"] is False


# -- errors ---------------------------------------------------------------------------------------
class TestErrors:
    @pytest.mark.parametrize("name", ALL)
    @pytest.mark.parametrize("method", ["predict", "predict_proba"])
    def test_predict_before_fit(self, name, method):
        model = make(name)
        with pytest.raises(NotFittedError, match="not fitted") as info:
            getattr(model, method)([[0, 1, 1]])
        assert isinstance(info.value, AttributeError)
        assert isinstance(info.value, ValueError)

    @pytest.mark.parametrize("name", ALL)
    def test_score_before_fit(self, name):
        with pytest.raises(NotFittedError):
            make(name).score([[0, 1, 1]], [0])

    def test_label_model_accuracies_before_fit(self):
        with pytest.raises(NotFittedError):
            _ = LabelModel().lf_accuracies_
        assert not hasattr(LabelModel(), "lf_accuracies_")  # an AttributeError, so hasattr works

    @pytest.mark.parametrize("name", ALL)
    @pytest.mark.parametrize("bad", [2, -2, 7])
    def test_values_outside_range_with_cardinality(self, name, bad):
        L = np.array([[0, 1, -1], [1, bad, 0], [0, 0, 1]])
        with pytest.raises(SchemaError, match=r"L has values \[-?\d\] outside -1\.\.1"):
            make(name, cardinality=2).fit(L)

    @pytest.mark.parametrize("name", ALL)
    def test_predict_values_outside_fitted_range(self, name, data2):
        model = make(name).fit(data2.L)
        L = data2.L[:3].copy()
        L[1, 2] = 2
        with pytest.raises(SchemaError, match=r"outside -1\.\.1"):
            model.predict_proba(L)

    @pytest.mark.parametrize("name", ALL)
    def test_l_dev_with_other_lfs(self, name, data2):
        with pytest.raises(SchemaError, match="L_dev has 4 LFs but L has 5"):
            make(name).fit(data2.L, L_dev=data2.L[:10, :4], y_dev=data2.y[:10])

    @pytest.mark.parametrize("name", ALL)
    def test_y_dev_length_mismatch(self, name, data2):
        with pytest.raises(SchemaError, match="y_dev has 9 labels but the label matrix has 10"):
            make(name).fit(data2.L, L_dev=data2.L[:10], y_dev=data2.y[:9])

    @pytest.mark.parametrize("name", ALL)
    def test_y_dev_outside_classes(self, name, data2):
        with pytest.raises(SchemaError, match="y_dev has label 2"):
            make(name, cardinality=2).fit(data2.L, L_dev=data2.L[:3], y_dev=[0, 2, 1])

    @pytest.mark.parametrize("name", ALL)
    def test_predict_with_other_lfs(self, name, data2):
        model = make(name).fit(data2.L)
        with pytest.raises(SchemaError, match="L has 6 LFs but the model was fitted on 5"):
            model.predict(np.zeros((4, 6), dtype=int))

    @pytest.mark.parametrize("name", ALL)
    @pytest.mark.parametrize(
        ("L", "message"),
        [
            (np.array([0, 1, -1]), "must be 2-D"),
            (np.array([[0.0, 0.5, 1.0]]), "non-integer value"),
            (np.array([[True, False, True]]), "must hold integer labels"),
            (np.empty((0, 3), dtype=int), "has no rows"),
        ],
    )
    def test_malformed_matrix(self, name, L, message):
        with pytest.raises(SchemaError, match=message):
            make(name).fit(L)

    def test_unknown_method(self, data2):
        with pytest.raises(SchemaError, match=r"method must be one of .*'auto'.*got 'snorkel'"):
            LabelModel("snorkel").fit(data2.L)

    def test_unknown_metric(self, data2):
        with pytest.raises(SchemaError, match=r"metric must be one of .*got 'auc'"):
            LabelModel(metric="auc").fit(data2.L)

    def test_f1_needs_a_binary_task(self, data3):
        with pytest.raises(SchemaError, match=r"metric='f1'.*binary.*f1_macro"):
            LabelModel(metric="f1").fit(data3.L)
        LabelModel(metric="f1_macro").fit(data3.L)  # fine

    def test_negative_prior_strength(self, data2):
        with pytest.raises(SchemaError, match=r"prior_strength must be >= 0, got -1"):
            DawidSkene(prior_strength=-1.0).fit(data2.L)
        DawidSkene(prior_strength=0.0).fit(data2.L)  # 0 is plain maximum likelihood

    @pytest.mark.parametrize(("k", "value"), [(2, 0.5), (2, 0.4), (3, 1 / 3), (3, 0.2), (2, 1.0)])
    def test_matrix_completion_init_accuracy_at_or_below_chance(self, k, value):
        d = make_synthetic(200, 4, k, seed=1)
        with pytest.raises(SchemaError, match=r"init_accuracy must be above chance \(1/k ="):
            MatrixCompletion(init_accuracy=value).fit(d.L)

    def test_matrix_completion_init_accuracy_just_above_chance_is_fine(self):
        d = make_synthetic(200, 4, 3, seed=1)
        assert MatrixCompletion(init_accuracy=0.4).fit(d.L).confusion_.shape == (4, 3, 4)

    def test_triplet_min_overlap(self, data2):
        from weakflow.labelmodel import Triplet

        with pytest.raises(SchemaError, match="min_overlap must be >= 1"):
            Triplet(min_overlap=0).fit(data2.L)

    @pytest.mark.parametrize("name", ALL)
    def test_score_errors(self, name, data2):
        model = make(name).fit(data2.L)
        with pytest.raises(SchemaError, match="metric must be"):
            model.score(data2.L, data2.y, metric="auc")
        with pytest.raises(SchemaError, match="y has 599 labels"):
            model.score(data2.L, data2.y[:-1])


# -- conventions ----------------------------------------------------------------------------------
class TestConventions:
    @pytest.mark.parametrize("name", ALL)
    def test_fit_returns_self_and_sets_only_trailing_underscore_attributes(self, name, data2):
        model = make(name)
        before = set(vars(model))
        assert not any(a.endswith("_") for a in before)
        assert model.fit(data2.L) is model
        added = set(vars(model)) - before
        assert added
        assert all(a.endswith("_") for a in added)
        assert model.n_lfs_ == 5
        assert model.cardinality_ == 2

    @pytest.mark.parametrize("name", ALL)
    def test_clone_and_params(self, name, data2):
        model = make(name, cardinality=2, class_balance="uniform", random_state=3)
        params = model.get_params()
        assert params["cardinality"] == 2
        assert params["class_balance"] == "uniform"
        twin = clone(model.fit(data2.L))
        assert twin.get_params() == params
        assert not hasattr(twin, "class_balance_")

    @pytest.mark.parametrize("name", ALL)
    def test_label_matrix_input_keeps_lf_names(self, name, data2):
        names = [f"lf_{c}" for c in "abcde"]
        model = make(name).fit(LabelMatrix(data2.L, lf_names=names))
        assert model.lf_names_ == tuple(names)
        np.testing.assert_array_equal(
            model.predict_proba(LabelMatrix(data2.L, lf_names=names)),
            make(name).fit(data2.L).predict_proba(data2.L),
        )
        assert make(name).fit(data2.L).lf_names_ is None

    @pytest.mark.parametrize("name", ALL)
    def test_rows_keep_their_order(self, name, data2):
        # Distinct rows only: compress_votes then returns sorted patterns with compressed=False,
        # which CILabelModel.predict_proba once returned unsorted (rows swapped).
        model = make(name).fit(data2.L)
        rows = np.array([[1, 1, 1, 1, 1], [0, 0, 0, 0, 0], [1, -1, -1, 1, 1], [-1, 0, 0, -1, 0]])
        one_by_one = np.vstack([model.predict_proba(r[None, :]) for r in rows])
        np.testing.assert_array_equal(model.predict_proba(rows), one_by_one)
        np.testing.assert_array_equal(model.predict(rows), one_by_one.argmax(axis=1))
        assert model.predict(rows)[:2].tolist() == [1, 0]

    @pytest.mark.parametrize("name", ALL)
    def test_predict_proba_on_no_rows(self, name, data2):
        model = make(name).fit(data2.L)
        assert model.predict_proba(np.empty((0, 5), dtype=int)).shape == (0, 2)

    @pytest.mark.parametrize("name", CI)
    def test_fitted_ci_attributes(self, name, data3):
        model = make(name).fit(data3.L)
        assert isinstance(model, CILabelModel)
        conf = model.confusion_
        assert conf.shape == (5, 3, 4)
        assert np.all(conf > 0)
        np.testing.assert_allclose(conf.sum(axis=2), 1.0, rtol=1e-12)
        # lf_accuracies_ is P(vote = Y | LF votes) under the fitted prior and tables
        p = model.class_balance_
        expected = [
            sum(p[y] * conf[j, y, y] for y in range(3))
            / sum(p[y] * conf[j, y, :3].sum() for y in range(3))
            for j in range(5)
        ]
        np.testing.assert_allclose(model.lf_accuracies_, expected, rtol=1e-12)

    @pytest.mark.parametrize("name", CI)
    def test_log_likelihood_is_the_mean_log_evidence(self, name, data2):
        model = make(name).fit(data2.L)
        rows = data2.L[:50]
        conf, p = model.confusion_, model.class_balance_
        total = 0.0
        for row in rows:
            outcome = np.where(row == -1, 2, row)
            total += np.log(sum(p[y] * np.prod(conf[np.arange(5), y, outcome]) for y in range(2)))
        assert model.log_likelihood(rows) == pytest.approx(total / 50, rel=1e-10)


# -- scoring --------------------------------------------------------------------------------------
class TestScore:
    def test_score_predictions_by_hand(self):
        y = np.array([0, 1, 1, 0, 1, 1])
        pred = np.array([0, 1, 0, -1, 1, 1])  # -1 (abstained) counts as wrong
        assert score_predictions(y, pred, "accuracy", 2) == pytest.approx(4 / 6)
        # class 1: tp 3, fp 0, fn 1 -> 6 / 7; class 0: tp 1, fp 1, fn 1 -> 2 / 4
        assert score_predictions(y, pred, "f1", 2) == pytest.approx(6 / 7)
        assert score_predictions(y, pred, "f1_macro", 2) == pytest.approx((6 / 7 + 0.5) / 2)

    def test_f1_macro_counts_an_absent_class_as_zero(self):
        y = np.array([0, 0, 1])
        pred = np.array([0, 0, 1])
        assert score_predictions(y, pred, "f1_macro", 3) == pytest.approx(2 / 3)

    def test_model_score_uses_its_predictions(self, data3):
        model = DawidSkene().fit(data3.L)
        assert model.score(data3.L, data3.y) == pytest.approx(
            np.mean(model.predict(data3.L) == data3.y)
        )


# -- lf_summary integration ---------------------------------------------------------------------
class TestLfSummary:
    @pytest.mark.parametrize("name", [*CI, "lm"])
    def test_learned_accuracy_column(self, name, data3):
        model = make(name).fit(data3.L)
        summary = lf_summary(data3.L, data3.y, model=model)
        np.testing.assert_array_equal(summary["learned_accuracy"].to_numpy(), model.lf_accuracies_)
        assert "emp_accuracy" in summary.columns

    def test_majority_vote_label_model_has_nan_accuracies(self, data2):
        model = LabelModel("mv").fit(data2.L)
        summary = lf_summary(data2.L, model=model)
        assert summary["learned_accuracy"].isna().all()

    def test_majority_vote_alone_is_rejected(self, data2):
        with pytest.raises(SchemaError, match="no learned LF accuracies"):
            lf_summary(data2.L, model=MajorityVote().fit(data2.L))
