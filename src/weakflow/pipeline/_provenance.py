"""Provenance of a run, and the datasheet generated from it.

The provenance record answers "what exactly produced this model": the content hash and row count
of every input, the LF module's source and hash, the full config with defaults, package versions,
the project's git commit when there is one, the label and end models' parameters and the seeds.
The registry (issue 4) builds lineage on it. The datasheet (Gebru et al., "Datasheets for
Datasets") renders the same facts for a person.
"""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["git_commit", "package_versions", "render_datasheet"]

_PACKAGES = (
    "weakflow",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "skops",
    "cleanlab",
    "pydantic",
    "dask",
)


def package_versions() -> dict[str, str | None]:
    """Installed versions of weakflow and the libraries a run depends on."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(folder: Path) -> dict[str, Any] | None:
    """The commit (and whether the tree is dirty) of the git repository holding ``folder``."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "dirty": bool(status.strip())}  # fmt: skip


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def render_datasheet(report: dict[str, Any]) -> str:
    """A Markdown datasheet for the run's training data, from its report and provenance."""
    prov = report.get("provenance", {})
    created = prov.get("created_at", dt.datetime.now(dt.UTC).isoformat())
    lf_module = prov.get("lf_module", {})
    totals = report.get("labeling", {}).get("totals", {})
    redacted = prov.get("config", {}).get("data", {}).get("redact_pii")
    packages = prov.get("packages", {})
    commit = (prov.get("git") or {}).get("commit", "none")
    data = report.get("data", {})
    lab = report.get("labeling", {})
    end = report.get("end_model", {})
    names = report.get("label_names", [])
    lines = [
        f"# Datasheet: training data of {report.get('project', 'project')}",
        "",
        f"Run `{report.get('run_id')}`, generated {created} by weakflow. Every number below is "
        "from the run's report.json.",
        "",
        "## Motivation",
        "Training data for a classifier of "
        + ", ".join(f"`{n}`" for n in names)
        + ", labeled by labeling functions (weak supervision) instead of by hand.",
        "",
        "## Composition",
        "| role | source | rows | sha256 |",
        "|---|---|---|---|",
    ]
    for d in data.get("datasets", []):
        lines.append(f"| {d['role']} | `{d['source']}` | {d['rows']:,} | `{d['sha256'][:16]}...` |")
    dist = lab.get("train_label_distribution")
    if dist:
        lines += ["", "Estimated class balance of the train pool (label model): "
                  + ", ".join(f"{k} {_pct(v)}" for k, v in dist.items()) + "."]  # fmt: skip
    lines += [
        "",
        "## Labeling process",
        f"{len(lab.get('lf_summary', []))} labeling functions from "
        f"`{lf_module.get('path', '?')}` (sha256 `{str(lf_module.get('sha256', ''))[:16]}...`). "
        f"They cover {_pct(totals.get('coverage'))} of the train pool; "
        f"{_pct(totals.get('conflict'))} of rows get conflicting votes.",
        "",
        "| LF | kind | coverage | dev accuracy | learned accuracy |",
        "|---|---|---|---|---|",
    ]
    for row in lab.get("lf_summary", []):
        lines.append(
            f"| {row['name']} | {row.get('kind') or ''} | {_pct(row.get('coverage'))} | "
            f"{_pct(row.get('emp_accuracy'))} | {_pct(row.get('learned_accuracy'))} |"
        )
    lm = report.get("label_model", {})
    lines += [
        "",
        f"Label model: `{lm.get('selected', lm.get('method'))}`. Rows on which every LF abstained "
        f"({end.get('dropped_abstained', 'n/a')}) are not used to train the end model.",
        "",
        "## Preprocessing",
        f"PII redaction before storage: {'yes' if redacted else 'no'}.",
    ]
    pii = data.get("pii")
    if pii:
        lines.append(f"PII found by the scan: {pii}.")
    lines += ["", "## Data checks", "| check | severity | passed | message |", "|---|---|---|---|"]
    for c in data.get("checks", []):
        msg = str(c.get("message", "")).replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {c['name']} | {c['severity']} | {'yes' if c['passed'] else 'no'} | {msg} |"
        )
    lines += [
        "",
        "## Uses and limitations",
        "The labels are as good as the labeling functions: rows the LFs rarely cover and slices "
        "where they are inaccurate are under-represented or mislabeled. See the slice metrics "
        "in report.html before using the model on a new population.",
        "",
        "## Provenance",
        f"weakflow {packages.get('weakflow')}, Python {packages.get('python')}; git commit: "
        f"{commit}; seed {prov.get('seeds', {}).get('project')}.",
        "",
    ]
    return "\n".join(lines)
