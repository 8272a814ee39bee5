"""Loading a project's LF module: what it finds, and errors that point into the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from weakflow.errors import ConfigError
from weakflow.pipeline import load_lf_module

HEADER = "from weakflow import ABSTAIN, keyword_lf, labeling_function\n"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "lfs.py"
    path.write_text(HEADER + body)
    return path


def test_top_level_lfs_in_definition_order(tmp_path: Path):
    path = write(
        tmp_path,
        "b = keyword_lf('x', 1, name='b')\n"
        "@labeling_function()\ndef a(x):\n    return ABSTAIN\n"
        "_private = keyword_lf('y', 1, name='private')\n",
    )
    module = load_lf_module(path)
    assert [lf.name for lf in module.lfs] == ["b", "a"]
    assert module.sha256
    assert "keyword_lf('x'" in module.source


def test_lfs_list_wins_and_sets_the_order(tmp_path: Path):
    path = write(
        tmp_path,
        "b = keyword_lf('x', 1, name='b')\nc = keyword_lf('z', 0, name='c')\nLFS = [c, b]\n",
    )
    assert [lf.name for lf in load_lf_module(path).lfs] == ["c", "b"]


def test_syntax_error_names_file_and_line(tmp_path: Path):
    path = write(tmp_path, "x = 1\ndef broken(:\n")
    with pytest.raises(ConfigError, match=r"lfs\.py has a syntax error at line 3"):
        load_lf_module(path)


def test_import_error_names_the_line(tmp_path: Path):
    path = write(tmp_path, "import no_such_module_xyz\n")
    with pytest.raises(ConfigError, match=r"failed at line 2: ModuleNotFoundError"):
        load_lf_module(path)


def test_no_lfs_duplicates_and_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="defines no labeling functions"):
        load_lf_module(write(tmp_path, "x = 1\n"))
    dup = "a = keyword_lf('x', 1, name='same')\nb = keyword_lf('y', 1, name='same')\n"
    with pytest.raises(ConfigError, match="Two labeling functions are named 'same'"):
        load_lf_module(write(tmp_path, dup))
    with pytest.raises(ConfigError, match="does not exist"):
        load_lf_module(tmp_path / "nope.py")
