"""The residents' page asks the chosen category's extra questions (the same data Open311 clients
get), refuses a stopping answer ("I smell gas") in Chinese without writing anything, keeps the
answers on the case, and offers the open reports of the same type nearby without personal
data."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from towngrid.cases import actions as case_actions
from towngrid.cases.models import Case, CaseEvent, Source
from towngrid.open311 import actions

from .test_resident_page import form


@pytest.fixture
def questions(town):
    actions.install_default_attributes()


def test_page_renders_each_categorys_questions(questions):
    body = Client().get("/report/").content.decode()
    gas = re.search(r'<fieldset class="questions" data-category="E1101"[^>]*>', body).group(0)
    # Hidden and disabled until the category is chosen: its answers are not submitted otherwise.
    assert "hidden" in gas and "disabled" in gas
    assert "现场是否闻到明显燃气味？" in body
    assert 'name="attribute[gas_smell]" value="yes" data-stop="' in body
    assert "962777" in body
    assert 'name="attribute[affected]" value="homes"' in body and 'type="checkbox"' in body


def test_chosen_category_questions_are_open_after_a_refusal(questions, point):
    response = Client().post("/report/", form(point, category="E0401"))
    assert response.status_code == 400
    body = response.content.decode()
    flood = re.search(r'<fieldset class="questions" data-category="E0401"[^>]*>', body).group(0)
    assert "disabled" not in flood
    assert "请回答“积水深度”。" in body


def test_a_stopping_answer_refuses_and_writes_nothing(questions, point):
    before = Case.objects.count()
    response = Client().post(
        "/report/",
        form(
            point, category="E1101", description="楼道里有煤气味", **{"attribute[gas_smell]": "yes"}
        ),
    )
    assert response.status_code == 400
    assert "962777" in response.context["error"]
    assert Case.objects.count() == before


def test_answers_are_validated_in_chinese_and_kept_on_the_case(questions, point):
    client = Client()
    wrong = client.post("/report/", form(point, category="E0401", **{"attribute[depth]": "ocean"}))
    assert wrong.status_code == 400
    assert wrong.context["error"] == "“积水深度”的选项无效，请从列出的选项中选择。"
    ok = client.post(
        "/report/",
        form(
            point,
            category="E0401",
            description="路口积水很深",
            **{"attribute[depth]": "knee", "attribute[affected]": ["road", "homes"]},
        ),
    )
    assert ok.status_code == 302, ok.context and ok.context["error"]
    case = Case.objects.get(source=Source.RESIDENT, description="路口积水很深")
    event = CaseEvent.objects.get(case=case, action="report")
    assert event.data["attributes"] == {"depth": "knee", "affected": ["road", "homes"]}


def test_nearby_offers_open_reports_of_the_same_type_without_personal_data(town, point):
    case = case_actions.report(
        category="E0102",
        description="张三家门口垃圾 13900001111",
        lng=point[0],
        lat=point[1],
        source=Source.RESIDENT,
    )
    client = Client()
    fragment = client.get(
        "/report/nearby/", {"category": "E0102", "lng": point[0] + 0.0001, "lat": point[1]}
    ).content.decode()
    assert 'data-testid="nearby-cases" data-count="1"' in fragment
    (link,) = re.findall(r'href="([^"]+)" data-testid="nearby-link"', fragment)
    assert client.get(link).status_code == 200
    for secret in ("张三", "13900001111", case.description):
        assert secret not in fragment
    # Another type, far away, or bad input: nothing offered.
    assert (
        "nearby-cases"
        not in client.get(
            "/report/nearby/", {"category": "E0101", "lng": point[0], "lat": point[1]}
        ).content.decode()
    )
    assert (
        "nearby-cases"
        not in client.get(
            "/report/nearby/", {"category": "E0102", "lng": point[0] + 0.01, "lat": point[1]}
        ).content.decode()
    )
    assert client.get("/report/nearby/", {"category": "E0102", "lng": "x"}).status_code == 200
    # Closed cases are no longer offered.
    Case.objects.filter(pk=case.pk).update(status="closed")
    assert (
        "nearby-cases"
        not in client.get(
            "/report/nearby/", {"category": "E0102", "lng": point[0], "lat": point[1]}
        ).content.decode()
    )
