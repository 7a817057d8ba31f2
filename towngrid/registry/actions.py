"""Every change to the registry, and every reveal of a personal value, goes through here.

``create`` and ``update`` take plain field values (as a form, the API or an import row gives
them), validate them (Chinese messages, per field), locate the object (a point is looked up in
the grid; an explicit micro-grid wins), check the actor's capability and scope, and write in one
transaction with an audit event and the ``registry_changed`` signal. ``update`` is optimistic:
its conditional UPDATE only matches the version the caller saw, so of two concurrent edits the
second is refused with ``conflict`` and writes nothing.

Personal values (identity and phone numbers) are passed by their plain names (``id_number``,
``phone``, ``owner_phone``, ``contact_phone``) and stored encrypted with their blind index; the
audit trail records only their masked forms. ``reveal`` returns a plain value to a permitted
actor in scope, with a reason, and audits who, when, why and which field.

The actor ``None`` is the system (CLI, import worker, demo build): no capability or scope check.
"""

from __future__ import annotations

import copy
import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import OperationalError, models, transaction
from django.utils import timezone

from towngrid.accounts.access import has_capability, in_grid_scope
from towngrid.core import audit
from towngrid.core import personal as pd

from .errors import RegistryError
from .models import (
    NON_BEDROOM_SPACES,
    RESIDENT_TAGS,
    Component,
    Enterprise,
    EnterpriseVisit,
    House,
    Household,
    LandParcel,
    Located,
    Resident,
    Shop,
    UndergroundSpace,
    kind_for_category,
)
from .signals import registry_changed

LOCATION_INPUTS = ("grid", "group", "lng", "lat", "crs")
# Fields an action never takes from its caller: identity, bookkeeping, derived values.
PROTECTED = {"id", "grid_code", "version", "created_at", "updated_at"}
MAX_REASON = 500
DIVISION = "310115"  # 浦东新区: the component codes' 6-digit division prefix


def _user(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _invalid(field: str, message: str) -> RegistryError:
    return RegistryError("invalid", message, details={field: [message]})


# --- permissions --------------------------------------------------------------------------------


def may_edit(actor, grid_code: str) -> bool:
    if actor is None:
        return True  # the system
    user = _user(actor)
    return bool(
        user and has_capability(user, "registry.edit") and in_grid_scope(user, grid_code or "")
    )


def _check_edit(actor, grid_code: str) -> None:
    if actor is None:
        return
    user = _user(actor)
    if user is None or not has_capability(user, "registry.edit"):
        raise RegistryError("forbidden", "您没有登记和更新实有信息的权限。")
    if not in_grid_scope(user, grid_code or ""):
        raise RegistryError("forbidden", "该对象不在您负责的网格范围内。")


def may_reveal(actor, obj: models.Model) -> bool:
    """Whether ``actor`` may see the plain personal values of ``obj``: a person (never the
    anonymous or system actor) with ``personal.reveal`` whose grid scope contains the object."""
    user = _user(actor)
    if user is None or not has_capability(user, "personal.reveal"):
        return False
    return in_grid_scope(user, getattr(obj, "grid_code", "") or "")


# --- reveal -------------------------------------------------------------------------------------


def reveal(obj: models.Model, field: str, *, actor, reason: str) -> str:
    """The plain value of one personal field, for a permitted actor in scope, with a reason.
    Audited as ``registry.reveal`` (who, when, client address, field, reason)."""
    if field not in getattr(obj, "personal_fields", ()):
        raise _invalid("field", f"“{field}”不是可查看的个人信息字段。")
    if not may_reveal(actor, obj):
        raise RegistryError("forbidden", "您无权查看该个人信息原文。")
    reason = (reason or "").strip()
    if not reason:
        raise RegistryError(
            "reason_required",
            "查看个人信息原文必须填写事由。",
            details={"reason": ["查看个人信息原文必须填写事由。"]},
        )
    if len(reason) > MAX_REASON:
        raise _invalid("reason", f"事由不能超过 {MAX_REASON} 字。")
    try:
        value = pd.plain_value(obj, field)
    except pd.PersonalDataError as exc:
        raise RegistryError("invalid", f"无法解密：{exc}") from None
    with transaction.atomic():
        # The trail is written before the value leaves: no audit, no value.
        audit.record(actor, "registry.reveal", obj, changes={"field": field}, reason=reason)
    return value


def plain_for_export(obj: models.Model, field: str, *, actor) -> str:
    """The plain value for an export row when the exporter may reveal it, else the mask. The
    export job audits itself once (``registry.export`` with the count of revealed rows)."""
    if may_reveal(actor, obj):
        return pd.plain_value(obj, field)
    return pd.masked_value(obj, field)


# --- create / update ----------------------------------------------------------------------------


def create(model: type[Located], *, actor, reason: str = "", **fields: Any) -> Located:
    """Register a new object from plain field values; see the module docstring."""
    obj = model()
    work = _prepare(obj, fields, creating=True, actor=actor)
    try:
        with transaction.atomic():
            work.version = 0
            work.save(force_insert=True)
            audit.record(
                actor, "registry.create", work, changes=_created_changes(work), reason=reason
            )
            registry_changed.send(sender=model, instance=work, created=True)
    except OperationalError as exc:
        if "locked" in str(exc).lower():
            raise RegistryError("conflict", "数据库忙，请稍后重试。") from exc
        raise
    return work


def update(
    obj: Located,
    *,
    actor,
    expected_version: int | None = None,
    reason: str = "",
    audit_action: str = "registry.update",
    **fields: Any,
) -> Located:
    """Change an object. ``expected_version`` is the version the caller looked at (forms and
    API clients send it); without it the version ``obj`` was loaded at is the one expected."""
    model = type(obj)
    _check_edit(actor, obj.grid_code)
    seen = obj.version
    if expected_version is not None and str(expected_version).strip() != "":
        try:
            seen_by_caller = int(expected_version)
        except (TypeError, ValueError):
            raise _invalid("version", "版本号必须是整数。") from None
        if seen_by_caller != obj.version:
            raise _conflict(obj)
    before = _snapshot(obj)
    work = _prepare(obj, fields, creating=False, actor=actor)
    after = _snapshot(work)
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    if not changed:
        return obj
    now = timezone.now()
    values = dict(changed, version=seen + 1, updated_at=now)
    try:
        with transaction.atomic():
            if model.objects.filter(pk=obj.pk, version=seen).update(**values) == 0:
                raise _conflict(obj)
            work.version = seen + 1
            work.updated_at = now
            changes = _audit_changes(obj, work, changed)
            audit.record(actor, audit_action, work, changes=changes, reason=reason)
            if isinstance(work, House) and _moved(before, after):
                _move_dependants(work)
            registry_changed.send(sender=model, instance=work, created=False)
    except OperationalError as exc:
        if "locked" in str(exc).lower():
            raise _conflict(obj) from exc
        raise
    # The caller's instance now shows what was written.
    obj.__dict__.update({k: v for k, v in work.__dict__.items() if k != "_state"})
    obj._state.fields_cache = work._state.fields_cache
    return obj


def set_component_status(
    component: Component,
    status: str,
    *,
    actor,
    note: str = "",
    expected_version: int | None = None,
) -> Component:
    """部件状态变更 (完好/破损/丢失/废弃/移除), audited as ``registry.component_status``."""
    return update(
        component,
        actor=actor,
        expected_version=expected_version,
        reason=note,
        audit_action="registry.component_status",
        status=status,
    )


def add_visit(
    enterprise: Enterprise,
    *,
    actor,
    findings: str = "",
    problems: list[str] | None = None,
    needs_followup: bool = False,
    visited_at: datetime | None = None,
    visitor_name: str = "",
) -> EnterpriseVisit:
    """大走访: record a service visit to an enterprise with its findings and problems."""
    _check_edit(actor, enterprise.grid_code)
    findings = (findings or "").strip()
    problems = [str(p).strip() for p in (problems or []) if str(p).strip()]
    if not findings and not problems:
        raise _invalid("findings", "请填写走访情况或问题诉求。")
    if len(findings) > 4000:
        raise _invalid("findings", "走访情况不能超过 4000 字。")
    if visited_at is None:
        visited_at = timezone.now()
    elif isinstance(visited_at, str):
        from django.utils.dateparse import parse_datetime

        parsed = parse_datetime(visited_at)
        if parsed is None:
            raise _invalid("visited_at", "走访时间格式不正确。")
        visited_at = parsed
    if timezone.is_naive(visited_at):
        visited_at = timezone.make_aware(visited_at)
    if visited_at > timezone.now() + timezone.timedelta(minutes=5):
        raise _invalid("visited_at", "走访时间不能晚于现在。")
    user = _user(actor)
    name = (visitor_name or "").strip() or (
        (getattr(user, "display_name", "") or user.get_username()) if user else "系统"
    )
    with transaction.atomic():
        visit = EnterpriseVisit.objects.create(
            enterprise=enterprise,
            visited_at=visited_at,
            visitor=user,
            visitor_name=name[:50],
            findings=findings,
            problems=problems,
            needs_followup=bool(needs_followup),
        )
        audit.record(
            actor,
            "registry.visit",
            enterprise,
            changes={"visit": visit.pk, "problems": problems, "needs_followup": needs_followup},
            reason=findings[:200],
        )
        registry_changed.send(sender=Enterprise, instance=enterprise, created=False)
    return visit


# --- internals ----------------------------------------------------------------------------------


def _conflict(obj: Located) -> RegistryError:
    return RegistryError(
        "conflict",
        f"“{obj}”已被他人修改，请刷新后重试。",
        details={"id": obj.pk, "version": obj.version},
    )


def _snapshot(obj: Located) -> dict[str, Any]:
    return {
        f.attname: getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if f.attname not in {"id", "created_at", "updated_at", "version"}
    }


def _moved(before: dict, after: dict) -> bool:
    return any(before[k] != after[k] for k in ("grid_id", "group_id", "lng", "lat"))


def _move_dependants(house: House) -> None:
    """Households and residents are located where their house is: follow a moved house."""
    where = {
        "grid_id": house.grid_id,
        "grid_code": house.grid_code,
        "group_id": house.group_id,
        "lng": house.lng,
        "lat": house.lat,
    }
    Household.objects.filter(house=house).update(**where)
    Resident.objects.filter(house=house).update(**where)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def _created_changes(obj: Located) -> dict[str, Any]:
    out = {}
    for k, v in _snapshot(obj).items():
        if k.endswith("_hash") or v in (None, "", [], {}):
            continue
        if k.endswith("_enc"):
            field = k[: -len("_enc")]
            out[field] = pd.masked_value(obj, field)
            continue
        out[k] = _jsonable(v)
    return out


def _audit_changes(old: Located, new: Located, changed: dict[str, Any]) -> dict[str, list]:
    """{field: [old, new]}, personal values masked, their hashes left out."""
    out: dict[str, list] = {}
    for k in changed:
        if k.endswith("_hash"):
            continue
        if k.endswith("_enc"):
            field = k[: -len("_enc")]
            out[field] = [pd.masked_value(old, field), pd.masked_value(new, field)]
            continue
        out[k] = [_jsonable(getattr(old, k)), _jsonable(getattr(new, k))]
    return out


def _copy(obj: Located) -> Located:
    work = copy.copy(obj)
    work._state = copy.copy(obj._state)
    work._state.fields_cache = dict(obj._state.fields_cache)
    return work


def _prepare(obj: Located, fields: dict[str, Any], *, creating: bool, actor) -> Located:
    """A copy of ``obj`` with ``fields`` applied, located, cleaned and checked; nothing
    written. Raises RegistryError (Chinese message, per-field details)."""
    model = type(obj)
    work = obj if creating else _copy(obj)
    fields = dict(fields)
    location = {k: fields.pop(k) for k in LOCATION_INPUTS if k in fields}
    personal = {k: fields.pop(k) for k in model.personal_fields if k in fields}
    errors: dict[str, list[str]] = {}
    parents_before = {n: getattr(obj, f"{n}_id", None) for n in ("house", "household")}

    by_name = {}
    for f in model._meta.concrete_fields:
        if f.name in PROTECTED or f.attname.endswith(("_enc", "_hash")):
            continue
        by_name[f.name] = f
        by_name[f.attname] = f
    for key, value in fields.items():
        f = by_name.get(key)
        if f is None:
            errors.setdefault(key, []).append(f"不能设置字段“{key}”。")
            continue
        if f.is_relation:
            try:
                _set_relation(work, f, key, value)
            except RegistryError as exc:
                errors.setdefault(f.name, []).append(exc.message)
            continue
        if isinstance(value, str) and not isinstance(f, models.JSONField):
            value = value.strip()
        if value in ("", None) and f.null:
            value = None
        elif value is None and isinstance(f, models.CharField | models.TextField):
            value = ""
        setattr(work, f.attname, value)

    user = _user(actor)
    for name, label in (("house", "房屋"), ("household", "户")):
        parent_id = getattr(work, f"{name}_id", None)
        if user is None or parent_id is None or parent_id == parents_before[name]:
            continue
        # A parent outside the actor's scope reads as missing (no probing ids for existence).
        if not in_grid_scope(user, getattr(work, name).grid_code):
            errors.setdefault(name, []).append(f"所选{label}不存在。")

    for field, value in personal.items():
        try:
            pd.set_personal(work, field, value)
        except ValidationError as exc:
            errors.setdefault(field, []).extend(exc.messages)

    cleaner = CLEANERS.get(model)
    if cleaner and not errors:
        cleaner(work, fields, personal, errors, creating)
    if errors:
        raise _errors(errors)
    centroid = fields.pop("_centroid", None)
    if centroid and "lng" not in location and "lat" not in location:
        location["lng"], location["lat"] = centroid

    _locate(work, location, fields, creating=creating)

    try:
        work.full_clean(exclude=["grid", "version"], validate_unique=True)
    except ValidationError as exc:
        details = {k: list(v) for k, v in exc.message_dict.items()}
        raise _errors(details) from None
    _check_edit(actor, work.grid_code)
    return work


def _errors(errors: dict[str, list[str]]) -> RegistryError:
    duplicate = [m for msgs in errors.values() for m in msgs if "已登记" in m or "已存在" in m]
    first = next(iter(errors.values()))[0]
    if len(errors) == 1 and duplicate:
        return RegistryError("duplicate", first, details=errors)
    message = first if sum(len(v) for v in errors.values()) == 1 else f"输入有误：{first}"
    return RegistryError("invalid", message, details=errors)


def _set_relation(work: Located, f, key: str, value: Any) -> None:
    target = f.related_model
    if value in ("", None):
        if not f.null:
            raise RegistryError("invalid", f"请选择{f.verbose_name}。")
        setattr(work, f.name, None)
        return
    if isinstance(value, target):
        setattr(work, f.name, value)
        return
    lookup = {"pk": value}
    if target._meta.label_lower == "cases.category" and not str(value).isdigit():
        lookup = {"full_code": value}
    elif target._meta.label_lower == "accounts.department" and not str(value).isdigit():
        lookup = {"slug": value} if hasattr(target, "slug") else {"name": value}
    try:
        setattr(work, f.name, target._default_manager.get(**lookup))
    except (target.DoesNotExist, ValueError, TypeError):
        raise RegistryError("invalid", f"{f.verbose_name}“{value}”不存在。") from None


def _grid_node(value: Any, level: int, label: str, field: str):
    from towngrid.grids.models import GridNode

    if isinstance(value, GridNode):
        node = value
    else:
        text = str(value).strip()
        node = GridNode.objects.filter(code=text).first()
        if node is None and text.isdigit() and len(text) < 12:
            node = GridNode.objects.filter(pk=int(text)).first()
    if node is None:
        raise _invalid(field, f"{label}“{value}”不存在。")
    if node.level != level:
        raise _invalid(field, f"“{node.name}”不是{label}。")
    return node


def _point(location: dict) -> tuple[float | None, float | None]:
    from towngrid.grids.crs import to_wgs84

    lng, lat = location.get("lng"), location.get("lat")
    if lng in ("", None) and lat in ("", None):
        return None, None
    try:
        x, y = float(lng), float(lat)
    except (TypeError, ValueError):
        raise _invalid("lng", "经纬度必须是数字，且须同时填写。") from None
    if not (math.isfinite(x) and math.isfinite(y)) or not (-180 <= x <= 180 and -90 <= y <= 90):
        raise _invalid("lng", "经纬度超出范围。")
    try:
        return to_wgs84(x, y, location.get("crs") or "wgs84")
    except ValueError as exc:
        raise _invalid("crs", str(exc)) from None


def _parent_location(work: Located):
    """The object a household or resident takes its place from, if any."""
    if isinstance(work, Household) and work.house_id:
        return work.house
    if isinstance(work, Resident):
        if work.house_id:
            return work.house
        if work.household_id:
            return work.household
    return None


def _locate(work: Located, location: dict, fields: dict, *, creating: bool) -> None:
    from towngrid.grids.index import lookup
    from towngrid.grids.models import Level

    point_given = "lng" in location or "lat" in location
    x, y = _point(location) if point_given else (None, None)
    path = None
    if point_given:
        work.lng, work.lat = x, y
        if x is not None:
            path = lookup(x, y) or []
    grid = group = None
    if location.get("grid") not in (None, ""):
        grid = _grid_node(location["grid"], Level.MICRO, "微网格", "grid")
    elif path is not None and x is not None:
        if not path:
            raise RegistryError(
                "outside_town",
                "该位置不在本镇网格范围内。",
                details={"lng": [f"({x:.6f}, {y:.6f}) 不在任何微网格内。"]},
            )
        grid = next((n for n in path if n.level == Level.MICRO), None)
        if grid is None:
            raise _invalid("lng", "该位置没有对应的微网格。")
    if location.get("group") not in (None, ""):
        group = _grid_node(location["group"], Level.GROUP, "楼组/队组", "group")
    elif path:
        group = next((n for n in path if n.level == Level.GROUP), None)

    parent = _parent_location(work)
    parent_changed = any(k in fields for k in ("house", "house_id", "household", "household_id"))
    if grid is None and not point_given and parent is not None and (creating or parent_changed):
        # A household or resident without a place of its own lives where its house is.
        grid, group = parent.grid, parent.group
        work.lng, work.lat = parent.lng, parent.lat
        if not work.address:
            work.address = getattr(parent, "full_address", "") or parent.address

    if grid is not None:
        if group is not None and not group.code.startswith(grid.code):
            if location.get("group") not in (None, ""):
                raise _invalid("group", f"楼组“{group.name}”不属于微网格“{grid.name}”。")
            group = None
        work.grid = grid
        work.grid_code = grid.code
        work.group = group
    elif creating:
        raise _invalid("lng", "请提供位置（经纬度）或所属微网格。")


# --- per-model checks -----------------------------------------------------------------------------


def _clean_house(work: House, fields, personal, errors, creating) -> None:
    spaces = work.non_bedroom_sleeping or []
    if not isinstance(spaces, list) or any(s not in NON_BEDROOM_SPACES for s in spaces):
        errors["non_bedroom_sleeping"] = [
            "非居住空间只能是：" + "、".join(f"{k}（{v}）" for k, v in NON_BEDROOM_SPACES.items())
        ]
    flags = work.flags or []
    if not isinstance(flags, list) or any(not isinstance(f, str) or not f.strip() for f in flags):
        errors["flags"] = ["标记应为文字列表。"]
    if work.lease_start and work.lease_end:
        start, end = _as_date(work.lease_start), _as_date(work.lease_end)
        if start and end and end < start:
            errors["lease_end"] = ["租期结束不能早于租期开始。"]
    if not any([work.road, work.address]):
        errors["road"] = ["请填写路名或地址。"]
    elif not (work.address or "").strip():
        # The address is what imports and the other apps match and show: spell it out from its
        # parts, as the importer does.
        work.address = work.full_address[:200]


def _as_date(value) -> date | None:
    if isinstance(value, date):
        return value
    from django.utils.dateparse import parse_date

    try:
        return parse_date(str(value))
    except ValueError:
        return None


def _clean_resident(work: Resident, fields, personal, errors, creating) -> None:
    from towngrid.core.checksums import id_number_birth_date, id_number_gender

    if not (work.name or "").strip():
        errors["name"] = ["请填写姓名。"]
    tags = work.tags or []
    if not isinstance(tags, list) or any(t not in RESIDENT_TAGS for t in tags):
        errors["tags"] = ["未知的人口标签。可用：" + "、".join(RESIDENT_TAGS.values())]
    else:
        work.tags = list(dict.fromkeys(tags))
    number = personal.get("id_number")
    if number:
        normalised = pd.normalize(pd.ID_NUMBER, number)
        # Derived from the number unless given (a form sends them blank).
        if fields.get("birth_date") in (None, ""):
            work.birth_date = id_number_birth_date(normalised)
        if fields.get("gender") in (None, ""):
            work.gender = id_number_gender(normalised)
        others = Resident.objects.filter(id_number_hash=work.id_number_hash)
        if work.pk:
            others = others.exclude(pk=work.pk)
        if others.exists():
            errors["id_number"] = ["该身份证号码已登记，请勿重复登记。"]
    if work.household_id and work.house_id and work.household.house_id != work.house_id:
        errors["household"] = ["所选的户不在所选的房屋内。"]
    if work.household_id and not work.house_id:
        work.house_id = work.household.house_id


def _clean_enterprise(work: Enterprise, fields, personal, errors, creating) -> None:
    from towngrid.core.checksums import validate_credit_code

    if not (work.name or "").strip():
        errors["name"] = ["请填写企业名称。"]
    try:
        work.credit_code = validate_credit_code(work.credit_code)
    except ValidationError as exc:
        errors["credit_code"] = list(exc.messages)
        return
    others = Enterprise.objects.filter(credit_code=work.credit_code)
    if work.pk:
        others = others.exclude(pk=work.pk)
    if others.exists():
        errors["credit_code"] = ["该统一社会信用代码已登记。"]


def _clean_shop(work, fields, personal, errors, creating) -> None:
    if not (work.name or "").strip():
        errors["name"] = ["请填写店名。"]
    if work.is_alliance_member and not (work.alliance or "").strip():
        errors["alliance"] = ["商户联盟成员须填写所属联盟。"]
    if not work.is_alliance_member:
        work.alliance = ""


def _clean_component(work: Component, fields, personal, errors, creating) -> None:
    from towngrid.cases.models import CategoryKind

    if not work.category_id:
        errors["category"] = ["请选择部件小类。"]
        return
    category = work.category
    if category.major.kind != CategoryKind.COMPONENT:
        errors["category"] = [f"“{category}”不是部件小类。"]
        return
    prefix = f"{DIVISION}{category.major.code}{category.code}"
    code = (work.code or "").strip()
    if not code:
        work.code = _next_component_code(prefix)
    elif not (len(code) == 16 and code.isdigit()):
        errors["code"] = ["部件编码应为 16 位数字（6 位区划 + 大类 + 小类 + 6 位序号）。"]
    elif not code.startswith(prefix):
        errors["code"] = [f"部件编码应以 {prefix} 开头（与所选小类一致）。"]
    else:
        others = Component.objects.filter(code=code)
        if work.pk:
            others = others.exclude(pk=work.pk)
        if others.exists():
            errors["code"] = ["该部件编码已存在。"]
    if creating and not work.owner_department_id and category.default_department_id:
        work.owner_department_id = category.default_department_id
    work.kind = kind_for_category(category)


def _next_component_code(prefix: str) -> str:
    last = (
        Component.objects.filter(code__startswith=prefix)
        .order_by("-code")
        .values_list("code", flat=True)
        .first()
    )
    serial = int(last[len(prefix) :]) + 1 if last else 1
    return f"{prefix}{serial:06d}"


def _clean_parcel(work: LandParcel, fields, personal, errors, creating) -> None:
    if not (work.name or "").strip():
        errors["name"] = ["请填写地块名称。"]
    try:
        total = int(work.households_total or 0)
        signed = int(work.households_signed or 0)
    except (TypeError, ValueError):
        errors["households_signed"] = ["户数必须是整数。"]
        return
    if signed > total:
        errors["households_signed"] = ["已签约户数不能大于应签约户数。"]
    if work.boundary:
        try:
            from shapely.geometry import shape

            geom = shape(work.boundary)
            if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
                raise ValueError
        except Exception:
            errors["boundary"] = ["边界应为 GeoJSON 多边形。"]
            return
        if "lng" not in fields and work.lng is None:
            centroid = geom.centroid
            fields.setdefault("_centroid", (centroid.x, centroid.y))


def _clean_named(work, fields, personal, errors, creating) -> None:
    if not (work.name or "").strip():
        errors["name"] = ["请填写名称。"]


def _clean_household(work: Household, fields, personal, errors, creating) -> None:
    if not work.house_id:
        errors["house"] = ["请选择房屋。"]


CLEANERS = {
    House: _clean_house,
    Household: _clean_household,
    Resident: _clean_resident,
    Enterprise: _clean_enterprise,
    Shop: _clean_shop,
    Component: _clean_component,
    UndergroundSpace: _clean_named,
    LandParcel: _clean_parcel,
}
