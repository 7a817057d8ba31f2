"""Open311 GeoReport v2: every method in JSON and XML, field by field against the spec, the
errors document in both formats, api_key, jurisdiction, the default window, the status filter,
the FixMyStreet updates, rate and size limits."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from towngrid.cases import actions as case_actions
from towngrid.cases.models import Case, CaseEvent, Source
from towngrid.core import config

BASE = "/open311/v2"
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
SERVICE_FIELDS = [
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
]


def xml(response) -> ET.Element:
    assert response["Content-Type"].startswith("text/xml"), response["Content-Type"]
    return ET.fromstring(response.content)


def assert_error(response, status: int, fmt: str) -> str:
    assert response.status_code == status, (response.status_code, response.content[:300])
    if fmt == "json":
        body = response.json()
        assert isinstance(body, list) and len(body) == 1
        assert set(body[0]) == {"code", "description"} and body[0]["code"] == status
        return body[0]["description"]
    root = xml(response)
    assert root.tag == "errors"
    (error,) = list(root)
    assert error.tag == "error" and [c.tag for c in error] == ["code", "description"]
    assert error.findtext("code") == str(status)
    return error.findtext("description")


def post_request(client, key, point, fmt="json", **extra):
    data = {
        "api_key": key.raw,
        "service_code": "E0102",
        "lat": str(point[1]),
        "long": str(point[0]),
        "address_string": "北蔡镇测试路 8 号",
        "description": "路边垃圾堆放未清运",
        "email": "someone@example.com",
        "phone": "13800138000",
        "first_name": "三",
        "last_name": "张",
        "device_id": "dev-1",
        "account_id": "acc-1",
        **extra,
    }
    return client.post(f"{BASE}/requests.{fmt}", data)


def is_iso_offset(text: str) -> bool:
    from datetime import datetime

    return text.endswith("+08:00") and datetime.fromisoformat(text).utcoffset() is not None


# --- discovery and services ---------------------------------------------------------------------


def test_discovery_json_and_xml(town):
    client = Client()
    body = client.get(f"{BASE}/discovery.json").json()
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(body)
    endpoint = body["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2/")
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    root = xml(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert root.find("endpoints/endpoint/specification").text.endswith("GeoReport_v2")
    assert {f.text for f in root.findall("endpoints/endpoint/formats/format")} == {
        "text/xml",
        "application/json",
    }


def test_services_are_the_public_active_subclasses(town):
    from towngrid.cases.models import Category

    client = Client()
    body = client.get(f"{BASE}/services.json").json()
    public = set(
        Category.objects.filter(is_public=True, active=True).values_list("full_code", flat=True)
    )
    assert {s["service_code"] for s in body} == public
    e0102 = next(s for s in body if s["service_code"] == "E0102")
    assert list(e0102) == SERVICE_FIELDS
    assert e0102["service_name"] == "暴露垃圾" and e0102["metadata"] is False
    assert e0102["type"] == "realtime" and e0102["group"] == "市容环境"
    root = xml(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    items = root.findall("service")
    assert len(items) == len(body)
    first = items[0]
    assert [c.tag for c in first] == SERVICE_FIELDS
    assert first.findtext("metadata") == "false" and first.findtext("type") == "realtime"


def test_private_category_is_not_a_service(town):
    from towngrid.cases.models import Category

    Category.objects.filter(full_code="E0102").update(is_public=False)
    client = Client()
    codes = {s["service_code"] for s in client.get(f"{BASE}/services.json").json()}
    assert "E0102" not in codes
    assert_error(client.get(f"{BASE}/services/E0102.json"), 404, "json")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_service_definition(town, fmt):
    client = Client()
    response = client.get(f"{BASE}/services/E0102.{fmt}")
    assert response.status_code == 200
    if fmt == "json":
        assert response.json() == {"service_code": "E0102", "attributes": []}
    else:
        root = xml(response)
        assert root.tag == "service_definition"
        assert root.findtext("service_code") == "E0102"
        assert root.find("attributes") is not None and len(root.find("attributes")) == 0
    assert_error(client.get(f"{BASE}/services/X9999.{fmt}"), 404, fmt)


# --- POST requests ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_request_creates_a_case(town, api_key, point, users, fmt):
    from towngrid.cases.queries import my_queue

    client = Client()
    response = post_request(client, api_key, point, fmt)
    assert response.status_code == 201, response.content
    if fmt == "json":
        (item,) = response.json()
        assert set(item) == {"service_request_id", "service_notice", "account_id"}
        assert item["account_id"] is None
        number = item["service_request_id"]
    else:
        root = xml(response)
        assert root.tag == "service_requests"
        (item,) = root.findall("request")
        number = item.findtext("service_request_id")
        assert item.find("account_id") is not None
    case = Case.objects.get(number=number)
    assert case.source == Source.OPEN311 and case.category.full_code == "E0102"
    assert case.status == "reported" and case.reporter is None
    assert case.address == "北蔡镇测试路 8 号"
    assert case.source_ref == f"key:{api_key.prefix}"
    # Personal fields are not stored anywhere on the case.
    stored = repr(list(CaseEvent.objects.filter(case=case).values())) + repr(case.__dict__)
    for secret in ("13800138000", "someone@example.com", "张", "dev-1", "acc-1"):
        assert secret not in stored
    # The operations centre sees it in the registrar's queue.
    assert my_queue(users["ops_registrar"]).filter(pk=case.pk).exists()


def test_post_keeps_media_url_as_text(town, api_key, point):
    response = post_request(Client(), api_key, point, media_url="https://example.com/a.jpg")
    number = response.json()[0]["service_request_id"]
    event = CaseEvent.objects.get(case__number=number, action="report")
    assert event.data["media_url"] == "https://example.com/a.jpg"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_refusals(town, api_key, point, fmt):
    from towngrid.open311 import actions

    client = Client()
    before = Case.objects.count()
    assert_error(post_request(client, api_key, point, fmt, api_key=""), 403, fmt)
    assert_error(post_request(client, api_key, point, fmt, api_key="nope"), 403, fmt)
    assert_error(post_request(client, api_key, point, fmt, service_code="X9999"), 404, fmt)
    text = assert_error(post_request(client, api_key, point, fmt, lat="", long=""), 400, fmt)
    assert "address_string" in text
    assert_error(post_request(client, api_key, point, fmt, lat="abc"), 400, fmt)
    assert_error(post_request(client, api_key, point, fmt, description="长" * 4001), 400, fmt)
    assert_error(post_request(client, api_key, point, fmt, lat="0", long="0"), 400, fmt)
    assert_error(post_request(client, api_key, point, fmt, media_url="file:///etc"), 400, fmt)
    assert Case.objects.count() == before
    actions.revoke_key(api_key)
    assert_error(post_request(client, api_key, point, fmt), 403, fmt)
    assert Case.objects.count() == before


def test_description_up_to_4000_is_accepted(town, api_key, point):
    response = post_request(Client(), api_key, point, description="长" * 4000)
    assert response.status_code == 201


# --- GET requests -------------------------------------------------------------------------------


def _case(point, **extra):
    return case_actions.report(
        category=extra.pop("category", "E0102"),
        description=extra.pop("description", "路边垃圾堆放未清运"),
        lng=point[0],
        lat=point[1],
        source=Source.RESIDENT,
        address="北蔡镇测试路 1 号",
        **extra,
    )


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_request_detail_field_by_field(town, users, point, fmt):
    case = _case(point)
    client = Client()
    response = client.get(f"{BASE}/requests/{case.number}.{fmt}")
    assert response.status_code == 200
    if fmt == "json":
        (item,) = response.json()
        assert list(item) == REQUEST_FIELDS
    else:
        root = xml(response)
        assert root.tag == "service_requests"
        (node,) = root.findall("request")
        assert [c.tag for c in node] == REQUEST_FIELDS
        item = {c.tag: c.text or "" for c in node}
    assert item["service_request_id"] == case.number
    assert item["status"] == "open" and item["status_notes"] == "已上报"
    assert item["service_code"] == "E0102" and item["service_name"] == "暴露垃圾"
    assert item["description"] == "路边垃圾堆放未清运"
    assert item["address"] == "北蔡镇测试路 1 号"
    assert is_iso_offset(item["requested_datetime"]) and is_iso_offset(item["updated_datetime"])
    assert is_iso_offset(item["expected_datetime"])
    assert float(item["lat"]) == pytest.approx(point[1]) and float(item["long"]) == pytest.approx(
        point[0]
    )
    assert not item["media_url"]
    assert_error(client.get(f"{BASE}/requests/BC1999-000001.{fmt}"), 404, fmt)


def test_status_maps_closed_and_agency(town, users, point):
    case = _case(point)
    case_actions.reject(case, actor=users["ops_shift_lead"], reason="重复上报")
    item = Client().get(f"{BASE}/requests/{case.number}.json").json()[0]
    assert item["status"] == "closed" and item["status_notes"] == "不予立案"
    other = _case(point)
    from tests.cases.test_workflow import to_dispatched

    to_dispatched(other, users, at=timezone.now())
    item = Client().get(f"{BASE}/requests/{other.number}.json").json()[0]
    assert item["status"] == "open" and item["status_notes"] == "派遣"
    assert item["agency_responsible"] == users["dept_handler"].department.name


def test_requests_list_window_status_and_ids(town, users, point):
    client = Client()
    old = _case(point, at=timezone.now() - timedelta(days=100))
    fresh = _case(point)
    closed = _case(point, category="E0103") if _public("E0103") else _case(point)
    case_actions.reject(closed, actor=users["ops_shift_lead"], reason="不属实")
    numbers = {i["service_request_id"] for i in client.get(f"{BASE}/requests.json").json()}
    assert {fresh.number, closed.number} <= numbers and old.number not in numbers
    opened = {
        i["service_request_id"] for i in client.get(f"{BASE}/requests.json?status=open").json()
    }
    assert fresh.number in opened and closed.number not in opened
    root = xml(client.get(f"{BASE}/requests.xml?status=closed"))
    shut = {n.findtext("service_request_id") for n in root.findall("request")}
    assert closed.number in shut and fresh.number not in shut
    # service_request_id overrides the window and the status.
    ids = f"{old.number},{fresh.number}"
    got = client.get(f"{BASE}/requests.json", {"service_request_id": ids, "status": "closed"})
    assert {i["service_request_id"] for i in got.json()} == {old.number, fresh.number}
    # An explicit window reaches the old case.
    start = (timezone.now() - timedelta(days=101)).isoformat()
    end = (timezone.now() - timedelta(days=99)).isoformat()
    got = client.get(f"{BASE}/requests.json", {"start_date": start, "end_date": end})
    assert [i["service_request_id"] for i in got.json()] == [old.number]
    code = client.get(f"{BASE}/requests.json", {"service_code": "C0105"}).json()
    assert all(i["service_code"] == "C0105" for i in code)


def _public(code: str) -> bool:
    from towngrid.cases.models import Category

    return Category.objects.filter(full_code=code, is_public=True, active=True).exists()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_requests_list_refusals(town, fmt):
    client = Client()
    url = f"{BASE}/requests.{fmt}"
    assert_error(client.get(url, {"status": "pending"}), 400, fmt)
    assert_error(client.get(url, {"start_date": "yesterday"}), 400, fmt)
    assert_error(client.get(url, {"start_date": "2023-01-01", "end_date": "2023-06-01"}), 400, fmt)
    assert_error(client.get(url, {"start_date": "2023-06-01", "end_date": "2023-01-01"}), 400, fmt)


def test_at_most_1000_records(town, point, monkeypatch):
    from towngrid.open311 import views

    monkeypatch.setattr(views, "MAX_RECORDS", 2)
    for _ in range(3):
        _case(point)
    assert len(Client().get(f"{BASE}/requests.json").json()) == 2


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_jurisdiction(town, fmt):
    client = Client()
    ok = client.get(f"{BASE}/services.{fmt}", {"jurisdiction_id": "beicai.pudong.sh.cn"})
    assert ok.status_code == 200
    assert_error(client.get(f"{BASE}/services.{fmt}", {"jurisdiction_id": "x.gov"}), 404, fmt)
    config.set_value("open311.jurisdiction_id", "x.gov")
    assert client.get(f"{BASE}/services.{fmt}", {"jurisdiction_id": "x.gov"}).status_code == 200


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_token_resolves_to_the_id(town, api_key, point, fmt):
    number = post_request(Client(), api_key, point).json()[0]["service_request_id"]
    response = Client().get(f"{BASE}/tokens/{number}.{fmt}")
    assert response.status_code == 200
    if fmt == "json":
        assert response.json() == [{"service_request_id": number, "token": number}]
    else:
        assert xml(response).findtext("request/service_request_id") == number
    assert_error(Client().get(f"{BASE}/tokens/nothing.{fmt}"), 404, fmt)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_servicerequestupdates(town, users, point, fmt):
    case = _case(point)
    case_actions.accept(case, actor=users["ops_registrar"])
    response = Client().get(f"{BASE}/servicerequestupdates.{fmt}")
    assert response.status_code == 200
    fields = [
        "update_id",
        "service_request_id",
        "status",
        "updated_datetime",
        "description",
        "media_url",
    ]
    if fmt == "json":
        items = [i for i in response.json() if i["service_request_id"] == case.number]
        assert all(list(i) == fields for i in items)
    else:
        root = xml(response)
        assert root.tag == "service_request_updates"
        items = [
            {c.tag: c.text or "" for c in n}
            for n in root.findall("request_update")
            if n.findtext("service_request_id") == case.number
        ]
        assert all(list(i) == fields for i in items)
    assert [i["description"] for i in items] == ["已上报", "受理"]
    assert {i["status"] for i in items} == {"open"}
    assert all(is_iso_offset(i["updated_datetime"]) for i in items)


def test_media_url_is_the_exif_free_copy(town, point):
    from PIL import Image

    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buffer, "JPEG", exif=exif.tobytes())
    case = _case(point, photos=[buffer.getvalue()])
    item = Client().get(f"{BASE}/requests/{case.number}.json").json()[0]
    assert item["media_url"].startswith("http://testserver/open311/v2/media/")
    photo = Client().get(item["media_url"].replace("http://testserver", ""))
    assert photo.status_code == 200
    data = b"".join(photo.streaming_content)
    assert b"SecretCamera" not in data and not Image.open(io.BytesIO(data)).getexif()
    assert Client().get(f"{BASE}/media/forged/").status_code == 404


# --- abuse protection ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_rate_limit_per_key(town, api_key, point, fmt):
    api_key.rate_limit_per_minute = 2
    api_key.save()
    client = Client()
    assert post_request(client, api_key, point, fmt).status_code == 201
    assert post_request(client, api_key, point, fmt).status_code == 201
    before = Case.objects.count()
    response = post_request(client, api_key, point, fmt)
    assert_error(response, 429, fmt)
    assert response["Retry-After"] == "60"
    assert Case.objects.count() == before


def test_rate_limit_per_address(town):
    config.set_value("open311.ip_rate_per_minute", 3)
    client = Client()
    for _ in range(3):
        assert client.get(f"{BASE}/services.json").status_code == 200
    assert_error(client.get(f"{BASE}/services.json"), 429, "json")
    other = Client(REMOTE_ADDR="10.0.0.9")
    assert other.get(f"{BASE}/services.json").status_code == 200


def test_body_size_limit(town, api_key, point):
    before = Case.objects.count()
    response = post_request(Client(), api_key, point, description="x" * 70_000)
    assert_error(response, 413, "json")
    assert Case.objects.count() == before


def test_unknown_method_and_format(town):
    client = Client()
    assert_error(client.delete(f"{BASE}/requests.json"), 405, "json")
    assert client.get(f"{BASE}/services.yaml").status_code == 404


def test_keys_store_only_the_hash(town):
    from towngrid.open311 import actions
    from towngrid.open311.models import ApiKey, hash_key

    key, raw = actions.issue_key("partner")
    stored = ApiKey.objects.get(pk=key.pk)
    assert stored.key_hash == hash_key(raw) and raw not in repr(stored.__dict__)
    assert actions.authenticate(raw) == stored
    actions.revoke_key(stored)
    assert actions.authenticate(raw) is None
