"""In-app notifications (the bell with its count badge): the one way to write them.

Callers pass users (or user ids); duplicates and ``None`` are dropped so a caller can hand over
"everyone involved" without de-duplicating first. Rows are bulk-created: an overdue sweep or a
merge notifies many people in one statement.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models
from django.utils import timezone

from .models import Notification


def _user_ids(users: Iterable) -> list[int]:
    ids: list[int] = []
    seen: set[int] = set()
    for user in users:
        if user is None:
            continue
        pk = user if isinstance(user, int) else getattr(user, "pk", None)
        if pk is None or pk in seen:
            continue
        seen.add(pk)
        ids.append(pk)
    return ids


def notify(
    users: Iterable,
    *,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    obj: models.Model | None = None,
) -> int:
    """Create one notification per distinct user; returns how many were created."""
    ids = _user_ids(users)
    if not ids:
        return 0
    object_type = obj._meta.label_lower if obj is not None else ""
    object_id = str(obj.pk) if obj is not None else ""
    Notification.objects.bulk_create(
        [
            Notification(
                user_id=pk,
                kind=kind[:40],
                title=title[:200],
                body=body,
                url=url[:300],
                object_type=object_type,
                object_id=object_id,
            )
            for pk in ids
        ]
    )
    return len(ids)


def unread_count(user) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def mark_read(user, ids: Iterable[int] | str = "all") -> int:
    """Mark the user's own notifications read: ``ids`` or ``"all"``. Another user's ids are
    silently ignored (the filter is on the owner), so nobody can touch someone else's bell."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids != "all":
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())
