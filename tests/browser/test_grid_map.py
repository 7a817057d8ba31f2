"""Headless Chromium against a served demo town: log in → the grid map draws all 317
micro-grids → open a grid page with its name and staff.

Runs ``towngrid demo`` in a subprocess on a free port with its own data directory (always SQLite:
DATABASE_URL is removed from its environment). Skipped when /usr/bin/chromium is missing, unless
CI is set. With TOWNGRID_SCREENSHOT set, the map screenshot goes to docs/screenshot.png (the
README's picture); otherwise into the test's temporary directory.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_USER, DEMO_PASSWORD = "leader", "towngrid-demo"
MICRO_GRIDS = 317
START_TIMEOUT = 120
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def demo_server(chromium, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("demo-data")
    port = _free_port()
    # Always the embedded SQLite in the temporary data dir, even when the suite runs against
    # PostgreSQL, and never production mode (which refuses the demo).
    drop = {"DATABASE_URL", "TOWNGRID_PRODUCTION", "TOWNGRID_SECRET_KEY"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["TOWNGRID_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    log_path = data_dir / "server.log"
    log = log_path.open("w")
    cmd = [
        sys.executable,
        "-m",
        "towngrid",
        "demo",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--no-progress",
        # The browser tests make their own cases; the six demo months are tested in tests/demo.
        "--cases",
        "0",
        # The registry at the test suite's scale: Beicai's full scale takes minutes to build.
        "--scale",
        "0.02",
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)

    def output() -> str:
        log.flush()
        return log_path.read_text(errors="replace")[-5000:]

    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(port):
            if proc.poll() is not None:
                pytest.fail(f"towngrid demo exited with {proc.returncode}:\n{output()}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"towngrid demo did not answer on port {port} in {START_TIMEOUT} s:\n{output()}"
                )
            time.sleep(0.5)
        yield {"url": f"http://127.0.0.1:{port}", "data_dir": data_dir, "output": output}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


@pytest.fixture
def page(chromium):
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
