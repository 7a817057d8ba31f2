"""Headless Chromium on a phone-sized viewport: the department handler reports progress with a
photo on its project; the town leader generates the half-year report as a PDF and the page
follows the job to the download link.

Runs ``towngrid demo`` in a subprocess on a free port with its own data directory at the test
scale (SQLite). Skipped when /usr/bin/chromium is missing, unless CI is set.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from tests.browser.support import CHROMIUM_ARGS, REPO, chromium, serve_demo  # noqa: F401

pytestmark = pytest.mark.browser

PASSWORD = "towngrid-demo"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def programs_server(chromium, tmp_path_factory):  # noqa: F811
    with serve_demo(tmp_path_factory, "programs-demo") as server:
        yield server


def _login(page, base: str, username: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("[data-testid=login-username]", username)
    page.fill("[data-testid=login-password]", PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_load_state()


def test_progress_on_a_phone_and_the_half_year_pdf(programs_server, chromium, tmp_path):  # noqa: F811
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect, sync_playwright

    base = programs_server["url"]
    photo = tmp_path / "site.jpg"
    Image.new("RGB", (120, 90), (40, 120, 200)).save(photo, "JPEG")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=PHONE, locale="zh-CN")
            page = context.new_page()
            _login(page, base, "handler")
            page.goto(base + "/programs/")
            expect(page.get_by_test_id("project-3")).to_contain_text("95%")
            page.get_by_test_id("project-10").click()
            expect(page.get_by_test_id("project-percent")).to_have_text("60%")
            form = page.get_by_test_id("progress-form")
            form.locator("textarea[name=text]").fill("御桥、五星、南新三村封闭化基建全面完工。")
            form.locator("input[name=percent]").fill("75")
            form.locator("input[name=photos]").set_input_files(str(photo))
            form.locator("button[type=submit]").click()
            expect(page.get_by_test_id("project-percent")).to_have_text("75%")
            expect(page.get_by_test_id("progress-log")).to_contain_text("三村封闭化基建全面完工")
            expect(page.get_by_test_id("progress-log").locator("img")).to_have_count(1)
            context.close()

            context = browser.new_context(viewport=PHONE, locale="zh-CN", accept_downloads=True)
            page = context.new_page()
            _login(page, base, "leader")
            page.goto(base + "/reports/half-year/")
            page.get_by_test_id("halfyear-period").select_option("2023H1")
            page.get_by_test_id("halfyear-pdf").click()
            progress = page.get_by_test_id("job-progress")
            expect(progress).to_have_attribute("data-status", "done", timeout=120_000)
            with page.expect_download() as info:
                page.get_by_test_id("job-download").click()
            data = Path(info.value.path()).read_bytes()
            context.close()
        finally:
            browser.close()
    from pypdf import PdfReader

    text = "".join(pg.extract_text() for pg in PdfReader(io.BytesIO(data)).pages)
    assert "城中村物业化管理" in text.replace("\n", "")
