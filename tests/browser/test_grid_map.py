"""Headless Chromium against a served demo town: log in → the grid map draws all 317
micro-grids → open a grid page with its name and staff.

Runs ``towngrid demo`` in a subprocess on a free port with its own data directory (always SQLite:
DATABASE_URL is removed from its environment). Skipped when /usr/bin/chromium is missing, unless
CI is set. With TOWNGRID_SCREENSHOT set, the map screenshot goes to docs/screenshot.png (the
README's picture); otherwise into the test's temporary directory.
"""

import os
from pathlib import Path

import pytest

from .support import CHROMIUM_ARGS, REPO, chromium, serve_demo  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

DEMO_USER, DEMO_PASSWORD = "leader", "towngrid-demo"
MICRO_GRIDS = 317


@pytest.fixture(scope="module")
def demo_server(chromium, tmp_path_factory):  # noqa: F811
    with serve_demo(tmp_path_factory) as server:
        yield server


@pytest.fixture
def page(chromium):  # noqa: F811
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.on(
            "response",
            lambda r: r.status >= 400 and page.errors.append(f"HTTP {r.status} {r.url}"),
        )
        try:
            yield page
        finally:
            context.close()
            browser.close()


def _screenshot_path(tmp_path: Path) -> Path:
    if os.environ.get("TOWNGRID_SCREENSHOT"):
        path = REPO / "docs" / "screenshot.png"
        path.parent.mkdir(exist_ok=True)
        return path
    return tmp_path / "screenshot.png"


def test_login_grid_map_and_grid_page(demo_server, page, tmp_path):
    base = demo_server["url"]
    # Anonymous: the home page sends us to the login page.
    page.goto(base + "/")
    assert "/accounts/login/" in page.url, demo_server["output"]()
    page.fill("[data-testid=login-username]", DEMO_USER)
    page.fill("[data-testid=login-password]", DEMO_PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_url(base + "/")
    assert page.locator("[data-testid=home-title]").inner_text() == "北蔡镇"

    # The grid map: every micro-grid of the town is drawn.
    page.click("[data-testid=nav-grid-map]")
    page.wait_for_url(base + "/grids/")
    try:
        page.wait_for_selector("#map[data-ready=true]")
    except Exception as exc:  # say why: a missing static file, a script error …
        raise AssertionError(f"the map was not drawn: {page.errors}") from exc
    drawn = page.get_attribute("[data-testid=grid-map]", "data-drawn-micro-count")
    assert drawn == str(MICRO_GRIDS)
    assert page.locator("[data-testid=micro-polygon]").count() == MICRO_GRIDS
    page.locator('.tree-node[data-level="2"] > details').first.evaluate("d => { d.open = true; }")
    page.wait_for_timeout(300)  # let the fit animation settle for the picture
    shot = _screenshot_path(tmp_path)
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000

    # Find a micro-grid in the tree by name, zoom to it, then click its polygon on the map.
    first = page.locator('.tree-node[data-level="4"]').first
    code, name = first.get_attribute("data-code"), first.locator(".tree-label").text_content()
    page.fill("[data-testid=tree-search]", name)
    assert page.locator(f'.tree-node[data-code="{code}"]').is_visible()
    page.press("[data-testid=tree-search]", "Enter")
    page.wait_for_selector("[data-testid=map-info]:not([hidden])")
    assert page.locator("#map-info-name").inner_text() == name
    page.wait_for_timeout(800)  # the fly-to animation
    page.locator(f'[data-testid=micro-polygon][data-code="{code}"]').click()

    # The grid page: its name, code and the people on duty.
    page.wait_for_url(f"{base}/grids/{code}/")
    assert page.locator("[data-testid=grid-name]").inner_text() == name
    assert page.locator("[data-testid=grid-code]").inner_text() == code
    rows = page.locator("[data-testid=duty-row]")
    assert rows.count() >= 3
    staff_text = page.locator("[data-testid=grid-staff]").inner_text()
    for post in ["网格长", "专职网格员", "兼职网格员"]:
        assert post in staff_text
    page.wait_for_selector("#node-map[data-ready=true]")

    # English is one click away, and back.
    page.click("[data-testid=lang-en]")
    page.wait_for_url(f"{base}/grids/{code}/")
    assert "Staff on duty" in page.locator("[data-testid=grid-staff]").inner_text()
    page.click("[data-testid=lang-zh]")
    page.wait_for_url(f"{base}/grids/{code}/")
    assert "在岗人员" in page.locator("[data-testid=grid-staff]").inner_text()

    assert page.errors == [], page.errors
