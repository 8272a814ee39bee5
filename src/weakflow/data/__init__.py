"""Data: loaders for the WRENCH benchmark format and the bundled example data."""

from weakflow.data._examples import YOUTUBE_CITATION, example_path, load_youtube
from weakflow.data._wrench import WRENCH_SPLITS, WrenchDataset, WrenchSplit, load_wrench

__all__ = [
    "WRENCH_SPLITS",
    "YOUTUBE_CITATION",
    "WrenchDataset",
    "WrenchSplit",
    "example_path",
    "load_wrench",
    "load_youtube",
]
