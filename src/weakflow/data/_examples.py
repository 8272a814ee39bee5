"""The example data that ships with weakflow: the UCI YouTube Spam Collection.

T.C. Alberto, J.V. Lochter, T.A. Almeida. TubeSpam: Comment Spam Filtering on YouTube.
ICMLA 2015. https://archive.ics.uci.edu/dataset/380/youtube+spam+collection (CC BY 4.0).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

__all__ = ["YOUTUBE_CITATION", "example_path", "load_youtube"]

YOUTUBE_CITATION = (
    "T.C. Alberto, J.V. Lochter, T.A. Almeida. TubeSpam: Comment Spam Filtering on YouTube. "
    "ICMLA 2015."
)


def example_path(name: str = "youtube") -> Path:
    """Folder of a bundled example dataset."""
    return Path(str(resources.files("weakflow.data") / "examples" / name))


def load_youtube() -> pd.DataFrame:
    """The 1,956 YouTube comments (1,005 spam) as one DataFrame.

    Columns: ``comment_id``, ``author``, ``date``, ``text``, ``label`` (1 = spam, 0 = ham) and
    ``video`` (the source file's video name). The five CSVs are read in file-name order, as
    published, and the index is the row position 0..1955 (comment ids are not unique).

    Examples
    --------
    >>> df = load_youtube()
    >>> len(df), int(df.label.sum())
    (1956, 1005)
    """
    frames = []
    for csv in sorted(example_path("youtube").glob("Youtube*.csv")):
        part = pd.read_csv(csv)
        part["video"] = csv.stem.split("-", 1)[-1]
        frames.append(part)
    df = pd.concat(frames, ignore_index=True)
    df = df.rename(
        columns={
            "COMMENT_ID": "comment_id",
            "AUTHOR": "author",
            "DATE": "date",
            "CONTENT": "text",
            "CLASS": "label",
        }
    )
    return df[["comment_id", "author", "date", "text", "label", "video"]]
