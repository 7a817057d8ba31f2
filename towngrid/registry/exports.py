"""Excel exports of any filtered registry list, in the import template's layout.

The rows are exactly the list page's (and the API's): the caller's scope (``visible_to``) and
the registry's own list filters (``queries.filter_queryset``), never a copy of them. Personal
values are masked; an exporter with ``personal.reveal`` who asks for plain values and gives a
reason gets them for the objects inside their own grid scope (the rule of
``actions.plain_for_export``), and every export is audited once (``registry.export``: type,
filters, row count, whether and how many rows were revealed, the reason).

The workbook is written by openpyxl in write-only mode (rows go to a temporary file as they
come, so memory stays flat at 100,000 rows) into an anonymous temporary file that the response
streams and the operating system deletes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from typing import IO, Any

from django.utils import timezone, translation

from towngrid.core import audit
from towngrid.core import personal as pd

from .excel import TYPES as IMPORT_TYPES
from .excel import Column, RegistryType, get_type

# The most rows one export writes (a town's largest list is its ~250,000 residents).
MAX_ROWS = 300_000
ITERATOR_CHUNK = 2000


class ExportError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# The registry's list slugs (queries.TYPES: "houses", …) and the importer's keys ("house", …).
SLUG_OF_KEY = {
    "house": "houses",
    "household": "households",
    "resident": "residents",
    "enterprise": "enterprises",
    "shop": "shops",
    "component": "components",
    "underground": "underground",
    "parcel": "parcels",
}
KEY_OF_SLUG = {slug: key for key, slug in SLUG_OF_KEY.items()}


def type_key(name: str) -> str:
    """The importer's key for a type named by key or by the list's slug."""
    if name in IMPORT_TYPES:
        return name
    if name in KEY_OF_SLUG:
        return KEY_OF_SLUG[name]
    return get_type(name).key  # raises the Chinese "unknown type" error


def filtered_queryset(user, key: str, params) -> Any:
    """The rows a user's list shows for these filters: scope first, then the list filters.
    ``user`` None is the system (the CLI without --user): every row."""
    from towngrid.accounts.access import visible_to

    from .queries import filter_queryset

    model = get_type(key).model
    base = model._default_manager.all()
    if user is not None:
        base = visible_to(user, base)
    return filter_queryset(model, params, base).order_by("grid_code", "pk")


def _labels(rtype: RegistryType, column: Column) -> dict[str, str]:
    """value → Chinese label for a choice column."""
    reverse: dict[str, str] = {}
    if column.field == "tags":
        from .models import RESIDENT_TAGS

        return dict(RESIDENT_TAGS)
    if column.field == "non_bedroom_sleeping":
        from .models import NON_BEDROOM_SPACES

        return dict(NON_BEDROOM_SPACES)
    with translation.override("zh-hans"):
        for value, label in rtype.model._meta.get_field(column.field).choices:
            reverse[value] = str(label)
    return reverse


def _cell_getters(rtype: RegistryType, personal_value: Callable) -> list[Callable[[Any], Any]]:
    """One function per export column: object → cell value."""
    getters: list[Callable[[Any], Any]] = []
    for column in rtype.all_columns:
        name = column.field
        if column.personal:
            getters.append(lambda o, n=name: personal_value(o, n))
        elif column.kind == "choice":
            labels = _labels(rtype, column)
            getters.append(lambda o, n=name, lb=labels: lb.get(getattr(o, n), getattr(o, n)))
        elif column.kind == "choices":
            labels = _labels(rtype, column)
            getters.append(
                lambda o, n=name, lb=labels: "、".join(lb.get(v, v) for v in getattr(o, n) or [])
            )
        elif column.kind == "list":
            getters.append(lambda o, n=name: "、".join(getattr(o, n) or []))
        elif column.kind == "bool":
            getters.append(lambda o, n=name: "是" if getattr(o, n) else "否")
        elif name == "_grid":
            getters.append(lambda o: o.grid_code)
        elif name == "_lng":
            getters.append(lambda o: o.lng)
        elif name == "_lat":
            getters.append(lambda o: o.lat)
        elif name == "_crs":
            getters.append(lambda o: "WGS-84")
        elif name == "_house":
            getters.append(
                lambda o: (o.house.address or o.house.full_address) if o.house_id else ""
            )
        elif name == "_household":
            getters.append(lambda o: o.household.number if o.household_id else "")
        elif column.kind == "category":
            getters.append(lambda o: o.category.full_code)
        elif column.kind == "department":
            getters.append(lambda o: o.owner_department.name if o.owner_department_id else "")
        else:
            getters.append(lambda o, n=name: _plain(getattr(o, n, "")))
    return getters


def _plain(value: Any) -> Any:
    if value is None:
        return ""
    return value


def write_workbook(
    key: str,
    objects: Iterable,
    target: IO[bytes],
    *,
    personal_value: Callable[[Any, str], str],
    progress=None,
) -> int:
    """Write the rows (header: 系统编号 + the template's columns) and return their count."""
    from openpyxl import Workbook

    rtype = get_type(key)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(rtype.label)
    ws.append(["系统编号", *[c.header for c in rtype.all_columns]])
    getters = _cell_getters(rtype, personal_value)
    count = 0
    for obj in objects:
        ws.append([obj.pk, *[get(obj) for get in getters]])
        count += 1
        if progress is not None and count % 1000 == 0:
            progress.advance(1000)
        if count >= MAX_ROWS:
            break
    wb.save(target)
    return count


def export(
    key: str,
    params,
    *,
    actor=None,
    reveal: bool = False,
    reason: str = "",
    progress=None,
) -> tuple[IO[bytes], int, int]:
    """Export the filtered list as a workbook in a temporary file (positioned at its start).

    Returns (file, rows, revealed rows). ``reveal`` needs ``personal.reveal`` and a reason
    (ExportError otherwise); plain values are given only for objects in the actor's grid scope,
    the rest stay masked. ``actor`` None is the system (CLI): it may reveal with a reason.
    """
    from towngrid.accounts.access import has_capability

    from .actions import may_reveal

    key = type_key(key)
    rtype = get_type(key)
    reason = (reason or "").strip()
    if reveal:
        if actor is not None and not has_capability(actor, "personal.reveal"):
            raise ExportError(
                "forbidden", "您无权导出个人信息原文（需要“查看脱敏个人信息原文”权限）。"
            )
        if not reason:
            raise ExportError("reason_required", "导出个人信息原文必须填写事由。")
    queryset = filtered_queryset(actor, key, params)
    related = {"household": ["house"], "resident": ["house", "household"],
               "component": ["category", "owner_department"]}.get(key, [])  # fmt: skip
    if related:
        queryset = queryset.select_related(*related)
    revealed = 0

    def personal_value(obj, field: str) -> str:
        nonlocal revealed
        if reveal and (actor is None or may_reveal(actor, obj)):
            value = _safe_plain(obj, field)
            if value:
                revealed += 1
            return value
        return pd.masked_value(obj, field)

    total = queryset.count()
    if progress is not None:
        progress.set_total(total)
        progress.say("正在导出…")
    # Returned open: the response streams it and closes (so deletes) it.
    target = tempfile.TemporaryFile()  # noqa: SIM115
    count = write_workbook(
        key, queryset.iterator(chunk_size=ITERATOR_CHUNK), target,
        personal_value=personal_value, progress=progress,
    )  # fmt: skip
    target.seek(0)
    filters = {k: str(v) for k, v in _items(params) if v not in (None, "")}
    audit.record(
        actor,
        "registry.export",
        object_type=rtype.model._meta.label_lower,
        object_repr=f"导出{rtype.label} {count} 条" + ("（含原文）" if reveal else ""),
        changes={
            "type": key,
            "rows": count,
            "filters": filters,
            "reveal": bool(reveal),
            "revealed_values": revealed,
        },  # fmt: skip
        reason=reason if reveal else "",
    )
    return target, count, revealed


def _safe_plain(obj, field: str) -> str:
    try:
        return pd.plain_value(obj, field)
    except pd.PersonalDataError:
        return "（无法解密）"


def _items(params) -> list[tuple[str, Any]]:
    if hasattr(params, "lists"):
        return [(k, ",".join(v)) for k, v in params.lists() if k not in {"reveal", "reason"}]
    return [(k, v) for k, v in dict(params).items() if k not in {"reveal", "reason"}]


def file_name(key: str) -> str:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return f"registry-{SLUG_OF_KEY.get(key, key)}-{stamp}.xlsx"
