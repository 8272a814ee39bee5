"""Data checks run before labeling: every check, in order, and the rule that stops a run.

Each check returns one :class:`CheckResult`; an ``"error"`` that failed stops ``weakflow run``
(see :func:`raise_for_errors`), warnings and infos go into the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from weakflow.data._context import CheckContext, plural
from weakflow.data._label_errors import check_label_errors
from weakflow.data._labels import check_label_names
from weakflow.data._leakage import check_leakage_exact, check_leakage_near_duplicate
from weakflow.data._pii import PII_ENTITIES, redact_text, scan_pii
from weakflow.data._representativeness import check_representativeness
from weakflow.data._results import (
    CHECK_NAMES,
    CheckResult,
    DataCheckOptions,
    Dataset,
)
from weakflow.data._table_checks import (
    check_class_imbalance,
    check_duplicates,
    check_empty,
    check_missing_values,
    check_schema,
)
from weakflow.errors import DataCheckError, SchemaError

__all__ = ["raise_for_errors", "run_data_checks"]


def _pii_columns(ctx: CheckContext, ds: Dataset) -> list[str]:
    """The text column and the feature columns that hold strings."""
    columns = [ctx.text_column] if ctx.has_text(ds) and ctx.text_column is not None else []
    for column in ctx.features(ds):
        if column not in columns:
            sample = ds.frame[column].dropna().array[:1000]
            if any(isinstance(v, str) for v in sample):
                columns.append(column)
    return columns


def _snippet(redacted: str, width: int = 80) -> str:
    """At most ``width`` characters of a redacted text, around its first placeholder."""
    if len(redacted) <= width:
        return redacted
    first = min((i for e in PII_ENTITIES if (i := redacted.find(f"<{e}>")) >= 0), default=0)
    start = max(0, min(first - width // 3, len(redacted) - width))
    piece = redacted[start : start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(redacted) else "")


def check_pii(ctx: CheckContext) -> CheckResult:
    """Emails, phone numbers, card numbers, IBANs and IP addresses in the text columns."""
    region = ctx.options.pii_region
    found: list[dict[str, Any]] = []
    lines: list[str] = []
    for ds in ctx.datasets:
        for column in _pii_columns(ctx, ds):
            values = ctx.texts(ds) if column == ctx.text_column else ds.frame[column].array
            scan = scan_pii((v if isinstance(v, str) else None for v in values), region=region)
            if not scan.found:
                continue
            counts = {e: n for e, n in scan.counts.items() if n}
            examples = [
                {
                    "row": ctx.row_ref(ds, pos),
                    "redacted": _snippet(redact_text(str(values[pos]), region=region)),
                }
                for pos in scan.rows[: ctx.options.max_examples]
            ]
            shown = "; ".join(
                f"{ctx.ref_text(ds, pos)}: {e['redacted']!r}"
                for pos, e in zip(scan.rows, examples, strict=False)
            )
            lines.append(
                f"{ds.name}: column {column!r} holds personal data in "
                f"{plural(len(scan.rows), 'row')} of {scan.n_texts} ("
                + ", ".join(f"{n} {e}" for e, n in counts.items())
                + f"), e.g. {shown}."
            )
            found.append(
                {
                    "dataset": ds.role,
                    "source": ds.source,
                    "column": column,
                    "counts": {e: scan.counts[e] for e in PII_ENTITIES},
                    "rows_affected": len(scan.rows),
                    "rows_by_entity": {e: len(r) for e, r in scan.rows_by_entity.items()},
                    "examples": examples,
                }
            )
    if not found:
        return ctx.result(
            "pii",
            "warning",
            True,
            "No emails, phone numbers, card numbers, IBANs or IP addresses in the text columns.",
            region=region,
        )
    lines.append(
        "Redact it before anything is stored (redact_pii = true under [data] in weakflow.toml, "
        "or weakflow.data.redact_pii), or remove it at the source."
    )
    return ctx.result("pii", "warning", False, " ".join(lines), findings=found, region=region)


_CHECKS: dict[str, Callable[[CheckContext], CheckResult]] = {
    "schema": check_schema,
    "empty": check_empty,
    "missing_values": check_missing_values,
    "duplicates": check_duplicates,
    "leakage_exact": check_leakage_exact,
    "leakage_near_duplicate": check_leakage_near_duplicate,
    "class_imbalance": check_class_imbalance,
    "representativeness": check_representativeness,
    "label_errors": check_label_errors,
    "pii": check_pii,
}
assert tuple(_CHECKS) == CHECK_NAMES


def _optional_name(value: object, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise SchemaError(f"{what} must be a column name (str) or None, got {value!r}.")
    return value


def run_data_checks(
    datasets: Sequence[Dataset],
    *,
    label_column: str,
    label_names: Sequence[str],
    text_column: str | None = None,
    id_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
    options: DataCheckOptions = DataCheckOptions(),  # noqa: B008 - frozen, never mutated
    random_state: int = 0,
) -> list[CheckResult]:
    """Run every data check on the project's tables and return one result per check.

    Why: problems in the raw data (a test set that leaks into train, a mislabeled gold row, a
    column of phone numbers) silently corrupt everything downstream; checking before labeling
    stops the run on real errors and puts everything else in the report.

    Parameters
    ----------
    datasets : sequence of Dataset
        The tables, at most one per role (``"train"``, ``"dev"``, ``"test"``).
    label_column : str
        The gold label column of the labeled tables.
    label_names : sequence of str
        Class names in index order; labels may be given as these names or as indices.
    text_column : str, optional
        The free-text column (``None`` for tabular projects).
    id_column : str, optional
        A column of row ids, quoted in messages instead of 0-based row positions.
    feature_columns : sequence of str, optional
        Tabular feature columns.
    options : DataCheckOptions
        Thresholds, checks to skip, severity overrides.
    random_state : int
        Seed of the cross-validation splits of the label-error check.

    Returns
    -------
    list of CheckResult
        One per check, in the order of :data:`CHECK_NAMES`.

    Raises
    ------
    SchemaError
        The arguments themselves are wrong (two tables with the same role, fewer than two class
        names). Problems in the data are reported as results, not raised.

    Examples
    --------
    >>> import pandas as pd
    >>> train = Dataset("train", pd.DataFrame({"text": ["a b c", "d e f"]}), "train.csv", False)
    >>> test = Dataset(
    ...     "test", pd.DataFrame({"text": ["a b c"], "label": ["ham"]}), "test.csv", True
    ... )
    >>> results = run_data_checks(
    ...     [train, test], label_column="label", label_names=["ham", "spam"], text_column="text"
    ... )
    >>> [(r.name, r.severity) for r in results if not r.passed]
    [('leakage_exact', 'warning'), ('class_imbalance', 'warning')]
    """
    datasets = list(datasets)
    if not datasets:
        raise SchemaError("run_data_checks needs at least one Dataset (train, dev or test).")
    for ds in datasets:
        if not isinstance(ds, Dataset):
            raise SchemaError(
                f"run_data_checks takes Dataset objects, got {type(ds).__name__}; wrap each "
                "table as Dataset(role, frame, source, labeled)."
            )
    roles = [ds.role for ds in datasets]
    repeated = sorted({r for r in roles if roles.count(r) > 1})
    if repeated:
        raise SchemaError(
            f"Each role may appear once, but {repeated} appear more than once; concatenate the "
            "tables of one role before checking them."
        )
    if not isinstance(options, DataCheckOptions):
        raise SchemaError(
            f"options must be a DataCheckOptions, got {type(options).__name__}; build one with "
            "DataCheckOptions(**settings)."
        )
    features = [] if feature_columns is None else list(feature_columns)
    if isinstance(feature_columns, str):
        raise SchemaError(
            f"feature_columns must be a list of column names, got the string {feature_columns!r}."
        )
    ctx = CheckContext(
        datasets=[_first_columns(ds) for ds in datasets],
        label_column=label_column,
        label_names=check_label_names(label_names),
        text_column=_optional_name(text_column, "text_column"),
        id_column=_optional_name(id_column, "id_column"),
        feature_columns=list(dict.fromkeys(features)),
        options=options,
        random_state=random_state,
        duplicate_columns={
            ds.role: sorted({str(c) for c in ds.frame.columns[ds.frame.columns.duplicated()]})
            for ds in datasets
        },
    )
    results: list[CheckResult] = []
    for name, check in _CHECKS.items():
        if name in options.skip:
            results.append(
                CheckResult(name, "info", True, "Skipped (listed in the data_checks skip option).")
            )
            continue
        results.append(check(ctx))
    return results


def _first_columns(ds: Dataset) -> Dataset:
    """``ds`` keeping only the first of each repeated column name (schema reports the rest)."""
    if not ds.frame.columns.duplicated().any():
        return ds
    return replace(ds, frame=ds.frame.loc[:, ~ds.frame.columns.duplicated()])


def raise_for_errors(results: Sequence[CheckResult]) -> None:
    """Raise if any error-severity check failed, listing every one of them.

    Why: ``weakflow run`` must stop before labeling when the data is unusable, with one message
    that shows all the problems at once instead of one per attempt.

    Parameters
    ----------
    results : sequence of CheckResult
        The output of :func:`run_data_checks`.

    Raises
    ------
    DataCheckError
        At least one check with severity ``"error"`` failed; ``.results`` holds those results.
    """
    failed = [r for r in results if not r.passed and r.severity == "error"]
    if not failed:
        return
    lines = "\n".join(f"- {r.name}: {r.message}" for r in failed)
    raise DataCheckError(
        f"{plural(len(failed), 'data check')} failed with severity 'error':\n{lines}",
        results=failed,
    )
