"""The pipeline is the architecture: a stage imports only the stages before it.

Order: data -> labeling -> labelmodel -> train -> evaluate -> registry -> pipeline (the run that
chains them) -> serve -> monitor -> feedback -> privacy -> governance -> ui, with ``cli`` on top
(it may import anything) and the shared modules underneath (``store``, ``errors``, the private
``_types``/``_validation``/``_label_matrix``). Imports under ``if TYPE_CHECKING:`` count too.

One edge goes back, on purpose, and is listed here: ``pipeline -> feedback`` is the loop's
retrain arrow (a run trains on the feedback that came back).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "weakflow"
ORDER = [
    "data", "labeling", "labelmodel", "train", "evaluate", "registry", "pipeline", "serve",
    "monitor", "feedback", "privacy", "governance", "ui", "cli",
]  # fmt: skip
SHARED = {"store", "errors", "_types", "_validation", "_label_matrix", "__init__"}
ALLOWED_BACK_EDGES = {("pipeline", "feedback")}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "weakflow" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_stage_imports_only_upstream_stages() -> None:
    assert {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()} <= (
        set(ORDER) | SHARED
    ), "a new subpackage needs a place in ORDER"
    wrong = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if "migrations" in rel.parts or len(rel.parts) == 1:
            continue
        stage = rel.parts[0]
        for target in _imports(path) - {stage}:
            if stage in SHARED:
                if target not in SHARED:
                    wrong.append(f"{rel}: shared module imports the stage {target}")
                continue
            if target in SHARED or (stage, target) in ALLOWED_BACK_EDGES:
                continue
            if ORDER.index(target) > ORDER.index(stage):
                wrong.append(f"{rel}: {stage} imports {target}, which comes after it")
    assert not wrong, "\n".join(sorted(wrong))
