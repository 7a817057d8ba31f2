"""Headless Chromium through one case's whole life in the pages, each step by the role that
takes it: the grid worker reports on a phone (category search, a photo whose EXIF position sets
the location) → the registrar accepts → the shift lead opens → the dispatcher dispatches to the
handler's department → the handler handles with an after-photo and feeds back → the grid worker
re-checks on the phone → the shift lead closes. The case page then shows 已结案 and every step in
its timeline.

Uses the same served demo town as test_grid_map.py (``towngrid demo`` in a subprocess with its own
data directory), with the category catalogue installed into it. Skipped when /usr/bin/chromium is
missing, unless CI is set. With TOWNGRID_SCREENSHOT set, pictures of the pages go to docs/.
"""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .support import CHROMIUM_ARGS, REPO, chromium  # noqa: F401 (fixtures)
from .test_grid_map import demo_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

PASSWORD = "towngrid-demo"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
HANDLER_DEPARTMENT = "城市运行管理中心"
STEPS = ["上报", "受理", "立案", "派遣", "处置", "处理反馈", "核查通过", "结案"]


@pytest.fixture(scope="module")
def server(demo_server):  # noqa: F811
    """The demo server with the case categories installed (idempotent if the demo has them)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TOWNGRID_PRODUCTION"}}
    env["TOWNGRID_DATA_DIR"] = str(demo_server["data_dir"])
    done = subprocess.run(
        [sys.executable, "-m", "towngrid", "cases_catalogue"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return demo_server


@pytest.fixture
def browser(chromium):  # noqa: F811
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _dms(value: float) -> tuple:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return (degrees, minutes, seconds)


def jpeg(path: Path, colour, gps: tuple[float, float] | None = None) -> Path:
    """A small JPEG; with ``gps`` (lng, lat) its EXIF carries that position, like a phone's."""
    from PIL import Image

    image = Image.new("RGB", (320, 240), colour)
    exif = Image.Exif()
    if gps is not None:
        ifd = exif.get_ifd(0x8825)
        ifd[1], ifd[2] = "N", _dms(gps[1])
        ifd[3], ifd[4] = "E", _dms(gps[0])
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif.tobytes())
    path.write_bytes(buf.getvalue())
    return path


class Session:
    """One user signed in, in a browser context of their own; collects page errors."""

    def __init__(self, browser, base: str, username: str, viewport: dict):
        self.base = base
        self.context = browser.new_context(viewport=viewport, locale="zh-CN")
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on(
            "response",
            lambda r: r.status >= 500 and self.errors.append(f"HTTP {r.status} {r.url}"),
        )
        self.page.goto(base + "/accounts/login/")
        self.page.fill("[data-testid=login-username]", username)
        self.page.fill("[data-testid=login-password]", PASSWORD)
        self.page.click("[data-testid=login-submit]")
        self.page.wait_for_url(base + "/")

    def open_case(self, number: str) -> None:
        self.page.goto(f"{self.base}/cases/{number}/")

    def act(self, action: str, fill=None) -> None:
        """Open the action's form on the case page, fill it, submit, and wait for the result."""
        page = self.page
        page.click(f"[data-testid=action-{action}]")
        form = page.locator(f"[data-testid=form-{action}]")
        form.wait_for(state="visible")
        if fill:
            fill(form)
        with page.expect_navigation():
            form.locator(f"[data-testid=submit-{action}]").click()
        alert = page.locator("[data-testid=conflict], [data-testid=action-error], .field-error")
        assert alert.count() == 0, alert.first.inner_text()

    def status(self) -> str:
        return self.page.locator(".case-head [data-testid=status-badge]").inner_text()

    def close(self) -> None:
        assert self.errors == [], self.errors
        self.context.close()


def _point_in_my_grid(session: Session) -> tuple[float, float]:
    """A point inside the grid worker's micro-grid, from the grid API (as the page sees it)."""
    from shapely.geometry import shape

    response = session.page.request.get(session.base + "/api/v1/grids/geojson/?level=4")
    assert response.ok, response.status
    features = response.json()["features"]
    assert features, "the grid worker sees no micro-grid"
    point = shape(features[0]["geometry"]).representative_point()
    return round(point.x, 6), round(point.y, 6)


def _shot(page, tmp_path: Path, name: str) -> None:
    folder = REPO / "docs" if os.environ.get("TOWNGRID_SCREENSHOT") else tmp_path
    page.screenshot(path=str(folder / f"case-{name}.png"), full_page=True)


def test_one_case_through_every_step(server, browser, tmp_path):
    base = server["url"]

    # 1. The grid worker reports on the phone: category search, photo with GPS → location.
    worker = Session(browser, base, "gridworker", PHONE)
    page = worker.page
    page.click(".nav-burger")  # on a phone the menu is behind the burger
    page.click("[data-testid=nav-report]")
    page.wait_for_url(base + "/cases/report/")
    page.wait_for_selector("#report-map[data-ready=true]")
    lng, lat = _point_in_my_grid(worker)
    page.fill("[data-testid=category-search]", "暴露垃圾")
    page.locator("[data-testid=category-option]").first.click()
    assert (
        page.locator("[data-testid=category-select] option:checked")
        .inner_text()
        .startswith("暴露垃圾")
    )
    page.fill("[data-testid=description]", "小区东门绿化带旁堆放生活垃圾约三袋，有异味。")
    page.fill("[data-testid=address]", "联勤路 88 号东门")
    before = jpeg(tmp_path / "before.jpg", (150, 110, 60), gps=(lng, lat))
    page.set_input_files("[data-testid=photos]", str(before))
    page.wait_for_selector("[data-testid=use-exif]")
    page.click("[data-testid=use-exif]")
    page.wait_for_selector("[data-testid=location-status].loc-ok")
    assert "位于" in page.locator("[data-testid=location-status]").inner_text()
    _shot(page, tmp_path, "report-phone")
    with page.expect_navigation():
        page.click("[data-testid=report-submit]")
    page.wait_for_selector("[data-testid=receipt]")
    number = page.locator("[data-testid=receipt-number]").inner_text().strip()
    assert number.startswith("BC")
    page.click("[data-testid=receipt-open]")
    page.wait_for_url(f"{base}/cases/{number}/")
    assert worker.status() == "待受理"
    assert page.locator("[data-testid=photos-before] img").count() == 1

    # 2–4. The operations centre on desktop: accept, open, dispatch.
    registrar = Session(browser, base, "registrar", DESKTOP)
    registrar.page.click("[data-testid=nav-queue]")
    registrar.page.locator(f"[data-testid=queue-item][data-number='{number}'] a").click()
    registrar.page.wait_for_url(f"{base}/cases/{number}/")
    registrar.act("accept")
    assert registrar.status() == "待立案"  # a grid worker's own report needs no verification
    registrar.close()

    shiftlead = Session(browser, base, "shiftlead", DESKTOP)
    shiftlead.open_case(number)
    shiftlead.act("open")
    assert shiftlead.status() == "待派遣"

    dispatcher = Session(browser, base, "dispatcher", DESKTOP)
    dispatcher.open_case(number)
    dispatcher.act(
        "dispatch",
        lambda form: form.locator("select").select_option(label=HANDLER_DEPARTMENT),
    )
    assert dispatcher.status() == "待处置"
    dispatcher.close()

    # 5. The department handles with an after-photo, then feeds back.
    handler = Session(browser, base, "handler", DESKTOP)
    handler.page.goto(base + "/cases/mine/")
    assert handler.page.locator(f"[data-testid=queue-item][data-number='{number}']").count() == 1
    handler.open_case(number)
    after = jpeg(tmp_path / "after.jpg", (60, 160, 80))

    def handle(form):
        form.locator("textarea").fill("已安排保洁员清运，现场已冲洗。")
        form.locator("[data-testid=handle-photos]").set_input_files(str(after))

    handler.act("handle", handle)
    assert handler.page.locator("[data-testid=photos-after] img").count() == 1
    handler.act("feedback", lambda form: form.locator("textarea").fill("处置完毕，请核查。"))
    assert handler.status() == "待核查"
    handler.close()

    # 6. The grid worker re-checks on the phone.
    worker.open_case(number)
    worker.act("recheck", lambda form: form.locator("textarea").fill("现场核查已清理干净。"))
    assert worker.status() == "待结案"
    _shot(worker.page, tmp_path, "detail-phone")
    worker.close()

    # 7. The shift lead closes; the case page shows the whole story.
    shiftlead.open_case(number)
    shiftlead.act("close")
    page = shiftlead.page
    assert shiftlead.status() == "已结案"
    labels = page.locator("[data-testid=timeline-item] .tl-label").all_inner_texts()
    assert labels == STEPS, labels
    timeline = page.locator("[data-testid=case-timeline]").inner_text()
    for name in ["城运受理员", "城运值班长", "城运派遣员", "部门处置员", HANDLER_DEPARTMENT]:
        assert name in timeline, name
    assert page.locator("[data-testid=photos-before] img").count() == 1
    assert page.locator("[data-testid=photos-after] img").count() == 1
    # The photos are real images served through the scoped view.
    src = page.locator("[data-testid=photos-after] img").first.get_attribute("src")
    assert page.request.get(base + src).headers["content-type"].startswith("image/")
    page.wait_for_selector("#case-map[data-ready=true]")
    _shot(page, tmp_path, "detail-desktop")
    shiftlead.close()
