"""Governance: an auditor's report built from weakflow's own records.

:func:`build_governance_report` reads what weakflow keeps about a project's model (versions
with lineage and gate verdicts, alias history, run reports with data checks, the audit log and
its hash-chain verification, the serving log, feedback, monitor windows, the loop's decisions,
erasures and quarantines, the model card) and maps it to NIST AI RMF 1.0 subcategories and
ISO/IEC 42001:2023 Annex A controls, with a status per item and a plain list of what weakflow
does not record. :func:`write_governance_report` renders it as self-contained HTML and/or
Markdown; ``weakflow governance report`` does both from the command line.

Nothing in the report is a hard-coded claim: each statement is computed from a record, and
where there is no record the report says so.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from weakflow.governance._collect import FORMAT, collect_evidence
from weakflow.governance._frameworks import EVIDENCE, GAP, PARTIAL, STATUSES, assess
from weakflow.governance._render import (
    FORMATS,
    output_paths,
    render_html,
    render_markdown,
    write_report,
)
from weakflow.pipeline import Project

__all__ = [
    "EVIDENCE",
    "FORMAT",
    "FORMATS",
    "GAP",
    "PARTIAL",
    "STATUSES",
    "build_governance_report",
    "output_paths",
    "render_html",
    "render_markdown",
    "write_governance_report",
]


def build_governance_report(
    project: Project | str | Path,
    *,
    model: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The governance report of a project's registered model, as a JSON-ready dict.

    Parameters
    ----------
    project : Project, str or Path
        The project (or its folder).
    model : str, optional
        The registered model (default: the project's name, which ``weakflow run`` registers).
    now : datetime, optional
        The report's generation time (default: now, UTC).

    Returns
    -------
    dict
        ``format``, ``generated_at``, ``project``, ``model``, the evidence sections
        (``lineage``, ``data_checks``, ``gates``, ``alias_history``, ``monitoring``, ``loop``,
        ``erasures``, ``quarantine``, ``feedback``, ``predictions``, ``robustness``,
        ``privacy_tests``, ``audit``, ``model_card``), the mappings (``nist_ai_rmf``: one entry
        per function with its subcategory items; ``iso_42001``), ``gaps`` and ``counts``.

    Raises
    ------
    ConfigError
        No ``weakflow.toml`` in the folder.
    ModelNotFoundError
        The project has no store or nothing registered (run ``weakflow run`` first), or
        ``model`` is not registered.
    """
    if not isinstance(project, Project):
        project = Project.load(project)
    report = collect_evidence(project, model=model, now=now)
    report.update(assess(report))
    return report


def write_governance_report(
    report: dict[str, Any], out: str | Path, formats: tuple[str, ...] | list[str] = FORMATS
) -> dict[str, Path]:
    """Write ``report`` as HTML and/or Markdown (``formats``); returns ``{format: path}``.

    ``out`` is a folder (files ``governance-report.html`` / ``.md`` in it) or a file name, whose
    suffix is replaced per format.
    """
    return write_report(report, out, formats)
