"""The residents' report page: a report with a photo gives a receipt with a signed tracking
link; the tracking page shows progress without personal data; honeypot, rate limit, bad photos
and a forged link are refused without writing anything."""

from __future__ import annotations

import io

import pytest
from django.test import Client

from towngrid.cases import actions as case_actions
from towngrid.cases.models import Attachment, Case, Source
from towngrid.core import config


def jpeg_with_exif() -> io.BytesIO:
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 200)).save(buf, "JPEG", exif=exif.tobytes())
    buf.seek(0)
    buf.name = "photo.jpg"
    return buf


def form(point, **extra):
    return {
        "category": "E0102",
        "lng": str(point[0]),
        "lat": str(point[1]),
        "address": "北蔡镇测试路 9 号",
        "description": "楼下垃圾三天没人清",
        "name": "李四",
        "phone": "13900139000",
        "website": "",
        **extra,
    }


def test_page_renders_public_categories(town):
    response = Client().get("/report/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "E0102" in body and 'name="website"' in body and "resident-map" in body


def test_report_receipt_and_tracking(town, users, point):
    client = Client()
    response = client.post("/report/", {**form(point), "photos": jpeg_with_exif()})
    assert response.status_code == 302, response.content.decode()[:2000]
    receipt = client.get(response["Location"])
    case = Case.objects.get(source=Source.RESIDENT, description="楼下垃圾三天没人清")
    assert case.reporter is None and Attachment.objects.filter(case=case).count() == 1
    assert case.number in receipt.content.decode()
    track_url = receipt.context["track_url"]
    assert case.number in track_url and ":" in track_url  # signed, not just the number
    # Progress after the operations centre acts.
    case_actions.accept(case, actor=users["ops_registrar"])
    page = Client().get(track_url.replace("http://testserver", ""))
    assert page.status_code == 200
    body = page.content.decode()
    assert "已受理" in body and "暴露垃圾" in body and "待核实" in body
    for secret in ("李四", "13900139000", users["ops_registrar"].display_name or "x" * 40):
        assert secret not in body
    import re

    (img,) = re.findall(r'src="([^"]*/open311/v2/media/[^"]*)"', body)
    photo = Client().get(img.replace("http://testserver", ""))
    assert b"SecretCamera" not in b"".join(photo.streaming_content)
    # Nothing personal stored anywhere on the case.
    assert "13900139000" not in repr(Case.objects.filter(pk=case.pk).values().get())


def test_tracking_link_cannot_be_guessed(town, point):
    case = case_actions.report(
        category="E0102", description="x", lng=point[0], lat=point[1], source=Source.RESIDENT
    )
    client = Client()
    assert client.get(f"/report/track/{case.number}/").status_code == 404
    assert client.get(f"/report/track/{case.number}:forged/").status_code == 404


def test_honeypot_refuses_without_writing(town, point):
    before = Case.objects.count()
    response = Client().post("/report/", form(point, website="http://spam.example"))
    assert response.status_code == 400
    assert Case.objects.count() == before


def test_rate_limit_per_address(town, point):
    config.set_value("open311.report_per_ip_per_hour", 1)
    client = Client()
    assert client.post("/report/", form(point)).status_code == 302
    before = Case.objects.count()
    response = client.post("/report/", form(point))
    assert response.status_code == 429 and "频繁" in response.content.decode()
    assert Case.objects.count() == before


@pytest.mark.parametrize(
    "extra",
    [
        {"photos": io.BytesIO(b"not an image")},
        {"lng": "0", "lat": "0"},
        {"lng": ""},
        {"category": "NOPE"},
        {"description": ""},
    ],
)
def test_bad_input_is_refused_and_nothing_written(town, point, extra):
    if "photos" in extra:
        extra["photos"].name = "x.jpg"
    before = (Case.objects.count(), Attachment.objects.count())
    response = Client().post("/report/", form(point, **extra))
    assert response.status_code == 400
    assert (Case.objects.count(), Attachment.objects.count()) == before
