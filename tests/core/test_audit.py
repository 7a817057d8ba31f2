"""The audit trail: append-only at every layer, readable only by the right people in the admin,
with the client address from the middleware; and the API's structured errors."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.test import Client, RequestFactory
from django.urls import reverse

from towngrid.core.audit import diff, record
from towngrid.core.context import set_client_ip
from towngrid.core.middleware import client_ip_of
from towngrid.core.models import AuditEvent, AuditTrailError

# --- append-only --------------------------------------------------------------------------------


@pytest.fixture
def event(db):
    return record(None, "test.something", object_type="test.thing", object_id="1", reason="why")


def test_record_fills_every_field(db, user_factory):
    actor = user_factory(username="actor-x")
    token = set_client_ip("198.51.100.4")
    try:
        e = record(actor, "test.changed", actor, changes={"a": [1, 2]}, reason="because")
    finally:
        from towngrid.core.context import reset_client_ip

        reset_client_ip(token)
    e.refresh_from_db()
    assert (e.actor, e.actor_name, e.action) == (actor, "actor-x", "test.changed")
    assert (e.object_type, e.object_id, e.object_repr) == (
        "accounts.user",
        str(actor.pk),
        "actor-x",
    )
    assert e.changes == {"a": [1, 2]} and e.reason == "because"
    assert e.client_ip == "198.51.100.4" and e.at is not None


def test_system_actor_and_no_address_outside_a_request(event):
    assert event.actor is None and event.actor_name == "system" and event.client_ip is None


def test_diff():
    assert diff({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == {"b": [2, 3], "c": [None, 4]}


def test_model_refuses_update_and_delete(event):
    event.reason = "rewritten"
    with pytest.raises(AuditTrailError):
        event.save()
    with pytest.raises(AuditTrailError):
        event.delete()


def test_queryset_refuses_update_and_delete(event):
    qs = AuditEvent.objects.filter(pk=event.pk)
    with pytest.raises(AuditTrailError):
        qs.delete()
    with pytest.raises(AuditTrailError):
        qs.update(reason="rewritten")
    with pytest.raises(AuditTrailError):
        AuditEvent.objects.bulk_update([event], ["reason"])
    with pytest.raises(PermissionError):  # AuditTrailError is a PermissionError
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).reason == "why"


def test_database_refuses_raw_update(event):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditevent SET reason = 'rewritten'")
    assert AuditEvent.objects.get(pk=event.pk).reason == "why"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="DELETE trigger on PostgreSQL only")
def test_postgresql_refuses_raw_delete(event):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent")
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_deleting_a_user_keeps_their_events(db, user_factory):
    actor = user_factory(username="leaver-x")
    e = record(actor, "test.did", actor)
    actor_id = actor.pk
    actor.delete()
    kept = AuditEvent.objects.get(pk=e.pk)
    assert kept.actor_id == actor_id and kept.actor_name == "leaver-x"


# --- the admin --------------------------------------------------------------------------------


@pytest.fixture
def superuser(user_factory):
    return user_factory(username="root-y", is_staff=True, is_superuser=True)


def test_admin_shows_events_read_only(event, superuser):
    client = Client()
    client.force_login(superuser)
    listing = client.get(reverse("admin:core_auditevent_changelist"))
    assert listing.status_code == 200
    assert "test.something" in listing.content.decode()
    assert "delete_selected" not in listing.content.decode()
    detail = client.get(reverse("admin:core_auditevent_change", args=[event.pk]))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    # Posting to the change form changes nothing.
    client.post(reverse("admin:core_auditevent_change", args=[event.pk]), {"reason": "x"})
    assert AuditEvent.objects.get(pk=event.pk).reason == "why"
    assert client.get(reverse("admin:core_auditevent_add")).status_code == 403
    delete = reverse("admin:core_auditevent_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_admin_audit_is_for_the_audit_administrator_only(event, user_factory):
    auditor = user_factory(role="audit_admin", username="auditor-x", is_staff=True)
    sysadmin = user_factory(role="sysadmin", username="sys-x", is_staff=True)
    client = Client()
    client.force_login(auditor)
    assert client.get(reverse("admin:core_auditevent_changelist")).status_code == 200
    client.force_login(sysadmin)
    assert client.get(reverse("admin:core_auditevent_changelist")).status_code == 403


# --- client address ---------------------------------------------------------------------------


def _request(remote, forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_forwarded_header_is_ignored_without_a_trusted_proxy(settings):
    settings.TOWNGRID_TRUSTED_PROXIES = []
    assert client_ip_of(_request("203.0.113.9", "1.2.3.4")) == "203.0.113.9"


def test_forwarded_header_is_believed_from_a_trusted_proxy(settings):
    settings.TOWNGRID_TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = _request("10.0.0.5", "1.2.3.4, 198.51.100.1, 10.0.0.7")
    assert client_ip_of(request) == "198.51.100.1"  # right-most untrusted hop; 1.2.3.4 is forged
    assert client_ip_of(_request("10.0.0.5", "garbage")) == "10.0.0.5"
    assert client_ip_of(_request("203.0.113.9", "1.2.3.4")) == "203.0.113.9"  # not a proxy
    settings.TOWNGRID_TRUSTED_PROXIES = "10.0.0.0/8,127.0.0.1"
    assert client_ip_of(_request("127.0.0.1", "2001:db8::1")) == "2001:db8::1"


def test_junk_address_is_not_recorded():
    assert client_ip_of(_request("not-an-ip")) is None


def test_middleware_puts_the_address_on_events(db, user_factory):
    user = user_factory(username="ip-x", password="Correct-horse-42")
    Client().post(
        reverse("accounts:login"),
        {"username": "ip-x", "password": "Correct-horse-42"},
        REMOTE_ADDR="192.0.2.77",
    )
    assert AuditEvent.objects.get(action="accounts.login", actor=user).client_ip == "192.0.2.77"


# --- structured API errors --------------------------------------------------------------------


def _shape(body):
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"])
    assert isinstance(body["error"]["code"], str) and body["error"]["message"]
    return body["error"]


def test_not_authenticated_error(db):
    error = _shape(Client().get(reverse("api-me")).json())
    assert error["code"] == "not_authenticated"


def test_not_found_error(db, superuser):
    client = Client()
    client.force_login(superuser)
    response = client.get(reverse("grid-detail", kwargs={"code": "999999999"}))
    assert response.status_code == 404
    assert _shape(response.json())["code"] == "not_found"


def test_validation_error_lists_fields(db):
    response = Client().post(reverse("api-auth-token"), {}, content_type="application/json")
    assert response.status_code == 400
    error = _shape(response.json())
    assert error["code"] == "invalid"
    assert set(error["details"]) == {"username", "password"}


def test_method_not_allowed_error(db, superuser):
    client = Client()
    client.force_login(superuser)
    response = client.delete(reverse("api-me"))
    assert response.status_code == 405
    assert _shape(response.json())["code"] == "method_not_allowed"


def test_handler_maps_domain_errors():
    from towngrid.core.api import ApiError, exception_handler

    response = exception_handler(
        ApiError("grid_not_found", "不在任何网格内。", status_code=404), {}
    )
    assert response.status_code == 404
    assert response.data == {"error": {"code": "grid_not_found", "message": "不在任何网格内。"}}
    response = exception_handler(ValidationError({"code": ["编码重复。"]}), {})
    assert response.status_code == 400
    assert response.data["error"]["details"] == {"code": ["编码重复。"]}
    response = exception_handler(ValidationError("只有一条。"), {})
    assert response.data["error"]["message"] == "只有一条。"
    assert exception_handler(RuntimeError("boom"), {}) is None  # a 500, not swallowed
