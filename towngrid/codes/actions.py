"""Every state change of the codes app: issue, revoke and reissue codes; check in at an object;
report a problem from a scan; update the scanned object.

Each action validates first (raising ``CodeError`` with a Chinese message, nothing written),
then writes inside one transaction together with its audit event. ``actor=None`` is the system
(CLI, demo builder); a user actor is checked for the capability and the object's grid scope.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Model
from django.utils import timezone

from towngrid.accounts.access import has_capability, in_grid_scope
from towngrid.core import audit

from . import conf, objects, tokens
from .errors import CodeError
from .models import CheckIn, ObjectCode

MAX_NOTE = 2000
MAX_FINDINGS = 20


def _user(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _require(actor, capability: str, obj_grid_code: str, label: str) -> None:
    """Refuse a user without ``capability`` or outside the object's grid (the system passes)."""
    if _user(actor) is None:
        return
    if not has_capability(actor, capability):
        raise CodeError("forbidden", f"您没有“{label}”的权限。")
    if not in_grid_scope(actor, obj_grid_code):
        raise CodeError("forbidden", "该对象不在您的管辖网格内。")


def _located(obj: Model) -> None:
    if not objects.is_coded(obj):
        raise CodeError("invalid", f"{obj._meta.verbose_name}不使用门牌码。")
    if not getattr(obj, "grid_id", None):
        raise CodeError("invalid", "该对象尚未落入网格，不能生成门牌码。")


def live_code(obj: Model) -> ObjectCode | None:
    return ObjectCode.objects.filter(
        content_type=objects.content_type_of(obj), object_id=obj.pk, revoked_at__isnull=True
    ).first()


def _new_code(obj: Model, *, actor, at: datetime, serial: int) -> ObjectCode:
    code = ObjectCode(
        content_type=objects.content_type_of(obj),
        object_id=obj.pk,
        token=tokens.new_token(),
        serial=serial,
        grid_id=obj.grid_id,
        grid_code=obj.grid_code,
        group_code=objects.group_code_of(obj),
        issued_at=at,
        issued_by=_user(actor),
    )
    code.save(force_insert=True)
    return code


def _next_serial(obj: Model) -> int:
    last = ObjectCode.objects.filter(
        content_type=objects.content_type_of(obj), object_id=obj.pk
    ).aggregate(m=Max("serial"))["m"]
    return (last or 0) + 1


# --- issue, revoke, reissue ----------------------------------------------------------------------


def issue(obj: Model, *, actor=None, at: datetime | None = None) -> ObjectCode:
    """The object's live code, issuing one if it has none (idempotent: a second call returns the
    same code and writes nothing)."""
    _located(obj)
    _require(actor, "codes.manage", obj.grid_code, "生成门牌码")
    existing = live_code(obj)
    if existing is not None:
        return existing
    at = at or timezone.now()
    try:
        with transaction.atomic():
            code = _new_code(obj, actor=actor, at=at, serial=_next_serial(obj))
            audit.record(actor, "codes.issue", obj, changes={"serial": code.serial})
    except IntegrityError:
        # Another request issued the code between our check and our insert: use theirs.
        existing = live_code(obj)
        if existing is None:
            raise
        return existing
    return code


def issue_many(
    objs: Iterable[Model], *, actor=None, at: datetime | None = None, batch_size: int = 1000
) -> int:
    """Issue codes for every object that has no live code (bulk: the demo and the CLI). One
    audit event per model summarises the batch. Returns how many codes were issued."""
    at = at or timezone.now()
    issued = 0
    by_model: dict[type, list[Model]] = {}
    for obj in objs:
        by_model.setdefault(type(obj), []).append(obj)
    from towngrid.grids.models import GridNode
    from towngrid.registry.excel import insert_rows, new_row

    group_ids = {getattr(obj, "group_id", None) for rows in by_model.values() for obj in rows} - {
        None
    }
    group_codes = dict(GridNode.objects.filter(pk__in=group_ids).values_list("pk", "code"))
    for model, rows in by_model.items():
        ct = objects.content_type_of(model)
        coded = set(
            ObjectCode.objects.filter(
                content_type=ct, revoked_at__isnull=True, object_id__in=[r.pk for r in rows]
            ).values_list("object_id", flat=True)
        )
        serials = dict(
            ObjectCode.objects.filter(content_type=ct, object_id__in=[r.pk for r in rows])
            .values("object_id")
            .annotate(m=Max("serial"))
            .values_list("object_id", "m")
        )
        todo = [
            new_row(
                ObjectCode,
                content_type_id=ct.pk,
                object_id=r.pk,
                token=tokens.new_token(),
                serial=serials.get(r.pk, 0) + 1,
                grid_id=r.grid_id,
                grid_code=r.grid_code,
                group_code=group_codes.get(getattr(r, "group_id", None), ""),
                issued_at=at,
                issued_by_id=getattr(_user(actor), "pk", None),
                revoked_at=None,
                revoked_by_id=None,
                revoke_reason="",
            )
            for r in rows
            if r.pk not in coded and getattr(r, "grid_id", None)
        ]
        if not todo:
            continue
        with transaction.atomic():
            insert_rows(ObjectCode, todo, batch_size=batch_size)
            audit.record(
                actor,
                "codes.issue_many",
                object_type=model._meta.label_lower,
                object_repr=f"{objects.kind_label(model)} × {len(todo)}",
                changes={"issued": len(todo)},
            )
        issued += len(todo)
    return issued


def revoke(code: ObjectCode, *, actor=None, reason: str, at: datetime | None = None) -> ObjectCode:
    """Revoke a code (the plate was lost, copied or misprinted). A scan of it is refused from now
    on; the row stays so the refusal can say the code was revoked."""
    reason = (reason or "").strip()
    if not reason:
        raise CodeError("reason_required", "作废门牌码必须填写原因。", details={"field": "reason"})
    _require(actor, "codes.manage", code.grid_code, "作废门牌码")
    at = at or timezone.now()
    with transaction.atomic():
        updated = ObjectCode.objects.filter(pk=code.pk, revoked_at__isnull=True).update(
            revoked_at=at, revoked_by=_user(actor), revoke_reason=reason[:200]
        )
        if not updated:
            raise CodeError("conflict", "该门牌码已经作废。")
        code.refresh_from_db()
        audit.record(
            actor,
            "codes.revoke",
            code.subject or code,
            changes={"serial": code.serial},
            reason=reason,
        )
    return code


def reissue(obj: Model, *, actor=None, reason: str, at: datetime | None = None) -> ObjectCode:
    """Revoke the object's live code (if any) and issue a new one, in one transaction: the old
    plate stops working the moment the new one exists."""
    _located(obj)
    reason = (reason or "").strip()
    if not reason:
        raise CodeError(
            "reason_required", "重新生成门牌码必须填写原因。", details={"field": "reason"}
        )
    _require(actor, "codes.manage", obj.grid_code, "重新生成门牌码")
    at = at or timezone.now()
    with transaction.atomic():
        old = (
            ObjectCode.objects.select_for_update()
            .filter(
                content_type=objects.content_type_of(obj),
                object_id=obj.pk,
                revoked_at__isnull=True,
            )
            .first()
        )
        if old is not None:
            old.revoked_at, old.revoked_by, old.revoke_reason = at, _user(actor), reason[:200]
            old.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        code = _new_code(obj, actor=actor, at=at, serial=_next_serial(obj))
        audit.record(
            actor,
            "codes.reissue",
            obj,
            changes={"serial": [old.serial if old else None, code.serial]},
            reason=reason,
        )
    return code


def sync_grid(obj: Model) -> int:
    """Keep the object's codes in the object's grid after it moved (called by the registry
    signal receiver); returns how many code rows changed."""
    if not objects.is_coded(obj) or not getattr(obj, "grid_id", None):
        return 0
    return (
        ObjectCode.objects.filter(content_type=objects.content_type_of(obj), object_id=obj.pk)
        .exclude(grid_code=obj.grid_code, group_code=objects.group_code_of(obj))
        .update(grid_id=obj.grid_id, grid_code=obj.grid_code, group_code=objects.group_code_of(obj))
    )


# --- check-in ------------------------------------------------------------------------------------


def _position(lng, lat, crs: str) -> tuple[float, float] | None:
    if lng in (None, "") or lat in (None, ""):
        return None
    from towngrid.grids.crs import to_wgs84

    try:
        x, y = float(lng), float(lat)
    except (TypeError, ValueError):
        raise CodeError("invalid", "经纬度必须是数字。", details={"field": "lng"}) from None
    if not (math.isfinite(x) and math.isfinite(y)) or not (-180 <= x <= 180 and -90 <= y <= 90):
        raise CodeError("invalid", "经纬度超出范围。", details={"field": "lng"})
    try:
        x, y = to_wgs84(x, y, crs or "wgs84")
    except ValueError as exc:
        raise CodeError("invalid", str(exc), details={"field": "crs"}) from None
    return float(x), float(y)


def _findings(values: Sequence[str] | str | None) -> list[str]:
    if not values:
        return []
    if isinstance(values, str):
        values = [values]
    cleaned = [str(v).strip()[:100] for v in values if str(v).strip()]
    if len(cleaned) > MAX_FINDINGS:
        raise CodeError(
            "invalid", f"发现问题最多 {MAX_FINDINGS} 条。", details={"field": "findings"}
        )
    return cleaned


def _record_patrol(obj: Model, *, at: datetime, actor, findings: list[str]) -> None:
    """Tell the colour engine a patrol happened (last/due patrol, recomputed colour)."""
    try:
        from . import colours
    except ImportError:  # pragma: no cover - the colour engine ships with the codes app
        return
    record = getattr(colours, "record_patrol", None)
    if record is not None:
        record(obj, at=at, actor=actor, findings=findings)


def check_in(
    obj: Model,
    *,
    actor,
    lng: float | str | None,
    lat: float | str | None,
    crs: str = "wgs84",
    accuracy_m: float | None = None,
    note: str = "",
    findings: Sequence[str] | str | None = None,
    code: ObjectCode | None = None,
    at: datetime | None = None,
) -> CheckIn:
    """巡查签到 at ``obj``. The distance from the phone's position to the object is computed
    (haversine); beyond ``codes.checkin_radius_m`` the check-in is accepted but flagged, and a
    check-in without a position is accepted and flagged too (the GPS can be off indoors). The
    colour engine records the patrol."""
    _located(obj)
    _require(actor, "codes.checkin", obj.grid_code, "扫码签到")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise CodeError("invalid", f"巡查记录不能超过 {MAX_NOTE} 字。", details={"field": "note"})
    found = _findings(findings)
    position = _position(lng, lat, crs)
    if accuracy_m not in (None, ""):
        try:
            accuracy_m = max(0.0, float(accuracy_m))
        except (TypeError, ValueError):
            accuracy_m = None
    else:
        accuracy_m = None
    distance = None
    target = objects.location_of(obj)
    if position is not None and target is not None:
        from towngrid.cases.queries import haversine_m

        distance = round(haversine_m(position[0], position[1], target[0], target[1]), 1)
    radius = conf.checkin_radius_m()
    flagged_far = distance is not None and distance > radius
    at = at or timezone.now()
    user = _user(actor)
    with transaction.atomic():
        checkin = CheckIn.objects.create(
            content_type=objects.content_type_of(obj),
            object_id=obj.pk,
            code=code,
            user=user,
            user_name=((getattr(user, "display_name", "") or user.get_username()) if user else "")[
                :150
            ],
            at=at,
            lng=position[0] if position else None,
            lat=position[1] if position else None,
            accuracy_m=accuracy_m,
            distance_m=distance,
            flagged_far=flagged_far,
            no_position=position is None,
            note=note,
            findings=found,
            grid_id=obj.grid_id,
            grid_code=obj.grid_code,
        )
        audit.record(
            actor,
            "codes.checkin",
            obj,
            changes={
                "distance_m": distance,
                "flagged_far": flagged_far,
                "no_position": position is None,
                "findings": found,
            },
        )
        _record_patrol(obj, at=at, actor=actor, findings=found)
    return checkin


# --- report from a scan, update the object -------------------------------------------------------


def report_from_scan(
    obj: Model,
    *,
    actor,
    category,
    description: str,
    photos: Sequence = (),
    lng: float | None = None,
    lat: float | None = None,
    at: datetime | None = None,
):
    """上报 a case about the scanned object: located at the object (its registered position, not
    the phone's: the problem is at the house), with its address, linked as the case's subject,
    source 扫码上报."""
    from towngrid.cases import actions as case_actions
    from towngrid.cases.errors import CaseError
    from towngrid.cases.models import Source

    _located(obj)
    _require(actor, "cases.report", obj.grid_code, "上报问题")
    location = objects.location_of(obj)
    if location is None:
        if lng is None or lat is None:
            raise CodeError("no_position", "该对象没有登记位置，请在上报页选择位置。")
        location = (float(lng), float(lat))
    try:
        return case_actions.report(
            category=category,
            description=description,
            lng=location[0],
            lat=location[1],
            source=Source.CODE_SCAN,
            actor=actor,
            address=objects.address_of(obj),
            photos=photos,
            at=at,
            subject=obj,
        )
    except CaseError as exc:
        raise CodeError(exc.code, exc.message, details=exc.details) from None


def update_object(obj: Model, *, actor, expected_version: int | None = None, **fields: Any):
    """Update the scanned object through the registry's own action (validation, concurrency,
    audit and the ``registry_changed`` signal live there)."""
    from towngrid.registry import actions as registry_actions
    from towngrid.registry.errors import RegistryError

    _located(obj)
    _require(actor, "registry.edit", obj.grid_code, "更新信息")
    try:
        return registry_actions.update(
            obj, actor=actor, expected_version=expected_version, **fields
        )
    except RegistryError as exc:
        raise CodeError(
            getattr(exc, "code", "invalid"),
            getattr(exc, "message", str(exc)),
            details=getattr(exc, "details", None),
        ) from None
