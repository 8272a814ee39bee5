"""Interoperability with Snorkel 0.10.0: its LFs run in weakflow, and the LF analysis agrees.

Snorkel (and torch) are not installed in ``.venv``, so this module is skipped by ``make test``;
``make test-interop`` (run by CI after ``make test``) and ``make bench`` run it in venvs that
have them.

- Snorkel ``LabelingFunction`` objects (plain, with a Snorkel ``@preprocessor()`` and with
  ``resources=``) mixed with weakflow LFs in ``apply_lfs`` give the same matrix as Snorkel's own
  ``PandasLFApplier`` on the bundled YouTube comments.
- ``lf_summary`` gives Snorkel's ``LFAnalysis.lf_summary`` numbers on the same matrix, and its
  totals are ``label_coverage/label_overlap/label_conflict``; with a fitted Snorkel LabelModel as
  ``model=``, ``learned_accuracy`` is ``get_weights()``.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

snorkel = pytest.importorskip(
    "snorkel",
    reason="snorkel is not installed in .venv; `make test-interop` runs these tests (CI does)",
)

from snorkel.labeling import LFAnalysis, PandasLFApplier  # noqa: E402
from snorkel.labeling import labeling_function as snorkel_lf  # noqa: E402
from snorkel.labeling.model import LabelModel as SnorkelLabelModel  # noqa: E402
from snorkel.preprocess import preprocessor  # noqa: E402

from weakflow import ABSTAIN  # noqa: E402
from weakflow.labeling import (  # noqa: E402
    apply_lfs,
    keyword_lf,
    labeling_function,
    lf_summary,
    regex_lf,
)
from weakflow.labeling.examples import youtube_spam_lfs  # noqa: E402

SPAM, HAM = 1, 0

pytestmark = [
    # Snorkel 0.10.0's LFAnalysis calls scipy.sparse.diags on int64 data, which scipy >= 1.17
    # deprecates (the cast to float64 it warns about is what Snorkel relies on). Not weakflow's.
    pytest.mark.filterwarnings(
        "ignore:Input has data type int64, but the output has been cast:FutureWarning:scipy.sparse"
    ),
]


# -- Snorkel LFs, as a Snorkel user writes them ----------------------------------------------
@preprocessor(memoize=False)
def add_words(x):
    x.words = x.text.split()
    return x


@snorkel_lf(pre=[add_words])
def sn_shouting(x):
    caps = sum(1 for w in x.words if len(w) > 1 and w.isupper())
    return SPAM if caps >= 2 else ABSTAIN


@snorkel_lf(resources={"promo": ("free", "win", "gift")})
def sn_promo(x, promo):
    lowered = x.text.lower()
    return SPAM if any(w in lowered for w in promo) else ABSTAIN


@snorkel_lf()
def sn_short(x):
    return HAM if len(x.text.split()) < 5 else ABSTAIN


# Snorkel twins of the weakflow LFs below (same names, same rules), for PandasLFApplier.
@snorkel_lf(name="kw_subscribe")
def sn_kw_subscribe(x):
    return SPAM if "subscribe" in x.text.lower() else ABSTAIN


@snorkel_lf(name="re_check_out")
def sn_re_check_out(x):
    return SPAM if re.search(r"check.*out", x.text, flags=re.I) else ABSTAIN


@snorkel_lf(name="wf_song")
def sn_wf_song(x):
    return HAM if "song" in x.text.lower() else ABSTAIN


@labeling_function(name="wf_song")
def wf_song(x):
    return HAM if "song" in x.text.lower() else ABSTAIN


def mixed_lfs():
    """weakflow builders and a weakflow row-wise LF interleaved with Snorkel LF objects."""
    return [
        keyword_lf("subscribe", SPAM, name="kw_subscribe"),
        sn_shouting,
        regex_lf(r"check.*out", SPAM, flags=re.I, name="re_check_out"),
        sn_promo,
        wf_song,
        sn_short,
    ]


def snorkel_twins():
    return [sn_kw_subscribe, sn_shouting, sn_re_check_out, sn_promo, sn_wf_song, sn_short]


def spam_tutorial_lfs():
    """The tutorial LFs as weakflow ships them (the first seven of the YouTube example)."""
    return youtube_spam_lfs()[:7]


# -- (a) Snorkel LFs in apply_lfs ------------------------------------------------------------
def test_snorkel_lfs_mixed_with_weakflow_lfs_match_pandas_lf_applier(youtube):
    L = apply_lfs(mixed_lfs(), youtube, progress=False)
    expected = PandasLFApplier(snorkel_twins()).apply(youtube, progress_bar=False)

    assert L.lf_names == tuple(lf.name for lf in snorkel_twins())
    assert L.shape == expected.shape == (1956, 6)
    mismatches = np.argwhere(L.values != expected)
    assert mismatches.size == 0, f"first (row, lf) mismatches: {mismatches[:5].tolist()}"
    # not vacuous: every LF (the preprocessor and resources ones included) votes and abstains
    votes = (expected != ABSTAIN).sum(axis=0)
    assert (votes > 0).all()
    assert (votes < len(youtube)).all()


def test_snorkel_lfs_alone_and_fault_tolerant(youtube):
    """Snorkel LFs alone take the row-wise path (no vectorized LF) and the fault-tolerant one."""
    lfs = [sn_shouting, sn_promo, sn_short]
    expected = PandasLFApplier(lfs).apply(youtube, progress_bar=False)
    for fault_tolerant in (False, True):
        L = apply_lfs(lfs, youtube, progress=False, fault_tolerant=fault_tolerant, batch_size=500)
        np.testing.assert_array_equal(L.values, expected)
        assert L.fault_counts == {"sn_shouting": 0, "sn_promo": 0, "sn_short": 0}


# -- (b) lf_summary vs LFAnalysis -------------------------------------------------------------
def assert_summary_matches_snorkel(L, Y):
    """Every number of weakflow's lf_summary equals Snorkel's LFAnalysis on the same matrix."""
    arr = np.asarray(getattr(L, "values", L))
    ours = lf_summary(L, Y)
    analysis = LFAnalysis(arr.astype(np.int64))
    theirs = analysis.lf_summary(np.asarray(Y))

    assert len(ours) == len(theirs) == arr.shape[1]
    assert [list(p) for p in ours["polarity"]] == [[int(v) for v in p] for p in theirs["Polarity"]]
    for mine, snorkels in (
        ("coverage", "Coverage"),
        ("overlaps", "Overlaps"),
        ("conflicts", "Conflicts"),
        ("emp_accuracy", "Emp. Acc."),
    ):
        np.testing.assert_allclose(
            ours[mine].to_numpy(float), theirs[snorkels].to_numpy(float), rtol=1e-12, err_msg=mine
        )
    np.testing.assert_array_equal(ours["correct"].to_numpy(), theirs["Correct"].to_numpy())
    np.testing.assert_array_equal(ours["incorrect"].to_numpy(), theirs["Incorrect"].to_numpy())

    totals = ours.attrs["totals"]
    assert totals["coverage"] == pytest.approx(analysis.label_coverage(), rel=1e-12)
    assert totals["overlap"] == pytest.approx(analysis.label_overlap(), rel=1e-12)
    assert totals["conflict"] == pytest.approx(analysis.label_conflict(), rel=1e-12)
    return ours, theirs


def test_lf_summary_matches_lfanalysis_on_the_spam_lfs(youtube):
    L = apply_lfs(spam_tutorial_lfs(), youtube, progress=False, cardinality=2)
    ours, _ = assert_summary_matches_snorkel(L, youtube["CLASS"].to_numpy())
    assert list(ours.index) == list(L.lf_names)
    assert 0 < ours.attrs["totals"]["conflict"] < ours.attrs["totals"]["overlap"] < 1


@pytest.mark.parametrize(("k", "seed"), [(3, 0), (5, 1)])
def test_lf_summary_matches_lfanalysis_on_a_random_multiclass_matrix(k, seed):
    rng = np.random.default_rng(seed)
    n, m = 3000, 9
    y = rng.integers(0, k, n)
    coverage = rng.uniform(0.05, 0.7, m)
    accuracy = rng.uniform(0.3, 0.9, m)
    vote = rng.random((n, m)) < coverage
    right = rng.random((n, m)) < accuracy
    wrong = (y[:, None] + rng.integers(1, k, (n, m))) % k
    L = np.where(vote, np.where(right, y[:, None], wrong), ABSTAIN)
    L[:, 0] = np.where(vote[:, 0], 1, ABSTAIN)  # a single-polarity LF
    ours, _ = assert_summary_matches_snorkel(L, y)
    assert ours["polarity"].iloc[0] == [1]
    assert all(len(p) == k for p in ours["polarity"].iloc[1:])


def test_learned_accuracy_is_snorkels_get_weights(youtube):
    L = apply_lfs(spam_tutorial_lfs(), youtube, progress=False, cardinality=2)
    L64 = L.values.astype(np.int64)
    lm = SnorkelLabelModel(cardinality=2, verbose=False)
    lm.fit(L64, n_epochs=100, seed=0, progress_bar=False)

    ours = lf_summary(L, youtube["CLASS"].to_numpy(), model=lm)
    weights = lm.get_weights()
    np.testing.assert_array_equal(ours["learned_accuracy"].to_numpy(), weights)
    theirs = LFAnalysis(L64).lf_summary(youtube["CLASS"].to_numpy(), est_weights=weights)
    np.testing.assert_array_equal(ours["learned_accuracy"].to_numpy(), theirs["Learned Weight"])
