"""Alarm → case (CasePolicy, data).

An alarm without a case that meets an active policy of its type (severity at least
``min_severity``; the reading's ``confidence`` at least ``min_confidence`` when the policy sets
one) becomes a case through ``cases.actions.report`` with the device as its subject, source
``ai_camera`` for cameras and ``sensor`` otherwise, and the reading's snapshot as its photo.
If another alarm of the same type at the same device was linked to a still-open case and was
seen within ``join_window_minutes``, the alarm joins that case instead of opening a new one.
A case that cannot be made (e.g. the device sits outside the town) is noted on the alarm and
does not stop the batch.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from django.core.files.storage import default_storage
from django.db import transaction

from .models import SEVERITY_RANK, Alarm, CasePolicy, Device

log = logging.getLogger(__name__)
CACHE_SECONDS = 30.0
AI_CAMERA = "ai_camera"


class PolicyCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded_at = 0.0
        self._by_type: dict[str, list[CasePolicy]] = {}

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = 0.0

    def alarm_types(self) -> frozenset[str]:
        """The alarm types that have a policy (read once per batch: most alarms have none)."""
        self.for_type("")
        return frozenset(self._by_type)

    def for_type(self, alarm_type: str) -> list[CasePolicy]:
        with self._lock:
            if time.monotonic() - self._loaded_at > CACHE_SECONDS:
                by_type: dict[str, list[CasePolicy]] = {}
                for policy in CasePolicy.objects.filter(is_active=True).select_related(
                    "category", "department"
                ):
                    by_type.setdefault(policy.alarm_type, []).append(policy)
                self._by_type, self._loaded_at = by_type, time.monotonic()
            return self._by_type.get(alarm_type, [])


cache = PolicyCache()


def matching_policy(alarm: Alarm, values: dict) -> CasePolicy | None:
    for policy in cache.for_type(alarm.alarm_type):
        if SEVERITY_RANK[alarm.severity] < SEVERITY_RANK[policy.min_severity]:
            continue
        if policy.min_confidence is not None:
            confidence = values.get("confidence")
            if not isinstance(confidence, int | float) or confidence < policy.min_confidence:
                continue
        return policy
    return None


def _joinable(alarm: Alarm, policy: CasePolicy, at: datetime):
    from towngrid.cases.models import OPEN_STATUSES

    window_start = at - timedelta(minutes=policy.join_window_minutes)
    earlier = (
        Alarm.objects.filter(
            device_id=alarm.device_id,
            alarm_type=alarm.alarm_type,
            case__isnull=False,
            case__status__in=OPEN_STATUSES,
            case__category_id=policy.category_id,
            last_seen_at__gte=window_start,
        )
        .exclude(pk=alarm.pk)
        .select_related("case")
        .order_by("-last_seen_at")
        .first()
    )
    return earlier.case if earlier else None


def _description(alarm: Alarm, device: Device, values: dict, policy: CasePolicy) -> str:
    what = alarm.name or alarm.alarm_type
    text = f"{device.device_type.name}「{device.name}」（{device.code}）告警：{what}"
    event = values.get("event")
    if isinstance(event, str) and event not in what:
        text += f"，识别为{event}"
    confidence = values.get("confidence")
    if isinstance(confidence, int | float):
        text += f"，置信度 {confidence:.2f}"
    value = alarm.details.get("value")
    if value is not None and alarm.details.get("metric") not in (None, "event"):
        text += f"，{alarm.details.get('metric_name', alarm.details['metric'])} = {value}"
    text += "。"
    if policy.department_id:
        text += f"建议处置部门：{policy.department.name}。"
    return text


def _snapshot_bytes(alarm: Alarm, snapshot: bytes | None) -> bytes | None:
    if snapshot:
        return snapshot
    path = alarm.details.get("snapshot")
    if isinstance(path, str) and path and default_storage.exists(path):
        with default_storage.open(path, "rb") as f:
            return f.read()
    return None


def apply(
    alarm: Alarm,
    device: Device,
    values: dict,
    snapshot: bytes | None,
    at: datetime,
    *,
    policy: CasePolicy | None = None,
):
    """Give the alarm its case if a policy says so (``policy``: the one that matched when the
    reading came); returns the case (new or joined) or None."""
    if alarm.case_id is not None:
        return None
    policy = policy or matching_policy(alarm, values)
    if policy is None:
        return None
    from towngrid.cases import actions as case_actions
    from towngrid.cases.errors import CaseError
    from towngrid.cases.media import PhotoError
    from towngrid.cases.models import Source

    case = _joinable(alarm, policy, at)
    if case is not None:
        alarm.case = case
        alarm.details = {**alarm.details, "case_joined": case.number}
        Alarm.objects.filter(pk=alarm.pk).update(case=case, details=alarm.details)
        return case
    photo = _snapshot_bytes(alarm, snapshot)
    source = Source.AI_CAMERA if device.device_type.code == AI_CAMERA else Source.SENSOR
    try:
        with transaction.atomic():
            case = case_actions.report(
                category=policy.category,
                description=_description(alarm, device, values, policy),
                lng=device.lng,
                lat=device.lat,
                source=source,
                actor=None,
                address=device.address,
                source_ref=f"ALARM-{alarm.pk}",
                photos=[photo] if photo else (),
                at=at,
                subject=device,
            )
    except (CaseError, PhotoError, ValueError) as exc:
        # Not fatal for the readings: keep the alarm, say why it has no case.
        log.warning("alarm %s: no case: %s", alarm.pk, exc)
        alarm.details = {**alarm.details, "case_error": str(exc)}
        Alarm.objects.filter(pk=alarm.pk).update(details=alarm.details)
        return None
    alarm.case = case
    Alarm.objects.filter(pk=alarm.pk).update(case=case)
    return case
