"""Dawid-Skene: EM over each LF's full class-conditional confusion matrix.

Dawid & Skene (1979) estimated annotator error rates without ground truth by alternating
between the posterior of the true class (E-step) and per-annotator confusion matrices (M-step).
Here annotators are LFs, and an abstention is one more outcome of the confusion matrix, because
whether an LF fires usually depends on the class (a "free money" rule fires on spam only).
A Dirichlet prior centered on the anchor tables
(``prior_strength``) keeps LFs with few votes from taking extreme values.

EM runs on the distinct vote patterns weighted by their counts, so each iteration costs
O(patterns x LFs), and is accelerated with SQUAREM (Varadhan & Roland, 2008), which typically
cuts the iterations needed by a factor of three or more.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.special import logsumexp

from weakflow._types import FloatArray, LabelMatrixLike, RandomStateLike
from weakflow.errors import SchemaError
from weakflow.labeling import compress_votes
from weakflow.labelmodel._anchor import anchor_confusion
from weakflow.labelmodel._base import EPS, CILabelModel
from weakflow.labelmodel._fallback import MIN_LFS, fit_fallback
from weakflow.labelmodel._kernels import (
    ci_log_joint,
    normalize_log,
    vote_counts_from_one_hot,
    vote_frequencies,
    vote_one_hot,
)
from weakflow.labelmodel._majority import majority_class_shares, shares_from_counts

__all__ = ["DawidSkene"]


class DawidSkene(CILabelModel):
    """Expectation-maximization over per-LF confusion matrices (Dawid & Skene, 1979).

    Parameters
    ----------
    cardinality : int, optional
        Number of classes (inferred when omitted).
    class_balance : "auto", "dev", "learn", "uniform" or array-like of shape (k,)
        ``"learn"`` re-estimates the prior in every M-step.
    prior_strength : float
        Weight, in rows per class, of a Dirichlet prior centered on the anchor tables (each LF at
        ``init_accuracy``, see :func:`~weakflow.labelmodel._anchor.anchor_confusion`). 0 is plain
        maximum likelihood; large values approach majority vote. It keeps LFs with few votes
        from taking extreme values.
    init_accuracy : float
        The anchor's LF accuracy; EM also starts from the anchor.
    max_iter : int
        Maximum EM iterations.
    tol : float
        Stop when the mean log-likelihood per row improves by less than this.
    accelerate : bool
        Use SQUAREM extrapolation between plain EM steps.
    abstain_evidence : bool
        Whether abstentions count as evidence in the posterior (see
        :class:`~weakflow.labelmodel.CILabelModel`); False is Snorkel's posterior.
    random_state : int, Generator or None
        Unused (EM starts from the anchor, deterministically); kept for a uniform interface.

    Attributes
    ----------
    class_balance_, confusion_, lf_accuracies_
        See :class:`~weakflow.labelmodel.CILabelModel`.
    n_iter_ : int
        EM iterations run.
    log_likelihood_ : float
        Mean log-likelihood per row at the end.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 2000)
    >>> L = np.stack([np.where(rng.random(2000) < a, y, 1 - y) for a in (0.9, 0.8, 0.7)], 1)
    >>> ds = DawidSkene().fit(L)
    >>> ds.lf_accuracies_.round(1).tolist()
    [0.9, 0.8, 0.7]
    """

    def __init__(
        self,
        *,
        cardinality: int | None = None,
        class_balance: str | npt.ArrayLike = "auto",
        prior_strength: float = 10.0,
        init_accuracy: float = 0.7,
        max_iter: int = 200,
        tol: float = 1e-7,
        accelerate: bool = True,
        abstain_evidence: bool = True,
        random_state: RandomStateLike = None,
    ) -> None:
        self.cardinality = cardinality
        self.class_balance = class_balance
        self.prior_strength = prior_strength
        self.init_accuracy = init_accuracy
        self.max_iter = max_iter
        self.tol = tol
        self.accelerate = accelerate
        self.abstain_evidence = abstain_evidence
        self.random_state = random_state

    def fit(
        self,
        L: LabelMatrixLike,
        *,
        L_dev: LabelMatrixLike | None = None,
        y_dev: npt.ArrayLike | None = None,
    ) -> DawidSkene:
        """Fit by EM on ``L``'s vote patterns; ``y_dev`` only sets the class prior."""
        if self.prior_strength < 0:
            raise SchemaError(f"prior_strength must be >= 0, got {self.prior_strength!r}.")
        arr, k, _, y = self._check_fit_inputs(L, L_dev, y_dev)
        if arr.shape[1] < MIN_LFS:
            prior = self._fixed_class_balance(k, y, lambda: majority_class_shares(arr, k))
            fit_fallback(self, arr, k, prior)
            self.n_iter_, self.log_likelihood_ = 0, float("nan")
            return self
        self.fallback_, self.fallback_model_ = None, None
        vp = compress_votes(arr)
        w = vp.counts.astype(np.float64)
        A = vote_one_hot(vp.patterns, k)
        fixed_prior = self._fixed_class_balance(
            k, y, lambda: shares_from_counts(vote_counts_from_one_hot(A, k), w)
        )
        start_prior = np.full(k, 1.0 / k) if fixed_prior is None else fixed_prior
        vote_freq = vote_frequencies(A, w, self.n_lfs_, k)
        anchor = anchor_confusion(vote_freq, start_prior, self.init_accuracy)
        em = _EM(A, w, self.n_lfs_, k, anchor * float(self.prior_strength), fixed_prior)
        theta = np.concatenate([np.log(start_prior), np.log(anchor).ravel()])
        theta, ll, n_iter = em.run(theta, self.max_iter, self.tol, self.accelerate)
        prior, conf = em.unpack(theta)
        self._set_model(prior, conf)
        self.n_iter_ = n_iter
        self.log_likelihood_ = ll
        return self


class _EM:
    """EM for the CI model with parameters flattened into one vector (for SQUAREM)."""

    def __init__(
        self,
        A: sp.csr_matrix,
        w: FloatArray,
        m: int,
        k: int,
        pseudo: FloatArray,
        fixed_prior: FloatArray | None,
    ) -> None:
        # A.T is CSC: its product streams over A's rows once (a CSR transpose would scatter)
        self.A, self.At, self.w = A, A.T, w
        self.m, self.k, self.pseudo = m, k, pseudo
        self.fixed_prior = fixed_prior
        self.total = float(w.sum())

    # parameters: log prior (k) followed by the confusion tables (m * k * (k+1)), as logs
    def unpack(self, theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        k, m = self.k, self.m
        log_prior = theta[:k] - logsumexp(theta[:k])
        log_conf = theta[k:].reshape(m, k, k + 1)
        log_conf = log_conf - logsumexp(log_conf, axis=2, keepdims=True)
        return np.exp(log_prior), np.exp(log_conf)

    def m_step(self, post: FloatArray) -> FloatArray:
        k, m = self.k, self.m
        wp = post * self.w[:, None]
        votes = np.asarray(self.At @ wp).reshape(m, k, k)  # [j, c, y]
        votes = np.transpose(votes, (0, 2, 1))  # [j, y, c]
        class_mass = wp.sum(axis=0)  # (k,)
        abstain = np.maximum(class_mass[None, :] - votes.sum(axis=2), 0.0)
        conf = np.concatenate([votes, abstain[:, :, None]], axis=2) + self.pseudo
        conf /= conf.sum(axis=2, keepdims=True)
        if self.fixed_prior is not None:
            prior = self.fixed_prior
        else:
            prior = (class_mass + 1.0) / (class_mass.sum() + k)
        return np.concatenate([np.log(prior), np.log(np.clip(conf, EPS, None)).ravel()])

    def e_step(self, theta: FloatArray) -> tuple[FloatArray, float]:
        prior, conf = self.unpack(theta)
        k = self.k
        log_joint = ci_log_joint(
            self.A, np.log(prior), np.log(conf[:, :, :k]), np.log(conf[:, :, k])
        )
        post, log_z = normalize_log(log_joint)
        return post, float(np.dot(self.w, log_z) / self.total)

    def run(
        self, theta: FloatArray, max_iter: int, tol: float, accelerate: bool
    ) -> tuple[FloatArray, float, int]:
        """EM from ``theta`` until the mean log-likelihood gains less than ``tol`` per step.

        Each E-step's posterior is carried to the next M-step, so an accepted SQUAREM
        extrapolation is never evaluated twice. Returns (theta, mean log-likelihood, M-steps).
        """
        post, ll = self.e_step(theta)
        n_iter = 0
        while n_iter < max_iter:
            theta1 = self.m_step(post)
            post1, ll1 = self.e_step(theta1)
            n_iter += 1
            if ll1 - ll < tol:
                return theta1, ll1, n_iter
            if not accelerate or n_iter >= max_iter:
                theta, post, ll = theta1, post1, ll1
                continue
            theta2 = self.m_step(post1)
            post2, ll2 = self.e_step(theta2)
            n_iter += 1
            r = theta1 - theta
            v = theta2 - theta1 - r
            nv = float(np.linalg.norm(v))
            if nv == 0.0 or ll2 - ll1 < tol:
                return theta2, ll2, n_iter
            step = -max(1.0, float(np.linalg.norm(r)) / nv)  # SQUAREM-3, at least a plain step
            candidate = self._renormalize(theta - 2 * step * r + step * step * v)
            post_c, ll_c = self.e_step(candidate)
            # keep the extrapolation only when it does not lower the likelihood
            if ll_c >= ll2:
                theta, post, ll = candidate, post_c, ll_c
            else:
                theta, post, ll = theta2, post2, ll2
        return theta, ll, n_iter

    def _renormalize(self, theta: FloatArray) -> FloatArray:
        prior, conf = self.unpack(theta)
        if self.fixed_prior is not None:
            prior = self.fixed_prior
        conf = np.clip(conf, EPS, None)
        conf /= conf.sum(axis=2, keepdims=True)
        return np.concatenate([np.log(prior), np.log(conf).ravel()])
