"""Authentication: Argon2, lockout (page and API alike), API tokens, demo accounts in production,
sessions, passwords that must be changed, and the audit of all of it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.hashers import get_hasher
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from towngrid.accounts.models import ApiToken, User, hash_token
from towngrid.core.models import AuditEvent

PASSWORD = "Correct-horse-42"
WRONG = "wrong-password-99"
IP = "203.0.113.7"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()  # the token endpoint's per-address throttle lives in the cache
    yield
    cache.clear()


@pytest.fixture
def user(user_factory):
    return user_factory(role="town_leader", username="leader-x", password=PASSWORD)


def page_login(client, username, password):
    return client.post(
        reverse("accounts:login"),
        {"username": username, "password": password},
        REMOTE_ADDR=IP,
    )


def api_token(client, username, password):
    return client.post(
        reverse("api-auth-token"),
        {"username": username, "password": password},
        content_type="application/json",
        REMOTE_ADDR=IP,
    )


def events(action, **filters):
    return AuditEvent.objects.filter(action=action, **filters)


# --- hashing ----------------------------------------------------------------------------------


def test_passwords_are_hashed_with_argon2(user):
    assert get_hasher().algorithm == "argon2"
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password(PASSWORD)


# --- lockout ------------------------------------------------------------------------------------


def test_page_login_locks_after_the_limit(db, user, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(3):
        response = page_login(client, "leader-x", WRONG)
        assert response.status_code == 200  # the form again, with an error
    user.refresh_from_db()
    assert user.locked_until and user.locked_until > timezone.now()
    response = page_login(client, "leader-x", PASSWORD)  # even the right password
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "锁定" in response.content.decode()
    assert events("accounts.locked", object_id=str(user.pk)).count() == 1
    assert events("accounts.login_failed", object_repr="leader-x", reason="locked").exists()


def test_lockout_ends_and_success_resets_the_count(db, user, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    client = Client()
    page_login(client, "leader-x", WRONG)
    page_login(client, "leader-x", WRONG)
    user.refresh_from_db()
    assert user.failed_logins == 2
    response = page_login(client, "leader-x", PASSWORD)
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.failed_logins, user.locked_until) == (0, None)

    User.objects.filter(pk=user.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    response = page_login(Client(), "leader-x", PASSWORD)
    assert response.status_code == 302  # the lock has run out


def test_lock_lasts_the_configured_minutes(db, user, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    settings.LOGIN_LOCKOUT_MINUTES = 15
    client = Client()
    before = timezone.now()
    page_login(client, "leader-x", WRONG)
    page_login(client, "leader-x", WRONG)
    user.refresh_from_db()
    assert timedelta(minutes=14) < user.locked_until - before <= timedelta(minutes=15, seconds=5)


def test_api_token_login_locks_too(db, user, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(3):
        response = api_token(client, "leader-x", WRONG)
    body = api_token(client, "leader-x", PASSWORD).json()
    assert body["error"]["code"] == "account_locked"
    assert body["error"]["details"]["locked_until"]
    assert not ApiToken.objects.filter(user=user).exists()
    assert response.status_code in (400, 403)


def test_page_and_api_failures_count_together(db, user, settings):
    settings.LOGIN_FAILURE_LIMIT = 4
    client = Client()
    page_login(client, "leader-x", WRONG)
    page_login(client, "leader-x", WRONG)
    api_token(client, "leader-x", WRONG)
    api_token(client, "leader-x", WRONG)
    response = api_token(client, "leader-x", PASSWORD)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_locked"


def test_unknown_user_and_bad_password_look_the_same(db, user):
    a = api_token(Client(), "leader-x", WRONG).json()
    b = api_token(Client(), "nobody-at-all", WRONG).json()
    assert a == b == {"error": {"code": "invalid_credentials", "message": a["error"]["message"]}}


def test_inactive_user_is_refused_without_counting(db, user):
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = api_token(Client(), "leader-x", PASSWORD)
    assert response.status_code == 400
    user.refresh_from_db()
    assert user.failed_logins == 0


# --- tokens ---------------------------------------------------------------------------------------


def test_token_lifecycle(db, user):
    client = Client()
    response = api_token(client, "leader-x", PASSWORD)
    assert response.status_code == 200
    key = response.json()["token"]
    assert response.json()["expires_at"]

    token = ApiToken.objects.get(user=user)
    assert token.key_hash == hash_token(key)
    stored = " ".join(
        str(v) for v in ApiToken.objects.filter(pk=token.pk).values().first().values()
    )
    assert key not in stored  # only the SHA-256 is kept
    assert token.prefix == key[:8]

    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    me = Client().get(reverse("api-me"), **auth)
    assert me.status_code == 200
    assert me.json()["username"] == "leader-x"
    token.refresh_from_db()
    assert token.last_used_at is not None

    revoke = Client().post(reverse("api-auth-token-revoke"), **auth, REMOTE_ADDR=IP)
    assert revoke.status_code == 204
    refused = Client().get(reverse("api-me"), **auth)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "token_invalid"

    assert events("accounts.token_issued", object_id=str(token.pk), client_ip=IP).exists()
    assert events("accounts.token_revoked", object_id=str(token.pk), client_ip=IP).exists()


def test_expired_token_is_refused(db, user):
    from towngrid.accounts import actions

    token, key = actions.issue_token(user, name="t", days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = Client().get(reverse("api-me"), HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"


def test_token_of_deactivated_user_is_refused(db, user):
    from towngrid.accounts import actions

    _token, key = actions.issue_token(user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = Client().get(reverse("api-me"), HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401


def test_unknown_token_and_no_credentials(db):
    response = Client().get(reverse("api-me"), HTTP_AUTHORIZATION="Token not-a-real-key")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"
    response = Client().get(reverse("api-me"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_token_lifetime_setting(db, user, settings):
    from towngrid.accounts import actions

    settings.TOWNGRID_API_TOKEN_DAYS = 7
    token, _ = actions.issue_token(user)
    assert timedelta(days=6) < token.expires_at - timezone.now() <= timedelta(days=7)
    settings.TOWNGRID_API_TOKEN_DAYS = 0
    token, _ = actions.issue_token(user)
    assert token.expires_at is None


# --- me -------------------------------------------------------------------------------------------


def test_me_gives_role_scope_and_capabilities(db, user_factory):
    from towngrid.grids.models import GridNode, Kind, Level

    node = GridNode.objects.create(
        code="310115903", name="测试镇", level=Level.TOWN, kind=Kind.TOWN
    )
    worker = user_factory(role="community_staff", scope=node, username="cs-me")
    client = Client()
    client.force_login(worker)
    body = client.get(reverse("api-me")).json()
    assert body["username"] == "cs-me"
    assert body["role"] == "community_staff"
    assert body["scope"]["kind"] == "grid"
    assert body["scope"]["grid_code"] == "310115903"
    assert body["scope"]["grid_level"] == 1
    assert "grids.manage_staff" in body["capabilities"]
    assert "cases.report" in body["capabilities"]
    assert body["capabilities"] == sorted(body["capabilities"])
    assert "users.manage" not in body["capabilities"]
    assert body["password_change_required"] is None


# --- demo accounts in production ----------------------------------------------------------------


@pytest.fixture
def demo(user_factory):
    return user_factory(role="grid_worker", username="demo-x", password=PASSWORD, is_demo=True)


def test_demo_login_works_outside_production(db, demo, settings):
    settings.PRODUCTION = False
    assert page_login(Client(), "demo-x", PASSWORD).status_code == 302


def test_demo_refused_at_login_in_production(db, demo, settings):
    settings.PRODUCTION = True
    response = page_login(Client(), "demo-x", PASSWORD)
    assert response.status_code == 200
    assert "演示账户" in response.content.decode()
    body = api_token(Client(), "demo-x", PASSWORD).json()
    assert body["error"]["code"] == "demo_refused"
    assert events("accounts.login_failed", object_repr="demo-x", reason="demo_refused").exists()


def test_demo_sessions_and_tokens_die_in_production(db, demo, settings):
    from towngrid.accounts import actions

    settings.PRODUCTION = False
    client = Client()
    client.force_login(demo)
    _token, key = actions.issue_token(demo)
    assert client.get(reverse("api-me")).status_code == 200
    settings.PRODUCTION = True
    assert client.get(reverse("api-me")).status_code in (401, 403)
    page = client.get("/")
    assert page.status_code == 302 and page["Location"].startswith(reverse("accounts:login"))
    response = Client().get(reverse("api-me"), HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "demo_refused"


# --- sessions ---------------------------------------------------------------------------------


def test_session_settings():
    assert settings.SESSION_COOKIE_AGE <= 30 * 60  # idle timeout
    assert settings.SESSION_SAVE_EVERY_REQUEST  # … counted from the last request
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    assert settings.SESSION_COOKIE_HTTPONLY
    assert settings.SESSION_COOKIE_SAMESITE in ("Lax", "Strict")
    assert settings.CSRF_COOKIE_SAMESITE in ("Lax", "Strict")
    assert settings.X_FRAME_OPTIONS == "DENY"


def test_session_expires_after_the_idle_time(db, user):
    client = Client()
    assert page_login(client, "leader-x", PASSWORD).status_code == 302
    session = client.session
    assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    assert session.get_expire_at_browser_close()


def test_production_settings_secure_the_cookies(tmp_path):
    env = {
        **os.environ,
        "TOWNGRID_PRODUCTION": "1",
        "TOWNGRID_SECRET_KEY": "x" * 50,
        "TOWNGRID_DATA_DIR": str(tmp_path),
    }
    code = (
        "import towngrid.settings as s; "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "True", "True", "True"]


def test_production_demands_a_secret_key(tmp_path):
    env = {**os.environ, "TOWNGRID_PRODUCTION": "1", "TOWNGRID_DATA_DIR": str(tmp_path)}
    env.pop("TOWNGRID_SECRET_KEY", None)
    out = subprocess.run(
        [sys.executable, "-c", "import towngrid.settings"], env=env, capture_output=True, text=True
    )
    assert out.returncode != 0 and "TOWNGRID_SECRET_KEY" in out.stderr


# --- passwords that must be changed first -------------------------------------------------------


def test_initial_password_must_be_changed_first(db, user_factory):
    worker = user_factory(role="town_leader", username="fresh-x", password=PASSWORD)
    User.objects.filter(pk=worker.pk).update(must_change_password=True)
    client = Client()
    client.force_login(worker)
    assert client.get(reverse("api-me")).json()["password_change_required"] == "must_change"
    refused = client.get(reverse("grid-list"))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "password_change_required"

    wrong = client.post(
        reverse("api-me-password"),
        {"old_password": WRONG, "new_password": "Another-pass-77"},
        content_type="application/json",
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "password_not_changed"
    weak = client.post(
        reverse("api-me-password"),
        {"old_password": PASSWORD, "new_password": "123"},
        content_type="application/json",
    )
    assert weak.status_code == 400
    done = client.post(
        reverse("api-me-password"),
        {"old_password": PASSWORD, "new_password": "Another-pass-77"},
        content_type="application/json",
    )
    assert done.status_code == 204
    assert client.get(reverse("grid-list")).status_code == 200  # same session, still signed in
    worker.refresh_from_db()
    assert not worker.must_change_password and worker.check_password("Another-pass-77")
    assert events("accounts.password_changed", object_id=str(worker.pk)).count() == 1
    assert events("accounts.password_change_failed", object_id=str(worker.pk)).count() == 1


def test_expired_password_blocks_token_calls_until_changed(db, user_factory, settings):
    from towngrid.accounts import actions

    settings.TOWNGRID_PASSWORD_MAX_AGE_DAYS = 90
    worker = user_factory(role="town_leader", username="old-x", password=PASSWORD)
    User.objects.filter(pk=worker.pk).update(
        password_changed_at=timezone.now() - timedelta(days=91)
    )
    _token, key = actions.issue_token(worker)
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    assert Client().get(reverse("api-me"), **auth).json()["password_change_required"] == "expired"
    refused = Client().get(reverse("grid-list"), **auth)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "password_change_required"
    changed = Client().post(
        reverse("api-me-password"),
        {"old_password": PASSWORD, "new_password": "Another-pass-77"},
        content_type="application/json",
        **auth,
    )
    assert changed.status_code == 204
    assert Client().get(reverse("grid-list"), **auth).status_code == 200

    settings.TOWNGRID_PASSWORD_MAX_AGE_DAYS = 0  # expiry off
    User.objects.filter(pk=worker.pk).update(
        password_changed_at=timezone.now() - timedelta(days=900)
    )
    assert Client().get(reverse("grid-list"), **auth).status_code == 200


def test_pages_send_a_must_change_user_to_the_change_page(db, user_factory):
    from towngrid.accounts.access import password_change_page

    worker = user_factory(role="town_leader", username="fresh-y", password=PASSWORD)
    User.objects.filter(pk=worker.pk).update(must_change_password=True)
    client = Client()
    client.force_login(worker)
    response = client.get("/")
    page = password_change_page()
    if page is None:
        pytest.skip("the UI has no accounts:password_change page yet")
    assert response.status_code == 302 and response["Location"].startswith(page)
    assert client.get(page).status_code == 200


def test_demo_accounts_never_expire(db, demo, settings):
    from towngrid.accounts.access import password_change_required

    User.objects.filter(pk=demo.pk).update(password_changed_at=timezone.now() - timedelta(days=999))
    demo.refresh_from_db()
    assert password_change_required(demo) is None


# --- audit of logins -----------------------------------------------------------------------------


def test_login_logout_and_failure_are_audited_once_with_the_address(db, user):
    client = Client()
    page_login(client, "leader-x", WRONG)
    page_login(client, "leader-x", PASSWORD)
    client.post(reverse("accounts:logout"), REMOTE_ADDR=IP)
    failed = events("accounts.login_failed", object_repr="leader-x")
    assert failed.count() == 1
    assert failed.get().client_ip == IP and failed.get().actor is None
    login = events("accounts.login", actor=user)
    assert login.count() == 1 and login.get().client_ip == IP
    logout = events("accounts.logout", actor=user)
    assert logout.count() == 1 and logout.get().client_ip == IP


def test_admin_login_is_audited_and_locked_like_the_rest(db, user_factory, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    admin = user_factory(username="root-x", password=PASSWORD, is_staff=True, is_superuser=True)
    client = Client()
    url = reverse("admin:login")
    for _ in range(2):
        client.post(url, {"username": "root-x", "password": WRONG}, REMOTE_ADDR=IP)
    client.post(url, {"username": "root-x", "password": PASSWORD}, REMOTE_ADDR=IP)
    assert "_auth_user_id" not in client.session
    admin.refresh_from_db()
    assert admin.locked_until is not None
    assert events("accounts.login_failed", object_repr="root-x").count() == 3
