"""``weakflow.toml``: a project's configuration, validated.

Defaults make a five-line file work::

    [data]
    train = "data/train.csv"
    dev = "data/dev.csv"
    test = "data/test.csv"
    label_names = ["ham", "spam"]

Every section and key is checked: an unknown key or a value of the wrong type is a
:class:`~weakflow.errors.ConfigError` that names the key (``end_model.type``), shows the bad value
and, for a misspelled key, suggests the closest valid one.
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from weakflow.errors import ConfigError

__all__ = [
    "CONFIG_FILE",
    "CalibrationConfig",
    "DataChecksConfig",
    "DataConfig",
    "EndModelConfig",
    "EvaluationConfig",
    "GatesConfig",
    "LabelModelConfig",
    "LabelingConfig",
    "ProjectConfig",
    "ProjectSection",
    "StoreConfig",
    "load_config",
    "parse_config",
]

CONFIG_FILE = "weakflow.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectSection(_Section):
    """Who the project is: its name (the registered model's name) and its seed."""

    name: str = Field("weakflow-project", min_length=1)
    seed: int = 0
    intended_use: str | None = None


class DataConfig(_Section):
    """Where the data is and which columns mean what."""

    train: str = Field(description="Unlabeled train pool (CSV, Parquet or JSONL).")
    dev: str = Field(description="Small gold dev set: selects models, calibrates.")
    test: str = Field(description="Gold test set: the final evaluation.")
    label_names: list[str] = Field(min_length=2, description="Class names, in index order.")
    text_column: str | None = "text"
    label_column: str = "label"
    id_column: str | None = None
    feature_columns: list[str] = Field(default_factory=list)
    redact_pii: bool = False
    pii_region: str = "US"
    feedback_to_dev: bool = Field(
        default=True,
        description="Add gold labels from feedback on served predictions to the dev set.",
    )
    feedback_to_train: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description=(
            "Share of feedback rows (a stable hash of each row picks them) that join the train "
            "pool as gold-labelled rows, so the next model learns what users corrected; the "
            "rest join the dev set, disjoint from them, where they are measured (LF accuracy, "
            "dev metrics) but do not select the label model or fit the calibration."
        ),
    )

    @field_validator("text_column", "id_column")
    @classmethod
    def _empty_is_none(cls, v: str | None) -> str | None:
        return v or None  # TOML has no null: text_column = "" means "no text column"

    @field_validator("label_names")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"class names must be unique, got {v}")
        return v


class LabelingConfig(_Section):
    """The labeling functions: a Python file in the project that defines them."""

    module: str = "lfs.py"
    engine: Literal["local", "dask"] = "local"
    fault_tolerant: bool = False
    #: Compare the LFs with the last registered version's on the same rows (LF poisoning
    #: screen; see weakflow.labeling.compare_lf_votes). An LF is flagged when this share of its
    #: votes changed class, or its dev accuracy / agreement with the other LFs dropped this much.
    screen_changes: bool = True
    max_flip_rate: float = Field(default=0.1, gt=0, le=1)
    max_accuracy_drop: float = Field(default=0.1, gt=0, le=1)
    max_agreement_drop: float = Field(default=0.15, gt=0, le=1)


class LabelModelConfig(_Section):
    """Which label model turns votes into probabilistic labels (see weakflow.labelmodel)."""

    method: Literal["auto", "mv", "ds", "mc", "triplet"] = "auto"
    class_balance: Literal["auto", "dev", "learn", "majority", "uniform"] | list[float] = "auto"
    metric: Literal["accuracy", "f1", "f1_macro"] = "accuracy"


class EndModelConfig(_Section):
    """The model trained on the probabilistic labels.

    ``type = "text"``: TF-IDF of words and character n-grams + logistic regression;
    ``"tabular"``: histogram gradient boosting on ``data.feature_columns``;
    ``"sklearn"``: any estimator named by its import path in ``estimator`` with ``params``.
    ``training = "expand"`` trains on every (row, class) pair weighted by its probability;
    ``"weighted"`` on the most likely class weighted by its probability.
    ``portable = true`` (with ``type = "text"``): an end model that exports to ONNX exactly
    (``weakflow models export --format onnx``), slightly less accurate than the default.
    """

    type: Literal["text", "tabular", "sklearn"] = "text"
    estimator: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    training: Literal["expand", "weighted"] = "expand"
    drop_abstained: bool = True
    portable: bool = False
    """true: an end model that exports to ONNX exactly (`weakflow models export --format onnx`),
    slightly less accurate than the default."""


CalibrationMethod = Literal["temperature", "isotonic", "platt"]


def _all_calibrations() -> list[CalibrationMethod]:
    return ["temperature", "isotonic", "platt"]


class CalibrationConfig(_Section):
    """Post-hoc calibration fitted on dev, kept only when it lowers the dev ECE."""

    methods: list[CalibrationMethod] = Field(default_factory=_all_calibrations)
    bins: int = Field(15, ge=2, le=100)


Attack = Literal["char_swap", "homoglyph", "spacing", "case", "synonym", "noise"]


def _all_attacks() -> list[Attack]:
    return ["char_swap", "homoglyph", "spacing", "case", "synonym", "noise"]


class EvaluationConfig(_Section):
    """Slices to evaluate: automatic ones by column, and slicing functions in a module."""

    slice_columns: list[str] = Field(default_factory=list)
    slicing_module: str | None = None
    slice_metric: Literal["accuracy", "f1_macro"] = "accuracy"
    robustness: bool = Field(
        default=True,
        description=(
            "Perturb the test rows (typos, homoglyphs, spacing, case, synonyms; noise on numeric "
            "features) and report accuracy and flip rates under each attack (docs/security.md)."
        ),
    )
    robustness_attacks: list[Attack] = Field(
        default_factory=_all_attacks,
        description="Which attacks to run; those the data cannot take are reported as skipped.",
    )
    robustness_rate: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="Share of each text's eligible characters (or words) an attack changes.",
    )
    robustness_noise: float = Field(
        default=0.1,
        gt=0,
        le=10,
        description="Numeric noise bound, in standard deviations of the column (train rows).",
    )
    membership: bool = Field(
        default=True,
        description=(
            "Membership inference: does the end model's confidence tell its train rows from "
            "held-out ones (AUC, advantage, risk level; docs/security.md)."
        ),
    )


class DataChecksConfig(_Section):
    """Thresholds of the data checks (see weakflow.data.DataCheckOptions) and which to skip."""

    skip: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)


class GatesConfig(_Section):
    """Promotion gates (used by the registry): rules such as ``"f1_macro >= 0.9"``."""

    rules: list[str] = Field(default_factory=list)
    alias: str = "production"

    @field_validator("rules")
    @classmethod
    def _rules_parse(cls, rules: list[str]) -> list[str]:
        # A typo in a gate must fail when the project loads, not after an hour of training.
        from weakflow.registry._gates import parse_gate

        for rule in rules:
            try:
                parse_gate(rule)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return rules

    @field_validator("alias")
    @classmethod
    def _alias_name(cls, alias: str) -> str:
        if not alias or not alias.replace("-", "").replace("_", "").isalnum():
            raise ValueError(
                f"alias must be letters, digits, '-' or '_' (e.g. production), got {alias!r}"
            )
        return alias


class StoreConfig(_Section):
    """Where runs, models and the audit trail are kept (default: SQLite in .weakflow/)."""

    url: str | None = None


class CanaryConfig(_Section):
    """Send a sticky share of traffic to a candidate version (``weakflow serve``)."""

    version: int = Field(ge=1)
    percent: float = Field(ge=0, le=100)


class ShadowConfig(_Section):
    """Copy every request to a version whose outputs are logged, never returned."""

    version: int = Field(ge=1)


class ServeConfig(_Section):
    """``weakflow serve``: which alias, logging, limits, canary and shadow.

    ``rate_limit`` is requests per second per token (``0`` turns it off), with bursts up to
    ``rate_burst``; ``max_request_bytes`` bounds a request body (413 beyond it).
    ``max_batch_size``: requests that arrive while the model is busy are predicted together,
    up to this many rows per model call (``1`` turns micro-batching off). A one-row prediction
    is mostly per-call overhead, so batching is what keeps throughput up under concurrency.
    ``canary_alias``: the server follows this alias like its primary one and sends
    ``canary_percent`` of clients to the version it points at; this is how ``weakflow monitor
    watch`` rolls a retrained version out. A static ``[serve.canary] version`` pins the canary
    instead (the alias is then ignored); ``canary_alias = ""`` turns alias canaries off.
    ``probability_decimals`` and ``top_k`` trim the probabilities a response returns (less for
    membership inference to use); the prediction log keeps them whole.
    """

    alias: str = "production"
    lf_votes: bool = True
    log_predictions: bool = True
    redact_pii: bool = True
    reload_interval: float = Field(default=1.0, gt=0)
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    max_instances: int = Field(default=1000, ge=1)
    rate_limit: float = Field(default=200.0, ge=0)
    rate_burst: int = Field(default=400, ge=1)
    log_batch_size: int = Field(default=500, ge=1)
    log_flush_interval: float = Field(default=0.2, gt=0)
    max_batch_size: int = Field(default=64, ge=1)
    canary_alias: str = "canary"
    canary_percent: float = Field(default=10.0, ge=0, le=100)
    canary: CanaryConfig | None = None
    shadow: ShadowConfig | None = None
    probability_decimals: int | None = Field(
        default=None,
        ge=0,
        le=15,
        description=(
            "Round the returned probabilities to this many decimals (less for membership "
            "inference to work with); the prediction log keeps full precision."
        ),
    )
    top_k: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Return only the k most likely classes' probabilities (OIP: the others are 0); "
            "k at or above the number of classes returns them all."
        ),
    )


class MonitorConfig(_Section):
    """``weakflow monitor``: windows, tests and when a signal becomes an alert.

    ``consecutive``: a signal raises an alert only after this many bad windows in a row, so
    one noisy window does not page anyone. ``accuracy_floor``: the estimated accuracy below
    which a window is bad (default: the serving version's test accuracy minus 0.05).
    """

    window: str = "1h"
    last: int | None = Field(default=None, ge=1)
    min_rows: int = Field(default=50, ge=1)
    reference: Literal["train", "test"] = "train"
    max_reference_rows: int = Field(default=20_000, ge=100)
    alpha: float = Field(default=0.01, gt=0, lt=1)
    correction: Literal["bh", "bonferroni", "none"] = "bh"
    consecutive: int = Field(default=2, ge=1)
    accuracy_floor: float | None = Field(default=None, ge=0, le=1)
    examples: int = Field(default=3, ge=0)


class LoopConfig(_Section):
    """``weakflow monitor watch``: when to retrain, how to roll out, when to roll back.

    Triggers (any one retrains): a drift alert (``on_drift``), an accuracy alert
    (``on_accuracy``), ``feedback_count`` new feedback labels since the serving version was
    registered, or ``max_age`` since then. A retrained version that passes the gates goes to
    the ``canary`` alias when ``canary = true`` (served to ``[serve.canary] percent`` of
    traffic) and is promoted once ``canary_min_feedback`` labels on each side show it is not
    worse; otherwise straight to production. Within ``watch`` after a promotion, a realized
    (or estimated) accuracy more than ``rollback_drop`` below the previous version's rolls
    back automatically.
    """

    interval: str = "5m"
    on_drift: bool = True
    on_accuracy: bool = True
    feedback_count: int | None = Field(default=200, ge=1)
    max_age: str | None = None
    canary: bool = True
    canary_min_feedback: int = Field(default=50, ge=1)
    watch: str = "1h"
    rollback_drop: float = Field(default=0.05, gt=0, lt=1)
    min_feedback: int = Field(default=30, ge=1)


class FeedbackConfig(_Section):
    """Screening of feedback sources before their labels train a model (poisoning defence).

    A source (its API token, see ``weakflow.feedback.source_of``) with at least ``min_labels``
    labels is quarantined when it sends more than ``max_share`` of all labels, or agrees with
    the model or the LF majority at least ``min_gap`` less than the other sources do
    (one-sided z test, BH-adjusted p < ``alpha``). Its labels stay stored; training skips them
    until ``weakflow feedback release``.
    """

    screen: bool = True
    alpha: float = Field(default=0.01, gt=0, lt=1)
    min_labels: int = Field(default=20, ge=2)
    max_share: float = Field(default=0.5, gt=0, le=1)
    min_gap: float = Field(default=0.15, gt=0, le=1)


class PrivacyConfig(_Section):
    """Data-subject erasure and the prediction log's retention.

    ``subject_column``: the column of the project's data files that identifies a data subject
    (``weakflow privacy erase --subject-id`` removes the rows where it matches; default:
    ``[data] id_column``). ``retention_days``: ``weakflow monitor watch`` deletes logged
    predictions older than this (none by default); ``keep_labeled`` keeps those with feedback.
    """

    subject_column: str | None = None
    retention_days: int | None = Field(default=None, ge=1)
    keep_labeled: bool = True


class ProjectConfig(_Section):
    """The whole ``weakflow.toml``."""

    project: ProjectSection = Field(default_factory=lambda: ProjectSection())
    data: DataConfig
    labeling: LabelingConfig = Field(default_factory=lambda: LabelingConfig())
    label_model: LabelModelConfig = Field(default_factory=lambda: LabelModelConfig())
    end_model: EndModelConfig = Field(default_factory=lambda: EndModelConfig())
    calibration: CalibrationConfig = Field(default_factory=lambda: CalibrationConfig())
    evaluation: EvaluationConfig = Field(default_factory=lambda: EvaluationConfig())
    data_checks: DataChecksConfig = Field(default_factory=lambda: DataChecksConfig())
    gates: GatesConfig = Field(default_factory=lambda: GatesConfig())
    store: StoreConfig = Field(default_factory=lambda: StoreConfig())
    serve: ServeConfig = Field(default_factory=lambda: ServeConfig())
    feedback: FeedbackConfig = Field(default_factory=lambda: FeedbackConfig())
    privacy: PrivacyConfig = Field(default_factory=lambda: PrivacyConfig())
    monitor: MonitorConfig = Field(default_factory=lambda: MonitorConfig())
    loop: LoopConfig = Field(default_factory=lambda: LoopConfig())

    def to_dict(self) -> dict[str, Any]:
        """The configuration with every default filled in (for provenance)."""
        return self.model_dump(mode="json")


def _known_keys(model: type[BaseModel], path: tuple[str | int, ...]) -> list[str]:
    """The valid keys at ``path`` (the parent of an unknown key), for suggestions."""
    current: Any = model
    for part in path:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = field.annotation
    return list(getattr(current, "model_fields", {}))


def _describe(err: dict[str, Any]) -> str:
    loc = tuple(err["loc"])
    key = ".".join(str(p) for p in loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        known = _known_keys(ProjectConfig, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else f" Valid keys: {', '.join(known)}."
        return f"{key}: unknown key.{hint}"
    if err["type"] == "missing":
        return f"{key}: required, but missing."
    got = err.get("input")
    shown = f" (got {got!r})" if not isinstance(got, dict) else ""
    return f"{key}: {err['msg']}{shown}."


def parse_config(raw: dict[str, Any], *, source: str = CONFIG_FILE) -> ProjectConfig:
    """Validate a parsed ``weakflow.toml``; a ConfigError lists every problem by key."""
    try:
        return ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe(e) for e in exc.errors()]  # type: ignore[arg-type]
        lines = "\n  ".join(problems)
        raise ConfigError(f"{source} is not valid:\n  {lines}", problems=problems) from None


def load_config(path: str | Path) -> ProjectConfig:
    """Read and validate a ``weakflow.toml`` file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"No {CONFIG_FILE} at {path}. Create a project with `weakflow init DIR` "
            "or pass --project to the folder that holds it.",
            problems=[],
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.", problems=[str(exc)]) from None
    return parse_config(raw, source=str(path))
