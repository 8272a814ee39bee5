"""The vocabulary of the data checks: datasets in, options, and one result per check out."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final, Literal, get_args

import numpy as np
import pandas as pd
import phonenumbers

from weakflow.errors import SchemaError

__all__ = [
    "CHECK_NAMES",
    "DATASET_ROLES",
    "CheckResult",
    "DataCheckOptions",
    "Dataset",
    "Severity",
]

Severity = Literal["error", "warning", "info"]

#: Every data check, in the order :func:`~weakflow.data.run_data_checks` runs them.
CHECK_NAMES: Final[tuple[str, ...]] = (
    "schema",
    "empty",
    "missing_values",
    "duplicates",
    "leakage_exact",
    "leakage_near_duplicate",
    "class_imbalance",
    "representativeness",
    "label_errors",
    "pii",
)

#: The roles a dataset can play: the unlabeled train pool and the two gold sets.
DATASET_ROLES: Final[tuple[str, ...]] = ("train", "dev", "test")


def to_builtin(value: Any) -> Any:
    """``value`` with numpy/pandas scalars and containers turned into JSON-ready Python objects."""
    if isinstance(value, Mapping):
        return {str(k): to_builtin(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | np.ndarray | pd.Series):
        return [to_builtin(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one data check.

    Why: the run report, the CLI and the decision to stop a run all read the same record, so a
    check's outcome is data (severity, pass/fail, message, details), not a printed line.

    Attributes
    ----------
    name : str
        The check, one of :data:`CHECK_NAMES`.
    severity : {"error", "warning", "info"}
        How serious a failure is: an ``"error"`` stops ``weakflow run``.
    passed : bool
        False when the check found a problem.
    message : str
        What was found, where (file, column, rows) and how to fix it.
    details : dict
        Machine-readable findings: counts, statistics, example rows.
    """

    name: str
    severity: Severity
    passed: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def failed_error(self) -> bool:
        """Whether this result should stop a run (an error-severity check that failed)."""
        return not self.passed and self.severity == "error"

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON-serializable Python objects (no numpy types, no NaN)."""
        return {
            "name": self.name,
            "severity": self.severity,
            "passed": bool(self.passed),
            "message": self.message,
            "details": to_builtin(self.details),
        }


@dataclass(frozen=True, eq=False)  # compared by identity: DataFrames have no truth value
class Dataset:
    """One input table and the role it plays in the project.

    Why: the checks compare tables by role (test texts leaking into train, train vs test
    distributions) and name the file in every message, so each table travels with both.

    Attributes
    ----------
    role : {"train", "dev", "test"}
        ``"train"`` is the unlabeled pool the labeling functions vote on; ``"dev"`` and
        ``"test"`` are the small gold sets.
    frame : pandas.DataFrame
        The rows; positions in messages are 0-based positions in this frame.
    source : str
        Where the rows came from (a file path), used in messages.
    labeled : bool
        Whether the table carries gold labels (dev and test do, the train pool does not).
    """

    role: str
    frame: pd.DataFrame
    source: str
    labeled: bool

    def __post_init__(self) -> None:
        if self.role not in DATASET_ROLES:
            raise SchemaError(
                f"Dataset role must be one of {list(DATASET_ROLES)}, got {self.role!r} "
                f"(source {self.source!r})."
            )
        if not isinstance(self.frame, pd.DataFrame):
            raise SchemaError(
                f"Dataset {self.role!r} needs a pandas DataFrame, got {type(self.frame).__name__}; "
                "read files with weakflow.data.read_table."
            )

    @property
    def name(self) -> str:
        """How messages refer to the table: ``dev (data/dev.csv)``."""
        return f"{self.role} ({self.source})" if self.source else self.role


def _check_fraction(name: str, value: float, *, upper: float = 1.0) -> None:
    if not (isinstance(value, int | float) and 0 < value <= upper):
        raise SchemaError(f"DataCheckOptions.{name} must be in (0, {upper}], got {value!r}.")


@dataclass(frozen=True)
class DataCheckOptions:
    """Thresholds of the data checks; the defaults suit a few hundred to 100k rows.

    Why: how strict a check should be depends on the project (a tiny dev set drifts by chance, a
    support-ticket corpus is full of phone numbers), so every threshold can be set from
    ``weakflow.toml`` (``[data_checks.options]``) instead of being fixed in code.

    Distribution checks fire only when the statistic is above its threshold *and* the difference
    is significant (p-value below ``drift_p_value``), so small gold sets do not fire by chance
    and large ones do not fire on negligible differences.
    """

    max_examples: int = 5
    """Example rows (or row pairs) quoted per finding in messages and details."""

    near_duplicate_threshold: float = 0.9
    """TF-IDF (character n-gram) cosine similarity from which two texts are near-duplicates."""

    near_duplicate_ngram_range: tuple[int, int] = (3, 5)
    """Character n-gram lengths of the near-duplicate TF-IDF (within word boundaries)."""

    near_duplicate_block_size: int = 2_000_000
    """Most pairwise similarities held in memory at once (about 12 bytes each)."""

    imbalance_ratio: float = 10.0
    """Largest tolerated ratio of the most to the least frequent class in a gold set."""

    drift_p_value: float = 0.01
    """Significance level of the distribution tests (KS, chi-square) of representativeness."""

    numeric_ks_threshold: float = 0.2
    """Kolmogorov-Smirnov statistic above which a numeric column differs (train vs dev/test)."""

    categorical_js_threshold: float = 0.2
    """Jensen-Shannon distance (base 2, 0..1) above which category frequencies differ."""

    length_ks_threshold: float = 0.2
    """KS statistic above which text lengths (in words) differ."""

    unseen_token_threshold: float = 0.25
    """Share of dev/test tokens never seen in train above which the vocabulary differs."""

    token_js_threshold: float = 0.3
    """Jensen-Shannon distance above which the frequencies of the top tokens differ."""

    top_tokens: int = 200
    """Most frequent tokens (of each side) compared by the token distribution check."""

    max_categories: int = 50
    """Categorical columns with more distinct values (and mostly unique) are not compared."""

    label_error_folds: int = 5
    """Cross-validation folds for the out-of-sample probabilities of the label-error check."""

    label_error_min_per_class: int = 2
    """Fewest examples of every class a gold set needs for the label-error check to run."""

    pii_region: str = "US"
    """Default region of phone numbers written without a ``+`` country code."""

    skip: frozenset[str] = frozenset()
    """Checks not to run (each still reports, as a passed info result saying it was skipped)."""

    severities: Mapping[str, Severity] = field(default_factory=dict)
    """Severity a failing check gets instead of its default, by check name."""

    def __post_init__(self) -> None:
        for name in ("max_examples", "near_duplicate_block_size", "top_tokens", "max_categories"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SchemaError(
                    f"DataCheckOptions.{name} must be an integer >= 1, got {value!r}."
                )
        for name in ("label_error_folds", "label_error_min_per_class"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise SchemaError(
                    f"DataCheckOptions.{name} must be an integer >= 2, got {value!r}."
                )
        for name in (
            "near_duplicate_threshold",
            "drift_p_value",
            "numeric_ks_threshold",
            "categorical_js_threshold",
            "length_ks_threshold",
            "unseen_token_threshold",
            "token_js_threshold",
        ):
            _check_fraction(name, getattr(self, name))
        if not isinstance(self.imbalance_ratio, int | float) or self.imbalance_ratio < 1:
            raise SchemaError(
                f"DataCheckOptions.imbalance_ratio must be >= 1, got {self.imbalance_ratio!r}."
            )
        ngrams = tuple(self.near_duplicate_ngram_range)
        if (
            len(ngrams) != 2
            or not all(isinstance(n, int) for n in ngrams)
            or not (1 <= ngrams[0] <= ngrams[1])
        ):
            raise SchemaError(
                "DataCheckOptions.near_duplicate_ngram_range must be two integers "
                f"1 <= min <= max, got {self.near_duplicate_ngram_range!r}."
            )
        object.__setattr__(self, "near_duplicate_ngram_range", ngrams)
        raw_skip: Any = self.skip
        skip = frozenset([raw_skip] if isinstance(raw_skip, str) else raw_skip)
        unknown = sorted(skip - set(CHECK_NAMES))
        if unknown:
            raise SchemaError(
                f"DataCheckOptions.skip has unknown checks {unknown}; valid: {list(CHECK_NAMES)}."
            )
        object.__setattr__(self, "skip", skip)
        severities = dict(self.severities)
        valid = get_args(Severity)
        for check, severity in severities.items():
            if check not in CHECK_NAMES or severity not in valid:
                raise SchemaError(
                    f"DataCheckOptions.severities[{check!r}] = {severity!r}: the key must be a "
                    f"check in {list(CHECK_NAMES)} and the value one of {list(valid)}."
                )
        object.__setattr__(self, "severities", severities)
        if self.pii_region not in phonenumbers.SUPPORTED_REGIONS:
            raise SchemaError(
                f"DataCheckOptions.pii_region must be an ISO 3166-1 alpha-2 region known to "
                f"phonenumbers (e.g. 'US', 'GB', 'DE'), got {self.pii_region!r}."
            )

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of the options (the keys ``[data_checks.options]`` accepts)."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> DataCheckOptions:
        """Options from a mapping (a config section); an unknown key is named, with the closest
        valid one.

        Examples
        --------
        >>> DataCheckOptions.from_dict({"imbalance_ratio": 5}).imbalance_ratio
        5
        """
        names = cls.field_names()
        unknown = [k for k in values if k not in names]
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(str(key), names, n=1)
                hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise SchemaError(
                f"Unknown data check option(s) {', '.join(hints)}; valid options: "
                f"{', '.join(names)}."
            )
        return cls(**values)
