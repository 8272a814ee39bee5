"""The progress bar: drawn on a real terminal, silent otherwise or with progress=False."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

SCRIPT = """
import numpy as np, pandas as pd
from weakflow.labeling import apply_lfs, keyword_lf
df = pd.DataFrame({"text": np.where(np.arange(300_000) % 3 == 0, "buy now", "hello")})
L = apply_lfs([keyword_lf("buy", 1)], df, progress=PROGRESS, batch_size=10_000)
print("rows", L.n_rows)
"""


def _run(progress: bool, tty: bool) -> tuple[str, str]:
    code = SCRIPT.replace("PROGRESS", str(progress))
    if not tty:
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
        )
        return proc.stdout, proc.stderr
    leader, follower = pty.openpty()  # stderr is a real pseudo-terminal
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=follower, env=env
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    out, _ = proc.communicate(timeout=120)
    os.close(leader)
    assert proc.returncode == 0
    return out.decode(), b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_bar_is_drawn_on_a_terminal():
    out, err = _run(progress=True, tty=True)
    assert "rows 300000" in out
    assert "Applying labeling functions" in err


def test_no_bar_when_stderr_is_not_a_terminal():
    out, err = _run(progress=True, tty=False)
    assert "rows 300000" in out
    assert err == ""


@pytest.mark.slow
def test_no_bar_with_progress_false_even_on_a_terminal():
    out, err = _run(progress=False, tty=True)
    assert "rows 300000" in out
    assert "Applying labeling functions" not in err
