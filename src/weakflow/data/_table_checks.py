"""Checks of each table on its own: schema, empty tables, missing values, duplicates, imbalance."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd

from weakflow.data._context import CheckContext, is_missing, plural
from weakflow.data._results import CheckResult, Dataset, Severity

__all__ = [
    "check_class_imbalance",
    "check_duplicates",
    "check_empty",
    "check_missing_values",
    "check_schema",
]


def _kind(series: pd.Series) -> str | None:
    """``"numeric"``, ``"boolean"``, ``"text"`` or ``"mixed"``; None when every value is missing."""
    values = series.dropna()
    if values.empty:
        return None
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    if pd.api.types.is_string_dtype(series) and all(isinstance(v, str) for v in values):
        return "text"
    return "mixed"


def _schema_problems(ctx: CheckContext, ds: Dataset) -> tuple[list[str], list[dict[str, Any]]]:
    lines: list[str] = []
    found: list[dict[str, Any]] = []
    frame = ds.frame

    def add(problem: str, column: str | None, text: str, **extra: Any) -> None:
        lines.append(f"{ds.name}: {text}")
        found.append(
            {"dataset": ds.role, "source": ds.source, "problem": problem, "column": column, **extra}
        )

    duplicated = ctx.duplicate_columns.get(ds.role, [])
    if duplicated:
        add(
            "duplicate_columns",
            None,
            f"column names {duplicated} appear more than once; rename them so each is unique "
            "(only the first of each is checked).",
            columns=duplicated,
        )
    required = [c for c in (ctx.text_column, ctx.id_column) if c is not None]
    required += ctx.feature_columns
    if ds.labeled:
        required.append(ctx.label_column)
    absent = [c for c in dict.fromkeys(required) if c not in frame.columns]
    if absent:
        have = [str(c) for c in frame.columns[:20]]
        add(
            "missing_columns",
            None,
            f"missing column(s) {absent}; the file has {have}"
            f"{' and more' if len(frame.columns) > 20 else ''}. Rename the columns in the file "
            "or set the column names (text_column, label_column, id_column, feature_columns) "
            "to the file's names.",
            columns=absent,
        )
    if ctx.has_text(ds):
        assert ctx.text_column is not None
        column = frame[ctx.text_column]
        not_text = [
            i for i, v in enumerate(column.array) if not isinstance(v, str) and not is_missing(v)
        ]
        if not_text:
            example = column.iloc[not_text[0]]
            add(
                "text_not_string",
                ctx.text_column,
                f"column {ctx.text_column!r} must hold text, but "
                f"{plural(len(not_text), 'value')} (dtype {column.dtype}) are not strings, at "
                f"{ctx.rows_text(ds, not_text)}, e.g. "
                f"{type(example).__name__} {example!r}. Point text_column at the text column, "
                "or quote the values in the file.",
                count=len(not_text),
                rows=ctx.row_refs(ds, not_text),
            )
    if ctx.uses_ids(ds):
        assert ctx.id_column is not None
        ids = frame[ctx.id_column]
        missing = np.flatnonzero(ids.isna().to_numpy(dtype=bool))
        if missing.size:
            add(
                "missing_ids",
                ctx.id_column,
                f"id column {ctx.id_column!r} is empty in {plural(missing.size, 'row')}, at rows "
                f"{', '.join(str(int(p)) for p in missing[: ctx.options.max_examples])} "
                "(0-based). Give every row an id.",
                count=int(missing.size),
                rows=[int(p) for p in missing[: ctx.options.max_examples]],
            )
        try:
            repeated = ids.duplicated(keep=False).to_numpy(dtype=bool) & ~ids.isna().to_numpy(
                dtype=bool
            )
        except TypeError:
            repeated = ids.astype(str).duplicated(keep=False).to_numpy(dtype=bool)
        if repeated.any():
            positions = np.flatnonzero(repeated)
            values = list(dict.fromkeys(ctx.row_ref(ds, p) for p in positions))
            shown = ", ".join(repr(v) for v in values[: ctx.options.max_examples])
            add(
                "duplicate_ids",
                ctx.id_column,
                f"id column {ctx.id_column!r} must be unique, but {plural(len(values), 'id')} "
                f"repeat across {positions.size} rows: {shown}"
                f"{' and more' if len(values) > ctx.options.max_examples else ''}. "
                "Drop the repeated rows or give them distinct ids.",
                count=len(values),
                ids=values[: ctx.options.max_examples],
            )
    labels = ctx.labels(ds)
    if labels is not None and labels.invalid.any():
        bad = np.flatnonzero(labels.invalid)
        column = frame[ctx.label_column]
        values = list(dict.fromkeys(repr(column.iloc[p]) for p in bad))[:5]
        add(
            "invalid_labels",
            ctx.label_column,
            f"column {ctx.label_column!r} has {plural(bad.size, 'label')} that are neither class "
            f"names nor indices, at {ctx.rows_text(ds, bad)}: {', '.join(values)}. Allowed: the "
            f"names {ctx.label_names} or the indices 0..{len(ctx.label_names) - 1}; fix those "
            "labels or the label_names.",
            count=int(bad.size),
            rows=ctx.row_refs(ds, bad),
            values=values,
        )
    return lines, found


def check_schema(ctx: CheckContext) -> CheckResult:
    """Columns present, text is text, ids unique, labels valid, feature types agree."""
    lines: list[str] = []
    found: list[dict[str, Any]] = []
    for ds in ctx.datasets:
        more_lines, more_found = _schema_problems(ctx, ds)
        lines += more_lines
        found += more_found
    for column in ctx.feature_columns:
        kinds = {
            ds.role: kind
            for ds in ctx.datasets
            if column in ds.frame.columns and (kind := _kind(ds.frame[column])) is not None
        }
        if len(set(kinds.values())) > 1:
            shown = ", ".join(f"{kind} in {role}" for role, kind in kinds.items())
            lines.append(
                f"feature column {column!r} has different types across files ({shown}); "
                "make the column hold the same kind of value in every file."
            )
            found.append({"problem": "inconsistent_types", "column": column, "kinds": kinds})
    if not lines:
        return ctx.result(
            "schema",
            "error",
            True,
            "Every file has the required columns, text is text, ids are unique and labels "
            "are valid.",
        )
    return ctx.result("schema", "error", False, " ".join(lines), findings=found)


def check_empty(ctx: CheckContext) -> CheckResult:
    """A table without rows cannot be labeled, trained on or evaluated."""
    sizes = {ds.role: len(ds.frame) for ds in ctx.datasets}
    empty = [ds for ds in ctx.datasets if len(ds.frame) == 0]
    if not empty:
        return ctx.result("empty", "error", True, "Every file has rows.", rows=sizes)
    lines = [
        f"{ds.name} has no rows; check the path in the config and that the file was written "
        "completely."
        for ds in empty
    ]
    return ctx.result(
        "empty", "error", False, " ".join(lines), rows=sizes, empty=[ds.role for ds in empty]
    )


def check_missing_values(ctx: CheckContext) -> CheckResult:
    """Missing or blank texts, missing features, and (an error) missing gold labels."""
    found: list[dict[str, Any]] = []
    lines: list[str] = []
    label_missing = False
    for ds in ctx.datasets:
        columns: list[tuple[str, np.ndarray, str]] = []
        if ctx.has_text(ds):
            assert ctx.text_column is not None
            blank = np.array([t is None for t in ctx.normalized(ds)], dtype=bool)
            columns.append((ctx.text_column, blank, "missing or blank texts"))
        for feature in ctx.features(ds):
            if feature == ctx.text_column:
                continue
            mask = ds.frame[feature].isna().to_numpy(dtype=bool)
            columns.append((feature, mask, "missing values"))
        labels = ctx.labels(ds)
        if labels is not None:
            columns.append((ctx.label_column, labels.missing, "missing gold labels"))
        for column, mask, what in columns:
            positions = np.flatnonzero(mask)
            if not positions.size:
                continue
            is_label = ds.labeled and column == ctx.label_column
            label_missing |= is_label
            fix = (
                "gold sets need a label on every row: label those rows or drop them"
                if is_label
                else "fill them in or drop those rows"
            )
            lines.append(
                f"{ds.name}: column {column!r} has {positions.size} {what} (of {len(mask)}), "
                f"at {ctx.rows_text(ds, positions)}; {fix}."
            )
            found.append(
                {
                    "dataset": ds.role,
                    "source": ds.source,
                    "column": column,
                    "count": int(positions.size),
                    "share": round(positions.size / max(len(mask), 1), 4),
                    "rows": ctx.row_refs(ds, positions),
                }
            )
    if not found:
        return ctx.result("missing_values", "warning", True, "No missing values.")
    severity: Severity = "error" if label_missing else "warning"
    return ctx.result("missing_values", severity, False, " ".join(lines), findings=found)


def _row_keys(frame: pd.DataFrame) -> np.ndarray:
    try:
        return pd.util.hash_pandas_object(frame, index=False).to_numpy()
    except TypeError:  # unhashable cells (lists from JSON): compare their text
        return pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()


def _repeats(keys: list[Any]) -> list[tuple[int, int]]:
    """(row, first row with the same key) for every row whose key occurred before."""
    first: dict[Any, int] = {}
    pairs: list[tuple[int, int]] = []
    for pos, key in enumerate(keys):
        if key is None:
            continue
        if key in first:
            pairs.append((pos, first[key]))
        else:
            first[key] = pos
    return pairs


def check_duplicates(ctx: CheckContext) -> CheckResult:
    """Rows (all columns but the id) and texts that repeat within one table."""
    found: list[dict[str, Any]] = []
    lines: list[str] = []
    for ds in ctx.datasets:
        if not len(ds.frame):
            continue
        parts: list[str] = []
        columns = [c for c in ds.frame.columns if c != ctx.id_column]
        if columns:
            pairs = _repeats(list(_row_keys(ds.frame[columns])))
            if pairs:
                parts.append(
                    f"{plural(len(pairs), 'row')} {_verb(len(pairs))} an earlier row (every "
                    f"column but the id), e.g. {_pairs_text(ctx, ds, pairs)}"
                )
                found.append(_finding(ctx, ds, "duplicate_rows", None, pairs))
        if ctx.has_text(ds):
            assert ctx.text_column is not None
            pairs = _repeats(list(ctx.normalized(ds)))
            if pairs:
                text = (
                    f"{plural(len(pairs), 'row')} {_verb(len(pairs))} an earlier text in column "
                    f"{ctx.text_column!r} (ignoring case and whitespace), e.g. "
                    f"{_pairs_text(ctx, ds, pairs)}"
                )
                finding = _finding(ctx, ds, "duplicate_texts", ctx.text_column, pairs)
                conflicts = _conflicting_labels(ctx, ds, pairs)
                if conflicts:
                    text += (
                        f"; {plural(len(conflicts), 'text')} carry different gold labels "
                        f"({', '.join(ctx.ref_text(ds, p) for p in conflicts[:5])})"
                    )
                    finding["conflicting_labels"] = len(conflicts)
                    finding["conflict_rows"] = ctx.row_refs(ds, conflicts)
                parts.append(text)
                found.append(finding)
        if parts:
            lines.append(f"{ds.name}: " + "; ".join(parts) + ".")
    if not found:
        return ctx.result("duplicates", "warning", True, "No duplicate rows or texts.")
    lines.append(
        "Drop the repeats (pandas drop_duplicates) unless they are real: repeated gold rows "
        "count twice in every score, and conflicting gold labels cannot both be right."
    )
    return ctx.result("duplicates", "warning", False, " ".join(lines), findings=found)


def _verb(n: int) -> str:
    return "repeats" if n == 1 else "repeat"


def _pairs_text(ctx: CheckContext, ds: Dataset, pairs: list[tuple[int, int]]) -> str:
    shown = pairs[: ctx.options.max_examples]
    text = ", ".join(f"{ctx.ref_text(ds, a)} = {ctx.ref_text(ds, b)}" for a, b in shown)
    if not ctx.uses_ids(ds):
        text += " (0-based)"
    return text


def _finding(
    ctx: CheckContext, ds: Dataset, kind: str, column: str | None, pairs: list[tuple[int, int]]
) -> dict[str, Any]:
    return {
        "dataset": ds.role,
        "source": ds.source,
        "kind": kind,
        "column": column,
        "count": len(pairs),
        "examples": [
            {"row": ctx.row_ref(ds, a), "same_as": ctx.row_ref(ds, b)}
            for a, b in pairs[: ctx.options.max_examples]
        ],
    }


def _conflicting_labels(ctx: CheckContext, ds: Dataset, pairs: list[tuple[int, int]]) -> list[int]:
    """First rows of the duplicated texts whose copies carry different valid labels."""
    labels = ctx.labels(ds)
    if labels is None:
        return []
    groups: defaultdict[int, set[int]] = defaultdict(set)
    for row, first in pairs:
        for pos in (row, first):
            if labels.codes[pos] >= 0:
                groups[first].add(int(labels.codes[pos]))
    return sorted(first for first, codes in groups.items() if len(codes) > 1)


def check_class_imbalance(ctx: CheckContext) -> CheckResult:
    """A gold set whose classes are very unequal (or absent) gives unreliable per-class scores."""
    found: list[dict[str, Any]] = []
    lines: list[str] = []
    stats: list[dict[str, Any]] = []
    threshold = ctx.options.imbalance_ratio
    for ds in ctx.datasets:
        labels = ctx.labels(ds)
        if labels is None:
            continue
        valid = labels.codes[labels.codes >= 0]
        if not valid.size:
            continue
        counts = np.bincount(valid, minlength=len(ctx.label_names))
        by_name = {name: int(c) for name, c in zip(ctx.label_names, counts, strict=True)}
        absent = [name for name, c in by_name.items() if c == 0]
        ratio = float(counts.max() / counts.min()) if counts.min() > 0 else None
        entry = {"dataset": ds.role, "source": ds.source, "counts": by_name, "ratio": ratio}
        stats.append(entry)
        shown = ", ".join(f"{name}={c}" for name, c in by_name.items())
        if absent:
            lines.append(
                f"{ds.name}: column {ctx.label_column!r} has no examples of {absent} "
                f"(counts {shown})."
            )
        elif ratio is not None and ratio > threshold:
            lines.append(
                f"{ds.name}: column {ctx.label_column!r} is imbalanced, majority/minority ratio "
                f"{ratio:.1f} > {threshold:g} (counts {shown})."
            )
        else:
            continue
        found.append({**entry, "absent": absent})
    if not found:
        return ctx.result(
            "class_imbalance",
            "warning",
            True,
            f"Every gold set has examples of every class, within a {threshold:g}:1 ratio.",
            datasets=stats,
        )
    lines.append(
        "Add gold examples of the rare classes (or drop a class from label_names): scores on a "
        "class with a handful of examples are mostly noise."
    )
    return ctx.result(
        "class_imbalance", "warning", False, " ".join(lines), findings=found, datasets=stats
    )
