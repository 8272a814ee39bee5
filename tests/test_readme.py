"""The README's Python quickstart runs as written (docs with runnable examples)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_opens_with_the_two_commands():
    lines = README.read_text().splitlines()
    block = lines[lines.index("```bash") + 1 : lines.index("```bash") + 3]
    assert block[0].startswith("make demo")
    assert block[1].startswith("make test")


DOCS = sorted((README.parent / "docs").glob("*.md"))


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_docs_python_examples_run(page: Path, capsys):
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    assert blocks, f"{page.name} has no runnable example"
    namespace: dict[str, object] = {}
    for code in blocks:
        exec(compile(code, str(page), "exec"), namespace)
    assert capsys.readouterr().out


def test_python_quickstart_runs(capsys):
    code = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)[0]
    namespace: dict[str, object] = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert namespace["probs"].shape[1] == 2
    assert "learned_accuracy" in capsys.readouterr().out
