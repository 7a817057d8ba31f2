"""Headless Chromium on a phone-sized viewport (390 × 844) with the geolocation permission granted
and the position set at a demo house: open the house's scan URL (the public card) → log in as
the grid worker → the full card → check in → report a problem → the case exists with the house
as its subject (checked through the API).

Runs ``towngrid demo`` in a subprocess on a free port with its own data directory at the test
scale (SQLite; DATABASE_URL is removed). Skipped when /usr/bin/chromium is missing, unless CI is
set.
"""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from .support import CHROMIUM_ARGS, REPO, chromium, serve_demo  # noqa: F401

pytestmark = pytest.mark.browser

PASSWORD = "towngrid-demo"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def scan_server(chromium, tmp_path_factory):  # noqa: F811
    with serve_demo(tmp_path_factory, "scan-demo") as server:
        yield server["url"]


def _api(base: str, path: str, token: str | None = None, data: dict | None = None) -> dict:
    headers = {"Accept": "application/json"}
    body = None
    if data is not None:
        body = json.dumps(data).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(base + path, data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_scan_check_in_and_report_on_a_phone(scan_server, chromium):  # noqa: F811
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect, sync_playwright

    base = scan_server
    key = _api(base, "/api/v1/auth/token/", data={"username": "gridworker", "password": PASSWORD})
    key = key["token"]
    codes = _api(base, "/api/v1/codes/codes/?live=1&limit=500", key)["results"]
    house_code = next(c for c in codes if c["object_type"] == "house")
    token = house_code["token"]
    card = _api(base, f"/api/v1/codes/scan/{token}/", key)
    assert card["view"] == "full" and card["lng"] is not None
    scan_path = f"/c/{token}/"

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
            locale="zh-CN",
            geolocation={"longitude": card["lng"], "latitude": card["lat"], "accuracy": 10},
            permissions=["geolocation"],
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            # The scan URL: the public card, with the grid's people and how to report.
            page.goto(base + scan_path)
            expect(page.get_by_test_id("scan-public")).to_be_visible()
            expect(page.get_by_test_id("scan-title")).to_have_text(card["title"])
            page.get_by_test_id("worker-login").click()
            page.fill("[data-testid=login-username]", "gridworker")
            page.fill("[data-testid=login-password]", PASSWORD)
            page.click("[data-testid=login-submit]")
            # Back on the card, now the full one: live colour, check-in form.
            page.wait_for_url(f"**{scan_path}")
            expect(page.get_by_test_id("scan-full")).to_be_visible()
            expect(page.get_by_test_id("live-colour")).to_be_visible()
            expect(page.get_by_test_id("geo-status")).to_contain_text("已定位")
            page.get_by_text("楼道堆物").click()
            page.get_by_test_id("checkin-submit").click()
            expect(page.locator(".msg")).to_contain_text("签到成功")
            # Report a problem about the house.
            page.get_by_test_id("report-link").click()
            expect(page.get_by_test_id("report-place")).to_be_visible()
            select = page.get_by_test_id("category")
            first = select.locator("option:not([value=''])").first.get_attribute("value")
            select.select_option(first)
            page.get_by_test_id("description").fill("楼道内堆放大量纸箱，堵塞消防通道")
            page.get_by_test_id("report-submit").click()
            number = page.get_by_test_id("receipt-number").inner_text().strip()
            assert number
            assert page.evaluate("window.innerWidth") == PHONE["width"]
        finally:
            context.close()
            browser.close()
    assert not errors, errors

    # The case exists with the house as its subject; the check-in was near the house.
    after = _api(base, f"/api/v1/codes/scan/{token}/", key)
    assert number in [c["number"] for c in after["open_cases"]]
    case = _api(base, f"/api/v1/cases/{number}/", key)
    assert case["source"] == "code_scan"
    checkins = _api(base, "/api/v1/codes/checkins/?mine=1", key)["results"]
    mine = [c for c in checkins if c["object_id"] == card["object_id"]]
    assert mine and mine[0]["flagged_far"] is False and mine[0]["distance_m"] < 5
    assert mine[0]["findings"] == ["楼道堆物"]
