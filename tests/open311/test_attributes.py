"""Open311 service attributes (extra questions): the services' metadata flag, the definitions
field by field in JSON and XML, validation of posted answers, FixMyStreet-style stopping answers
(refused, nothing written) and the answers stored on the case's report event."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from towngrid.cases.models import Case, CaseEvent, Category
from towngrid.open311 import actions
from towngrid.open311.models import ServiceAttribute

from .test_georeport import BASE, assert_error, post_request, xml

ATTRIBUTE_FIELDS = [
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
]


@pytest.fixture
def attributes(town):
    """The demo town's questions, and on E0102 one of each other datatype."""
    actions.install_default_attributes()
    e0102 = Category.objects.get(full_code="E0102")
    for order, (code, datatype, required) in enumerate(
        [
            ("bags", "number", True),
            ("seen_at", "datetime", False),
            ("where", "string", False),
            ("notes", "text", False),
            ("info", "string", False),
        ],
        start=1,
    ):
        ServiceAttribute.objects.create(
            category=e0102,
            code=code,
            datatype=datatype,
            required=required,
            order=order,
            description=f"问题 {code}",
            variable=code != "info",
        )


def answer(client, api_key, point, code, fmt="json", **attributes):
    extra = {f"attribute[{k}]": v for k, v in attributes.items()}
    return post_request(client, api_key, point, fmt, service_code=code, **extra)


def report_data(response) -> dict:
    number = response.json()[0]["service_request_id"]
    return CaseEvent.objects.get(case__number=number, action="report").data


# --- definitions --------------------------------------------------------------------------------


def test_install_default_attributes_is_idempotent(town):
    assert actions.install_default_attributes() == 4
    assert actions.install_default_attributes() == 0
    gas = ServiceAttribute.objects.get(category__full_code="E1101", code="gas_smell")
    assert gas.description == "现场是否闻到明显燃气味？" and gas.stops_submission_on == ["yes"]
    assert "962777" in gas.stop_text()
    assert Category.objects.get(full_code="C0105").open311_attributes.count() == 1


def test_services_metadata_flag(attributes):
    client = Client()
    body = {s["service_code"]: s for s in client.get(f"{BASE}/services.json").json()}
    assert body["E1101"]["metadata"] is True and body["E0401"]["metadata"] is True
    assert body["C0105"]["metadata"] is True and body["E0102"]["metadata"] is True
    assert body["E0103"]["metadata"] is False
    root = xml(client.get(f"{BASE}/services.xml"))
    flags = {s.findtext("service_code"): s.findtext("metadata") for s in root.findall("service")}
    assert flags["E1101"] == "true" and flags["E0103"] == "false"


def test_definition_json_field_by_field(attributes):
    body = Client().get(f"{BASE}/services/E0401.json").json()
    assert list(body) == ["service_code", "attributes"] and body["service_code"] == "E0401"
    depth, affected = body["attributes"]
    assert list(depth) == ATTRIBUTE_FIELDS
    assert depth["variable"] is True and depth["code"] == "depth"
    assert depth["datatype"] == "singlevaluelist" and depth["required"] is True
    assert depth["datatype_description"] == "按路面积水最深处估计。"
    assert depth["order"] == 1 and depth["description"] == "积水深度"
    assert [v["key"] for v in depth["values"]] == ["ankle", "knee", "deep"]
    assert all(list(v) == ["key", "name"] for v in depth["values"])
    assert depth["values"][0]["name"].startswith("没过脚踝")
    assert affected["datatype"] == "multivaluelist" and affected["required"] is False
    assert affected["order"] == 2 and len(affected["values"]) == 4
    e0102 = Client().get(f"{BASE}/services/E0102.json").json()["attributes"]
    assert [a["code"] for a in e0102] == ["bags", "seen_at", "where", "notes", "info"]
    assert e0102[0]["datatype"] == "number" and e0102[0]["values"] == []
    assert e0102[4]["variable"] is False


def test_definition_xml_field_by_field(attributes):
    root = xml(Client().get(f"{BASE}/services/E1101.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "E1101"
    (attribute,) = root.findall("attributes/attribute")
    assert [c.tag for c in attribute] == ATTRIBUTE_FIELDS
    assert attribute.findtext("variable") == "true"
    assert attribute.findtext("code") == "gas_smell"
    assert attribute.findtext("datatype") == "singlevaluelist"
    assert attribute.findtext("required") == "true"
    assert "962777" in attribute.findtext("datatype_description")
    assert attribute.findtext("order") == "1"
    assert attribute.findtext("description") == "现场是否闻到明显燃气味？"
    values = attribute.findall("values/value")
    assert [[c.tag for c in v] for v in values] == [["key", "name"], ["key", "name"]]
    assert [(v.findtext("key"), v.findtext("name")) for v in values] == [
        ("yes", "是"),
        ("no", "否"),
    ]


def test_model_clean_checks_values_and_stops(town):
    category = Category.objects.get(full_code="E0102")
    bad = ServiceAttribute(
        category=category, code="x", datatype="singlevaluelist", description="?", values=[]
    )
    with pytest.raises(ValidationError) as raised:
        bad.full_clean()
    assert "values" in raised.value.message_dict
    bad.values = [{"key": "a", "name": "甲"}]
    bad.stops_submission_on = ["b"]
    with pytest.raises(ValidationError) as raised:
        bad.full_clean()
    assert "stops_submission_on" in raised.value.message_dict
    bad.stops_submission_on = ["a"]
    bad.full_clean()


# --- POST ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_required_attribute_missing_is_400(attributes, api_key, point, fmt):
    client = Client()
    before = Case.objects.count()
    description = assert_error(answer(client, api_key, point, "C0105", fmt), 400, fmt)
    assert "attribute[missing]" in description and "required" in description
    assert Case.objects.count() == before


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_list_value_is_400(attributes, api_key, point, fmt):
    client = Client()
    before = Case.objects.count()
    response = answer(client, api_key, point, "E0401", fmt, depth="waist")
    description = assert_error(response, 400, fmt)
    assert "attribute[depth]" in description and "ankle" in description
    response = answer(client, api_key, point, "C0105", fmt, missing=["yes", "no"])
    assert "attribute[missing]" in assert_error(response, 400, fmt)
    assert Case.objects.count() == before


@pytest.mark.parametrize(
    ("value", "valid"),
    [("3", True), ("2.5", True), ("-1e2", True), ("many", False), ("nan", False), ("1e400", False)],
)
def test_number_attribute(attributes, api_key, point, value, valid):
    response = answer(Client(), api_key, point, "E0102", bags=value)
    if valid:
        assert response.status_code == 201, response.content
        assert report_data(response)["attributes"]["bags"] == float(value)
    else:
        assert "attribute[bags]" in assert_error(response, 400, "json")


def test_datetime_attribute(attributes, api_key, point):
    client = Client()
    response = answer(client, api_key, point, "E0102", bags="1", seen_at="2023-13-01T25:00")
    assert "attribute[seen_at]" in assert_error(response, 400, "json")
    response = answer(client, api_key, point, "E0102", bags="1", seen_at="2023-06-01T09:30+08:00")
    assert response.status_code == 201, response.content
    assert report_data(response)["attributes"]["seen_at"] == "2023-06-01T09:30:00+08:00"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_stopping_answer_refuses_and_writes_nothing(attributes, api_key, point, fmt):
    client = Client()
    cases, events = Case.objects.count(), CaseEvent.objects.count()
    response = answer(client, api_key, point, "E1101", fmt, gas_smell="yes")
    description = assert_error(response, 400, fmt)
    assert "962777" in description and "情况紧急" in description
    # The stop comes first, even when the rest of the request is incomplete.
    response = client.post(
        f"{BASE}/requests.{fmt}",
        {"api_key": api_key.raw, "service_code": "E1101", "attribute[gas_smell]": "yes"},
    )
    assert "962777" in assert_error(response, 400, fmt)
    assert Case.objects.count() == cases and CaseEvent.objects.count() == events
    response = answer(client, api_key, point, "E1101", fmt, gas_smell="no")
    assert response.status_code == 201, response.content
    assert Case.objects.count() == cases + 1


def test_valid_answers_are_stored_on_the_report_event(attributes, api_key, point):
    client = Client()
    answers = {
        "attribute[bags]": "4",
        "attribute[where]": "  小区东门  ",
        "attribute[notes]": "多袋\n已发臭",
        "attribute[info]": "ignored: not variable",
        "attribute[unknown]": "ignored",
    }
    response = post_request(
        client,
        api_key,
        point,
        service_code="E0102",
        media_url="https://example.com/a.jpg",
        **answers,
    )
    assert response.status_code == 201, response.content
    data = report_data(response)
    assert data["attributes"] == {"bags": 4, "where": "小区东门", "notes": "多袋\n已发臭"}
    assert data["media_url"] == "https://example.com/a.jpg"
    response = answer(client, api_key, point, "C0105", missing="no")
    assert report_data(response)["attributes"] == {"missing": "no"}


def test_no_answers_no_attributes_key(attributes, api_key, point):
    response = post_request(Client(), api_key, point, service_code="E0103")
    assert response.status_code == 201, response.content
    assert "attributes" not in report_data(response)


def test_multivaluelist(attributes, api_key, point):
    client = Client()
    base = {
        "api_key": api_key.raw,
        "service_code": "E0401",
        "lat": str(point[1]),
        "long": str(point[0]),
        "description": "下立交积水",
        "attribute[depth]": "knee",
    }
    response = client.post(
        f"{BASE}/requests.json",
        {**base, "attribute[affected][]": ["underpass", "road", "road"]},
    )
    assert response.status_code == 201, response.content
    assert report_data(response)["attributes"] == {
        "depth": "knee",
        "affected": ["road", "underpass"],
    }
    # Repeating attribute[code] without the brackets is accepted too.
    response = client.post(
        f"{BASE}/requests.json", {**base, "attribute[affected]": ["homes", "sidewalk"]}
    )
    assert report_data(response)["attributes"]["affected"] == ["sidewalk", "homes"]
    before = Case.objects.count()
    response = client.post(
        f"{BASE}/requests.json", {**base, "attribute[affected][]": ["road", "sky"]}
    )
    assert "attribute[affected]" in assert_error(response, 400, "json")
    assert Case.objects.count() == before


def test_failure_after_the_case_rolls_everything_back(attributes, api_key, point, monkeypatch):
    """The answers are written in the case's transaction: a failure there leaves nothing."""
    client = Client()
    before = Case.objects.count(), CaseEvent.objects.count()

    save = CaseEvent.save
    calls = []

    def boom(self, *args, **kwargs):
        if kwargs.get("update_fields") == ["data"]:  # the answers, after the case is made
            calls.append(self.pk)
            raise ValueError("disk full")
        return save(self, *args, **kwargs)

    monkeypatch.setattr(CaseEvent, "save", boom)
    response = answer(client, api_key, point, "C0105", missing="yes")
    assert response.status_code == 400 and calls
    assert (Case.objects.count(), CaseEvent.objects.count()) == before


def test_admin_adds_an_attribute_audited(attributes, demo_user, api_key, point):
    from towngrid.core.models import AuditEvent

    admin = Client()
    admin.force_login(demo_user("admin"))
    assert admin.get("/admin/open311/serviceattribute/").status_code == 200
    category = Category.objects.get(full_code="E0103")
    form = {
        "category": category.pk,
        "code": "danger",
        "order": "1",
        "description": "是否有人员受伤？",
        "datatype": "singlevaluelist",
        "datatype_description": "",
        "variable": "on",
        "required": "on",
        "values": '[{"key": "yes", "name": "是"}, {"key": "no", "name": "否"}]',
        "stops_submission_on": '["yes"]',
        "stop_message": "有人受伤，请立即拨打 120。",
    }
    bad = admin.post(
        "/admin/open311/serviceattribute/add/", {**form, "stops_submission_on": '["x"]'}
    )
    assert bad.status_code == 200 and not ServiceAttribute.objects.filter(code="danger").exists()
    response = admin.post("/admin/open311/serviceattribute/add/", form)
    assert response.status_code == 302, response.content[:500]
    assert AuditEvent.objects.filter(action="open311.attribute.admin_add").exists()
    response = answer(Client(), api_key, point, "E0103", danger="yes")
    assert "120" in assert_error(response, 400, "json")
