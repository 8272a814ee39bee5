"""Projects: a folder with ``weakflow.toml``, an LF module, data, ``runs/`` and ``.weakflow/``.

``init_project`` scaffolds one. With ``example="youtube"`` it holds the bundled YouTube spam
comments split into an unlabeled train pool (gold labels removed), a small gold dev set and a gold
test set, and the example LF module (``weakflow.labeling.examples``) as ``lfs.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from weakflow.data import load_youtube
from weakflow.errors import ConfigError
from weakflow.pipeline._config import CONFIG_FILE, ProjectConfig, load_config
from weakflow.store import atomic_write

__all__ = ["EXAMPLES", "Project", "init_project"]

#: Examples ``weakflow init --example`` knows.
EXAMPLES = ("youtube",)

_DEV_ROWS = 100
_TEST_SHARE = 0.25


@dataclass(frozen=True)
class Project:
    """A project folder and its validated configuration."""

    root: Path
    config: ProjectConfig

    @classmethod
    def load(cls, root: str | Path = ".") -> Project:
        root = Path(root).resolve()
        return cls(root=root, config=load_config(root / CONFIG_FILE))

    def path(self, relative: str) -> Path:
        """A path from the config, relative to the project folder."""
        p = Path(relative)
        return p if p.is_absolute() else self.root / p

    @property
    def state_dir(self) -> Path:
        """``.weakflow/``: the store (artifacts, cache, database)."""
        return self.root / ".weakflow"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"


_BLANK_CONFIG = """\
# weakflow project. Defaults fill in everything not set here; `weakflow run --help` explains.
[project]
name = "{name}"
seed = 0

[data]
train = "data/train.csv"   # unlabeled pool: the rows to label (CSV, Parquet or JSONL)
dev = "data/dev.csv"       # ~100 rows with gold labels: selects models, calibrates
test = "data/test.csv"     # rows with gold labels: the final evaluation
text_column = "text"
label_column = "label"
label_names = ["negative", "positive"]

[labeling]
module = "lfs.py"
"""

_BLANK_LFS = '''\
"""Labeling functions: each votes a class index (0..k-1) or ABSTAIN on a row."""

from weakflow import ABSTAIN, keyword_lf, labeling_function

NEGATIVE, POSITIVE = 0, 1

keyword_good = keyword_lf(["great", "excellent"], POSITIVE, name="keyword_good")


@labeling_function()
def short_text(x):
    return NEGATIVE if len(x.text.split()) < 3 else ABSTAIN
'''

_YOUTUBE_CONFIG = """\
# weakflow example project: spam in YouTube comments (UCI YouTube Spam Collection;
# T.C. Alberto, J.V. Lochter, T.A. Almeida, TubeSpam, ICMLA 2015).
[project]
name = "youtube-spam"   # the registered model's name
seed = 0
intended_use = "Flag likely spam comments for moderators to review; not for automatic deletion."

[data]
train = "data/train.csv"   # {n_train} comments, gold labels removed
dev = "data/dev.csv"       # {n_dev} comments with gold labels
test = "data/test.csv"     # {n_test} comments with gold labels
id_column = "id"
text_column = "text"
label_column = "label"
label_names = ["ham", "spam"]

[labeling]
module = "lfs.py"

[label_model]
method = "auto"

[end_model]
type = "text"

[evaluation]
slice_columns = ["video"]

# `weakflow run` registers every model; it moves `alias` only when every rule passes.
[gates]
alias = "production"
rules = [
    "accuracy >= 0.9",                                 # absolute floor on the test set
    "ece <= 0.1",                                      # calibration
    "f1_macro >= production.f1_macro - 0.02",          # no regression against what is live
    "checks.passed",                                   # every data check without errors
    "checks.lf_changes != warning",                    # no LF flipped its votes since v(n-1)
]
"""


def _write(path: Path, text: str) -> None:
    atomic_write(path, text.encode("utf-8"))


def _youtube(root: Path, seed: int) -> None:
    df = load_youtube()
    df.insert(0, "id", [f"yt-{i:04d}" for i in range(len(df))])
    df["label"] = np.where(df["label"].to_numpy() == 1, "spam", "ham")
    order = np.random.default_rng(seed).permutation(len(df))
    n_test = round(_TEST_SHARE * len(df))
    dev, test, train = (
        order[:_DEV_ROWS],
        order[_DEV_ROWS : _DEV_ROWS + n_test],
        order[_DEV_ROWS + n_test :],
    )
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    columns = ["id", "author", "date", "text", "video"]
    _write(data / "train.csv", df.iloc[np.sort(train)][columns].to_csv(index=False))
    _write(data / "dev.csv", df.iloc[np.sort(dev)][[*columns, "label"]].to_csv(index=False))
    _write(data / "test.csv", df.iloc[np.sort(test)][[*columns, "label"]].to_csv(index=False))
    lfs = resources.files("weakflow.labeling").joinpath("examples.py").read_text(encoding="utf-8")
    _write(root / "lfs.py", lfs)
    config = _YOUTUBE_CONFIG.format(n_train=len(train), n_dev=len(dev), n_test=len(test))
    _write(root / CONFIG_FILE, config)


def init_project(
    directory: str | Path, *, example: str | None = None, force: bool = False, seed: int = 0
) -> Project:
    """Create a project in ``directory`` (created if needed) and return it.

    Raises
    ------
    ConfigError
        ``directory`` already holds a project (pass ``force=True`` to overwrite its files), or
        ``example`` is not one of :data:`EXAMPLES`.
    """
    root = Path(directory).resolve()
    if example is not None and example not in EXAMPLES:
        raise ConfigError(f"Unknown example {example!r}; available: {', '.join(EXAMPLES)}.")
    if (root / CONFIG_FILE).exists() and not force:
        raise ConfigError(
            f"{root} already holds a weakflow project ({CONFIG_FILE} exists). Use another "
            "folder, or --force to overwrite its config, LFs and data.",
        )
    root.mkdir(parents=True, exist_ok=True)
    if example == "youtube":
        _youtube(root, seed)
    else:
        _write(root / CONFIG_FILE, _BLANK_CONFIG.format(name=root.name or "weakflow-project"))
        if not (root / "lfs.py").exists() or force:
            _write(root / "lfs.py", _BLANK_LFS)
        (root / "data").mkdir(exist_ok=True)
    _write(root / ".gitignore", ".weakflow/\nruns/\n")
    return Project.load(root)
