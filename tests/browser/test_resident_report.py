# ruff: noqa: F401, F811 - fixtures imported from the other browser tests
"""Headless Chromium on the residents' page: a resident on a phone (no login) searches a problem
type by pinyin initials, pins the place, adds a photo and submits; the receipt gives the tracking
link; the registrar accepts the case in the operations centre; the tracking page then shows
受理 and the photo, and no personal data."""

import pytest

from .test_case_workflow import (
    DESKTOP,
    PHONE,
    Session,
    _point_in_my_grid,
    browser,
    jpeg,
    server,
)
from .test_grid_map import CHROMIUM_ARGS, chromium, demo_server

pytestmark = pytest.mark.browser


def test_resident_reports_and_follows_progress(server, browser, tmp_path):
    base = server["url"]
    worker = Session(browser, base, "gridworker", PHONE)
    lng, lat = _point_in_my_grid(worker)
    worker.close()

    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(base + "/report/")
    page.wait_for_selector("[data-testid=resident-map][data-ready=true]")
    page.fill("[data-testid=category-search]", "bllj")
    assert page.input_value("[data-testid=category-select]") == "E0102"
    box = page.locator("[data-testid=resident-map]").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert page.get_attribute("[data-testid=resident-map]", "data-point")
    # The exact place inside a micro-grid, as a precise tap would give it.
    page.evaluate(
        "([x, y]) => { document.getElementById('id_lng').value = x; "
        "document.getElementById('id_lat').value = y; }",
        [lng, lat],
    )
    page.fill("[data-testid=description]", "小区门口垃圾堆放，居民网页上报")
    page.fill("input[name=name]", "王五")
    page.fill("input[name=phone]", "13700137000")
    page.set_input_files("[data-testid=photos]", str(jpeg(tmp_path / "p.jpg", (200, 60, 60))))
    with page.expect_navigation():
        page.click("[data-testid=resident-submit]")
    number = page.inner_text("[data-testid=case-number]")
    track = page.get_attribute("[data-testid=track-link]", "href")
    assert number.startswith("BC") and number in track

    registrar = Session(browser, base, "registrar", DESKTOP)
    registrar.open_case(number)
    registrar.act("accept")
    registrar.close()

    page.goto(track)
    assert page.inner_text("[data-testid=track-status]") == "待核实"
    timeline = page.inner_text("[data-testid=track-timeline]")
    assert "已上报" in timeline and "已受理" in timeline
    assert page.locator("[data-testid=track-timeline] img").count() == 1
    body = page.content()
    assert "王五" not in body and "13700137000" not in body
    assert errors == [], errors
    context.close()
