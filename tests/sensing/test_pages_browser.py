"""Headless Chromium on the served demo town's sensing pages: the alarm board's map draws the
alarms, a pump station's page draws its ECharts series with the warning and danger lines, the
pump panel draws every station, and an alarm is acknowledged from the board.

Serves the demo town (``towngrid demo --scale 0.02``, its sensing part included) in a
subprocess with its own data directory on a free port; skipped when /usr/bin/chromium is
missing, unless CI is set. Screenshots go to the test's temporary directory.
"""

from __future__ import annotations

import os

import pytest

from tests.browser.support import CHROMIUM_ARGS, chromium, serve_demo  # noqa: F401

pytestmark = pytest.mark.browser
PASSWORD = "towngrid-demo"


@pytest.fixture(scope="module")
def demo_server(chromium, tmp_path_factory):  # noqa: F811
    with serve_demo(tmp_path_factory, "sensing-demo") as server:
        yield server


@pytest.fixture
def browser_page(chromium):  # noqa: F811
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        try:
            yield page
        finally:
            context.close()
            browser.close()


def login(page, base: str, username: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("[data-testid=login-username]", username)
    page.fill("[data-testid=login-password]", PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_load_state("networkidle")


def test_alarm_board_device_chart_and_pump_panel(demo_server, browser_page, tmp_path):  # noqa: F811
    page, base = browser_page, demo_server["url"]
    login(page, base, "shiftlead")

    page.goto(base + "/sensing/?status=all")
    page.wait_for_selector("#alarm-map[data-ready=true]")
    markers = int(page.get_attribute("#alarm-map", "data-markers"))
    rows = page.locator("[data-testid=alarm-row]").count()
    assert markers > 0 and rows > 0
    assert page.locator(".leaflet-interactive").count() >= 1
    page.screenshot(path=str(tmp_path / "alarms.png"), full_page=True)

    # Acknowledge the first unacknowledged alarm from the board.
    active = base + "/sensing/?status=active"
    page.goto(active)
    button = page.locator("[data-testid=alarm-ack]").first
    if button.count():
        before = page.locator("[data-testid=alarm-ack]").count()
        button.click()
        page.wait_for_load_state("networkidle")
        assert "告警已确认" in page.content()
        assert page.locator("[data-testid=alarm-ack]").count() == before - 1

    page.goto(base + "/sensing/devices/BC-PS01/")
    page.wait_for_selector("#device-chart[data-ready=true]")
    assert int(page.get_attribute("#device-chart", "data-points")) > 10
    assert page.locator("[data-testid=metric-chips] button").count() >= 3
    page.screenshot(path=str(tmp_path / "device.png"), full_page=True)

    page.goto(base + "/sensing/pumps/")
    page.wait_for_selector("#pump-chart[data-ready=true]")
    assert int(page.get_attribute("#pump-chart", "data-series")) == 10
    assert int(page.get_attribute("#pump-chart", "data-points")) > 100
    assert page.locator("[data-testid=pump-card]").count() == 10
    page.screenshot(path=str(tmp_path / "pumps.png"), full_page=True)
    assert page.errors == []
