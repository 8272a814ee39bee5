"""The bundled example data: shipped in the package, with its citation."""

from __future__ import annotations

from weakflow.data import YOUTUBE_CITATION, example_path, load_youtube


def test_youtube_counts_and_columns():
    df = load_youtube()
    assert len(df) == 1956
    assert int(df["label"].sum()) == 1005
    assert list(df.columns) == ["comment_id", "author", "date", "text", "label", "video"]
    assert sorted(df["video"].unique()) == ["Eminem", "KatyPerry", "LMFAO", "Psy", "Shakira"]
    assert df.index.equals(df.reset_index(drop=True).index)


def test_files_and_citation_ship_with_the_package():
    folder = example_path("youtube")
    assert sorted(p.name for p in folder.glob("*.csv")) == [
        "Youtube01-Psy.csv",
        "Youtube02-KatyPerry.csv",
        "Youtube03-LMFAO.csv",
        "Youtube04-Eminem.csv",
        "Youtube05-Shakira.csv",
    ]
    readme = (folder / "README.md").read_text()
    assert "TubeSpam: Comment Spam Filtering on YouTube" in readme
    assert "ICMLA 2015" in YOUTUBE_CITATION
