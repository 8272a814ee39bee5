"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

Against a real ``weakflow serve`` (the dashboard at /ui, pages behind a token): sign in, open
every page at 1366x768, promote v2 and roll it back through the forms, and review five items
with the keyboard, then find each change in the store; the time charts are drawn by the vendored
uPlot (a canvas with hover values) with no console error. Screenshots go to
``tests/ui/artifacts/`` (or ``$WEAKFLOW_UI_ARTIFACTS``), printed at the end.

Needs the ``playwright`` package and a Chromium binary (``/usr/bin/chromium``, Debian package
``chromium``, or ``$WEAKFLOW_CHROMIUM``); never ``playwright install``. Without them the tests
skip with the reason printed, except under CI or ``WEAKFLOW_REQUIRE_SERVICES``, where they fail.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from uikit import (
    ARTIFACTS,
    MODEL,
    SCREENSHOTS,
    copy_project,
    feedback_rows,
    launch_server,
    make_token,
)

from weakflow.pipeline import Project
from weakflow.registry import open_registry

pytestmark = pytest.mark.slow

VIEWPORT = {"width": 1366, "height": 768}


def _chromium() -> str | None:
    wanted = os.environ.get("WEAKFLOW_CHROMIUM") or "/usr/bin/chromium"
    if Path(wanted).is_file():
        return wanted
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright)"
    if _chromium() is None:
        return "no Chromium at /usr/bin/chromium (apt-get install chromium) or $WEAKFLOW_CHROMIUM"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    why = _missing()
    if why is not None:
        if os.environ.get("WEAKFLOW_REQUIRE_SERVICES") or os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run: {why}; under CI they must.")
        print(f"\nSKIP: browser tests: {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=_chromium(), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(
    browser: Any, ui_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """``weakflow serve`` of a copy of the project, and a browser page signed in as admin."""
    project = copy_project(ui_project, tmp_path_factory.mktemp("browser") / "youtube")
    token = make_token(project, ["admin"], name="ops-admin")
    server = launch_server(project, tmp_path_factory.mktemp("server-log"))
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmation before a model move
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on(
        "response",
        lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield {"url": server.url + "/ui", "page": page, "project": project, "token": token,
               "errors": errors, "server": server}  # fmt: skip
    finally:
        context.close()
        server.stop()


def _shot(page: Any, name: str) -> None:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    SCREENSHOTS.append(path)


def _alias(project: Path) -> int | None:
    proj = Project.load(project)
    registry = open_registry(proj.state_dir, proj.config.store.url)
    try:
        return registry.alias_version(MODEL, "production")
    finally:
        registry.db.close()


#: The time charts each page draws with uPlot from its JSON data.
TIME_CHARTS = {
    "": ["chart-traffic", "chart-accuracy"],
    "/monitoring": ["chart-feature-drift", "chart-text-drift", "chart-lf-coverage"],
}


def _interactive_charts(page: Any, keys: list[str]) -> None:
    """Each chart is drawn by uPlot (a canvas), labelled, with its SVG hidden; hovering it puts
    the values under the cursor in its legend."""
    for key in keys:
        block = page.locator(f'[data-chart="{key}"]')
        plot = block.locator(".uplot")
        plot.wait_for(state="visible", timeout=5000)
        assert plot.locator("canvas").count() == 1, key
        box = plot.locator("canvas").bounding_box()
        assert box is not None
        assert box["width"] > 300, key
        assert box["height"] > 100, key
        assert block.locator(".chart-svg").is_hidden(), key  # the fallback steps aside
        live = block.locator(".chart-live")
        assert live.get_attribute("role") == "img"
        assert live.get_attribute("aria-labelledby") == f"{key}-title {key}-desc"
        assert page.locator(f"#{key}-title").text_content()  # the label it points to
    # hover values: the first chart's legend shows a number under the cursor
    first = page.locator(f'[data-chart="{keys[0]}"] .uplot')
    over = first.locator(".u-over")
    box = over.bounding_box()
    assert box is not None
    over.hover(position={"x": box["width"] - 5, "y": box["height"] / 2})
    values = first.locator(".u-legend .u-series .u-value").all_inner_texts()
    assert any(re.search(r"\d", v) for v in values[1:]), values


def test_sign_in_then_every_page_is_readable(site: dict[str, Any]) -> None:
    page, url = site["page"], site["url"]
    page.goto(url + "/monitoring")
    assert page.url.startswith(url + "/login?next=")  # pages need a token under serve
    _shot(page, "00-sign-in")
    page.get_by_label("API token").fill(site["token"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/monitoring")
    assert "Signed in as ops-admin" in page.locator("header").inner_text()
    pages = [
        ("", "Overview", "01-overview"),
        ("/labeling", "Labeling", "02-labeling"),
        ("/models", "Models", "03-models"),
        ("/models/1", "youtube-spam v1", "04-model-v1"),
        ("/monitoring", "Monitoring", "05-monitoring"),
        ("/review", "Review queue", "06-review"),
    ]
    for path, title, shot in pages:
        response = page.goto(url + path)
        assert response is not None, path
        assert response.status == 200, path
        assert page.locator("h1").inner_text() == title
        assert page.locator("main").count() == 1
        assert page.locator("nav").count() == 1
        # readable on a laptop: nothing wider than the window
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= VIEWPORT["width"], f"{path} is {width}px wide"
        for chart in page.locator("svg[role=img]").all():
            assert chart.get_attribute("aria-labelledby")
        if path in TIME_CHARTS:
            _interactive_charts(page, TIME_CHARTS[path])
        _shot(page, shot)
    # the navigation is keyboard-reachable: the skip link first, then the menu
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert site["errors"] == []


def test_promote_and_roll_back_through_the_ui(site: dict[str, Any]) -> None:
    page, url, project = site["page"], site["url"], site["project"]
    page.goto(url + "/models/2")
    page.get_by_label("Reason").fill("v2 looks better on the review set")
    page.get_by_label("I confirm").check()
    _shot(page, "07-promote-form")
    page.get_by_role("button", name="Promote v2").click()
    page.wait_for_url(url + "/models/2")
    assert "Promoted v2 to production (was v1)" in page.get_by_role("status").inner_text()
    _shot(page, "08-promoted")
    assert _alias(project) == 2
    page.goto(url + "/models")
    page.get_by_label("Reason").fill("rolling back: complaints from moderators")
    page.get_by_label("I confirm").check()
    page.get_by_role("button", name="Roll back").click()
    page.wait_for_url(url + "/models")
    assert "Rolled production back from v2 to v1" in page.get_by_role("status").inner_text()
    assert "rolling back: complaints from moderators" in page.locator("main").inner_text()
    _shot(page, "09-rolled-back")
    assert _alias(project) == 1
    proj = Project.load(project)
    registry = open_registry(proj.state_dir, proj.config.store.url)
    try:
        moves = registry.history(MODEL, "production")[-2:]
    finally:
        registry.db.close()
    assert [(m.action, m.to_version, m.actor) for m in moves] == [
        ("promote", 2, "ui:ops-admin"),
        ("rollback", 1, "ui:ops-admin"),
    ]


def test_review_five_items_with_the_keyboard(site: dict[str, Any]) -> None:
    page, url, project = site["page"], site["url"], site["project"]
    page.goto(url + "/review")
    reviewed = []
    for i in range(5):
        pid = page.locator("input[name=prediction_id]").get_attribute("value")
        reviewed.append(pid)
        if i == 0:
            _shot(page, "10-review-item")
        with page.expect_navigation():
            page.keyboard.press("1" if i % 2 == 0 else "2")
        assert "Saved" in page.get_by_role("status").inner_text()
    # s skips an item without storing anything
    skipped = page.locator("input[name=prediction_id]").get_attribute("value")
    with page.expect_navigation():
        page.keyboard.press("s")
    assert page.locator("input[name=prediction_id]").get_attribute("value") != skipped
    _shot(page, "11-reviewed")
    rows = [r for r in feedback_rows(project) if r["source"] == "review"]
    assert [r["prediction_id"] for r in rows] == reviewed
    assert [r["label"] for r in rows] == [0, 1, 0, 1, 0]
    assert {r["token_name"] for r in rows} == {"ops-admin"}
    assert skipped not in {r["prediction_id"] for r in rows}
    assert site["errors"] == []
