"""Drift of what only a served weakly supervised model has: text, predictions, LF votes.

- **Text**: a *domain classifier* (TF-IDF + logistic regression) tries to tell reference texts
  from current ones; its out-of-fold ROC AUC is 0.5 when nothing changed and grows with the
  shift, whatever form it takes (new words, new spam styles, a new language). The words whose
  document frequency moved most are ranked by the log-odds ratio with an informative Dirichlet
  prior (Monroe, Colaresi and Quinn 2008), which does not overrate rare words.
- **Predictions**: the class shares and the confidence distribution (the top probability).
- **LF votes**: each labeling function's coverage, conflict rate (it voted and another LF voted
  differently) and agreement with the model. An LF whose coverage or agreement moves is the
  earliest and cheapest drift signal there is: it needs no labels and no reference features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from weakflow.monitor._drift import ColumnDrift, categorical_drift, correct_pvalues, numeric_drift

__all__ = [
    "LFDrift",
    "TextDrift",
    "lf_vote_drift",
    "prediction_drift",
    "text_drift",
]


@dataclass(frozen=True)
class TextDrift:
    """Domain-classifier AUC, its p-value, and the words that moved most."""

    auc: float
    p_value: float
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int
    words: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @property
    def message(self) -> str:
        rising = [w["word"] for w in self.words if w["z"] > 0][:5]
        falling = [w["word"] for w in self.words if w["z"] < 0][:3]
        return (
            f"text {'drifted' if self.drifted else 'stable'}: a classifier tells current from "
            f"reference texts with AUC {self.auc:.3f} (threshold {self.threshold:.2f}, "
            f"p={self.p_value:.2g}); more frequent now: {', '.join(rising) or '-'}; "
            f"less: {', '.join(falling) or '-'}"
        )


def _sample(texts: Sequence[str], k: int, rng: np.random.Generator) -> list[str]:
    items = ["" if t is None else str(t) for t in texts]
    if len(items) <= k:
        return items
    return [items[i] for i in rng.choice(len(items), size=k, replace=False)]


def _moved_words(ref: list[str], cur: list[str], top: int) -> list[dict[str, Any]]:
    from sklearn.feature_extraction.text import CountVectorizer

    vec = CountVectorizer(binary=True, min_df=3, token_pattern=r"(?u)\b\w\w+\b")
    try:
        X = vec.fit_transform(ref + cur)
    except ValueError:  # no word occurs three times
        return []
    vocab = np.asarray(vec.get_feature_names_out())
    a = np.asarray(X[: len(ref)].sum(axis=0)).ravel().astype(np.float64)
    b = np.asarray(X[len(ref) :].sum(axis=0)).ravel().astype(np.float64)
    prior = (a + b) / (a + b).sum() * 100.0  # informative prior, 100 pseudo-documents
    na, nb, n0 = float(len(ref)), float(len(cur)), prior.sum()
    la = np.log((a + prior) / (na + n0 - a - prior))
    lb = np.log((b + prior) / (nb + n0 - b - prior))
    var = 1.0 / (a + prior) + 1.0 / (b + prior)
    z = (lb - la) / np.sqrt(var)
    order = np.argsort(-np.abs(z))[:top]
    return [
        {
            "word": str(vocab[i]),
            "reference": float(a[i] / na),
            "current": float(b[i] / nb),
            "z": float(z[i]),
        }
        for i in order
    ]


def text_drift(
    reference: Sequence[str],
    current: Sequence[str],
    *,
    max_rows: int = 5000,
    min_auc: float = 0.55,
    alpha: float = 0.01,
    folds: int = 5,
    top_words: int = 15,
    random_state: int = 0,
) -> TextDrift:
    """Domain-classifier drift of a text column (see the module docstring).

    Drifted when the out-of-fold AUC is significantly above 0.5 (Mann-Whitney test on the
    out-of-fold scores) *and* at least ``min_auc``.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(random_state)
    ref, cur = _sample(reference, max_rows, rng), _sample(current, max_rows, rng)
    if min(len(ref), len(cur)) < folds:
        raise ValueError(
            f"Text drift needs at least {folds} texts on each side; got {len(ref)} reference "
            f"and {len(cur)} current."
        )
    y = np.r_[np.zeros(len(ref)), np.ones(len(cur))]
    clf = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=50_000),
        LogisticRegression(C=1.0, max_iter=1000),
    )
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    try:
        scores = cross_val_predict(clf, ref + cur, y, cv=cv, method="predict_proba")[:, 1]
    except ValueError:  # empty vocabulary: nothing to tell apart
        scores = np.full(y.size, 0.5)
    u = stats.mannwhitneyu(scores[y == 1], scores[y == 0], alternative="greater")
    auc = float(u.statistic / (len(ref) * len(cur)))
    p = float(u.pvalue)
    return TextDrift(
        auc=auc,
        p_value=p,
        threshold=min_auc,
        drifted=bool(p < alpha and auc >= min_auc),
        n_reference=len(ref),
        n_current=len(cur),
        words=_moved_words(ref, cur, top_words),
    )


def prediction_drift(
    reference_proba: npt.ArrayLike,
    current_proba: npt.ArrayLike,
    *,
    label_names: Sequence[str],
    alpha: float = 0.01,
) -> list[ColumnDrift]:
    """Class shares and confidence (top probability) of the predictions, reference vs now."""
    ref = np.asarray(reference_proba, dtype=np.float64)
    cur = np.asarray(current_proba, dtype=np.float64)
    names = np.asarray(list(label_names), dtype=object)
    shares = categorical_drift(
        names[ref.argmax(axis=1)], names[cur.argmax(axis=1)], column="predicted_class"
    )
    confidence = numeric_drift(ref.max(axis=1), cur.max(axis=1), column="confidence")
    out = [shares, confidence]
    adjusted = correct_pvalues([d.p_value for d in out])
    return [
        ColumnDrift(
            **{
                **d.to_dict(),
                "p_adjusted": float(p),
                "drifted": bool(p < alpha and d.effect >= d.threshold),
            }
        )
        for d, p in zip(out, adjusted, strict=True)
    ]


@dataclass(frozen=True)
class LFDrift:
    """One labeling function's behaviour, reference vs now."""

    lf: str
    metric: str  # coverage | conflict | agreement_with_model
    reference: float
    current: float
    p_value: float
    p_adjusted: float
    min_change: float
    drifted: bool
    n_reference: int
    n_current: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @property
    def message(self) -> str:
        return (
            f"LF {self.lf}: {self.metric} {100 * self.reference:.1f}% -> "
            f"{100 * self.current:.1f}% ({100 * (self.current - self.reference):+.1f} points, "
            f"p={self.p_adjusted:.2g} adjusted)"
        )


def _two_proportions(x1: float, n1: int, x2: float, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z test (1.0 when undefined)."""
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0 if x1 / n1 == x2 / n2 else 0.0
    z = (x2 / n2 - x1 / n1) / se
    return float(2 * stats.norm.sf(abs(z)))


def _lf_rates(
    L: npt.NDArray[np.int64], pred: npt.NDArray[np.int64] | None
) -> dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]]:
    """Per LF: (successes, trials) for coverage, conflict and agreement with the model."""
    voted = L != -1
    n = L.shape[0]
    out: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]] = {}
    out["coverage"] = (voted.sum(axis=0).astype(np.float64), np.full(L.shape[1], n))
    conflict = np.zeros(L.shape[1])
    for j in range(L.shape[1]):
        others = np.delete(L, j, axis=1)
        disagree = (others != -1) & (others != L[:, [j]])
        conflict[j] = float((voted[:, j] & disagree.any(axis=1)).sum())
    out["conflict"] = (conflict, voted.sum(axis=0))
    if pred is not None:
        agree = (pred[:, None] == L) & voted
        out["agreement_with_model"] = (agree.sum(axis=0).astype(np.float64), voted.sum(axis=0))
    return out


def lf_vote_drift(
    L_reference: npt.ArrayLike,
    L_current: npt.ArrayLike,
    *,
    lf_names: Sequence[str],
    model_reference: npt.ArrayLike | None = None,
    model_current: npt.ArrayLike | None = None,
    alpha: float = 0.01,
    min_change: float = 0.05,
) -> list[LFDrift]:
    """Coverage, conflict rate and agreement with the model of every LF, reference vs now.

    ``model_*`` are the model's predicted class indices on the same rows (for agreement).
    A change is flagged when it is significant after the BH correction across every LF and
    metric *and* at least ``min_change`` (absolute, e.g. 5 points of coverage).
    """
    Lr = np.asarray(L_reference, dtype=np.int64)
    Lc = np.asarray(L_current, dtype=np.int64)
    if Lr.shape[1] != Lc.shape[1] or Lr.shape[1] != len(lf_names):
        raise ValueError(
            f"LF vote matrices disagree: reference has {Lr.shape[1]} LFs, current "
            f"{Lc.shape[1]}, names {len(lf_names)}; log votes from the same LF module."
        )
    with_model = model_reference is not None and model_current is not None
    pr = np.asarray(model_reference, dtype=np.int64) if with_model else None
    pc = np.asarray(model_current, dtype=np.int64) if with_model else None
    ref, cur = _lf_rates(Lr, pr), _lf_rates(Lc, pc)
    rows: list[tuple[str, str, float, float, float, int, int]] = []
    for metric in ref:
        (xr, nr), (xc, nc) = ref[metric], cur[metric]
        for j, name in enumerate(lf_names):
            a = float(xr[j] / nr[j]) if nr[j] else float("nan")
            b = float(xc[j] / nc[j]) if nc[j] else float("nan")
            p = _two_proportions(float(xr[j]), int(nr[j]), float(xc[j]), int(nc[j]))
            rows.append((name, metric, a, b, p, int(nr[j]), int(nc[j])))
    adjusted = correct_pvalues([r[4] for r in rows])
    out = []
    for (name, metric, a, b, p, n1, n2), p_adj in zip(rows, adjusted, strict=True):
        change = abs(b - a) if np.isfinite(a) and np.isfinite(b) else 0.0
        out.append(
            LFDrift(
                lf=name,
                metric=metric,
                reference=a,
                current=b,
                p_value=p,
                p_adjusted=float(p_adj),
                min_change=min_change,
                drifted=bool(p_adj < alpha and change >= min_change),
                n_reference=n1,
                n_current=n2,
            )
        )
    return out
