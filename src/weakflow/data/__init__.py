"""Data: file readers, the data checks run before labeling, PII scanning, and the example data."""

from weakflow.data._checks import raise_for_errors, run_data_checks
from weakflow.data._examples import YOUTUBE_CITATION, example_path, load_youtube
from weakflow.data._labels import encode_labels
from weakflow.data._pii import PII_ENTITIES, PIIScan, PIISpan, find_pii, redact_pii, scan_pii
from weakflow.data._results import (
    CHECK_NAMES,
    CheckResult,
    DataCheckOptions,
    Dataset,
    Severity,
)
from weakflow.data._tables import TABLE_FORMATS, content_hash, read_table
from weakflow.data._traffic import crypto_scam_comments
from weakflow.data._wrench import WRENCH_SPLITS, WrenchDataset, WrenchSplit, load_wrench

__all__ = [
    "CHECK_NAMES",
    "PII_ENTITIES",
    "TABLE_FORMATS",
    "WRENCH_SPLITS",
    "YOUTUBE_CITATION",
    "CheckResult",
    "DataCheckOptions",
    "Dataset",
    "PIIScan",
    "PIISpan",
    "Severity",
    "WrenchDataset",
    "WrenchSplit",
    "content_hash",
    "crypto_scam_comments",
    "encode_labels",
    "example_path",
    "find_pii",
    "load_wrench",
    "load_youtube",
    "raise_for_errors",
    "read_table",
    "redact_pii",
    "run_data_checks",
    "scan_pii",
]
