"""LabelModel: dev-set selection, the binary threshold, single methods, the label-free choice."""

from __future__ import annotations

import numpy as np
import pytest

from weakflow.labeling import LabelMatrix
from weakflow.labelmodel import (
    METHODS,
    DawidSkene,
    LabelModel,
    MajorityVote,
    MatrixCompletion,
    Triplet,
    score_predictions,
)

from .synth import Synth, make_synthetic, make_with_accuracies

BASE_CANDIDATES = [
    "mv",
    "ds(prior_strength=10)",
    "ds(prior_strength=1000)",
    "ds(prior_strength=10000)",
    "mc",
    "triplet",
]
#: every generative candidate again with Snorkel's posterior (abstentions are no evidence)
CANDIDATES = [
    *BASE_CANDIDATES,
    "ds(prior_strength=10, abstain_evidence=False)",
    "ds(prior_strength=1000, abstain_evidence=False)",
    "ds(prior_strength=10000, abstain_evidence=False)",
    "mc(abstain_evidence=False)",
    "triplet(abstain_evidence=False)",
]


def standalone(name: str, k: int):
    """The model a candidate name stands for, built independently of _auto."""
    evidence = "abstain_evidence=False" not in name
    if name == "mv":
        return MajorityVote(cardinality=k, tie_break="prior")
    if name.startswith("ds("):
        strength = float(name[len("ds(prior_strength=") :].split(",")[0].rstrip(")"))
        return DawidSkene(cardinality=k, prior_strength=strength, abstain_evidence=evidence)
    cls = {"mc": MatrixCompletion, "triplet": Triplet}[name.split("(")[0]]
    return cls(cardinality=k, abstain_evidence=evidence)


def rare_positive(n: int = 5000, seed: int = 0) -> Synth:
    """Binary data where class 1 is 15% of rows: the best threshold is not 0.5."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.15).astype(int)
    specs = [(0.6, 0.7), (0.5, 0.65), (0.4, 0.75), (0.5, 0.6), (0.3, 0.7)]
    L = np.full((n, len(specs)), -1)
    for j, (cov, acc) in enumerate(specs):
        vote, right = rng.random(n) < cov, rng.random(n) < acc
        L[:, j] = np.where(vote, np.where(right, y, 1 - y), -1)
    return Synth(L, y, np.array([s[0] for s in specs]), np.array([s[1] for s in specs]), 2)


DATASETS = {
    "varied": lambda: make_synthetic(5000, 8, 2, seed=10),
    "adversarial": lambda: make_with_accuracies(
        5000, 2, [0.8, 0.75, 0.7, 0.2, 0.8], [0.5] * 5, seed=1
    ),
    "equal": lambda: make_with_accuracies(5000, 2, [0.7] * 6, [0.5] * 6, seed=2),
    "k3": lambda: make_synthetic(5000, 8, 3, seed=3),
    "k3-adversarial": lambda: make_with_accuracies(
        5000, 3, [0.8, 0.7, 0.7, 0.1, 0.75], [0.5] * 5, seed=4
    ),
    "rare-positive": rare_positive,
}


def split(d: Synth, n_dev: int = 1000):
    return d.L[:-n_dev], d.L[-n_dev:], d.y[-n_dev:]


@pytest.fixture(scope="module", params=list(DATASETS))
def dataset(request):
    return request.param, DATASETS[request.param]()


class TestSelectionWithDev:
    @pytest.mark.parametrize("metric", ["accuracy", "f1", "f1_macro"])
    def test_never_below_majority_vote_on_dev(self, dataset, metric):
        _, d = dataset
        if metric == "f1" and d.k != 2:
            metric = "f1_macro"  # f1 is the F1 of class 1 of a binary task
        L, L_dev, y_dev = split(d)
        lm = LabelModel(metric=metric).fit(L, L_dev=L_dev, y_dev=y_dev)
        mv = MajorityVote().fit(L, L_dev=L_dev, y_dev=y_dev)
        assert lm.score(L_dev, y_dev, metric) >= mv.score(L_dev, y_dev, metric)

    def test_selection_lists_every_candidate_and_picks_the_first_best(self, dataset):
        _, d = dataset
        L, L_dev, y_dev = split(d)
        lm = LabelModel().fit(L, L_dev=L_dev, y_dev=y_dev)
        assert [s["method"] for s in lm.selection_] == CANDIDATES
        scores = np.array([s["score"] for s in lm.selection_])
        assert np.all((scores >= 0) & (scores <= 1))
        assert lm.method_ == CANDIDATES[int(np.argmax(scores))]  # argmax keeps the first
        winner = lm.selection_[int(np.argmax(scores))]
        assert lm.threshold_ == winner["threshold"]
        # the winner's name says which model it is
        twin = standalone(lm.method_, d.k).fit(L, L_dev=L_dev, y_dev=y_dev)
        np.testing.assert_allclose(lm.predict_proba(L_dev), twin.predict_proba(L_dev), atol=1e-12)
        # the recorded score is what the fitted LabelModel scores on dev
        assert lm.score(L_dev, y_dev) == pytest.approx(winner["score"], abs=1e-12)

    def test_candidate_scores_match_standalone_models(self, dataset):
        # each recorded score is the standalone model's dev score (k > 2), or at least that
        # when a binary threshold was tuned on dev (k = 2)
        _, d = dataset
        L, L_dev, y_dev = split(d)
        lm = LabelModel().fit(L, L_dev=L_dev, y_dev=y_dev)
        for entry in lm.selection_:
            model = standalone(entry["method"], d.k).fit(L, L_dev=L_dev, y_dev=y_dev)
            plain = model.score(L_dev, y_dev)
            if d.k == 2:
                assert entry["score"] >= plain - 1e-12
                p1 = model.predict_proba(L_dev)[:, 1]
                tuned = score_predictions(
                    y_dev, (p1 >= entry["threshold"]).astype(int), "accuracy", 2
                )
                assert entry["score"] == pytest.approx(tuned, abs=1e-12)
            else:
                assert entry["threshold"] is None
                assert entry["score"] == pytest.approx(plain, abs=1e-12)

    def test_adversarial_lf_is_not_trusted(self):
        d = DATASETS["adversarial"]()
        L, L_dev, y_dev = split(d)
        lm = LabelModel().fit(L, L_dev=L_dev, y_dev=y_dev)
        assert lm.method_ != "mv"
        assert lm.score(L_dev, y_dev) > MajorityVote().fit(L).score(L_dev, y_dev) + 0.05
        assert lm.lf_accuracies_[3] < 0.5  # learned as worse than chance

    def test_ties_go_to_majority_vote(self):
        # perfect LFs, every dev row covered: every candidate scores 1.0
        d = make_with_accuracies(3000, 2, [1.0] * 4, [0.7] * 4, seed=5)
        covered = (d.L != -1).any(axis=1)
        L, y = d.L[covered], d.y[covered]
        lm = LabelModel().fit(L[:-500], L_dev=L[-500:], y_dev=y[-500:])
        assert all(s["score"] == 1.0 for s in lm.selection_)
        assert lm.method_ == "mv"


class TestThreshold:
    def test_predict_uses_the_threshold(self):
        L, L_dev, y_dev = split(rare_positive())
        lm = LabelModel().fit(L, L_dev=L_dev, y_dev=y_dev)
        assert lm.threshold_ is not None
        p1 = lm.predict_proba(L_dev)[:, 1]
        np.testing.assert_array_equal(lm.predict(L_dev), (p1 >= lm.threshold_).astype(int))
        # the threshold is not 0.5 here and changes some decisions
        assert np.any(lm.predict(L_dev) != lm.predict_proba(L_dev).argmax(axis=1))
        # it pays on dev: better than the same model with the argmax decision
        assert lm.score(L_dev, y_dev) > lm.model_.score(L_dev, y_dev)

    def test_without_tuning_predict_is_the_argmax(self):
        L, L_dev, y_dev = split(rare_positive())
        lm = LabelModel(tune_threshold=False).fit(L, L_dev=L_dev, y_dev=y_dev)
        assert lm.threshold_ is None
        assert all(s["threshold"] is None for s in lm.selection_)
        np.testing.assert_array_equal(lm.predict(L_dev), lm.predict_proba(L_dev).argmax(axis=1))

    def test_no_threshold_for_three_classes(self):
        L, L_dev, y_dev = split(make_synthetic(3000, 6, 3, seed=1))
        lm = LabelModel().fit(L, L_dev=L_dev, y_dev=y_dev)
        assert lm.threshold_ is None
        np.testing.assert_array_equal(lm.predict(L_dev), lm.predict_proba(L_dev).argmax(axis=1))

    def test_f1_threshold_maximizes_f1_on_dev(self):
        L, L_dev, y_dev = split(rare_positive())
        lm = LabelModel(metric="f1").fit(L, L_dev=L_dev, y_dev=y_dev)
        p1 = lm.predict_proba(L_dev)[:, 1]
        best = lm.score(L_dev, y_dev, "f1")
        # no cut between observed probabilities does better
        cuts = np.unique(p1)
        for t in np.concatenate([cuts, [cuts[-1] + 1]]):
            assert score_predictions(y_dev, (p1 >= t).astype(int), "f1", 2) <= best + 1e-12


class TestSingleMethod:
    @pytest.mark.parametrize(
        ("method", "cls"),
        [("mv", MajorityVote), ("ds", DawidSkene), ("mc", MatrixCompletion), ("triplet", Triplet)],
    )
    @pytest.mark.parametrize("with_dev", [False, True])
    def test_fits_that_model_only(self, method, cls, with_dev):
        d = make_synthetic(3000, 6, 2, seed=7)
        L, L_dev, y_dev = split(d, 500)
        dev = {"L_dev": L_dev, "y_dev": y_dev} if with_dev else {}
        lm = LabelModel(method).fit(L, **dev)
        assert type(lm.model_) is cls
        assert lm.method_ == method
        assert lm.threshold_ is None
        assert len(lm.selection_) == 1
        assert np.isnan(lm.selection_[0]["score"])
        twin = cls(cardinality=2).fit(L, **dev)
        np.testing.assert_array_equal(lm.predict_proba(L_dev), twin.predict_proba(L_dev))
        np.testing.assert_array_equal(lm.predict(L_dev), twin.predict(L_dev))
        np.testing.assert_array_equal(lm.class_balance_, twin.class_balance_)

    def test_methods_constant(self):
        assert METHODS == ("auto", "mv", "ds", "mc", "triplet")

    def test_lf_accuracies(self):
        d = make_synthetic(2000, 5, 2, seed=8)
        assert np.isnan(LabelModel("mv").fit(d.L).lf_accuracies_).all()
        lm = LabelModel("ds").fit(d.L)
        np.testing.assert_array_equal(lm.lf_accuracies_, lm.model_.lf_accuracies_)


class TestLabelFree:
    @staticmethod
    def mv_shares(L, k):
        """Majority-vote label shares, ties split evenly, add-one smoothed (plain loops)."""
        share = np.zeros(k)
        for row in L:
            counts = np.array([np.sum(row == c) for c in range(k)])
            if counts.max() == 0:
                continue
            winners = np.flatnonzero(counts == counts.max())
            share[winners] += 1 / len(winners)
        return (share + 1) / (share.sum() + k)

    @pytest.mark.parametrize("k", [2, 3])
    def test_is_dawid_skene_shrunk_toward_majority_vote(self, k):
        d = make_synthetic(3000, 6, k, seed=k)
        lm = LabelModel().fit(d.L)
        assert lm.method_ == "ds(prior_strength=10000)"
        assert isinstance(lm.model_, DawidSkene)
        assert lm.model_.prior_strength == 1e4
        assert lm.threshold_ is None
        assert len(lm.selection_) == 1
        assert np.isnan(lm.selection_[0]["score"])
        shares = self.mv_shares(d.L, k)
        np.testing.assert_allclose(lm.class_balance_, shares, rtol=1e-12)
        twin = DawidSkene(prior_strength=1e4, class_balance=shares).fit(d.L)
        np.testing.assert_allclose(lm.predict_proba(d.L), twin.predict_proba(d.L), atol=1e-12)

    def test_dev_votes_without_labels_are_label_free(self):
        d = make_synthetic(3000, 6, 2, seed=4)
        with_votes = LabelModel().fit(d.L[:2500], L_dev=d.L[2500:])
        plain = LabelModel().fit(d.L[:2500])
        assert with_votes.method_ == plain.method_ == "ds(prior_strength=10000)"
        np.testing.assert_array_equal(with_votes.predict_proba(d.L), plain.predict_proba(d.L))

    def test_given_class_balance_is_passed_through(self):
        d = make_synthetic(3000, 6, 2, seed=4)
        lm = LabelModel(class_balance=[0.2, 0.8]).fit(d.L)
        np.testing.assert_allclose(lm.class_balance_, [0.2, 0.8], rtol=1e-12)

    def test_auto_with_y_dev_only_uses_the_dev_prior(self):
        d = make_synthetic(3000, 6, 2, seed=4)
        y_dev = np.array([1] * 8 + [0] * 2)
        lm = LabelModel().fit(d.L, y_dev=y_dev)
        np.testing.assert_allclose(lm.class_balance_, [3 / 12, 9 / 12], rtol=1e-12)


def test_label_matrix_inputs_keep_lf_names():
    d = make_synthetic(3000, 5, 2, seed=9)
    names = ["kw_free", "kw_money", "regex_url", "len_short", "model_lr"]
    L = LabelMatrix(d.L[:2500], lf_names=names)
    L_dev = LabelMatrix(d.L[2500:], lf_names=names)
    lm = LabelModel().fit(L, L_dev=L_dev, y_dev=d.y[2500:])
    assert lm.lf_names_ == tuple(names)
    plain = LabelModel().fit(d.L[:2500], L_dev=d.L[2500:], y_dev=d.y[2500:])
    assert lm.method_ == plain.method_
    np.testing.assert_array_equal(lm.predict(L_dev), plain.predict(d.L[2500:]))
