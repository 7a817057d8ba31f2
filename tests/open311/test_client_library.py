"""An Open311 client library from the registry (``georeport`` on PyPI) drives the running server
(pytest-django's ``live_server``): list services, get a service definition, post a request,
resolve its token, get it back, list requests filtered by status and date, in JSON and XML.

``georeport`` 0.3.1 has no method for POST requests (it is read-only; the older ``open311`` package
does not import on Python 3), so the post is made with
``requests``, the HTTP library georeport itself uses, exactly as the spec's form encoding says;
everything else goes through the library unchanged.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

georeport = pytest.importorskip("georeport")
requests = pytest.importorskip("requests")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_client_against_the_live_server(live_server, town, point, fmt):
    from django.core.cache import cache

    from towngrid.cases.models import Case, Source
    from towngrid.open311 import actions

    cache.clear()
    key, raw = actions.issue_key("georeport", rate_limit_per_minute=100)
    root = f"{live_server.url}/open311/v2"
    client = georeport.GeoReport(
        root, jurisdiction="beicai.pudong.sh.cn", api_key=raw, output_format=fmt
    )

    services = client.get_service_list()
    codes = {s["service_code"] for s in services}
    assert "E0102" in codes
    definition = client.get_service_definition("E0102")
    assert definition["service_code"] == "E0102"

    posted = requests.post(
        f"{root}/requests.{fmt}",
        data={
            "api_key": client.api_key,
            "jurisdiction_id": client.jurisdiction,
            "service_code": "E0102",
            "lat": point[1],
            "long": point[0],
            "description": "客户端库上报：路边垃圾",
        },
        timeout=30,
    )
    assert posted.status_code == 201, posted.text
    if fmt == "json":
        number = posted.json()[0]["service_request_id"]
    else:
        import xmltodict

        number = xmltodict.parse(posted.content)["service_requests"]["request"][
            "service_request_id"
        ]
    token = requests.get(f"{root}/tokens/{number}.{fmt}", timeout=30)
    assert token.status_code == 200 and number in token.text

    one = client.get_service_request(number)
    assert one["service_request_id"] == number and one["status"] == "open"
    start = (timezone.now() - timedelta(days=1)).isoformat()
    end = (timezone.now() + timedelta(minutes=5)).isoformat()
    listed = client.get_service_requests(status="open", start_date=start, end_date=end)
    if isinstance(listed, dict):  # xmltodict gives one dict for a single <request>
        listed = [listed]
    assert number in {r["service_request_id"] for r in listed}

    case = Case.objects.get(number=number)
    assert case.source == Source.OPEN311 and case.status == "reported"
