"""Every dashboard page, with data and without, through FastAPI's TestClient."""

from __future__ import annotations

from collections.abc import Callable
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

PAGES = ["/ui/", "/ui/labeling", "/ui/models", "/ui/models/1", "/ui/monitoring", "/ui/review"]


def test_root_redirects_to_the_dashboard(
    ui_project: Path, ui_client: Callable[..., TestClient]
) -> None:
    client = ui_client(ui_project)
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/ui/"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_with_landmarks_and_headers(
    ui_project: Path, ui_client: Callable[..., TestClient], path: str
) -> None:
    response = ui_client(ui_project).get(path)
    assert response.status_code == 200, response.text
    html = response.text
    assert '<html lang="en">' in html
    assert '<nav aria-label="Main">' in html
    assert '<main id="main"' in html
    assert 'class="skip" href="#main"' in html
    assert 'aria-current="page"' in html
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    # nothing from another site: no CDN, no external font
    assert "https://" not in html.split("<main", 1)[0]


def test_overview_shows_serving_version_traffic_accuracy_and_alerts(
    ui_project: Path, ui_client: Callable[..., TestClient]
) -> None:
    html = ui_client(ui_project).get("/ui/").text
    assert 'href="/ui/models/1">v1</a>' in html
    assert "predictions in the last 24 h; 300 logged in all" in html
    assert "estimated without labels" in html
    assert 'id="chart-accuracy-title">Accuracy over time' in html
    assert 'id="chart-traffic-title">Predictions per hour' in html
    assert "Open alerts" in html


def test_labeling_lists_every_lf_distribution_and_conflicts(
    ui_project: Path, ui_client: Callable[..., TestClient]
) -> None:
    from weakflow.pipeline import Project, load_lf_module

    html = ui_client(ui_project).get("/ui/labeling").text
    proj = Project.load(ui_project)
    for lf in load_lf_module(proj.path(proj.config.labeling.module)).lfs:
        assert f'<th scope="row">{lf.name}</th>' in html
    assert "Empirical accuracy (dev)" in html
    assert "Learned accuracy" in html
    assert "Label distribution" in html
    assert "Served predictions" in html
    assert "newest logged predictions with LF votes have LFs voting different classes" in html
    assert 'class="vote v1"' in html  # an LF's spam vote in a conflict example
    assert 'id="plot-lf-summary-title"' in html


def test_models_pages_show_versions_gates_lineage_card_and_history(
    ui_project: Path, ui_client: Callable[..., TestClient]
) -> None:
    client = ui_client(ui_project)
    html = client.get("/ui/models").text
    assert 'href="/ui/models/2">v2</a>' in html
    assert 'href="/ui/models/1">v1</a>' in html
    assert "History of <code>production</code>" in html
    assert "every gate passed" in html
    detail = client.get("/ui/models/1").text
    assert "Promotion gates" in detail
    assert "<code>f1_macro" in detail
    assert "Lineage" in detail
    assert "lfs.py" in detail
    assert "<h2>Model card: youtube-spam, version 1</h2>" in detail  # headings moved down
    assert "sign in</a> with a token that has the <code>admin</code> scope" in detail
    assert "<form" not in detail.split("Promote</h2>", 1)[1].split("</section>", 1)[0]


def test_monitoring_charts_drift_reliability_and_slices(
    ui_project: Path, ui_client: Callable[..., TestClient]
) -> None:
    html = ui_client(ui_project).get("/ui/monitoring").text
    assert "3 stored monitor windows" in html
    for chart in ("chart-feature-drift", "chart-text-drift", "chart-lf-coverage",
                  "plot-reliability", "plot-slices"):  # fmt: skip
        assert f'id="{chart}-title"' in html, chart
    assert "video = Eminem" in html


def test_review_page_shows_one_item_with_reasons(
    ui_project: Path, ui_client: Callable[..., TestClient]
) -> None:
    client = ui_client(ui_project)
    html = client.get("/ui/review").text
    assert "Item <strong>1</strong> of" in html
    assert "Why it is here" in html
    assert "What the model and the LFs say" in html
    blind = client.get("/ui/review?position=1&blind=1").text
    assert "Item <strong>2</strong> of" in blind
    assert "What the model and the LFs say" not in blind
    too_far = client.get("/ui/review?position=100000").text
    assert "Item <strong>" in too_far  # clamped to the last item


@pytest.mark.parametrize("path", PAGES)
def test_an_empty_project_gets_empty_states_not_errors(
    empty_project: Path, ui_client: Callable[..., TestClient], path: str
) -> None:
    if path == "/ui/models/1":
        response = ui_client(empty_project).get(path)
        assert response.status_code == 404
        assert "Nothing is registered yet: run `weakflow run` first." in unescape(response.text)
        return
    response = ui_client(empty_project).get(path)
    assert response.status_code == 200, response.text
    assert 'class="empty"' in unescape(response.text)
    assert "weakflow run" in unescape(response.text) or "weakflow serve" in response.text


def test_a_trained_project_without_traffic_says_how_to_get_some(
    served_project: Path, ui_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    from uikit import copy_project

    project = copy_project(served_project, tmp_path / "p")
    client = ui_client(project)
    for path in ("/ui/", "/ui/review", "/ui/labeling"):
        html = client.get(path).text
        assert "No prediction has been logged yet" in html, path
    assert "No monitor window yet" in unescape(client.get("/ui/monitoring").text)


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/ui/models/x", 422, "version: must be a whole number, got 'x'"),
        ("/ui/models/99", 404, "No version 99 of model 'youtube-spam'"),
        ("/ui/review?position=abc", 422, "position: must be a whole number"),
    ],
)
def test_bad_requests_name_the_field(
    ui_project: Path, ui_client: Callable[..., TestClient], path: str, status: int, field: str
) -> None:
    client = ui_client(ui_project)
    response = client.get(path)
    assert response.status_code == status
    assert field in unescape(response.text)
    as_json = client.get(path, headers={"Accept": "application/json"})
    assert as_json.status_code == status
    assert field in str(as_json.json()["detail"])


def test_static_files_are_served_from_the_package(
    ui_project: Path, ui_client: Callable[..., TestClient]
) -> None:
    client = ui_client(ui_project)
    css = client.get("/ui/static/ui.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    js = client.get("/ui/static/ui.js")
    assert js.status_code == 200
    assert "review-form" in js.text
