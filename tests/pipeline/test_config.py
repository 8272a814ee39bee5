"""weakflow.toml: defaults, and errors that name the key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from weakflow.errors import ConfigError
from weakflow.pipeline import load_config, parse_config

FIVE_LINES = """\
[data]
train = "data/train.csv"
dev = "data/dev.csv"
test = "data/test.csv"
label_names = ["ham", "spam"]
"""


def test_five_line_config_gets_defaults():
    cfg = parse_config(tomllib.loads(FIVE_LINES))
    assert cfg.data.text_column == "text"
    assert cfg.data.label_column == "label"
    assert cfg.labeling.module == "lfs.py"
    assert cfg.label_model.method == "auto"
    assert cfg.end_model.type == "text"
    assert cfg.calibration.bins == 15
    assert cfg.to_dict()["project"]["seed"] == 0


def test_unknown_key_is_named_with_a_suggestion():
    raw = tomllib.loads(FIVE_LINES + "\n[end_model]\ntyp = 'text'\n")
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert "end_model.typ: unknown key. Did you mean 'type'?" in str(info.value)
    raw = tomllib.loads(FIVE_LINES.replace("train =", "trian ="))
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    text = str(info.value)
    assert "data.trian: unknown key. Did you mean 'train'?" in text
    assert "data.train: required, but missing." in text


def test_unknown_section_lists_the_valid_ones():
    with pytest.raises(ConfigError, match=r"zzz: unknown key\. Valid keys: project, data"):
        parse_config(tomllib.loads(FIVE_LINES + "\n[zzz]\na = 1\n"))


def test_wrong_type_and_value_name_the_key_and_show_the_value():
    raw = tomllib.loads(FIVE_LINES + "\n[end_model]\ntype = 'svm'\n[calibration]\nbins = 'x'\n")
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    problems = info.value.problems
    assert any(p.startswith("end_model.type:") and "'svm'" in p for p in problems)
    assert any(p.startswith("calibration.bins:") and "'x'" in p for p in problems)


def test_label_names_must_be_unique_and_at_least_two():
    with pytest.raises(ConfigError, match=r"data\.label_names"):
        parse_config(tomllib.loads(FIVE_LINES.replace('["ham", "spam"]', '["a", "a"]')))
    with pytest.raises(ConfigError, match=r"data\.label_names"):
        parse_config(tomllib.loads(FIVE_LINES.replace('["ham", "spam"]', '["a"]')))


def test_missing_file_and_bad_toml(tmp_path: Path):
    with pytest.raises(ConfigError, match="weakflow init"):
        load_config(tmp_path / "weakflow.toml")
    (tmp_path / "weakflow.toml").write_text("[data\ntrain = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "weakflow.toml")
