# ruff: noqa: F401, F811 - the shared case fixtures are imported from tests/cases
"""Fixtures for the Open311 tests: the demo town with its catalogue, a client key, an empty
rate-limit cache for every test."""

from __future__ import annotations

import pytest

from tests.cases.test_workflow import catalogue, point, town, users


@pytest.fixture(autouse=True)
def _fresh_limits():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_key(town):
    from towngrid.open311 import actions

    key, raw = actions.issue_key("测试客户端", rate_limit_per_minute=1000)
    key.raw = raw
    return key
