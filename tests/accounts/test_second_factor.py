"""Two-factor login for administrators (MLPS 2.0 level 3): RFC 6238 codes, enrolment at the first
login, a code per later login, codes usable once, wrong codes counted towards the lockout, the
admin's login and the API token endpoint held to the same rule."""

from __future__ import annotations

import base64
import re

import pytest
from django.test import Client
from django.urls import reverse

from towngrid.accounts import second_factor, totp
from towngrid.accounts.models import User
from towngrid.core.models import AuditEvent

PASSWORD = "Correct-horse-42"
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
    ],
)
def test_rfc_6238_sha1_vectors(t, expected):
    assert totp.code_at(RFC_SECRET, t // 30, digits=8) == expected


def test_codes_match_within_the_drift_window_and_only_once():
    secret = totp.new_secret()
    now = 1_700_000_000.0
    step = totp.current_step(now)
    assert totp.matching_step(secret, totp.code_at(secret, step), now=now) == step
    assert totp.matching_step(secret, totp.code_at(secret, step - 1), now=now) == step - 1
    assert totp.matching_step(secret, totp.code_at(secret, step - 2), now=now) == -1
    assert totp.matching_step(secret, totp.code_at(secret, step), now=now, after=step) == -1
    for junk in ("", "12345", "abcdef", "1234567"):
        assert totp.matching_step(secret, junk, now=now) == -1
    assert totp.unseal(totp.seal(secret)) == secret
    assert secret not in totp.seal(secret)


@pytest.fixture
def admin_user(db, user_factory, settings):
    settings.TOWNGRID_REQUIRE_2FA = True
    return user_factory(username="root-2fa", password=PASSWORD, is_staff=True, is_superuser=True)


def _login(client, username, url=None):
    return client.post(
        url or reverse("accounts:login"), {"username": username, "password": PASSWORD}
    )


def _secret_from(page) -> str:
    return re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page.content.decode())[1].replace(
        " ", ""
    )


def test_an_administrator_enrols_at_the_first_login_then_gives_a_code_each_time(admin_user):
    client = Client()
    response = _login(client, "root-2fa")
    assert response.status_code == 302 and response["Location"] == reverse("accounts:second_factor")
    assert "_auth_user_id" not in client.session  # not logged in on the password alone
    page = client.get(reverse("accounts:second_factor"))
    assert "<svg" in page.content.decode()
    secret = _secret_from(page)

    wrong = client.post(reverse("accounts:second_factor"), {"code": "000000"})
    assert wrong.status_code == 400 and "验证码不正确" in wrong.content.decode()
    assert "_auth_user_id" not in client.session

    step = totp.current_step()
    done = client.post(reverse("accounts:second_factor"), {"code": totp.code_at(secret, step)})
    assert done.status_code == 302
    assert client.session["_auth_user_id"] == str(admin_user.pk)
    admin_user.refresh_from_db()
    assert admin_user.totp_confirmed_at and admin_user.totp_secret
    assert secret not in admin_user.totp_secret  # sealed at rest
    assert AuditEvent.objects.filter(action="accounts.second_factor_enrolled").count() == 1

    # The next login asks for a code, without a QR code; the code already used is refused.
    again = Client()
    _login(again, "root-2fa")
    page = again.get(reverse("accounts:second_factor"))
    assert "<svg" not in page.content.decode()
    reused = again.post(reverse("accounts:second_factor"), {"code": totp.code_at(secret, step)})
    assert reused.status_code == 400 and "_auth_user_id" not in again.session
    fresh = again.post(reverse("accounts:second_factor"), {"code": totp.code_at(secret, step + 1)})
    assert fresh.status_code == 302 and again.session["_auth_user_id"] == str(admin_user.pk)


def test_others_are_not_asked_unless_they_enrolled(db, user_factory, settings):
    settings.TOWNGRID_REQUIRE_2FA = True
    worker = user_factory(role="grid_worker", username="gw-2fa", password=PASSWORD)
    client = Client()
    assert _login(client, "gw-2fa")["Location"] != reverse("accounts:second_factor")
    assert client.session["_auth_user_id"] == str(worker.pk)
    settings.TOWNGRID_REQUIRE_2FA = False
    user_factory(username="root-off", password=PASSWORD, is_staff=True, is_superuser=True)
    client = Client()
    _login(client, "root-off")
    assert "_auth_user_id" in client.session


def test_wrong_codes_lock_the_account(admin_user, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    client = Client()
    _login(client, "root-2fa")
    client.get(reverse("accounts:second_factor"))
    client.post(reverse("accounts:second_factor"), {"code": "000000"})
    start_over = client.post(reverse("accounts:second_factor"), {"code": "000001"})
    assert start_over.status_code == 302 and start_over["Location"] == reverse("accounts:login")
    admin_user.refresh_from_db()
    assert admin_user.locked_until is not None
    # The pending step is gone: the code page sends back to the login.
    assert client.get(reverse("accounts:second_factor"))["Location"] == reverse("accounts:login")


def test_a_pending_step_expires(admin_user):
    client = Client()
    _login(client, "root-2fa")
    session = client.session
    session[second_factor.SESSION_KEY]["at"] -= second_factor.PENDING_SECONDS + 1
    session.save()
    assert client.get(reverse("accounts:second_factor"))["Location"] == reverse("accounts:login")


def test_the_admin_login_goes_through_the_same_steps(admin_user):
    client = Client()
    response = _login(client, "root-2fa", url=reverse("admin:login") + "?next=/admin/")
    assert response["Location"] == reverse("accounts:second_factor")
    secret = _secret_from(client.get(reverse("accounts:second_factor")))
    done = client.post(
        reverse("accounts:second_factor"), {"code": totp.code_at(secret, totp.current_step())}
    )
    assert done["Location"] == "/admin/"


def test_the_token_endpoint_needs_the_code(admin_user):
    url = "/api/v1/auth/token/"
    refused = Client().post(url, {"username": "root-2fa", "password": PASSWORD})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "second_factor_enrolment_required"

    secret = totp.new_secret()
    User.objects.filter(pk=admin_user.pk).update(
        totp_secret=totp.seal(secret), totp_confirmed_at="2026-01-01T00:00:00Z"
    )
    missing = Client().post(url, {"username": "root-2fa", "password": PASSWORD})
    assert (
        missing.status_code == 401 and missing.json()["error"]["code"] == "second_factor_required"
    )
    code = totp.code_at(secret, totp.current_step())
    ok = Client().post(url, {"username": "root-2fa", "password": PASSWORD, "otp": code})
    assert ok.status_code == 200 and ok.json()["token"]
    replay = Client().post(url, {"username": "root-2fa", "password": PASSWORD, "otp": code})
    assert replay.status_code == 401


def test_a_reset_removes_the_authenticator_and_is_audited(admin_user, user_factory):
    User.objects.filter(pk=admin_user.pk).update(
        totp_secret=totp.seal(totp.new_secret()), totp_confirmed_at="2026-01-01T00:00:00Z"
    )
    security = user_factory(role="security_admin", username="sec-2fa")
    second_factor.reset(admin_user, actor=security, reason="手机丢失")
    admin_user.refresh_from_db()
    assert not admin_user.totp_secret and admin_user.totp_confirmed_at is None
    event = AuditEvent.objects.get(action="accounts.second_factor_reset")
    assert event.actor == security and event.reason == "手机丢失"
