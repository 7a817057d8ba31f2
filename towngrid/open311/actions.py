"""Writes of the Open311 app: issuing and revoking client keys, and turning a posted
GeoReport v2 request into a case through ``cases.actions.report`` (the one way a case is made).

Personal fields a client may send (email, phone, first/last name, device and account ids) are
accepted as the spec requires but not stored: the case workflow does not need them and PIPL
says to collect only what is needed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from towngrid.cases.actions import report
from towngrid.cases.errors import CaseError
from towngrid.cases.models import Case, CaseEvent, Category, Source
from towngrid.core import audit

from .models import ApiKey, hash_key

MAX_DESCRIPTION = 4000
MAX_MEDIA_URL = 500
# Control characters other than tab and newlines: PostgreSQL refuses NUL in text and XML 1.0
# cannot carry most of them, so they are removed at the boundary.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


class Open311Error(Exception):
    """A refusal with the HTTP status the spec gives it (400, 403, 404, 413, 429)."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status = status
        self.description = description


def clean_text(value: object) -> str:
    return _CONTROL.sub("", str(value or "")).strip()


@transaction.atomic
def issue_key(name: str, *, rate_limit_per_minute: int = 30, actor=None) -> tuple[ApiKey, str]:
    """A new key; the clear key is returned once and never stored."""
    raw = ApiKey.new_key()
    key = ApiKey.objects.create(
        name=name[:100],
        prefix=raw[:8],
        key_hash=hash_key(raw),
        rate_limit_per_minute=rate_limit_per_minute,
    )
    audit.record(actor, "open311.key_issued", key, changes={"name": key.name})
    return key, raw


@transaction.atomic
def revoke_key(key: ApiKey, *, actor=None, reason: str = "") -> None:
    if not key.active:
        return
    key.active = False
    key.revoked_at = timezone.now()
    key.save(update_fields=["active", "revoked_at"])
    audit.record(actor, "open311.key_revoked", key, reason=reason)


def authenticate(raw: str | None) -> ApiKey | None:
    """The active key whose hash matches, or None."""
    raw = (raw or "").strip()
    if not raw or len(raw) > 200:
        return None
    key = ApiKey.objects.filter(key_hash=hash_key(raw), active=True).first()
    if key is not None:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    return key


def public_categories():
    return Category.objects.filter(is_public=True, active=True).select_related("major")


def _float(params: Mapping[str, str], name: str) -> float | None:
    value = clean_text(params.get(name))
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise Open311Error(400, f"{name} must be a number (WGS-84 decimal degrees).") from None


def submit(params: Mapping[str, str], *, api_key: ApiKey, at: datetime | None = None) -> Case:
    """POST requests: validate the spec's fields, then create the case (all or nothing)."""
    code = clean_text(params.get("service_code"))
    if not code:
        raise Open311Error(400, "service_code is required.")
    category = public_categories().filter(full_code=code).first()
    if category is None:
        raise Open311Error(404, f"service_code {code[:20]} not found.")
    lat, lng = _float(params, "lat"), _float(params, "long")
    address = clean_text(params.get("address_string"))[:200]
    if lat is None or lng is None:
        if address or clean_text(params.get("address_id")):
            raise Open311Error(
                400,
                "lat and long are required: this server places every request on the town's "
                "grid by its point and does not geocode address_string or address_id.",
            )
        raise Open311Error(400, "lat and long are required.")
    description = clean_text(params.get("description"))
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description may not exceed {MAX_DESCRIPTION} characters.")
    if not description:
        # The case workflow needs a description; the service name stands in, as FixMyStreet does.
        description = category.name
    media_url = clean_text(params.get("media_url"))
    if media_url and (len(media_url) > MAX_MEDIA_URL or not re.match(r"^https?://", media_url)):
        raise Open311Error(400, f"media_url must be an http(s) URL of at most {MAX_MEDIA_URL}.")
    try:
        with transaction.atomic():
            case = report(
                category=category,
                description=description,
                lng=lng,
                lat=lat,
                source=Source.OPEN311,
                address=address,
                source_ref=f"key:{api_key.prefix}",
                at=at,
            )
            if media_url:
                # Kept as text for the staff to look at; never fetched by the server (SSRF).
                event = CaseEvent.objects.get(case=case, action="report")
                event.data = {**event.data, "media_url": media_url}
                event.save(update_fields=["data"])
    except CaseError as exc:
        raise Open311Error(400, exc.message) from None
    return case
