"""Load a project's labeling functions from its Python file (``lfs.py`` by default).

The module is imported from its path under a private name, so two projects' ``lfs.py`` never
collide in ``sys.modules``. Its LFs are the list ``LFS`` when the module defines one, else every
labeling function (weakflow's or Snorkel's) bound at its top level, in definition order. A syntax
error, an import error or a module without LFs is a :class:`~weakflow.errors.ConfigError` that
names the file and line.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from weakflow.errors import ConfigError, WeakflowError
from weakflow.labeling import LabelingFunction, check_lfs

__all__ = ["LFModule", "load_lf_module", "load_objects"]


@dataclass(frozen=True)
class LFModule:
    """The LFs of a project and where they came from (for provenance and caching)."""

    path: Path
    source: str
    sha256: str
    lfs: list[LabelingFunction]


def _import(path: Path, what: str) -> ModuleType:
    source = path.read_text(encoding="utf-8")
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    name = f"_weakflow_project_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"Cannot import {what} {path}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling (Dask workers) look modules up here
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise ConfigError(
            f"{what} {path} has a syntax error at line {exc.lineno}: {exc.msg}.",
            problems=[f"{path}:{exc.lineno}: {exc.msg}"],
        ) from None
    except Exception as exc:
        del sys.modules[name]
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        where = f" at line {frames[-1].lineno}" if frames else ""
        raise ConfigError(
            f"Importing {what} {path} failed{where}: {type(exc).__name__}: {exc}.",
            problems=[f"{path}{where}: {exc}"],
        ) from exc
    return module


def load_objects(path: Path, kind: type, *, list_name: str, what: str) -> tuple[str, list[Any]]:
    """Import ``path``; return its source and its objects of ``kind`` (``list_name`` first)."""
    if not path.is_file():
        raise ConfigError(
            f"The {what} {path} does not exist. Create it, or point the config at the right file.",
            problems=[f"{path}: missing"],
        )
    module = _import(path, what)
    listed = getattr(module, list_name, None)
    if listed is not None:
        return path.read_text(encoding="utf-8"), list(listed)
    found = [v for k, v in vars(module).items() if not k.startswith("_") and _is(v, kind)]
    return path.read_text(encoding="utf-8"), found


def _is(value: object, kind: type) -> bool:
    if isinstance(value, kind):
        return True
    mro = [f"{c.__module__}.{c.__qualname__}" for c in type(value).__mro__]
    return kind is LabelingFunction and any(
        n.startswith("snorkel.labeling.lf") and n.endswith("LabelingFunction") for n in mro
    )


def load_lf_module(path: str | Path) -> LFModule:
    """The labeling functions defined in ``path`` (see the module docstring)."""
    path = Path(path)
    source, objects = load_objects(path, LabelingFunction, list_name="LFS", what="LF module")
    if not objects:
        raise ConfigError(
            f"The LF module {path} defines no labeling functions. Decorate functions with "
            "@labeling_function() or use the builders (keyword_lf, regex_lf, ...), or list them "
            "in LFS = [...].",
            problems=[f"{path}: no LFs"],
        )
    try:
        lfs = check_lfs(objects)
    except WeakflowError as exc:
        raise ConfigError(f"The LF module {path}: {exc}", problems=[str(exc)]) from None
    digest = hashlib.sha256(source.encode()).hexdigest()
    return LFModule(path=path, source=source, sha256=digest, lfs=lfs)


def load_lf_source(source: str, label: str) -> LFModule:
    """The LFs of a module given as source text (e.g. the one recorded in a version's lineage).

    The text is written to a temporary file and imported from there, as ``weakflow run`` would
    import ``lfs.py``; ``label`` names that file in error messages.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="weakflow-lfs-") as tmp:
        path = Path(tmp) / f"lfs_{label}.py"
        path.write_text(source, encoding="utf-8")
        return load_lf_module(path)
