# ruff: noqa: F401, F811 - fixtures imported from the other browser tests
"""Headless Chromium on the residents' page: a resident on a phone (no login) searches a problem
type by pinyin initials, pins the place, adds a photo and submits; the receipt gives the tracking
link; the registrar accepts the case in the operations centre; the tracking page then shows
受理 and the photo, and no personal data."""

import pytest

from .support import CHROMIUM_ARGS, chromium
from .test_case_workflow import (
    DESKTOP,
    PHONE,
    Session,
    _point_in_my_grid,
    browser,
    jpeg,
    server,
)
from .test_grid_map import demo_server

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
    # A gas hazard with a smell of gas is an emergency: the page says whom to phone and will not
    # submit.
    page.fill("[data-testid=category-search]", "燃气安全隐患")
    page.locator("[data-testid=category-option]").first.click()
    assert page.input_value("[data-testid=category-select]") == "E1101"
    page.check("input[name='attribute[gas_smell]'][value=yes]")
    assert "962777" in page.inner_text("[data-testid=stop-message]")
    assert page.is_disabled("[data-testid=resident-submit]")
    page.check("input[name='attribute[gas_smell]'][value=no]")
    assert page.is_hidden("[data-testid=stop-message]")
    assert page.is_enabled("[data-testid=resident-submit]")

    page.fill("[data-testid=category-search]", "bllj")
    page.locator("[data-testid=category-option]").first.click()
    assert page.input_value("[data-testid=category-select]") == "E0102"
    assert page.is_hidden("[data-testid=question-gas_smell]")
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
    # The next resident at the same place is offered the open report instead of a new one.
    page.goto(base + "/report/")
    page.wait_for_selector("[data-testid=resident-map][data-ready=true]")
    page.fill("[data-testid=category-search]", "bllj")
    page.locator("[data-testid=category-option]").first.click()
    page.evaluate(
        "([x, y]) => { document.getElementById('id_lng').value = x; "
        "document.getElementById('id_lat').value = y; "
        "document.getElementById('id_category').dispatchEvent(new Event('change')); }",
        [lng, lat],
    )
    page.wait_for_selector("[data-testid=nearby-cases][data-count='1']")
    page.click("[data-testid=nearby-link]")
    assert page.inner_text("[data-testid=track-status]") == "待核实"
    assert errors == [], errors
    context.close()
