# ruff: noqa: F401, F811 - fixtures imported from the browser tests
"""Headless Chromium on a phone: a grid worker registers a house and a resident through the
forms, sees the identity number masked on the resident's page, reveals it with a reason (htmx,
shown once) and finds the reveal in the page's history; the list never shows it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.browser.support import chromium, serve_demo
from tests.browser.test_case_workflow import PHONE, Session, _point_in_my_grid, browser
from towngrid.core.checksums import make_id_number

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(chromium, tmp_path_factory):
    """``towngrid demo`` with a small registry (scale 0.02) and no cases, on a free port."""
    with serve_demo(tmp_path_factory, "registry-demo") as running:
        yield running


def test_register_and_reveal_on_a_phone(server, browser):
    from datetime import date

    base = server["url"]
    worker = Session(browser, base, "gridworker", PHONE)
    page = worker.page
    lng, lat = _point_in_my_grid(worker)

    page.goto(base + "/registry/")
    page.wait_for_selector("[data-testid=registry-counts]")
    page.goto(base + "/registry/houses/new/")
    page.wait_for_selector("#reg-pick-map[data-ready=true]")
    page.fill("#id_road", "浏览器路")
    page.fill("#id_lane", "9")
    page.fill("#id_room", "101")
    page.evaluate(
        "([x, y]) => { document.getElementById('id_lng').value = x; "
        "document.getElementById('id_lat').value = y; }",
        [lng, lat],
    )
    with page.expect_navigation():
        page.click("[data-testid=registry-save]")
    assert "浏览器路" in page.inner_text("[data-testid=registry-title]")

    # Add a resident from the house page.
    page.click("[data-testid=related-new-residents]")
    page.wait_for_selector("[data-testid=registry-form]")
    number = make_id_number("310115", date(1948, 5, 6), 777)
    page.fill("#id_name", "浏览器居民")
    page.fill("#id_id_number", number)
    page.fill("#id_phone", "13912340000")
    with page.expect_navigation():
        page.click("[data-testid=registry-save]")
    masked = page.inner_text("[data-testid=masked-id_number]")
    assert masked == number[:4] + "*" * 10 + number[-4:]
    assert number not in page.content()

    page.click("[data-testid=reveal-id_number]")
    page.fill("[data-testid=reveal-reason-id_number]", "核对高龄补贴")
    page.click("[data-testid=reveal-submit-id_number]")
    page.wait_for_selector("[data-testid=revealed-value]")
    assert page.inner_text("[data-testid=revealed-value]") == number

    page.reload()
    assert number not in page.content()
    assert "核对高龄补贴" in page.inner_text("[data-testid=audit-history]")
    page.goto(base + "/registry/residents/?q=浏览器居民")
    assert number not in page.content() and masked in page.content()
    worker.close()
