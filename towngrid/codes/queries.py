"""Reads of the codes app: resolving a scanned token, the public and the full card of an object,
its history, and (re-exported) the patrol and colour aggregates other apps call:

- ``patrol_coverage(grid_code_prefix, start, end)`` (codes/patrols.py)
- ``colour_distribution(grid_code_prefix, model=None)`` (codes/colour_queries.py, the colour
  engine's)
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.urls import reverse
from django.utils import timezone

from . import objects, tokens
from .errors import CodeError
from .models import CheckIn, ObjectCode
from .patrols import patrol_coverage  # noqa: F401  (cross-app read function)

try:  # the colour engine's aggregate, re-exported under the cross-app name
    from .colour_queries import colour_distribution  # noqa: F401
except ImportError:  # pragma: no cover - only while the colour engine is being written

    def colour_distribution(grid_code_prefix: str, model: str | None = None) -> dict[str, int]:
        return {"green": 0, "yellow": 0, "red": 0}


NOT_FOUND_MESSAGE = "未找到该二维码，请确认是否为本镇张贴的门牌码。"
REVOKED_MESSAGE = "该门牌码已作废，请联系所在网格的网格员更换新的门牌。"


# --- tokens --------------------------------------------------------------------------------------


def code_for_token(token: str) -> ObjectCode:
    """The code a scanned token names. ``CodeError("not_found")`` for a malformed, tampered or
    unknown token (the signature is checked before the database is asked), ``"revoked"`` for a
    revoked one (its details name the object's grid so the page can show whom to call)."""
    if not tokens.verify(token):
        raise CodeError("not_found", NOT_FOUND_MESSAGE)
    # One indexed lookup, no joins: the content type comes from Django's per-process cache and
    # the object (with its grid) is loaded by ``subject_of``.
    code = next(iter(ObjectCode.objects.filter(token=tokens.normalise(token)).order_by()[:1]), None)
    if code is None:
        raise CodeError("not_found", NOT_FOUND_MESSAGE)
    if code.revoked_at is not None:
        raise CodeError("revoked", REVOKED_MESSAGE, details={"grid_code": code.grid_code})
    return code


def subject_of(code: ObjectCode) -> Model:
    obj = objects.load(code.content_type_id, code.object_id)
    if obj is None:
        raise CodeError("not_found", NOT_FOUND_MESSAGE)
    return obj


def scan_path(token: str) -> str:
    return reverse("scan:card", kwargs={"token": token})


def scan_url(token: str, base_url: str) -> str:
    return base_url.rstrip("/") + scan_path(token)


def codes_of(obj: Model) -> list[ObjectCode]:
    """Every code the object has had, newest first."""
    return list(
        ObjectCode.objects.filter(
            content_type=objects.content_type_of(obj), object_id=obj.pk
        ).order_by("-serial")
    )


# --- the cards -----------------------------------------------------------------------------------


def grid_contacts(grid_code: str) -> list[dict[str, str]]:
    """Who answers for the grid, for the public card: the people on duty with their public work
    numbers (never a personal number). Full-time grid workers first, then the grid leader."""
    from towngrid.grids.queries import active_duties

    order = {"full_time": 0, "leader": 1, "part_time": 2}
    rows = (
        active_duties()
        .filter(grid__code=grid_code)
        .select_related("staff")
        .order_by("post", "staff__name")
    )
    seen: set[int] = set()
    contacts = []
    for duty in sorted(rows, key=lambda d: (order.get(d.post, 9), d.staff.name)):
        if duty.staff_id in seen:
            continue
        seen.add(duty.staff_id)
        contacts.append(
            {
                "name": duty.staff.name,
                "post": duty.get_post_display(),
                "phone": duty.staff.work_phone,
            }
        )
    return contacts


def public_card(obj: Model) -> dict[str, Any]:
    """What anyone who scans the plate sees: the kind of object, its address and grid, the grid's
    people with their work numbers, and how to report. No personal data, no colour."""
    grid = obj.grid
    return {
        "kind": objects.kind_label(obj),
        "title": objects.title_of(obj),
        "address": objects.address_of(obj),
        "grid_name": grid.name,
        "contacts": grid_contacts(grid.code),
        "hotline": "12345",
    }


def colour_state(obj: Model):
    """The object's live colour state from the colour engine, or None."""
    try:
        from . import colours
    except ImportError:  # pragma: no cover - only while the colour engine is being written
        return None
    current = getattr(colours, "current", None)
    return current(obj) if current is not None else None


def open_cases(obj: Model, limit: int = 20) -> list:
    from towngrid.cases.models import OPEN_STATUSES, Case

    return list(
        Case.objects.filter(
            subject_type=objects.content_type_of(obj),
            subject_id=obj.pk,
            status__in=OPEN_STATUSES,
        )
        .select_related("category")
        .order_by("-reported_at")[:limit]
    )


def history(obj: Model, limit: int = 30) -> list[dict[str, Any]]:
    """The object's recent history, newest first: check-ins, cases about it, colour changes and
    code issues/revocations."""
    from towngrid.cases.models import Case

    ct = objects.content_type_of(obj)
    items: list[dict[str, Any]] = []
    for c in CheckIn.objects.filter(content_type=ct, object_id=obj.pk)[:limit]:
        text = "巡查签到"
        if c.flagged_far:
            text += f"（距离 {c.distance_m:.0f} 米，过远）"
        elif c.no_position:
            text += "（无定位）"
        items.append(
            {
                "at": c.at,
                "kind": "checkin",
                "text": text,
                "by": c.user_name,
                "note": "；".join([*c.findings, c.note] if c.note else c.findings),
                "flagged": c.is_flagged,
            }
        )
    cases = Case.objects.filter(subject_type=ct, subject_id=obj.pk).select_related("category")
    for case in cases.order_by("-reported_at")[:limit]:
        items.append(
            {
                "at": case.reported_at,
                "kind": "case",
                "text": f"案件 {case.number} {case.category.name}（{case.get_status_display()}）",
                "by": "",
                "note": case.description[:80],
                "case_number": case.number,
            }
        )
    try:
        from .colour_models import ColourChange
    except ImportError:  # pragma: no cover
        ColourChange = None  # noqa: N806
    if ColourChange is not None:
        for change in ColourChange.objects.filter(content_type=ct, object_id=obj.pk)[:limit]:
            items.append(
                {
                    "at": change.at,
                    "kind": "colour",
                    "text": f"颜色变为{change.get_to_colour_display()}",
                    "by": change.actor_name,
                    "note": "；".join(reason_text(r) for r in change.reasons or []),
                    "colour": change.to_colour,
                }
            )
    for code in codes_of(obj):
        items.append(
            {"at": code.issued_at, "kind": "code", "text": f"生成门牌码（第 {code.serial} 版）"}
        )
        if code.revoked_at:
            items.append(
                {
                    "at": code.revoked_at,
                    "kind": "code",
                    "text": f"作废门牌码（第 {code.serial} 版）",
                    "note": code.revoke_reason,
                }
            )
    items.sort(key=lambda i: i["at"], reverse=True)
    return items[:limit]


def reason_text(reason) -> str:
    """A colour reason as text (the engine stores dicts with ``text``)."""
    if isinstance(reason, dict):
        return str(reason.get("text") or "")
    return str(reason)


def last_checkin(obj: Model) -> CheckIn | None:
    return CheckIn.objects.filter(
        content_type=objects.content_type_of(obj), object_id=obj.pk
    ).first()


def full_card(obj: Model) -> dict[str, Any]:
    """The grid worker's card: the public card plus the live colour, open cases, history."""
    card = public_card(obj)
    card.update(
        {
            "colour": colour_state(obj),
            "open_cases": open_cases(obj),
            "history": history(obj),
            "last_checkin": last_checkin(obj),
            "now": timezone.now(),
        }
    )
    return card
