"""Matrix completion: the MeTaL method behind Snorkel's LabelModel, solved with L-BFGS.

Under class-conditional independence, the second moments of the LFs' one-hot votes factor as
``O = mu P mu^T`` off the diagonal blocks, where ``mu[(j, c), y] = P(LF j votes c | Y = y)`` and
``P = diag(class prior)`` (Ratner et al., 2019). The first moments give ``mu p = diag(O)``. Fitting
``mu`` to those moments needs no pass over the data once ``O`` is known, so the fit costs the same
for a thousand rows or a million.

Snorkel minimizes this objective with 100 fixed SGD steps from a fixed start. Here each LF's
table is parameterized by a softmax over its ``k + 1`` outcomes (votes and abstain), so every
iterate is a valid distribution, and the smooth objective is minimized by L-BFGS with an exact
gradient until it converges.

Moments do not identify the class prior: for any prior there is a ``mu`` that matches them. A
prior that is not given is therefore taken from the majority-vote label shares; alternating the
fit with EM updates of the prior has no pull toward the truth and was seen to collapse classes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from weakflow._types import FloatArray, LabelMatrixLike, RandomStateLike
from weakflow.errors import SchemaError
from weakflow.labeling import compress_votes
from weakflow.labelmodel._anchor import anchor_confusion
from weakflow.labelmodel._base import CILabelModel
from weakflow.labelmodel._fallback import fit_fallback
from weakflow.labelmodel._kernels import vote_gram
from weakflow.labelmodel._majority import majority_class_shares

__all__ = ["MatrixCompletion"]


class MatrixCompletion(CILabelModel):
    """Learn ``P(vote | class)`` from the LF overlap matrix (MeTaL / Snorkel's LabelModel).

    Parameters
    ----------
    cardinality : int, optional
        Number of classes (inferred when omitted).
    class_balance : "auto", "dev", "learn", "uniform" or array-like of shape (k,)
        ``"learn"`` uses the majority-vote label shares (moments cannot identify the prior).
    init_accuracy : float
        Accuracy each LF starts from. It only has to be above chance: it picks the solution in
        which LFs are better than random rather than its label-permuted mirror images.
    first_moment_weight : float
        Weight of the first-moment fit (each LF's vote frequencies) relative to the overlaps.
    l2 : float
        Ridge penalty pulling the parameters toward their start (keeps LFs that overlap with
        nothing at ``init_accuracy``).
    max_iter : int
        Maximum L-BFGS iterations.
    abstain_evidence : bool
        Whether abstentions count as evidence in the posterior (see
        :class:`~weakflow.labelmodel.CILabelModel`); False is Snorkel's posterior.
    random_state : int, Generator or None
        Unused (the fit is deterministic); kept for a uniform interface.

    Attributes
    ----------
    class_balance_, confusion_, lf_accuracies_
        See :class:`~weakflow.labelmodel.CILabelModel`.
    loss_ : float
        Final value of the (normalized) moment-matching objective.
    n_iter_ : int
        Total L-BFGS iterations.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 5000)
    >>> L = np.stack([np.where(rng.random(5000) < a, y, 1 - y) for a in (0.9, 0.8, 0.7)], 1)
    >>> mc = MatrixCompletion().fit(L)
    >>> mc.lf_accuracies_.round(1).tolist()
    [0.9, 0.8, 0.7]
    """

    def __init__(
        self,
        *,
        cardinality: int | None = None,
        class_balance: str | npt.ArrayLike = "auto",
        init_accuracy: float = 0.7,
        first_moment_weight: float = 1.0,
        l2: float = 1e-6,
        max_iter: int = 500,
        abstain_evidence: bool = True,
        random_state: RandomStateLike = None,
    ) -> None:
        self.cardinality = cardinality
        self.class_balance = class_balance
        self.init_accuracy = init_accuracy
        self.first_moment_weight = first_moment_weight
        self.l2 = l2
        self.max_iter = max_iter
        self.abstain_evidence = abstain_evidence
        self.random_state = random_state

    def fit(
        self,
        L: LabelMatrixLike,
        *,
        L_dev: LabelMatrixLike | None = None,
        y_dev: npt.ArrayLike | None = None,
    ) -> MatrixCompletion:
        """Fit ``mu`` to the votes' first and second moments; ``y_dev`` only sets the prior."""
        arr, k, _, y = self._check_fit_inputs(L, L_dev, y_dev)
        if not 1.0 / k < self.init_accuracy < 1.0:
            raise SchemaError(
                f"init_accuracy must be above chance (1/k = {1 / k:.3f}) and below 1, "
                f"got {self.init_accuracy!r}."
            )
        fixed_prior = self._fixed_class_balance(k, y, lambda: majority_class_shares(arr, k))
        if fit_fallback(self, arr, k, fixed_prior):
            self.loss_, self.n_iter_ = float("nan"), 0
            return self
        vp = compress_votes(arr)
        weights = vp.counts.astype(np.float64) if vp.compressed else None
        n = float(vp.counts.sum())
        m = arr.shape[1]
        O = vote_gram(vp.patterns, k, weights) / n
        problem = _MomentProblem(O, m, k, self.first_moment_weight, self.l2)
        prior = majority_class_shares(arr, k) if fixed_prior is None else fixed_prior
        theta = problem.initial(prior, self.init_accuracy)
        problem.anchor = theta.copy()
        theta, self.loss_, self.n_iter_ = problem.solve(theta, prior, self.max_iter)
        self._set_model(prior, problem.confusion(theta))
        return self


class _MomentProblem:
    """The masked moment-matching objective and its exact gradient.

    With ``S = V P V^T`` (V the vote part of the tables, P the diagonal prior), the objective's
    main term is ``||mask * (S - O)||^2`` where ``mask`` drops each LF's own diagonal block.
    Expanding it avoids forming any (mk x mk) matrix: ``||S||^2 = tr(P G P G)`` with the k x k
    ``G = V^T V``; ``<O, S>`` needs ``O V`` (O is sparse when LFs rarely overlap); the dropped
    blocks are m small k x k products. Each evaluation
    costs O(nnz(O) k + m k^3) instead of O((mk)^2 k).
    """

    def __init__(self, O: FloatArray, m: int, k: int, first_weight: float, l2: float) -> None:
        self.m, self.k = m, k
        self.d = np.diag(O).copy()
        off = O.copy()
        for j in range(m):
            off[j * k : (j + 1) * k, j * k : (j + 1) * k] = 0.0
        self.O_off = sp.csr_matrix(off) if np.count_nonzero(off) < 0.3 * off.size else off
        self.O_sq = float(np.sum(off**2))
        self.s1 = max(self.O_sq, 1e-12)
        self.s2 = max(float(np.sum(self.d**2)), 1e-12)
        self.first_weight = first_weight
        self.l2 = l2
        self.anchor: FloatArray | None = None

    def initial(self, prior: FloatArray, accuracy: float) -> FloatArray:
        """Logits of the anchor tables: the LFs' vote frequencies at a common accuracy."""
        anchor = anchor_confusion(self.d.reshape(self.m, self.k), prior, accuracy)
        return np.log(np.clip(anchor, 1e-12, None)).ravel()

    def confusion(self, theta: FloatArray) -> FloatArray:
        z = theta.reshape(self.m, self.k, self.k + 1)
        z = z - z.max(axis=2, keepdims=True)
        e = np.exp(z)
        tables: FloatArray = e / e.sum(axis=2, keepdims=True)
        return tables

    def loss_and_grad(self, theta: FloatArray, prior: FloatArray) -> tuple[float, FloatArray]:
        m, k = self.m, self.k
        mu = self.confusion(theta)  # [j, y, o]
        Vb = np.transpose(mu[:, :, :k], (0, 2, 1))  # [j, c, y]
        V = Vb.reshape(m * k, k)
        VP = V * prior
        G = V.T @ V  # (k, k)
        OV = np.asarray(self.O_off @ V)  # off-diagonal part of O times V
        S_sq = float(np.sum((G * prior) * (G * prior).T))  # ||V P V^T||^2 = tr(P G P G)
        blocks_S = np.einsum("jcy,jdy->jcd", Vb * prior, Vb)  # S's diagonal blocks (dropped)
        main = S_sq - float(np.sum(blocks_S**2)) - 2 * float(np.sum(OV * VP)) + self.O_sq
        r2 = V @ prior - self.d
        loss = main / self.s1 + self.first_weight * float(r2 @ r2) / self.s2
        # d main / dV = 4 (S - O)_masked V P = 4 [V P G P - O_off V P - blockdiag(S_jj) V_j P]
        full = VP @ (G * prior) - OV * prior
        diag_part = np.einsum("jcd,jdy->jcy", blocks_S, Vb * prior).reshape(m * k, k)
        gV = (4.0 / self.s1) * (full - diag_part)
        gV += (2.0 * self.first_weight / self.s2) * np.outer(r2, prior)
        g_mu = np.zeros_like(mu)
        g_mu[:, :, :k] = np.transpose(gV.reshape(m, k, k), (0, 2, 1))
        g_theta = mu * (g_mu - np.sum(mu * g_mu, axis=2, keepdims=True))
        grad = g_theta.ravel()
        if self.l2 > 0 and self.anchor is not None:
            diff = theta - self.anchor
            loss += self.l2 * float(diff @ diff)
            grad = grad + 2.0 * self.l2 * diff
        return loss, grad

    def solve(
        self, theta: FloatArray, prior: FloatArray, max_iter: int
    ) -> tuple[FloatArray, float, int]:
        # Hundreds of tiny (mk x k) products: BLAS threads only add hand-off latency here
        # (7-10x slower on a loaded 2-core machine), so the solve runs single-threaded.
        with threadpool_limits(limits=1, user_api="blas"):
            res = minimize(
                self.loss_and_grad,
                theta,
                args=(prior,),
                jac=True,
                method="L-BFGS-B",
                options={"maxiter": max_iter, "gtol": 1e-9, "ftol": 1e-11},
            )
        return np.asarray(res.x), float(res.fun), int(res.nit)
