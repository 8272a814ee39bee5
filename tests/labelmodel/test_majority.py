"""MajorityVote: tie-break policies, probabilities, the learned class shares."""

from __future__ import annotations

import numpy as np
import pytest

from weakflow.errors import SchemaError
from weakflow.labelmodel import MajorityVote
from weakflow.labelmodel._majority import majority_class_shares

# k = 2. Row 0: class 0 wins 2-1; row 1: class 1 wins 2-1; rows 2 and 4: 1-1 ties; row 3: no votes.
L2 = np.array([[0, 0, 1], [1, 1, 0], [0, 1, -1], [-1, -1, -1], [1, -1, 0]])
PRIOR2 = np.array([0.3, 0.7])

# k = 3, prior [0.5, 0.2, 0.3]. Row 0: tie 1/2; row 1: three-way tie; row 2: class 2 wins;
# row 3: no votes; row 4: tie 0/1.
L3 = np.array([[1, 2, -1, -1], [0, 1, 2, -1], [2, 2, 1, 0], [-1, -1, -1, -1], [1, 0, -1, -1]])
PRIOR3 = np.array([0.5, 0.2, 0.3])


def fit(L, prior, **kw):
    return MajorityVote(class_balance=prior, **kw).fit(L)


class TestTieBreak:
    def test_prior(self):
        assert fit(L2, PRIOR2).predict(L2).tolist() == [0, 1, 1, 1, 1]
        assert fit(L3, PRIOR3).predict(L3).tolist() == [2, 0, 2, 0, 0]

    def test_prior_follows_the_class_balance(self):
        flipped = PRIOR2[::-1]
        assert fit(L2, flipped).predict(L2).tolist() == [0, 1, 0, 0, 0]

    def test_first(self):
        assert fit(L2, PRIOR2, tie_break="first").predict(L2).tolist() == [0, 1, 0, 0, 0]
        assert fit(L3, PRIOR3, tie_break="first").predict(L3).tolist() == [1, 0, 2, 0, 0]

    def test_abstain(self):
        assert fit(L2, PRIOR2, tie_break="abstain").predict(L2).tolist() == [0, 1, -1, -1, -1]
        assert fit(L3, PRIOR3, tie_break="abstain").predict(L3).tolist() == [-1, -1, 2, -1, -1]

    def test_random_picks_only_among_tied_classes(self):
        # rows: tie 0/1 (never 2), clear win for 2, tie 1/2 (never 0)
        L = np.tile(np.array([[0, 1, -1], [2, 2, 0], [1, 2, -1]]), (300, 1))
        pred = fit(L, [1 / 3] * 3, tie_break="random", random_state=0).predict(L).reshape(300, 3)
        assert set(pred[:, 0].tolist()) == {0, 1}
        assert set(pred[:, 1].tolist()) == {2}
        assert set(pred[:, 2].tolist()) == {1, 2}
        # uniform among the tied classes: 300 draws of a fair coin stay well inside 0.35..0.65
        assert 0.35 < np.mean(pred[:, 0] == 0) < 0.65
        assert 0.35 < np.mean(pred[:, 2] == 1) < 0.65

    def test_random_gives_rows_without_votes_any_class(self):
        L = np.full((600, 3), -1)
        mv = fit(L, [0.9, 0.05, 0.05], tie_break="random", random_state=1, cardinality=3)
        pred = mv.predict(L)
        assert set(pred.tolist()) == {0, 1, 2}  # uniform, not the prior's argmax

    def test_random_is_reproducible_for_a_seed(self):
        L = np.tile(np.array([[0, 1, -1], [1, 0, -1], [-1, -1, -1]]), (200, 1))
        a = MajorityVote(tie_break="random", random_state=7).fit(L)
        b = MajorityVote(tie_break="random", random_state=7).fit(L)
        np.testing.assert_array_equal(a.predict(L), b.predict(L))
        np.testing.assert_array_equal(a.predict(L), a.predict(L))  # a fresh stream per call

    def test_random_differs_between_seeds(self):
        L = np.tile(np.array([[0, 1, -1], [1, 0, -1], [-1, -1, -1]]), (200, 1))
        preds = [
            MajorityVote(tie_break="random", random_state=s).fit(L).predict(L) for s in range(3)
        ]
        assert not np.array_equal(preds[0], preds[1])
        assert not np.array_equal(preds[1], preds[2])

    def test_unknown_tie_break(self):
        with pytest.raises(SchemaError, match="tie_break"):
            MajorityVote(tie_break="coin").fit(L2)


class TestProba:
    def test_ties_split_by_prior(self):
        proba = fit(L2, PRIOR2).predict_proba(L2)
        expected = [[1, 0], [0, 1], [0.3, 0.7], [0.3, 0.7], [0.3, 0.7]]
        np.testing.assert_allclose(proba, expected, rtol=1e-12)

    def test_ties_split_by_prior_three_classes(self):
        proba = fit(L3, PRIOR3).predict_proba(L3)
        expected = [
            [0, 0.2 / 0.5, 0.3 / 0.5],
            [0.5, 0.2, 0.3],
            [0, 0, 1],
            [0.5, 0.2, 0.3],
            [0.5 / 0.7, 0.2 / 0.7, 0],
        ]
        np.testing.assert_allclose(proba, expected, rtol=1e-12)

    @pytest.mark.parametrize("tie_break", ["prior", "first", "abstain"])
    def test_proba_does_not_depend_on_a_deterministic_tie_break(self, tie_break):
        np.testing.assert_array_equal(
            fit(L3, PRIOR3, tie_break=tie_break).predict_proba(L3),
            fit(L3, PRIOR3).predict_proba(L3),
        )

    def test_random_splits_ties_uniformly_and_keeps_the_prior_for_empty_rows(self):
        proba = fit(L3, PRIOR3, tie_break="random").predict_proba(L3)
        expected = [[0, 0.5, 0.5], [1 / 3] * 3, [0, 0, 1], [0.5, 0.2, 0.3], [0.5, 0.5, 0]]
        np.testing.assert_allclose(proba, expected, rtol=1e-12)

    def test_docstring_example(self):
        mv = MajorityVote(class_balance=[0.7, 0.3]).fit([[1, 1, 0], [0, -1, -1], [-1, -1, -1]])
        assert mv.predict([[1, 1, 0], [1, 0, -1], [-1, -1, -1]]).tolist() == [1, 0, 0]
        np.testing.assert_allclose(mv.predict_proba([[1, 0, -1]]), [[0.7, 0.3]])

    def test_empty_input(self):
        mv = fit(L2, PRIOR2)
        assert mv.predict_proba(np.empty((0, 3), dtype=int)).shape == (0, 2)
        assert mv.predict(np.empty((0, 3), dtype=int)).shape == (0,)


class TestLearnedShares:
    def test_majority_class_shares_by_hand(self):
        # winners: {0}, {0}, {1}, {0,1} (half each), none -> shares 2.5 and 1.5, add-one
        L = np.array([[0, 0, 1], [0, -1, -1], [1, 1, 0], [0, 1, -1], [-1, -1, -1]])
        np.testing.assert_allclose(majority_class_shares(L, 2), [3.5 / 6, 2.5 / 6], rtol=1e-12)
        mv = MajorityVote(class_balance="learn").fit(L)
        np.testing.assert_allclose(mv.class_balance_, [3.5 / 6, 2.5 / 6], rtol=1e-12)

    def test_shares_three_classes_with_an_unseen_class(self):
        # winners: {0}, {1, 2} (half each), {1}; class 3 never wins
        L = np.array([[0, 0, 1], [1, 2, -1], [1, 1, 1]])
        shares = np.array([1.0, 1.5, 0.5, 0.0])
        np.testing.assert_allclose(
            majority_class_shares(L, 4), (shares + 1) / (shares.sum() + 4), rtol=1e-12
        )

    def test_auto_without_dev_learns(self):
        L = np.array([[0, 0, 1], [0, -1, -1], [1, 1, 0], [0, 1, -1], [-1, -1, -1]])
        np.testing.assert_array_equal(
            MajorityVote().fit(L).class_balance_, majority_class_shares(L, 2)
        )
