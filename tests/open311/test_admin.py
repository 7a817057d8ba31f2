"""Open311 keys in the admin: adding one shows the key once and stores only its hash; the list
action revokes (audited) and a revoked key is refused by the API."""

from __future__ import annotations

import re

from django.test import Client

from towngrid.core.models import AuditEvent
from towngrid.open311.models import ApiKey, hash_key


def test_admin_issues_and_revokes_keys(town, demo_user, point):
    admin = Client()
    admin.force_login(demo_user("admin"))
    response = admin.post(
        "/admin/open311/apikey/add/",
        {"name": "合作方应用", "rate_limit_per_minute": "5"},
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    (raw,) = [re.search(r"：(\S+)$", m).group(1) for m in shown if "仅显示这一次" in m]
    key = ApiKey.objects.get(name="合作方应用")
    assert key.key_hash == hash_key(raw) and key.rate_limit_per_minute == 5
    assert key.prefix == raw[:8]

    data = {"api_key": raw, "service_code": "E0102", "lat": point[1], "long": point[0]}
    assert Client().post("/open311/v2/requests.json", data).status_code == 201

    response = admin.post(
        "/admin/open311/apikey/",
        {"action": "revoke", "_selected_action": [key.pk]},
        follow=True,
    )
    assert response.status_code == 200
    key.refresh_from_db()
    assert not key.active and key.revoked_at is not None
    assert AuditEvent.objects.filter(action="open311.key_revoked").exists()
    assert Client().post("/open311/v2/requests.json", data).status_code == 403
