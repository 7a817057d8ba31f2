"""Writes of the Open311 app: issuing and revoking client keys, and turning a posted
GeoReport v2 request into a case through ``cases.actions.report`` (the one way a case is made).

Personal fields a client may send (email, phone, first/last name, device and account ids) are
accepted as the spec requires but not stored: the case workflow does not need them and PIPL
says to collect only what is needed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from towngrid.cases.actions import report
from towngrid.cases.errors import CaseError
from towngrid.cases.models import Case, CaseEvent, Category, Source
from towngrid.core import audit

from .models import ApiKey, Datatype, ServiceAttribute, hash_key

MAX_DESCRIPTION = 4000
MAX_MEDIA_URL = 500
MAX_ATTRIBUTE_STRING = 200
MAX_ATTRIBUTE_TEXT = 4000
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
# Control characters other than tab and newlines: PostgreSQL refuses NUL in text and XML 1.0
# cannot carry most of them, so they are removed at the boundary.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


class Open311Error(Exception):
    """A refusal with the HTTP status the spec gives it (400, 403, 404, 413, 429)."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status = status
        self.description = description


class AnswerError(Open311Error):
    """A refused answer to an extra question: the spec's English description for Open311
    clients, and ``message`` in Chinese for the residents' page."""

    def __init__(self, description: str, message: str):
        super().__init__(400, description)
        self.message = message


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
    answers = attribute_answers(category, params)
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
            # In the same transaction as the case: a failure here writes nothing.
            record_report_extras(case, answers=answers, media_url=media_url)
    except CaseError as exc:
        raise Open311Error(400, exc.message) from None
    return case


# --- service attributes (extra questions) -----------------------------------------------------


def _answer_list(params: Mapping[str, str], code: str) -> list[str]:
    """Every value given for ``attribute[code]`` or ``attribute[code][]`` (repeatable)."""
    getlist = getattr(params, "getlist", None)
    raw: list = []
    for name in (f"attribute[{code}]", f"attribute[{code}][]"):
        if getlist is not None:
            raw.extend(getlist(name))
        elif name in params:
            value = params[name]
            raw.extend(value if isinstance(value, list | tuple) else [value])
    return [v for v in (clean_text(v) for v in raw) if v]


def _number(attribute: ServiceAttribute, text: str) -> int | float:
    value = float(text) if len(text) <= 40 and _NUMBER.fullmatch(text) else math.nan
    if not math.isfinite(value):
        raise AnswerError(
            f"attribute[{attribute.code}] must be a number.",
            f"“{attribute.description}”请填写数字。",
        )
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _datetime(attribute: ServiceAttribute, text: str) -> str:
    try:
        parsed = parse_datetime(text)
        if parsed is None and parse_date(text) is not None:
            return parse_date(text).isoformat()
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        raise AnswerError(
            f"attribute[{attribute.code}] must be an ISO 8601 datetime, e.g. 2023-06-01T09:30:00+08:00.",
            f"“{attribute.description}”请填写日期时间，如 2023-06-01 09:30。",
        )
    return parsed.isoformat()


def attribute_answers(category: Category, params: Mapping[str, str]) -> dict:
    """Validate the answers to the category's extra questions; the answers by code.

    Unknown codes are ignored. An answer listed in ``stops_submission_on`` refuses the request
    first (the resident must phone, whatever else is wrong); then each question is checked in
    order and the first error, naming the attribute, is an ``AnswerError`` (a 400).
    """
    attributes = [a for a in category.open311_attributes.all() if a.variable]
    given = {a.code: _answer_list(params, a.code) for a in attributes}
    for attribute in attributes:
        stops = set(attribute.stops_submission_on or [])
        if stops and stops & set(given[attribute.code]):
            raise AnswerError(attribute.stop_text(), attribute.stop_text())
    answers: dict = {}
    for attribute in attributes:
        code, values = attribute.code, given[attribute.code]
        asked = attribute.description
        if not values:
            if attribute.required:
                raise AnswerError(f"attribute[{code}] is required: {asked}", f"请回答“{asked}”。")
            continue
        if attribute.datatype != Datatype.MULTIVALUELIST and len(values) > 1:
            raise AnswerError(f"attribute[{code}] takes one value.", f"“{asked}”只能选一项。")
        if attribute.is_list:
            keys = attribute.value_keys()
            wrong = [v for v in values if v not in keys]
            if wrong:
                raise AnswerError(
                    f"attribute[{code}] must be one of {', '.join(keys)} (got {wrong[0][:20]}).",
                    f"“{asked}”的选项无效，请从列出的选项中选择。",
                )
            if attribute.datatype == Datatype.MULTIVALUELIST:
                answers[code] = [k for k in keys if k in values]  # once each, in the list's order
            else:
                answers[code] = values[0]
        elif attribute.datatype == Datatype.NUMBER:
            answers[code] = _number(attribute, values[0])
        elif attribute.datatype == Datatype.DATETIME:
            answers[code] = _datetime(attribute, values[0])
        else:
            limit = (
                MAX_ATTRIBUTE_TEXT if attribute.datatype == Datatype.TEXT else MAX_ATTRIBUTE_STRING
            )
            if len(values[0]) > limit:
                raise AnswerError(
                    f"attribute[{code}] may not exceed {limit} characters.",
                    f"“{asked}”不能超过 {limit} 字。",
                )
            answers[code] = values[0]
    return answers


def record_report_extras(case: Case, *, answers: dict, media_url: str = "") -> None:
    """Keep the answers to the extra questions (and a client's media_url) on the case's report
    event, for the staff to read. Call inside the transaction that reported the case."""
    extra: dict = {}
    if media_url:
        # Kept as text for the staff to look at; never fetched by the server (SSRF).
        extra["media_url"] = media_url
    if answers:
        extra["attributes"] = answers
    if extra:
        event = CaseEvent.objects.get(case=case, action="report")
        event.data = {**event.data, **extra}
        event.save(update_fields=["data"])


YES_NO = [{"key": "yes", "name": "是"}, {"key": "no", "name": "否"}]
GAS_STOP = (
    "情况紧急，请勿网上上报：请立即离开现场、不要开关电器，拨打燃气抢修 962777 或 110 / 119。"
)
DEFAULT_ATTRIBUTES: dict[str, list[dict]] = {
    # 燃气安全隐患: a smell of gas is an emergency, not a report (FixMyStreet's "phone now").
    "E1101": [
        {
            "code": "gas_smell",
            "datatype": Datatype.SINGLEVALUELIST,
            "required": True,
            "order": 1,
            "description": "现场是否闻到明显燃气味？",
            "datatype_description": "闻到燃气味请立即拨打 962777，不要网上上报。",
            "values": YES_NO,
            "stops_submission_on": ["yes"],
            "stop_message": GAS_STOP,
        }
    ],
    # 道路积水
    "E0401": [
        {
            "code": "depth",
            "datatype": Datatype.SINGLEVALUELIST,
            "required": True,
            "order": 1,
            "description": "积水深度",
            "datatype_description": "按路面积水最深处估计。",
            "values": [
                {"key": "ankle", "name": "没过脚踝（约 10 厘米以下）"},
                {"key": "knee", "name": "没过小腿（约 10–30 厘米）"},
                {"key": "deep", "name": "没过膝盖（30 厘米以上），车辆无法通行"},
            ],
        },
        {
            "code": "affected",
            "datatype": Datatype.MULTIVALUELIST,
            "required": False,
            "order": 2,
            "description": "受影响的范围",
            "datatype_description": "可多选。",
            "values": [
                {"key": "road", "name": "机动车道"},
                {"key": "sidewalk", "name": "人行道"},
                {"key": "underpass", "name": "下立交"},
                {"key": "homes", "name": "居民家中进水"},
            ],
        },
    ],
    # 窨井盖
    "C0105": [
        {
            "code": "missing",
            "datatype": Datatype.SINGLEVALUELIST,
            "required": True,
            "order": 1,
            "description": "井盖是否缺失？",
            "datatype_description": "缺失的井盖请在旁边放置醒目物品提醒行人。",
            "values": YES_NO,
        }
    ],
}


@transaction.atomic
def install_default_attributes(*, actor=None) -> int:
    """The demo town's extra questions (idempotent: matched by category and code, only new or
    changed ones are written and audited). Categories not installed are skipped. Returns the
    number of attributes written."""
    written = 0
    for full_code, specs in DEFAULT_ATTRIBUTES.items():
        category = Category.objects.filter(full_code=full_code).first()
        if category is None:
            continue
        for spec in specs:
            fields = {k: v for k, v in spec.items() if k != "code"}
            attribute = ServiceAttribute.objects.filter(
                category=category, code=spec["code"]
            ).first()
            if attribute is not None and all(getattr(attribute, k) == v for k, v in fields.items()):
                continue
            attribute = attribute or ServiceAttribute(category=category, code=spec["code"])
            for name, value in fields.items():
                setattr(attribute, name, value)
            attribute.full_clean()
            attribute.save()
            audit.record(
                actor, "open311.attribute_installed", attribute, changes={"code": attribute.code}
            )
            written += 1
    return written
