"""Train/test leakage: gold texts that also occur (exactly or nearly) in an earlier set.

Near-duplicates are found without an n x m similarity matrix. Character n-gram TF-IDF vectors are
L2-normalized, so cosine similarity is a sum over shared n-grams. Split the n-grams into *common*
ones (high document frequency) and *rare* ones: ``sim = sim_rare + sim_common`` and, by
Cauchy-Schwarz, ``sim_common <= |a_common| |b_common|``. A pair above the threshold ``t`` either
shares a rare n-gram (found by a sparse product over the rare n-grams only, which is cheap because
rare columns are short) or has ``|a_common| >= t`` and ``|b_common| >= t`` (a few "heavy" rows,
compared in full). Candidates from the rare product are kept only when
``sim_rare + |a_common| |b_common| >= t`` and then scored exactly. Where to split is chosen by
the number of multiply-adds each split would cost. The products run over blocks of rows so that
at most ``block_size`` similarities exist at once.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from weakflow.data._context import CheckContext, plural
from weakflow.data._results import CheckResult, Dataset

__all__ = [
    "NearDuplicates",
    "check_leakage_exact",
    "check_leakage_near_duplicate",
    "near_duplicates",
]

#: Pairs compared: the later set's rows are looked up in the earlier set.
LEAKAGE_PAIRS: tuple[tuple[str, str], ...] = (("dev", "train"), ("test", "train"), ("test", "dev"))
_EPS = 1e-5


def _pairs(ctx: CheckContext) -> list[tuple[Dataset, Dataset]]:
    out = []
    for later, earlier in LEAKAGE_PAIRS:
        b, a = ctx.by_role(later), ctx.by_role(earlier)
        if a is not None and b is not None and len(a.frame) and len(b.frame):
            out.append((b, a))
    return out


def _feature_keys(ctx: CheckContext, ds: Dataset) -> list[Any]:
    features = ctx.features(ds)
    if not features or len(features) != len(ctx.feature_columns):
        return [None] * len(ds.frame)
    rows = ds.frame[features].astype(str).itertuples(index=False, name=None)
    return [tuple(r) for r in rows]


def check_leakage_exact(ctx: CheckContext) -> CheckResult:
    """Dev/test texts that also occur in train, and test texts that occur in dev."""
    use_text = ctx.text_column is not None
    what = (
        f"text in column {ctx.text_column!r}"
        if use_text
        else f"values in the feature columns {ctx.feature_columns}"
    )
    if not use_text and not ctx.feature_columns:
        return ctx.result(
            "leakage_exact", "warning", True, "Skipped: no text column or feature columns."
        )
    found: list[dict[str, Any]] = []
    lines: list[str] = []
    stats: list[dict[str, Any]] = []
    for b, a in _pairs(ctx):
        keys_a = ctx.normalized(a) if use_text else _feature_keys(ctx, a)
        keys_b = ctx.normalized(b) if use_text else _feature_keys(ctx, b)
        first: dict[Any, int] = {}
        for pos, key in enumerate(keys_a):
            if key is not None:
                first.setdefault(key, pos)
        hits = [(pos, first[key]) for pos, key in enumerate(keys_b) if key in first]
        entry = {"dataset": b.role, "in": a.role, "count": len(hits), "rows": len(keys_b)}
        stats.append(entry)
        if not hits:
            continue
        examples = ", ".join(
            f"{ctx.ref_text(b, p)} = {a.role} {ctx.ref_text(a, q)}"
            for p, q in hits[: ctx.options.max_examples]
        )
        share = len(hits) / len(keys_b)
        lines.append(
            f"{b.name}: {len(hits)} of {len(keys_b)} rows ({share:.1%}) have the same {what} "
            f"as a row of {a.name}{' (ignoring case and whitespace)' if use_text else ''}, "
            f"e.g. {examples}"
            f"{'' if ctx.uses_ids(b) else ' (0-based)'}."
        )
        found.append(
            {
                **entry,
                "source": b.source,
                "in_source": a.source,
                "examples": [
                    {"row": ctx.row_ref(b, p), "same_as": ctx.row_ref(a, q)}
                    for p, q in hits[: ctx.options.max_examples]
                ],
            }
        )
    if not found:
        return ctx.result(
            "leakage_exact",
            "warning",
            True,
            "No dev/test row occurs in an earlier set.",
            pairs=stats,
        )
    lines.append(
        "Remove those rows from train (or from the gold set): a model that has seen a test row "
        "gets an inflated test score."
    )
    return ctx.result(
        "leakage_exact", "warning", False, " ".join(lines), findings=found, pairs=stats
    )


@dataclass(frozen=True)
class NearDuplicates:
    """For each query row with a near-duplicate: its best match and their cosine similarity."""

    query: npt.NDArray[np.int64]
    match: npt.NDArray[np.int64]
    similarity: npt.NDArray[np.float64]


def _row_sums(X: sp.csr_matrix, values: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """Per-row sums of ``values`` (one per stored entry of ``X``), accumulated in float64."""
    out = np.zeros(X.shape[0])
    filled = np.flatnonzero(np.diff(X.indptr))
    if filled.size:
        out[filled] = np.add.reduceat(values, X.indptr[filled], dtype=np.float64)
    return out


def _common_norms(X: sp.csr_matrix, common: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """The L2 norm of each row restricted to the ``common`` columns."""
    return np.sqrt(_row_sums(X, X.data * X.data * common[X.indices]))


def _heavy_df(X: sp.csr_matrix, heavy: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Column counts over the rows marked ``heavy``."""
    entries = np.repeat(heavy, np.diff(X.indptr))
    return np.bincount(X.indices[entries], minlength=X.shape[1])


def _batches(weights: npt.NDArray[Any], budget: int) -> list[tuple[int, int]]:
    """Consecutive ``[lo, hi)`` ranges whose ``weights`` sum to about ``budget`` each."""
    if not weights.size:
        return []
    cum = np.cumsum(weights)
    edges = np.searchsorted(cum, np.arange(budget, cum[-1], budget), side="right")
    bounds = np.unique(np.concatenate([[0], edges, [weights.size]]))
    return [(int(lo), int(hi)) for lo, hi in itertools.pairwise(bounds)]


def _product_cost(dfa: npt.NDArray[Any], dfb: npt.NDArray[Any]) -> float:
    """Multiply-adds of a sparse product whose two sides have these column counts."""
    return float(np.dot(dfa.astype(np.float64), dfb.astype(np.float64)))


def _choose_split(
    A: sp.csr_matrix, B: sp.csr_matrix, threshold: float
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The common n-grams (and the common-part norms of A's and B's rows) of the cheapest split."""
    n_features = A.shape[1]
    dfa = np.bincount(A.indices, minlength=n_features)
    dfb = np.bincount(B.indices, minlength=n_features)
    df = dfa + dfb
    levels = np.quantile(df[df > 0], [1.0, 0.999, 0.995, 0.99, 0.98, 0.95, 0.9, 0.8])
    best: tuple[float, npt.NDArray[np.bool_], Any, Any] | None = None
    for cap in sorted({float(df.max()), *levels.tolist()}, reverse=True):
        common = df > cap
        na, nb = _common_norms(A, common), _common_norms(B, common)
        ha, hb = na >= threshold - _EPS, nb >= threshold - _EPS
        cost = _product_cost(dfa[~common], dfb[~common])
        if ha.any() and hb.any():
            cost += _product_cost(_heavy_df(A, ha), _heavy_df(B, hb))
        if best is None or cost < best[0]:
            best = (cost, common, na, nb)
    assert best is not None
    return best[1], best[2], best[3]


def _column_subset(X: sp.csr_matrix, keep: npt.NDArray[np.bool_]) -> sp.csr_matrix:
    """The entries of ``X`` in the columns ``keep`` (same shape), built without a full copy."""
    mask = keep[X.indices]
    counts = _row_sums(X, mask).astype(X.indptr.dtype)
    indptr = np.concatenate([np.zeros(1, X.indptr.dtype), np.cumsum(counts, dtype=X.indptr.dtype)])
    return sp.csr_matrix((X.data[mask], X.indices[mask], indptr), shape=X.shape)


def near_duplicates(
    A: sp.csr_matrix,
    B: sp.csr_matrix,
    *,
    threshold: float,
    block_size: int = 2_000_000,
) -> NearDuplicates:
    """Rows of ``B`` whose cosine similarity to some row of ``A`` is at least ``threshold``.

    ``A`` and ``B`` must be L2-normalized with non-negative entries (TF-IDF). Exact: every pair
    above the threshold is found, and no dense ``len(A) x len(B)`` matrix is built (see the
    module docstring).
    """
    A, B = sp.csr_matrix(A), sp.csr_matrix(B)
    n_a = A.shape[0]
    best_sim = np.full(B.shape[0], -1.0)
    best_match = np.full(B.shape[0], -1, dtype=np.int64)
    if n_a == 0 or B.shape[0] == 0:
        return NearDuplicates(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))

    def keep(rows: npt.NDArray[Any], cols: npt.NDArray[Any], sims: npt.NDArray[Any]) -> None:
        ok = sims >= threshold - _EPS
        rows, cols, sims = rows[ok], cols[ok], sims[ok].astype(np.float64)
        order = np.lexsort((-sims, rows))  # per row, the most similar first
        rows, cols, sims = rows[order], cols[order], sims[order]
        head = np.ones(rows.size, dtype=bool)
        head[1:] = rows[1:] != rows[:-1]
        rows, cols, sims = rows[head], cols[head], sims[head]
        better = sims > best_sim[rows]
        best_sim[rows[better]] = sims[better]
        best_match[rows[better]] = cols[better]

    common, norm_a, norm_b = _choose_split(A, B, threshold)
    B_rare, A_common, B_common = (
        _column_subset(B, ~common),
        _column_subset(A, common),
        _column_subset(B, common),
    )
    A_rare_t = _column_subset(A, ~common).T.tocsr()
    nnz_a_common, nnz_b_common = np.diff(A_common.indptr), np.diff(B_common.indptr)
    step = max(1, block_size // n_a)
    for start in range(0, B.shape[0], step):
        S = (B_rare[start : start + step] @ A_rare_t).tocoo()
        upper = S.data + norm_b[S.row + start] * norm_a[S.col]
        cand = upper >= threshold - _EPS
        rows, cols, partial = S.row[cand] + start, S.col[cand], S.data[cand]
        del S
        # Score the candidates' common parts in batches of bounded size (stored entries).
        weights = nnz_b_common[rows] + nnz_a_common[cols]
        for lo, hi in _batches(weights, max(1, block_size // 4)):
            r, c = rows[lo:hi], cols[lo:hi]
            rest = np.asarray(B_common[r].multiply(A_common[c]).sum(axis=1)).ravel()
            keep(r, c, partial[lo:hi] + rest)
    heavy_a = np.flatnonzero(norm_a >= threshold - _EPS)
    heavy_b = np.flatnonzero(norm_b >= threshold - _EPS)
    if heavy_a.size and heavy_b.size:
        del A_rare_t, A_common, B_common, B_rare
        A_heavy_t = A[heavy_a].T.tocsr()
        step = max(1, block_size // heavy_a.size)
        for start in range(0, heavy_b.size, step):
            rows_b = heavy_b[start : start + step]
            S = (B[rows_b] @ A_heavy_t).tocoo()
            keep(rows_b[S.row], heavy_a[S.col], S.data)
    found = np.flatnonzero(best_match >= 0)
    return NearDuplicates(found.astype(np.int64), best_match[found], best_sim[found])


def check_leakage_near_duplicate(ctx: CheckContext) -> CheckResult:
    """Dev/test texts nearly identical (TF-IDF cosine) to a text of an earlier set."""
    opts = ctx.options
    if ctx.text_column is None:
        return ctx.result(
            "leakage_near_duplicate", "warning", True, "Skipped: there is no text column."
        )
    pairs = _pairs(ctx)
    # One vocabulary and IDF for every set; identical normalized texts share one vector.
    unique: dict[str, int] = {}
    for ds in ctx.datasets:
        for text in ctx.normalized(ds):
            if text is not None:
                unique.setdefault(text, len(unique))
    if not pairs or not unique:
        return ctx.result(
            "leakage_near_duplicate", "warning", True, "No pair of non-empty sets to compare."
        )
    vectorizer = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=opts.near_duplicate_ngram_range,
        lowercase=False,
        sublinear_tf=True,
        dtype=np.float32,
    )
    try:
        X = vectorizer.fit_transform(list(unique)).tocsr()
    except ValueError:  # every text shorter than the n-grams: nothing to compare
        return ctx.result(
            "leakage_near_duplicate", "warning", True, "Texts too short to compare n-grams."
        )
    found: list[dict[str, Any]] = []
    lines: list[str] = []
    stats: list[dict[str, Any]] = []
    t = opts.near_duplicate_threshold
    for b, a in pairs:
        ids_a = {unique[s]: pos for pos, s in reversed(list(enumerate(ctx.normalized(a)))) if s}
        rows_b: dict[int, list[int]] = {}
        for pos, s in enumerate(ctx.normalized(b)):
            if s is not None and unique[s] not in ids_a:  # exact copies: leakage_exact's job
                rows_b.setdefault(unique[s], []).append(pos)
        a_keys, b_keys = np.fromiter(ids_a, np.int64), np.fromiter(rows_b, np.int64)
        result = near_duplicates(
            X[a_keys], X[b_keys], threshold=t, block_size=opts.near_duplicate_block_size
        )
        hits: list[tuple[int, int, float]] = []
        for q, m, s in zip(result.query, result.match, result.similarity, strict=True):
            for pos in rows_b[int(b_keys[q])]:
                hits.append((pos, ids_a[int(a_keys[m])], round(float(s), 4)))
        hits.sort()
        entry = {"dataset": b.role, "in": a.role, "count": len(hits), "rows": len(b.frame)}
        stats.append(entry)
        if not hits:
            continue
        shown = hits[: opts.max_examples]
        examples = ", ".join(
            f"{ctx.ref_text(b, p)} ~ {a.role} {ctx.ref_text(a, q)} ({s:.2f})" for p, q, s in shown
        )
        lines.append(
            f"{b.name}: {plural(len(hits), 'row')} in column {ctx.text_column!r} "
            f"{'is a near-duplicate' if len(hits) == 1 else 'are near-duplicates'} "
            f"(TF-IDF cosine >= {t:g}) of rows of {a.name}, e.g. {examples}"
            f"{'' if ctx.uses_ids(b) else ' (0-based)'}."
        )
        found.append(
            {
                **entry,
                "source": b.source,
                "in_source": a.source,
                "examples": [
                    {"row": ctx.row_ref(b, p), "similar_to": ctx.row_ref(a, q), "similarity": s}
                    for p, q, s in shown
                ],
            }
        )
    if not found:
        return ctx.result(
            "leakage_near_duplicate",
            "warning",
            True,
            f"No dev/test text is a near-duplicate (cosine >= {t:g}) of an earlier set's text.",
            pairs=stats,
            threshold=t,
        )
    lines.append(
        "Near-copies (retweets, templated messages) leak like exact copies: remove them from "
        "train or from the gold set."
    )
    return ctx.result(
        "leakage_near_duplicate",
        "warning",
        False,
        " ".join(lines),
        findings=found,
        pairs=stats,
        threshold=t,
    )
