"""The interactive time charts: vendored uPlot served from the package, and each chart's data
embedded as a JSON block (never run) that matches the store, with the SVG kept as fallback."""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from weakflow.pipeline import Project
from weakflow.registry import open_registry
from weakflow.ui._charts import Series, time_chart

ROOT = Path(__file__).resolve().parents[2]
VENDOR = "/ui/static/vendor/uplot"


def _series(html: str, key: str) -> dict[str, Any]:
    """The JSON data of chart ``key`` embedded in ``html``."""
    found = re.search(
        rf'<script type="application/json" id="{re.escape(key)}-data">(.*?)</script>', html, re.S
    )
    assert found is not None, f"no JSON data for {key}"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def _epoch(t: dt.datetime) -> int:
    return int((t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp())


def _points(data: dict[str, Any], label: str) -> dict[int, float]:
    """One series of a chart as {time: value}, without the times it has no point at."""
    (series,) = [s for s in data["series"] if s["label"] == label]
    return {x: y for x, y in zip(data["x"], series["y"], strict=True) if y is not None}


@pytest.fixture(scope="module")
def store(ui_project: Path) -> Iterator[Any]:
    """An open registry of ``ui_project`` (its store: predictions and monitor windows)."""
    proj = Project.load(ui_project)
    registry = open_registry(proj.state_dir, proj.config.store.url)
    try:
        yield registry
    finally:
        registry.db.close()


def _windows(store: Any) -> list[Any]:
    from sqlalchemy import select

    from weakflow.store._schema import MonitorWindow

    with store.db.transaction() as s:
        rows = s.scalars(select(MonitorWindow).order_by(MonitorWindow.id)).all()
        return [(_epoch(r.window_end or r.created_at), dict(r.result)) for r in rows]


# -- the vendored library --------------------------------------------------------------------------
def test_vendored_uplot_is_served_from_the_package_with_its_licence(
    ui_project: Path, ui_client: Callable[..., TestClient]
) -> None:
    client = ui_client(ui_project)
    js = client.get(f"{VENDOR}/uPlot.iife.min.js")
    assert js.status_code == 200
    assert js.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    head = re.match(r"/\*! https://github.com/leeoniya/uPlot \(v([\d.]+)\) \*/", js.text)
    assert head is not None
    assert "var uPlot=" in js.text[:300]
    css = client.get(f"{VENDOR}/uPlot.min.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert ".uplot" in css.text
    # the licence ships next to the code, in the installed package
    licence = files("weakflow.ui") / "static" / "vendor" / "uplot" / "LICENSE"
    assert licence.is_file()
    assert "The MIT License" in licence.read_text()
    assert "Leon Sorokin" in licence.read_text()
    # ... and the package data includes it; the docs name the version actually shipped
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "ui/static/vendor/*/*" in data["tool"]["setuptools"]["package-data"]["weakflow"]
    docs = (ROOT / "docs" / "ui.md").read_text()
    assert f"| {head.group(1)} | MIT" in docs


def test_pages_load_uplot_from_the_dashboard_and_run_no_inline_script(
    ui_project: Path, ui_client: Callable[..., TestClient]
) -> None:
    client = ui_client(ui_project)
    for path in ("/ui/", "/ui/monitoring"):
        response = client.get(path)
        html = response.text
        assert f'<link rel="stylesheet" href="{VENDOR}/uPlot.min.css">' in html, path
        assert html.index(f'src="{VENDOR}/uPlot.iife.min.js"') < html.index(
            'src="/ui/static/ui.js"'
        )
        for tag in re.findall(r"<script\b[^>]*>", html):
            # code only from the dashboard's own files; the rest is data, never executed
            assert re.search(r'src="/ui/static/', tag) or 'type="application/json"' in tag, tag
        csp = response.headers["content-security-policy"]
        script_src = re.search(r"script-src ([^;]*)", csp)
        assert script_src is not None
        assert script_src.group(1).strip() == "'self'"
        assert "unsafe-eval" not in csp
        assert "https://" not in html.split("<main", 1)[0]
    labeling = client.get("/ui/labeling").text  # no time chart: no uPlot
    assert "uPlot" not in labeling


# -- the embedded data -----------------------------------------------------------------------------
def test_overview_embeds_traffic_and_accuracy_matching_the_store(
    ui_project: Path, ui_client: Callable[..., TestClient], store: Any
) -> None:
    from sqlalchemy import select

    from weakflow.store._schema import Prediction

    html = ui_client(ui_project).get("/ui/").text
    traffic = _series(html, "chart-traffic")
    assert traffic["bars"] is True
    assert traffic["x"] == sorted(traffic["x"])
    with store.db.transaction() as s:
        times = s.scalars(select(Prediction.created_at).where(Prediction.variant != "shadow")).all()
    hourly = Counter(_epoch(t.replace(minute=0, second=0, microsecond=0)) for t in times)
    assert _points(traffic, "predictions per hour") == {t: float(n) for t, n in hourly.items()}
    assert sum(hourly.values()) == 300

    accuracy = _series(html, "chart-accuracy")
    estimated = [s for s in accuracy["series"] if s["label"].startswith("estimated")]
    assert len(estimated) == 1
    expected = {at: r["estimated"]["accuracy"] for at, r in _windows(store)}
    assert len(expected) == 3
    assert _points(accuracy, estimated[0]["label"]) == pytest.approx(expected)
    lows = {x: v for x, v in zip(accuracy["x"], estimated[0]["low"], strict=True) if v is not None}
    highs = {
        x: v for x, v in zip(accuracy["x"], estimated[0]["high"], strict=True) if v is not None
    }
    for at, r in _windows(store):
        assert (lows[at], highs[at]) == pytest.approx(tuple(r["estimated"]["interval"]["accuracy"]))
    assert accuracy["reference"]["label"] == "test accuracy of v1"
    assert 0.0 < accuracy["reference"]["value"] <= 1.0
    # the SVG stays as the fallback, labelled for screen readers
    for key in ("chart-traffic", "chart-accuracy"):
        assert (
            f'<div class="time-chart" data-chart="{key}" data-labelledby="{key}-title {key}-desc">'
            in html
        )
        assert (
            f'<div class="chart-svg"><svg role="img" aria-labelledby="{key}-title {key}-desc"'
            in html
        )


def test_monitoring_embeds_feature_and_lf_drift_matching_the_store(
    ui_project: Path, ui_client: Callable[..., TestClient], store: Any
) -> None:
    html = ui_client(ui_project).get("/ui/monitoring").text
    windows = _windows(store)
    features = _series(html, "chart-feature-drift")
    expected: dict[str, dict[int, float]] = {}
    coverage: dict[str, dict[int, float]] = {}
    for at, result in windows:
        for f in result["drift"]["features"]:
            expected.setdefault(f["column"], {})[at] = f["effect"]
        for e in result["drift"].get("lfs") or []:
            if e["metric"] == "coverage":
                coverage.setdefault(e["lf"], {})[at] = e["current"]
    assert {s["label"] for s in features["series"]} == set(expected)
    for column, points in expected.items():
        assert _points(features, column) == pytest.approx(points), column
    lf = _series(html, "chart-lf-coverage")
    assert lf["series"]  # the LFs that moved most
    for s in lf["series"]:
        assert _points(lf, s["label"]) == pytest.approx(coverage[s["label"]]), s["label"]
    assert _series(html, "chart-text-drift")["series"][0]["label"] == "domain classifier AUC"
    assert '<div class="chart-svg"><svg role="img" aria-labelledby="chart-lf-coverage-title' in html


def test_chart_data_cannot_end_its_script_block() -> None:
    t0 = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    label = "</script><script>alert(1)</script> & <!--"
    markup = str(
        time_chart(
            [Series(label, [t0, t0 + dt.timedelta(hours=1)], [0.5, float("nan")])],
            key="chart-x",
            title="T",
            ylabel="y",
        )
    )
    block = markup.split('<script type="application/json" id="chart-x-data">', 1)[1]
    text, rest = block.split("</script>", 1)
    assert rest == ""  # the only </script> is the block's own
    data = json.loads(text)
    assert data["series"][0]["label"] == label
    assert data["x"] == [_epoch(t0), _epoch(t0) + 3600]
    assert data["series"][0]["y"] == [0.5, None]  # not a number: a gap, valid JSON
