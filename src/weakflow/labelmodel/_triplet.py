"""Triplet: FlyingSquid's closed-form method of moments (Fu et al., ICML 2020).

With a binary latent class and conditionally independent LFs, the covariance of two LFs'
signed votes factors as ``C_ij = g_i g_j``, where ``g_i`` measures how much LF i's vote moves
with the class. Any three LFs then give ``g_i^2 = C_ij C_ik / C_jk`` in closed form: no
iterations and no pass over the data beyond the second moments.

FlyingSquid applies the identity to raw second moments ``E[s_i s_j]``, which equal
``E[s_i Y] E[s_j Y]`` only if every LF is as accurate on one class as on the other and abstains
independently of the class. Real LFs are mostly one-sided (a keyword that only ever votes spam):
two such LFs always "agree" when both fire, and raw moments would call both perfect. Covariances
remove the first-moment part, and the identity stays exact for one-sided LFs. Each triplet
estimate is aggregated by the median over all triplets with enough overlap.

For k classes the method runs one-vs-rest: for each class c, LF votes become +1 (votes c),
-1 (votes another class) or 0 (abstains). Each binary problem yields P(LF votes c | Y = c) and
P(LF votes c | Y != c); together they form full confusion tables whose errors are spread evenly
over the other classes, and the posterior is the shared CI posterior.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from weakflow._types import FloatArray, LabelMatrixLike, RandomStateLike
from weakflow.errors import SchemaError
from weakflow.labeling import compress_votes
from weakflow.labelmodel._anchor import anchor_confusion
from weakflow.labelmodel._base import EPS, CILabelModel
from weakflow.labelmodel._fallback import fit_fallback
from weakflow.labelmodel._kernels import vote_gram
from weakflow.labelmodel._majority import majority_class_shares

__all__ = ["Triplet"]


class Triplet(CILabelModel):
    """Closed-form triplet estimates of LF accuracies (FlyingSquid), one-vs-rest for k > 2.

    Parameters
    ----------
    cardinality : int, optional
        Number of classes (inferred when omitted).
    class_balance : "auto", "dev", "learn", "uniform" or array-like of shape (k,)
        ``"learn"`` uses the majority-vote label shares (moments cannot identify the prior).
    min_overlap : int
        A triplet is used only if each of its three LF pairs voted together on at least this
        many rows; LFs without such triplets keep the anchor accuracy ``init_accuracy``.
    init_accuracy : float
        Accuracy assumed for LFs the triplets cannot estimate.
    abstain_evidence : bool
        Whether abstentions count as evidence in the posterior (see
        :class:`~weakflow.labelmodel.CILabelModel`); False is Snorkel's posterior.
    random_state : int, Generator or None
        Unused (the method is deterministic); kept for a uniform interface.

    Attributes
    ----------
    class_balance_, confusion_, lf_accuracies_
        See :class:`~weakflow.labelmodel.CILabelModel`.
    n_triplets_ : ndarray of shape (m,)
        Triplets that informed each LF's estimate (summed over the one-vs-rest problems).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 5000)
    >>> L = np.stack([np.where(rng.random(5000) < a, y, 1 - y) for a in (0.9, 0.8, 0.7)], 1)
    >>> Triplet().fit(L).lf_accuracies_.round(1).tolist()
    [0.9, 0.8, 0.7]
    """

    def __init__(
        self,
        *,
        cardinality: int | None = None,
        class_balance: str | npt.ArrayLike = "auto",
        min_overlap: int = 5,
        init_accuracy: float = 0.7,
        abstain_evidence: bool = True,
        random_state: RandomStateLike = None,
    ) -> None:
        self.cardinality = cardinality
        self.class_balance = class_balance
        self.min_overlap = min_overlap
        self.init_accuracy = init_accuracy
        self.abstain_evidence = abstain_evidence
        self.random_state = random_state

    def fit(
        self,
        L: LabelMatrixLike,
        *,
        L_dev: LabelMatrixLike | None = None,
        y_dev: npt.ArrayLike | None = None,
    ) -> Triplet:
        """Estimate the confusion tables in closed form; ``y_dev`` only sets the prior."""
        arr, k, _, y = self._check_fit_inputs(L, L_dev, y_dev)
        if self.min_overlap < 1:
            raise SchemaError(f"min_overlap must be >= 1, got {self.min_overlap!r}.")
        fixed_prior = self._fixed_class_balance(k, y, lambda: majority_class_shares(arr, k))
        if fit_fallback(self, arr, k, fixed_prior):
            self.n_triplets_ = np.zeros(arr.shape[1], dtype=np.int64)
            return self
        vp = compress_votes(arr)
        weights = vp.counts.astype(np.float64) if vp.compressed else None
        n = float(vp.counts.sum())
        moments = _Moments(vote_gram(vp.patterns, k, weights) / n, arr.shape[1], k, n)
        estimates = [moments.one_vs_rest(c, self.min_overlap) for c in range(k)]
        self.n_triplets_ = np.sum([e[2] for e in estimates], axis=0)
        prior = majority_class_shares(arr, k) if fixed_prior is None else fixed_prior
        self._set_model(prior, moments.confusion(estimates, prior, self.init_accuracy))
        return self


class _Moments:
    """First and second moments of the one-hot votes, and the triplet estimates built on them."""

    def __init__(self, O: FloatArray, m: int, k: int, n: float) -> None:
        self.m, self.k, self.n = m, k, n
        self.O4 = O.reshape(m, k, m, k)  # [i, c, j, c'] = P(LF i votes c and LF j votes c')
        self.d = np.einsum("icic->ic", self.O4)  # P(LF i votes c)
        self.voted = self.d.sum(axis=1)  # P(LF i votes)
        both = self.O4.sum(axis=(1, 3))  # P(LF i and LF j both vote)
        self.overlap = both * n

    def one_vs_rest(self, c: int, min_overlap: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """For class c: (g, delta, n_triplets) where delta[i] = Cov([LF i votes c], Y_c) scaled."""
        O4, m = self.O4, self.m
        # s_i = 2 [votes c] - [votes]: +1 for c, -1 for another class, 0 for abstain
        vc_vc = O4[:, c, :, c]
        vc_v = O4[:, c, :, :].sum(axis=2)  # E[[i votes c][j votes]]
        v_v = O4.sum(axis=(1, 3))
        e_s = 2 * self.d[:, c] - self.voted
        e_ss = 4 * vc_vc - 2 * vc_v - 2 * vc_v.T + v_v
        C = e_ss - np.outer(e_s, e_s)
        ok = self.overlap >= min_overlap
        np.fill_diagonal(ok, False)
        g2 = np.full(m, np.nan)
        n_trip = np.zeros(m)
        for i in range(m):
            partners = np.flatnonzero(ok[i])
            if partners.size < 2:
                continue
            Ci = C[i, partners]
            Cjk = C[np.ix_(partners, partners)]
            valid = ok[np.ix_(partners, partners)] & (np.abs(Cjk) > 1e-12)
            valid = np.triu(valid, 1)
            if not valid.any():
                continue
            est = (np.outer(Ci, Ci) / np.where(valid, Cjk, 1.0))[valid]
            g2[i] = np.median(est)
            n_trip[i] = est.size
        g = np.sqrt(np.clip(g2, 0.0, None))  # LFs assumed better than random: g >= 0
        # delta_i = Cov([i votes c], Y_c) * sqrt-scale, by least squares over partners j
        e_vc_s = 2 * vc_vc - vc_v  # E[[i votes c] s_j]
        cov_vc_s = e_vc_s - np.outer(self.d[:, c], e_s)
        delta = np.full(m, np.nan)
        for i in range(m):
            partners = np.flatnonzero(ok[i] & np.isfinite(g) & (g > 0))
            if partners.size == 0 or not np.isfinite(g[i]):
                continue
            gj = g[partners]
            delta[i] = float(cov_vc_s[i, partners] @ gj / (gj @ gj))
        return g, delta, n_trip

    def confusion(
        self,
        estimates: list[tuple[FloatArray, FloatArray, FloatArray]],
        prior: FloatArray,
        init_accuracy: float,
    ) -> FloatArray:
        """Full confusion tables from the one-vs-rest estimates and the class prior."""
        m, k = self.m, self.k
        anchor = anchor_confusion(self.d, prior, init_accuracy)
        conf = np.empty((m, k, k + 1))
        for c, (_, delta, _) in enumerate(estimates):
            pc = prior[c]
            scale = np.sqrt(pc * (1 - pc))
            # E[[votes c] | Y_c = 1] - E[[votes c] | Y_c = 0] = delta / sqrt(p (1 - p))
            gap = delta / scale
            on = self.d[:, c] + (1 - pc) * gap  # P(votes c | Y = c)
            off = self.d[:, c] - pc * gap  # P(votes c | Y != c)
            known = np.isfinite(gap)
            on = np.where(known, on, anchor[:, c, c])
            other = [y for y in range(k) if y != c]
            off_anchor = (anchor[:, other, c] * prior[other]).sum(axis=1) / prior[other].sum()
            off = np.where(known, off, off_anchor)
            conf[:, :, c] = np.clip(off, EPS, 1.0)[:, None]
            conf[:, c, c] = np.clip(on, EPS, 1.0)
        votes = conf[:, :, :k]
        total = votes.sum(axis=2, keepdims=True)
        conf[:, :, :k] = np.where(total > 1 - EPS, votes * (1 - EPS) / total, votes)
        conf[:, :, k] = 1.0 - conf[:, :, :k].sum(axis=2)
        return conf
