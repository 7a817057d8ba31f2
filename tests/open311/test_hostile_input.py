"""Property-based tests: random and hostile input to POST and GET never gives a server error,
and a refused POST never leaves a case (or half of one) behind."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from towngrid.cases.models import Attachment, Case, CaseEvent, CaseReporter
from towngrid.core import config

BASE = "/open311/v2"
FIELDS = [
    "api_key",
    "service_code",
    "lat",
    "long",
    "address_string",
    "address_id",
    "description",
    "media_url",
    "email",
    "phone",
    "jurisdiction_id",
    "attribute[x]",
    "start_date",
    "end_date",
    "status",
    "service_request_id",
]
hostile = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "",
            "nan",
            "inf",
            "-1e400",
            "1e308",
            "31.19",
            "121.53",
            "E0102",
            "open,closed",
            "2023-02-30T00:00:00Z",
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+14:00",
            "' OR 1=1 --",
            "<script>alert(1)</script>",
            "\x00\x01\ufffe",
            "\ud800",
            "🦆" * 50,
            ",,,,",
            "BC2023-000001," * 30,
        ]
    ),
)
params = st.dictionaries(st.sampled_from(FIELDS), hostile, max_size=8)
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def roomy(town):
    """No address limit in the way of a hundred requests a minute."""
    config.set_value("open311.ip_rate_per_minute", 100_000)


def _counts() -> tuple[int, int, int, int]:
    return (
        Case.objects.count(),
        CaseEvent.objects.count(),
        CaseReporter.objects.count(),
        Attachment.objects.count(),
    )


@SETTINGS
@given(data=params, fmt=st.sampled_from(["json", "xml"]), keyed=st.booleans())
def test_post_never_fails_or_half_writes(roomy, api_key, point, data, fmt, keyed):
    if keyed:
        data = {**data, "api_key": api_key.raw}
        data.setdefault("service_code", "E0102")
        data.setdefault("lat", str(point[1]))
        data.setdefault("long", str(point[0]))
    data = {k: v.replace("\x00", "") if isinstance(v, str) else v for k, v in data.items()}
    before = _counts()
    try:
        response = Client().post(f"{BASE}/requests.{fmt}", data)
    except UnicodeEncodeError:
        return  # the test client itself cannot encode a lone surrogate; no request was made
    assert response.status_code < 500, response.content[:300]
    after = _counts()
    if response.status_code == 201:
        assert after[0] == before[0] + 1 and after[1] == before[1] + 1
    else:
        assert response.status_code in (400, 403, 404, 413, 429), response.status_code
        assert after == before


@SETTINGS
@given(
    data=params,
    fmt=st.sampled_from(["json", "xml"]),
    path=st.sampled_from(
        [
            "requests",
            "services",
            "discovery",
            "servicerequestupdates",
            "requests/{x}",
            "services/{x}",
            "tokens/{x}",
        ]
    ),
    x=st.text(
        alphabet=st.characters(blacklist_characters="/?#%", blacklist_categories=["Cs"]),
        min_size=1,
        max_size=30,
    ),
)
def test_get_never_fails(roomy, data, fmt, path, x):
    from urllib.parse import quote

    url = f"{BASE}/{path.replace('{x}', quote(x, safe=''))}.{fmt}"
    try:
        response = Client().get(url, data)
    except UnicodeEncodeError:
        return
    assert response.status_code < 500, (url, data, response.content[:300])
    if response.status_code >= 400 and response.status_code != 404:
        assert response.content  # the errors document
