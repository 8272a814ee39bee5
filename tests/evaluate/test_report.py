"""write_report: report.json round-trips, report.html is one self-contained, accessible page."""

from __future__ import annotations

import json
import math
from html.parser import HTMLParser
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from weakflow.errors import SchemaError
from weakflow.evaluate import (
    choose_calibration,
    render_report_html,
    report_to_json,
    write_report,
)

from .example import build_report, load_youtube

SECTIONS = (
    "headline",
    "data",
    "labeling",
    "label-model",
    "end-model",
    "calibration",
    "slices",
    "provenance",
)
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"}


class Page(HTMLParser):
    """Collects tags, attributes, ids, text and nesting errors of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)
        self._in_style = tag == "style"

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        self._in_style = False
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
        else:
            self.stack.pop()

    def handle_data(self, data):
        if self._in_style:
            self.style += data
        self.text.append(data)

    def named(self, tag):
        return [attrs for t, attrs in self.tags if t == tag]

    @property
    def ids(self):
        return [a["id"] for _, a in self.tags if a.get("id")]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


@pytest.fixture(scope="module")
def full_report():
    return build_report(load_youtube())


@pytest.fixture(scope="module")
def written(full_report, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run-1"
    return write_report(full_report, out)


class TestFullReport:
    def test_writes_both_files(self, written):
        json_path, html_path = written
        assert json_path.name == "report.json"
        assert html_path.name == "report.html"
        assert json_path.parent == html_path.parent
        assert not list(json_path.parent.glob(".*.tmp"))

    def test_json_round_trips_with_sorted_keys(self, written, full_report):
        text = written[0].read_text(encoding="utf-8")
        data = json.loads(text)
        assert data["run_id"] == full_report["run_id"]
        assert text == json.dumps(data, sort_keys=True, indent=2) + "\n"
        assert report_to_json(data) == text  # the written JSON is a fixed point
        # DataFrames, numpy arrays and numpy scalars became plain JSON
        assert data["labeling"]["lf_summary"][0]["name"] == "keyword_my"
        assert (
            data["labeling"]["votes_per_row"] == full_report["labeling"]["votes_per_row"].tolist()
        )
        assert data["end_model"]["calibration"]["before"]["ece"] == pytest.approx(
            full_report["end_model"]["calibration"]["before"]["ece"]
        )

    def test_html_parses_and_has_every_section(self, written):
        page = parse(written[1].read_text(encoding="utf-8"))
        assert page.errors == []
        assert page.stack == []
        for section in SECTIONS:
            assert section in page.ids, section
        assert "more" in page.ids  # the unknown "gates" key is shown, not dropped
        assert len(page.ids) == len(set(page.ids)), "duplicate ids"
        headings = [t for t, _ in page.tags if t in ("h1", "h2")]
        assert headings.count("h1") == 1
        assert headings.count("h2") == len(SECTIONS) + 1

    def test_one_accessible_svg_per_plot(self, written):
        html = written[1].read_text(encoding="utf-8")
        page = parse(html)
        svgs = page.named("svg")
        assert len(svgs) == 5  # LF summary, votes, confusion, reliability, slices
        for svg in svgs:
            assert svg["role"] == "img"
            assert svg["aria-labelledby"]
        assert len(page.named("title")) == 1 + 5  # the page's and one per plot
        assert len(page.named("figcaption")) == 5
        for needle in ("plot-lf-summary", "plot-votes", "plot-confusion", "plot-reliability"):
            assert f'id="{needle}-title"' in html
        # the reliability diagram prefers the test set's before/after to dev's
        assert "before calibration (test)" in html

    def test_self_contained(self, written):
        html = written[1].read_text(encoding="utf-8")
        page = parse(html)
        for _, attrs in page.tags:
            for name in ("src", "href", "xlink:href", "action", "data"):
                value = attrs.get(name)
                if value is not None:
                    assert value.startswith("#"), f"{name}={value!r} leaves the page"
        assert not page.named("script")
        assert not page.named("link")
        assert not page.named("img")
        assert "http://" not in html
        assert "https://" not in html
        assert "@import" not in page.style
        assert "url(" not in page.style

    def test_tables_have_headers_and_captions(self, written):
        page = parse(written[1].read_text(encoding="utf-8"))
        tables = [t for t in page.named("table") if t.get("class") != "nested"]
        assert len(tables) >= 10
        assert len(page.named("caption")) == len(tables)
        assert all(a.get("scope") in ("col", "row") for a in page.named("th"))

    def test_check_results_not_by_color_alone(self, written):
        text = "".join(parse(written[1].read_text(encoding="utf-8")).text)
        assert "✓ pass" in text
        assert "✗ fail" in text
        assert "▼ below overall" in text

    def test_numbers_shown(self, written, full_report):
        html = written[1].read_text(encoding="utf-8")
        acc = full_report["end_model"]["test"]["accuracy"]
        assert f"{acc:.3f}" in html
        assert full_report["end_model"]["calibration"]["reason"] in html

    def test_small_enough_and_deterministic(self, written, full_report):
        html = written[1].read_text(encoding="utf-8")
        assert len(html.encode()) < 1_000_000
        assert render_report_html(full_report) == html

    def test_leaves_matplotlib_state_alone(self, full_report):
        before = dict(matplotlib.rcParams)
        render_report_html(full_report)
        assert dict(matplotlib.rcParams) == before


class TestMinimalAndPartialReports:
    def test_minimal(self, tmp_path):
        json_path, html_path = write_report({"run_id": "r-1"}, tmp_path / "deep" / "r-1")
        assert json.loads(json_path.read_text()) == {"run_id": "r-1"}
        page = parse(html_path.read_text())
        assert page.errors == []
        assert not page.named("svg")
        assert not page.named("section")
        assert "r-1" in "".join(page.text)

    def test_partial_sections_render_what_is_there(self):
        report = {
            "run_id": "r-2",
            "end_model": {
                "test": {"accuracy": 0.9, "confusion_matrix": [[5, 1], [0, 4]]},
                "slices": [
                    {"name": "tiny", "n": 2, "too_small": True, "metric": "f1_macro"},
                ],
            },
            "labeling": {"votes_per_row": [3, 5, 2]},
        }
        page = parse(render_report_html(report))
        assert page.errors == []
        assert {"labeling", "end-model", "slices"} <= set(page.ids)
        assert "calibration" not in page.ids
        assert "headline" not in page.ids
        assert len(page.named("svg")) == 3  # votes, confusion, slices

    def test_reliability_falls_back_to_dev_and_hides_an_unkept_after(self):
        rng = np.random.default_rng(0)
        p1 = rng.uniform(0.5, 1, 200)
        y = (rng.uniform(size=200) < 0.5).astype(int)
        choice = choose_calibration(np.column_stack([1 - p1, p1]), y)
        report = {"run_id": "r", "end_model": {"calibration": choice.to_dict()}}
        html = render_report_html(report)
        assert "before calibration (dev)" in html
        assert f"after {choice.method} (dev)" in html
        report["end_model"]["calibration"]["kept"] = False
        html = render_report_html(report)
        assert "before calibration (dev)" in html
        assert "after " + str(choice.method) + " (dev)" not in html
        assert "none kept" in html

    def test_user_text_is_escaped(self):
        evil = '<script>alert("x")</script>'
        report = {
            "run_id": "r-3",
            "project": evil,
            "labeling": {"lf_summary": [{"name": evil, "coverage": 0.5}, {"name": "$5 off"}]},
            "data": {"checks": [{"name": "x", "passed": False, "message": evil}]},
        }
        html = render_report_html(report)
        page = parse(html)
        assert not page.named("script")
        assert "&lt;script&gt;" in html
        assert "$5 off" in "".join(page.text)  # a dollar sign is not matplotlib math

    def test_nan_and_numpy_become_json(self):
        report = {
            "run_id": "r-4",
            "values": {
                "nan": float("nan"),
                "inf": np.float64("inf"),
                "i": np.int64(3),
                "b": np.bool_(True),
                "arr": np.array([1.5, np.nan]),
                "frame": pd.DataFrame({"a": [1, 2]}),
                "path": Path("runs/x"),
                "na": pd.NA,
                "when": pd.Timestamp("2024-05-01T12:00:00"),
            },
        }
        data = json.loads(report_to_json(report))
        assert data["values"] == {
            "nan": None,
            "inf": None,
            "i": 3,
            "b": True,
            "arr": [1.5, None],
            "frame": [{"a": 1}, {"a": 2}],
            "path": "runs/x",
            "na": None,
            "when": "2024-05-01T12:00:00",
        }
        assert not any(isinstance(v, float) and math.isnan(v) for v in data["values"].values())

    def test_errors(self, tmp_path):
        with pytest.raises(SchemaError, match="run_id"):
            write_report({"project": "x"}, tmp_path)
        with pytest.raises(
            SchemaError, match=r"report\['extra'\]\['fn'\] holds a builtin_function"
        ):
            report_to_json({"run_id": "r", "extra": {"fn": print}})
        assert not (tmp_path / "report.json").exists()
