"""Properties every model must have on any label matrix; determinism; pattern compression."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weakflow.labeling import compress_votes
from weakflow.labelmodel import (
    DawidSkene,
    LabelModel,
    MajorityVote,
    MatrixCompletion,
    Triplet,
)

from .models import MODELS, make
from .synth import make_synthetic

PROPERTY_SETTINGS = settings(max_examples=40, deadline=None)


@dataclass
class Problem:
    L: np.ndarray
    k: int
    L_dev: np.ndarray
    y_dev: np.ndarray


@st.composite
def problems(draw) -> Problem:
    """Small label matrices: n 30-200, m 3-8, k 2-4, with abstains.

    Votes are either uniform noise or the synthetic CI recipe (accuracies anywhere in
    [0.1, 0.95], so some LFs are worse than random), drawn from a seed for speed.
    """
    n = draw(st.integers(30, 200))
    m = draw(st.integers(3, 8))
    k = draw(st.integers(2, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    abstain = draw(st.sampled_from([0.0, 0.3, 0.6, 0.9]))
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):
        L = rng.integers(0, k, size=(n, m))
        L[rng.random((n, m)) < abstain] = -1
    else:
        lo = max(0.05, 1 - abstain - 0.1)
        L = make_synthetic(n, m, k, seed=seed, coverage=(lo, 1.0), accuracy=(0.1, 0.95)).L
    if draw(st.booleans()):
        L[: max(1, n // 10)] = -1  # some rows without any vote
    n_dev = draw(st.integers(5, 40))
    L_dev = rng.integers(-1, k, size=(n_dev, m))
    y_dev = rng.integers(0, k, size=n_dev)
    return Problem(L, k, L_dev, y_dev)


#: name -> (factory, whether to pass the dev set)
CONFIGS = {
    "mv": (lambda k: MajorityVote(cardinality=k), False),
    "mv-first": (lambda k: MajorityVote(cardinality=k, tie_break="first"), False),
    "ds": (lambda k: DawidSkene(cardinality=k), False),
    "ds-snorkel-posterior": (lambda k: DawidSkene(cardinality=k, abstain_evidence=False), False),
    "mc": (lambda k: MatrixCompletion(cardinality=k), False),
    "triplet": (lambda k: Triplet(cardinality=k), False),
    "lm": (lambda k: LabelModel(cardinality=k), False),
    "lm-dev": (lambda k: LabelModel(cardinality=k), True),
}


def fit(name: str, p: Problem, L: np.ndarray | None = None):
    factory, with_dev = CONFIGS[name]
    L = p.L if L is None else L
    dev = {"L_dev": p.L_dev, "y_dev": p.y_dev} if with_dev else {}
    return factory(p.k).fit(L, **dev)


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(problems())
def test_probabilities_are_valid_and_predict_is_their_argmax(p):
    for name in CONFIGS:
        model = fit(name, p)
        proba = model.predict_proba(p.L)
        assert proba.shape == (len(p.L), p.k), name
        assert np.isfinite(proba).all(), name
        assert ((proba >= 0) & (proba <= 1)).all(), name
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9, err_msg=name)
        pred = model.predict(p.L)
        if name == "mv-first":
            # 'first' settles ties by index, predict_proba splits them by the prior; the two
            # agree under a uniform prior
            model = MajorityVote(cardinality=p.k, tie_break="first", class_balance="uniform")
            model.fit(p.L)
            proba, pred = model.predict_proba(p.L), model.predict(p.L)
        if getattr(model, "threshold_", None) is not None:
            np.testing.assert_array_equal(pred, (proba[:, 1] >= model.threshold_).astype(int))
        elif name.startswith("mv"):
            # MV orders tied winners by 1 + prior: learned priors that are equal but for an ulp
            # (e.g. three 1/3 shares against 1) compare equal there and unequal in predict_proba
            top2 = np.sort(proba, axis=1)[:, -2:]
            clear = top2[:, 1] - top2[:, 0] > 1e-12
            np.testing.assert_array_equal(pred[clear], proba.argmax(axis=1)[clear], err_msg=name)
        else:
            np.testing.assert_array_equal(pred, proba.argmax(axis=1), err_msg=name)


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(problems(), st.randoms(use_true_random=False))
def test_permuting_rows_permutes_the_outputs(p, rnd):
    perm = np.array(rnd.sample(range(len(p.L)), len(p.L)))
    for name in CONFIGS:
        model = fit(name, p)
        moved = fit(name, p, p.L[perm])
        np.testing.assert_allclose(
            moved.predict_proba(p.L[perm]), model.predict_proba(p.L)[perm], atol=1e-10, err_msg=name
        )
        np.testing.assert_array_equal(
            moved.predict(p.L[perm]), model.predict(p.L)[perm], err_msg=name
        )


@PROPERTY_SETTINGS
@given(problems(), st.randoms(use_true_random=False))
def test_permuting_lfs_changes_nothing_but_their_order(p, rnd):
    # MatrixCompletion is checked separately below: it does not meet 1e-6
    m = p.L.shape[1]
    perm = np.array(rnd.sample(range(m), m))
    for name in ("mv", "ds", "ds-snorkel-posterior", "triplet"):
        model = fit(name, p)
        moved = fit(name, p, p.L[:, perm])
        np.testing.assert_allclose(
            moved.predict_proba(p.L[:, perm]), model.predict_proba(p.L), atol=1e-6, err_msg=name
        )
        if not name.startswith("mv"):
            np.testing.assert_allclose(
                moved.lf_accuracies_, model.lf_accuracies_[perm], atol=1e-6, err_msg=name
            )
            np.testing.assert_allclose(
                moved.confusion_, model.confusion_[perm], atol=1e-6, err_msg=name
            )


def lf_permutation_gap(model_factory, L: np.ndarray, perm: np.ndarray) -> float:
    a = model_factory().fit(L)
    b = model_factory().fit(L[:, perm])
    return float(np.abs(a.predict_proba(L) - b.predict_proba(L[:, perm])).max())


@pytest.mark.xfail(
    strict=True,
    reason="MatrixCompletion's L-BFGS often stops at max_iter=500 on small or noisy matrices, "
    "where the objective is flat: the rounding differences of a reordered parameter vector "
    "then lead to visibly different solutions (up to 0.5 in probability seen on 97x3, k=4).",
)
def test_matrix_completion_permuting_lfs_within_1e_6():
    rng = np.random.default_rng(1)
    gaps = []
    for _ in range(10):
        n, m, k = int(rng.integers(30, 201)), int(rng.integers(3, 9)), int(rng.integers(2, 5))
        L = rng.integers(0, k, size=(n, m))
        L[rng.random((n, m)) < 0.3] = -1
        gaps.append(
            lf_permutation_gap(lambda k=k: MatrixCompletion(cardinality=k), L, rng.permutation(m))
        )
    assert max(gaps) <= 1e-6, gaps


@pytest.mark.parametrize("seed", [0, 3, 4])
def test_matrix_completion_permuting_lfs_on_identifiable_data(seed):
    # where the moments identify the model the optimum is unique: permuting the LFs moves the
    # solution by no more than the optimizer's tolerance (seen: up to 3.6e-5 for seed 3)
    d = make_synthetic(20_000, 10, 3, seed=seed)
    perm = np.random.default_rng(seed).permutation(10)
    a = MatrixCompletion().fit(d.L)
    b = MatrixCompletion().fit(d.L[:, perm])
    np.testing.assert_allclose(b.predict_proba(d.L[:, perm]), a.predict_proba(d.L), atol=2e-4)
    np.testing.assert_allclose(b.lf_accuracies_, a.lf_accuracies_[perm], atol=2e-4)


# -- determinism --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("with_dev", [False, True])
def test_same_inputs_same_outputs(name, with_dev):
    d = make_synthetic(2000, 6, 2, seed=21)
    dev = {"L_dev": d.L[:300], "y_dev": d.y[:300]} if with_dev else {}
    a = make(name, random_state=0).fit(d.L[300:], **dev)
    b = make(name, random_state=0).fit(d.L[300:], **dev)
    np.testing.assert_array_equal(a.predict_proba(d.L), b.predict_proba(d.L))
    np.testing.assert_array_equal(a.predict(d.L), b.predict(d.L))


def test_majority_vote_random_tie_break_is_seeded():
    d = make_synthetic(3000, 4, 3, seed=22, coverage=(0.3, 0.5))
    preds = {
        s: [MajorityVote(tie_break="random", random_state=s).fit(d.L).predict(d.L) for _ in "ab"]
        for s in (0, 1)
    }
    np.testing.assert_array_equal(preds[0][0], preds[0][1])
    np.testing.assert_array_equal(preds[1][0], preds[1][1])
    assert not np.array_equal(preds[0][0], preds[1][0])


# -- pattern compression ------------------------------------------------------------------------
class TestCompression:
    @pytest.mark.parametrize(
        ("factory", "attrs"),
        [
            # maximum likelihood: Dirichlet pseudo-counts are absolute, so 3x the rows would
            # weigh them differently; a given prior likewise avoids the add-one learned prior
            (lambda: DawidSkene(prior_strength=0.0, class_balance=[0.3, 0.3, 0.4]), ["n_iter_"]),
            (lambda: MatrixCompletion(class_balance=[0.3, 0.3, 0.4]), []),
            (lambda: Triplet(class_balance=[0.3, 0.3, 0.4]), ["n_triplets_"]),
        ],
        ids=["ds", "mc", "triplet"],
    )
    def test_every_row_three_times_gives_the_same_model(self, factory, attrs):
        d = make_synthetic(3000, 7, 3, seed=23)
        once = factory().fit(d.L)
        thrice = factory().fit(np.repeat(d.L, 3, axis=0))
        np.testing.assert_allclose(thrice.confusion_, once.confusion_, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(thrice.lf_accuracies_, once.lf_accuracies_, rtol=1e-7)
        np.testing.assert_array_equal(thrice.predict(d.L), once.predict(d.L))
        if attrs == ["n_triplets_"]:
            np.testing.assert_array_equal(thrice.n_triplets_, once.n_triplets_)

    @pytest.mark.parametrize("name", list(MODELS))
    def test_many_rows_few_patterns(self, name):
        d = make_synthetic(3000, 5, 2, seed=24)
        model = make(name).fit(d.L)
        big = np.tile(d.L[:400], (110, 1))  # 44,000 rows, at most 400 patterns
        vp = compress_votes(big)
        assert vp.compressed
        assert len(big) > 40_000
        expected = model.predict_proba(vp.patterns)[vp.inverse]
        np.testing.assert_allclose(model.predict_proba(big), expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(model.predict(big), model.predict(vp.patterns)[vp.inverse])

    @pytest.mark.parametrize("name", ["ds", "mc", "triplet"])
    def test_skipped_and_applied_compression_agree(self, name):
        # The same 45,000 rows in two orders: distinct rows first (the 20,000-row sample is all
        # distinct, so compression is skipped) or repeated rows first (so it is applied).
        d = make_synthetic(22_000, 16, 3, seed=25, coverage=(0.4, 0.7))
        repeats = np.repeat(d.L[:50], 460, axis=0)
        skipped = np.vstack([d.L, repeats])
        applied = np.vstack([repeats, d.L])
        assert not compress_votes(skipped).compressed
        assert compress_votes(applied).compressed
        a = make(name).fit(skipped)
        b = make(name).fit(applied)
        np.testing.assert_allclose(a.class_balance_, b.class_balance_, rtol=1e-9)
        np.testing.assert_allclose(a.confusion_, b.confusion_, rtol=1e-7, atol=1e-10)
        np.testing.assert_array_equal(a.predict(d.L), b.predict(d.L))
        np.testing.assert_allclose(a.predict_proba(skipped), b.predict_proba(skipped), atol=1e-9)
