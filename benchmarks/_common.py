"""Helpers shared by the benchmark scripts: peer material, timing, memory, tables, results JSON.

The peers' shared material (data generators, Snorkel's published figures) lives outside the
repository, in ``../shared/bench`` (set ``WEAKFLOW_SHARED`` to the ``shared`` folder to use
another copy). Without it the benchmarks print why they are skipped and exit with code 0.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
MIB = 1024.0


# -- peer material --------------------------------------------------------------------------
def shared_root() -> Path:
    """The shared folder (peer scripts, benchmark data): ``$WEAKFLOW_SHARED`` or ``../shared``."""
    return Path(os.environ.get("WEAKFLOW_SHARED", ROOT.parent / "shared"))


def shared_bench_dir() -> Path | None:
    """``$WEAKFLOW_SHARED/bench`` (default ``../shared/bench``), or None when absent."""
    folder = shared_root() / "bench"
    return folder if folder.is_dir() else None


def require_shared() -> Path:
    """The shared bench folder; exit 0 with a "skipped" message when it is not there."""
    folder = shared_bench_dir()
    if folder is None:
        where = shared_root() / "bench"
        print(
            f"skipped: shared benchmark material {where} not found "
            "(set WEAKFLOW_SHARED to the folder that holds bench/)."
        )
        sys.exit(0)
    return folder


def import_shared(name: str) -> ModuleType:
    """Import ``<shared>/bench/<name>.py`` by path (without writing bytecode next to it)."""
    path = require_shared() / f"{name}.py"
    if not path.is_file():
        print(f"skipped: {path} not found.")
        sys.exit(0)
    spec = importlib.util.spec_from_file_location(f"shared_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = dont_write
    return module


def _count(text: str) -> int:
    """'1,000,000' -> 1000000; '100k' -> 100000; '1M' -> 1000000."""
    text = text.replace(",", "").strip()
    scale = {"k": 1_000, "M": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("kM")) * scale)


def published_snorkel() -> dict[str, dict[Any, Any]]:
    """Snorkel's published figures from RESULTS-snorkel.md (empty dicts when absent).

    ``lf_apply``: {rows: sha256}; ``label_matrix``: {(rows, lfs, k): sha256};
    ``lf_apply_s``: {rows: median apply seconds}; ``lm``: {(rows, k): {"fit_s", "accuracy"}}.
    """
    out: dict[str, dict[Any, Any]] = {
        "lf_apply": {},
        "label_matrix": {},
        "lf_apply_s": {},
        "lm": {},
    }
    folder = shared_bench_dir()
    path = folder / "RESULTS-snorkel.md" if folder else None
    if path is None or not path.is_file():
        return out
    text = path.read_text()
    apply_rows = r"^\|\s*([\d,]+)\s*\|\s*([\d.]+) \[.*`([0-9a-f]{64})`\s*\|\s*$"
    for rows, seconds, sha in re.findall(apply_rows, text, re.M):
        out["lf_apply"][_count(rows)] = sha
        out["lf_apply_s"][_count(rows)] = float(seconds)
    for rows, sha in re.findall(r"([\d,]+)-row base matrix has sha256\s+`([0-9a-f]{64})`", text):
        out["lf_apply"][_count(rows)] = sha
    for rows, lfs, k, sha in re.findall(r"([\d.]+[kM]?)×(\d+), K=(\d+): `([0-9a-f]{64})`", text):
        out["label_matrix"][(_count(rows), int(lfs), int(k))] = sha
    lm_rows = (
        r"^\|\s*([\d.]+[kM]), (\d+) \([^)]*\)\s*\|\s*([\d.]+) \[[^|]*\|[^|]*\|\s*([\d.]+)\s*\|"
    )
    for rows, k, fit, acc in re.findall(lm_rows, text, re.M):
        out["lm"][(_count(rows), int(k))] = {"fit_s": float(fit), "accuracy": float(acc)}
    return out


def sha256_int8(L: Any) -> str:
    """The fingerprint the peers publish: sha256 of the int8 matrix in C order."""
    import hashlib

    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(np.asarray(L).astype(np.int8)).tobytes()).hexdigest()


# -- timing and memory ------------------------------------------------------------------------
def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall seconds of one call (``time.perf_counter``) and its result."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def peak_rss_mib() -> float:
    """The process's high-water mark (``ru_maxrss``; KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MIB


def current_rss_mib() -> float:
    """Current resident set size (VmRSS), or NaN off Linux."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / MIB
    except OSError:
        pass
    return float("nan")


def reset_peak_rss() -> bool:
    """Reset the high-water mark so ``ru_maxrss`` measures from now (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


# -- reporting --------------------------------------------------------------------------------
def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        res = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip()


def machine_info(load_at_start: float) -> dict[str, Any]:
    """Where and on what the numbers were measured (versions read without importing torch)."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_1m_at_start": round(load_at_start, 2),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "versions": {
            d: _version(d) for d in ("weakflow", "numpy", "pandas", "pyarrow", "snorkel", "torch")
        },
    }


def results_name(name: str, rows: int, full_size: int = 1_000_000) -> str:
    """``name`` at full size; ``name-<rows>`` otherwise, so smoke runs never overwrite (and git
    ignores) the full-size results."""
    return name if rows == full_size else f"{name}-{rows}"


def write_results(name: str, payload: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json`` (through a .tmp file, so never half-written)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    tmp.replace(path)
    return path


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A rich table when rich is importable, else plain aligned text."""
    cells = [[str(c) for c in row] for row in rows]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(columns)]
        print(f"\n{title}")
        print("  ".join(h.ljust(w) for h, w in zip(columns, widths, strict=True)))
        for r in cells:
            print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
        return
    table = Table(title=title, title_justify="left")
    for i, h in enumerate(columns):
        table.add_column(h, justify="left" if i == 0 else "right")
    for r in cells:
        table.add_row(*r)
    widths = [max(len(h), *(len(r[i]) for r in cells)) + 3 for i, h in enumerate(columns)]
    Console(width=max(100, sum(widths) + 1)).print(table)


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or value != value:  # None or NaN
        return "n/a"
    return f"{value:,.{digits}f}"
