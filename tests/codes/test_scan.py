"""The scan page: a house's QR code decodes (zxing-cpp) to a URL that opens its card; tampered and
revoked tokens are refused in Chinese; the public card carries no personal data; the full card
only in scope; check-in inside and outside the radius; report and update from a scan."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from django.test import Client

from towngrid.codes import actions, qr, queries, tokens
from towngrid.codes.errors import CodeError
from towngrid.codes.models import CheckIn, ObjectCode

from .support import *  # noqa: F403
from .support import IN_MICRO_ONLY, OWNER_PHONE, WORK_PHONE, make_house, offset


def decode_png(data: bytes) -> str:
    import zxingcpp
    from PIL import Image

    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))
    assert len(results) == 1, results
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    return results[0].text


def tampered(token: str, position: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    ch = token[position]
    other = alphabet[(alphabet.index(ch) + 1) % len(alphabet)]
    return token[:position] + other + token[position + 1 :]


@pytest.fixture
def house(town):
    return make_house()


@pytest.fixture
def code(house):
    return actions.issue(house)


def test_qr_of_a_house_decodes_to_the_url_that_opens_its_card(client, code, house):
    url = queries.scan_url(code.token, "http://testserver")
    decoded = decode_png(qr.png(url))
    assert decoded == url
    response = client.get(urlsplit(decoded).path)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="scan-public"' in page
    assert house.full_address in page


def test_qr_image_endpoint_decodes_too(client, code):
    response = client.get(f"/c/{code.token}/qr.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert decode_png(response.content).endswith(f"/c/{code.token}/")
    assert client.get(f"/c/{code.token}/qr.gif").status_code == 404


def test_token_shape_and_signature():
    token = tokens.new_token()
    assert len(token) == tokens.TOKEN_LENGTH and tokens.verify(token)
    assert tokens.verify(token.lower())  # typed by hand
    assert token != tokens.new_token()
    for position in range(len(token)):
        assert not tokens.verify(tampered(token, position)), position
    assert not tokens.verify("")
    assert not tokens.verify(token[:-1])
    assert not tokens.verify(token + "A")


@pytest.mark.parametrize("position", [0, 10, 23])
def test_tampered_token_is_a_chinese_404(client, code, position):
    bad = tampered(code.token, position)
    response = client.get(f"/c/{bad}/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "未找到该二维码" in page
    assert 'data-testid="scan-not-found"' in page


def test_tampered_token_never_reaches_the_database(code, django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(CodeError) as info:
        queries.code_for_token(tampered(code.token, 5))
    assert info.value.code == "not_found"


def test_revoked_code_is_refused_in_chinese_and_reissue_gives_a_new_token(
    client, code, house, manager
):
    new = actions.reissue(house, actor=manager, reason="门牌被涂改")
    assert new.token != code.token and new.serial == code.serial + 1
    code.refresh_from_db()
    assert code.revoked_at is not None and code.revoke_reason == "门牌被涂改"
    response = client.get(f"/c/{code.token}/")
    assert response.status_code == 410
    assert "门牌码已作废" in response.content.decode()
    assert client.get(f"/c/{new.token}/").status_code == 200
    from towngrid.core.models import AuditEvent

    event = AuditEvent.objects.get(action="codes.reissue")
    assert event.reason == "门牌被涂改" and event.actor == manager


def test_reissue_needs_a_reason_and_the_capability(code, house, worker, manager):
    with pytest.raises(CodeError) as info:
        actions.reissue(house, actor=manager, reason="  ")
    assert info.value.code == "reason_required"
    with pytest.raises(CodeError) as info:
        actions.reissue(house, actor=worker, reason="遗失")
    assert info.value.code == "forbidden"
    assert ObjectCode.objects.filter(revoked_at__isnull=True).get() == code


def test_revoke_twice_is_a_conflict(code, manager):
    actions.revoke(code, actor=manager, reason="遗失")
    with pytest.raises(CodeError) as info:
        actions.revoke(code, actor=manager, reason="遗失")
    assert info.value.code == "conflict"


def test_issue_is_idempotent_and_one_live_code_per_object(house):
    first = actions.issue(house)
    assert actions.issue(house) == first
    assert ObjectCode.objects.count() == 1
    assert actions.issue_many([house]) == 0


def test_public_card_shows_no_personal_data(client, code, house):
    page = client.get(f"/c/{code.token}/").content.decode()
    assert WORK_PHONE in page and "王晓燕" in page  # the grid worker's public work number
    assert "赵秘密" not in page
    assert OWNER_PHONE not in page and OWNER_PHONE[-4:] not in page
    assert 'data-testid="live-colour"' not in page  # no colour on the public card
    assert "12345" in page


def test_full_card_only_in_scope(client, code, worker, other_worker):
    client.force_login(worker)
    page = client.get(f"/c/{code.token}/").content.decode()
    assert 'data-testid="scan-full"' in page and 'data-testid="live-colour"' in page
    assert 'data-testid="checkin-form"' in page
    assert "赵秘密" not in page  # the full card masks personal data too
    other = Client()
    other.force_login(other_worker)
    page = other.get(f"/c/{code.token}/").content.decode()
    assert 'data-testid="scan-public"' in page and 'data-testid="scan-full"' not in page
    response = other.post(f"/c/{code.token}/checkin/", {"lng": IN_MICRO_ONLY[0]})
    assert response.status_code == 403
    assert not CheckIn.objects.exists()


def test_resident_sees_the_public_card(client, code, user_factory):
    client.force_login(user_factory(role="resident"))
    page = client.get(f"/c/{code.token}/").content.decode()
    assert 'data-testid="scan-public"' in page


def test_anonymous_actions_go_to_the_login(client, code):
    response = client.post(f"/c/{code.token}/checkin/", {})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not CheckIn.objects.exists()


def test_check_in_within_the_radius(client, code, house, worker):
    client.force_login(worker)
    lng, lat = offset(IN_MICRO_ONLY, 30)
    response = client.post(
        f"/c/{code.token}/checkin/",
        {"lng": lng, "lat": lat, "accuracy": 12, "findings": ["楼道堆物"], "note": "已提醒"},
        follow=True,
    )
    assert response.status_code == 200
    assert "签到成功" in response.content.decode()
    checkin = CheckIn.objects.get()
    assert checkin.user == worker and checkin.code == code
    assert 29 < checkin.distance_m < 31 and not checkin.flagged_far
    assert checkin.findings == ["楼道堆物"] and checkin.note == "已提醒"
    from towngrid.codes.colours import current

    state = current(house)
    assert state.last_patrol_at == checkin.at


def test_check_in_outside_the_radius_is_kept_and_flagged(code, house, worker):
    lng, lat = offset(IN_MICRO_ONLY, 250)
    checkin = actions.check_in(house, actor=worker, lng=lng, lat=lat, code=code)
    assert checkin.flagged_far and 249 < checkin.distance_m < 251


def test_radius_is_configurable(code, house, worker):
    from towngrid.core import config

    config.set_value("codes.checkin_radius_m", 300)
    lng, lat = offset(IN_MICRO_ONLY, 250)
    assert not actions.check_in(house, actor=worker, lng=lng, lat=lat).flagged_far


def test_check_in_without_position_is_flagged(code, house, worker):
    checkin = actions.check_in(house, actor=worker, lng=None, lat=None)
    assert checkin.no_position and checkin.distance_m is None and checkin.is_flagged


def test_check_in_refuses_bad_coordinates(house, worker):
    with pytest.raises(CodeError) as info:
        actions.check_in(house, actor=worker, lng="abc", lat=31.1)
    assert info.value.code == "invalid"
    with pytest.raises(CodeError):
        actions.check_in(house, actor=worker, lng=500, lat=31.1)
    assert not CheckIn.objects.exists()


def test_check_in_in_gcj02_is_converted(code, house, worker):
    from towngrid.grids.crs import wgs84_to_gcj02

    lng, lat = wgs84_to_gcj02(*IN_MICRO_ONLY)
    checkin = actions.check_in(house, actor=worker, lng=lng, lat=lat, crs="gcj02")
    assert checkin.distance_m < 5


def test_report_from_scan_links_the_house(client, code, house, worker):
    from towngrid.cases.models import Case, Category, Source

    category = Category.objects.filter(active=True).order_by("full_code").first()
    client.force_login(worker)
    assert client.get(f"/c/{code.token}/report/").status_code == 200
    response = client.post(
        f"/c/{code.token}/report/",
        {"category": category.pk, "description": "楼道堆放杂物，堵塞消防通道"},
    )
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.subject == house and case.source == Source.CODE_SCAN
    assert case.address == house.full_address
    assert (case.lng, case.lat) == (house.lng, house.lat) and case.grid_code == house.grid_code
    page = client.get(f"/c/{code.token}/").content.decode()
    assert case.number in page  # listed among the open cases of the full card


def test_report_from_scan_with_bad_input_writes_nothing(client, code, worker):
    from towngrid.cases.models import Case

    client.force_login(worker)
    response = client.post(f"/c/{code.token}/report/", {"description": ""})
    assert response.status_code == 400
    assert "请选择问题类别" in response.content.decode()
    assert not Case.objects.exists()


def test_update_object_from_scan(client, code, house, worker):
    client.force_login(worker)
    assert client.get(f"/c/{code.token}/edit/").status_code == 200
    response = client.post(
        f"/c/{code.token}/edit/",
        {
            "use": "rented",
            "is_rented": "on",
            "occupants": 5,
            "tenant_count": 5,
            "rented_rooms": 2,
            "version": house.version,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    house.refresh_from_db()
    assert house.occupants == 5 and house.is_rented and house.version == 1


def test_update_object_with_a_stale_version_is_refused(client, code, house, worker):
    client.force_login(worker)
    from towngrid.registry import actions as registry_actions

    registry_actions.update(house, actor=worker, occupants=4)
    response = client.post(
        f"/c/{code.token}/edit/",
        {
            "use": "owner_occupied",
            "occupants": 6,
            "tenant_count": 0,
            "rented_rooms": 0,
            "version": 0,
        },
    )
    assert response.status_code == 400
    house.refresh_from_db()
    assert house.occupants == 4


def test_codes_follow_their_object_to_another_grid(code, house, worker):
    from tests.grids.test_geo_fixtures import IN_PARK
    from towngrid.registry import actions as registry_actions

    from .support import OTHER_MICRO

    registry_actions.update(house, actor=None, lng=IN_PARK[0], lat=IN_PARK[1])
    house.refresh_from_db()
    assert house.grid_code == OTHER_MICRO
    code.refresh_from_db()
    assert code.grid_code == OTHER_MICRO and code.group_code == ""
