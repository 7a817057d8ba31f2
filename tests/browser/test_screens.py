"""Headless Chromium against a served demo town with cases: the big screen (一屏观天下) at
1920×1080 draws its map, KPI tiles and charts; the phone drill-down (分级明细) goes from the town
down to a micro-grid and to the cases its figure counts.

Runs ``towngrid demo --cases N`` in a subprocess on a free port with its own data directory
(always SQLite). Skipped when /usr/bin/chromium is missing, unless CI is set. With
TOWNGRID_SCREENSHOT set, the pictures go to docs/screen.png and docs/drilldown.png (the README's);
otherwise into the test's temporary directory.
"""

import os
import re
from pathlib import Path

import pytest

from .support import CHROMIUM_ARGS, REPO, chromium, serve_demo  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

DEMO_USER, DEMO_PASSWORD = "leader", "towngrid-demo"
CASES = 150  # enough for every chart and a figure in most communities; played in ~20 s
MICRO_GRIDS = 317
SCALE = "0.02"  # the registry at the test suite's scale: the screens need cases, not houses


@pytest.fixture(scope="module")
def demo_server(chromium, tmp_path_factory):  # noqa: F811
    with serve_demo(tmp_path_factory, cases=CASES, scale=SCALE) as server:
        yield server


@pytest.fixture(scope="module")
def browser(chromium):  # noqa: F811
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _page(browser, **context_args):
    context = browser.new_context(locale="zh-CN", **context_args)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on(
        "response", lambda r: r.status >= 400 and page.errors.append(f"HTTP {r.status} {r.url}")
    )
    return context, page


def _login(page, base: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("[data-testid=login-username]", DEMO_USER)
    page.fill("[data-testid=login-password]", DEMO_PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_url(base + "/")


def _shot(tmp_path: Path, name: str) -> Path:
    if os.environ.get("TOWNGRID_SCREENSHOT"):
        path = REPO / "docs" / name
        path.parent.mkdir(exist_ok=True)
        return path
    return tmp_path / name


def _number(text: str) -> int:
    return int(re.sub(r"[^0-9]", "", text) or 0)


def test_big_screen(demo_server, browser, tmp_path):
    base = demo_server["url"]
    context, page = _page(browser, viewport={"width": 1920, "height": 1080})
    try:
        _login(page, base)
        # The demo's six months (the live AI-camera cases of today are on the day tile).
        page.goto(base + "/reports/screen/?period=2023H1")
        try:
            page.wait_for_selector("#screen[data-ready=true]")
        except Exception as exc:
            raise AssertionError(f"the screen was not drawn: {page.errors}") from exc
        assert page.locator(".kpi").count() == 10
        period = page.locator('[data-kpi="period"] .kpi-num').inner_text()
        assert _number(period) >= CASES, period
        assert page.locator("#screen-map path.leaflet-interactive").count() == MICRO_GRIDS
        for chart in ("chart-trend", "chart-categories"):
            assert page.locator(f"#{chart} canvas").count() >= 1
        assert page.locator("#feed-cases li").count() >= 10
        # Nothing scrolls: the screen fits the wall.
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height <= 1080, height
        # The page polls its JSON feed by itself (every 30 s; ``refresh`` shortens it here).
        with page.expect_response(
            lambda r: "/reports/screen/data/" in r.url, timeout=15_000
        ) as got:
            page.goto(base + "/reports/screen/?period=2023H1&refresh=2")
        assert got.value.status == 200
        page.wait_for_selector("#screen[data-ready=true]")
        assert _number(page.locator('[data-kpi="period"] .kpi-num').inner_text()) >= CASES
        page.wait_for_timeout(500)
        shot = _shot(tmp_path, "screen.png")
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 50_000
        assert page.errors == [], page.errors
    finally:
        context.close()


def test_phone_drilldown_to_the_cases(demo_server, browser, tmp_path):
    base = demo_server["url"]
    context, page = _page(
        browser,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    try:
        _login(page, base)
        page.goto(base + "/reports/")
        assert page.locator("[data-testid=drill-node]").inner_text() == "北蔡镇"
        # The demo's half-year, chosen in the period form as a user would.
        page.select_option("[data-testid=period-select]", "2023H1")
        page.click("[data-testid=period-form] button[type=submit]")
        page.wait_for_load_state()
        assert "2023-01-01" in page.locator("[data-testid=drill-period]").inner_text()
        total = _number(page.locator("[data-testid=drill-kpis] .stat-num").first.inner_text())
        assert total >= CASES
        shot = _shot(tmp_path, "drilldown.png")
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 20_000
        # Town → area → community → micro-grid, always through a figure.
        for level in range(3):
            rows = page.locator("[data-testid=table-children] tbody tr")
            link = None
            for i in range(rows.count()):
                cell = rows.nth(i).locator("td.num a").first
                if cell.count() and _number(cell.inner_text()) > 0:
                    link = cell
                    break
            assert link is not None, f"no figure to follow at level {level + 1}"
            figure = _number(link.inner_text())
            link.click()
            page.wait_for_load_state()
        # At the community, a micro-grid's figure opens the list of its cases.
        assert "/reports/cases/" in page.url, page.url
        assert _number(page.locator("[data-testid=figure-count]").inner_text()) == figure
        items = page.locator("[data-testid=figure-cases] li a")
        assert items.count() == min(figure, 30)
        items.first.click()
        page.wait_for_url(re.compile(r"/cases/[A-Z0-9-]+/$"))
        assert page.errors == [], page.errors
    finally:
        context.close()
