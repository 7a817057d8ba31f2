"""Open311 GeoReport v2 at ``/open311/v2/`` (JSON and XML by the path suffix), with the
FixMyStreet ``servicerequestupdates`` extension.

Views parse, check abuse limits, call ``actions``/``queries`` and render; every refusal is the
spec's errors document (``[{"code": 400, "description": …}]`` or ``<errors><error>…``) in the
requested format, never a server error for bad input. Only public, active categories and the
public fields of their cases are shown, so the views are exempt from the staff grid scope.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from django.core import signing
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from towngrid.cases.models import Attachment, Case, CaseEvent, Category, Status
from towngrid.cases.workflow import TRANSITIONS
from towngrid.core import config
from towngrid.core.middleware import client_ip_of

from . import actions, throttle
from .actions import Open311Error, clean_text
from .models import ServiceAttribute

log = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_WINDOW = timedelta(days=90)
MAX_RECORDS = 1000
MAX_BODY = 64 * 1024  # a form-encoded GeoReport request has no files; 64 KB is generous
CLOSED = {Status.CLOSED, Status.REJECTED, Status.MERGED}
MEDIA_SALT = "open311.media"


# --- rendering ---------------------------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with the Shanghai offset, e.g. 2023-05-01T09:30:00+08:00."""
    if value is None:
        return None
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _xml_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return clean_text(value) if isinstance(value, str) else str(value)


def _xml_fill(parent: ET.Element, data: dict) -> None:
    for name, value in data.items():
        child = ET.SubElement(parent, name)
        if isinstance(value, list):
            # Lists inside an item (attributes, values, keywords) repeat a singular element.
            singular = {"attributes": "attribute", "values": "value"}.get(name, "item")
            for item in value:
                sub = ET.SubElement(child, singular)
                if isinstance(item, dict):
                    _xml_fill(sub, item)
                else:
                    sub.text = _xml_text(item)
        elif isinstance(value, dict):
            _xml_fill(child, value)
        else:
            child.text = _xml_text(value)


def render(fmt: str, data: Any, root: str, item: str | None, status: int = 200) -> HttpResponse:
    """JSON as given; XML as ``<root><item>…</item>…</root>`` (or ``<root>…</root>`` when
    ``item`` is None and ``data`` is one object)."""
    if fmt == "json":
        return JsonResponse(
            data, status=status, safe=False, json_dumps_params={"ensure_ascii": False}
        )
    element = ET.Element(root)
    if item is None:
        _xml_fill(element, data)
    else:
        for entry in data:
            _xml_fill(ET.SubElement(element, item), entry)
    body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="utf-8")
    return HttpResponse(body, status=status, content_type="text/xml; charset=utf-8")


def error_response(fmt: str, status: int, description: str) -> HttpResponse:
    errors = [{"code": status, "description": description}]
    response = render(fmt, errors, "errors", "error", status=status)
    if status == 429:
        response["Retry-After"] = "60"
    return response


# --- the public shape of a case -----------------------------------------------------------------


def open311_status(status: str) -> str:
    return "closed" if status in CLOSED else "open"


def _label(action: str) -> str:
    if action == "report":
        return "已上报"
    t = TRANSITIONS.get(action)
    return t.label if t else ""


def public_cases() -> QuerySet:
    return Case.objects.filter(category__is_public=True).select_related(
        "category", "category__major", "department"
    )


def media_url(request: HttpRequest, attachment: Attachment | None) -> str:
    """The URL of the EXIF-free public copy, or "" (originals are never public)."""
    if attachment is None or not attachment.public_file:
        return ""
    token = signing.dumps(attachment.pk, salt=MEDIA_SALT)
    return request.build_absolute_uri(reverse("open311:media", kwargs={"token": token}))


def request_item(request: HttpRequest, case: Case, last_events: dict, photos: dict) -> dict:
    event = last_events.get(case.pk)
    return {
        "service_request_id": case.number,
        "status": open311_status(case.status),
        "status_notes": _label(event.action) if event else "",
        "service_name": case.category.name,
        "service_code": case.category.full_code,
        "description": case.description,
        "agency_responsible": case.department.name if case.department_id else "",
        "service_notice": "",
        "requested_datetime": iso(case.reported_at),
        "updated_datetime": iso(case.updated_at),
        "expected_datetime": iso(case.handle_deadline or case.step_deadline),
        "address": case.address,
        "address_id": "",
        "zipcode": "",
        "lat": case.lat,
        "long": case.lng,
        "media_url": media_url(request, photos.get(case.pk)),
    }


def request_items(request: HttpRequest, cases: list[Case]) -> list[dict]:
    ids = [c.pk for c in cases]
    last_events: dict[int, CaseEvent] = {}
    for event in CaseEvent.objects.filter(case_id__in=ids).order_by("at", "id"):
        if event.action == "report" or event.action in TRANSITIONS:
            last_events[event.case_id] = event
    photos: dict[int, Attachment] = {}
    for a in Attachment.objects.filter(case_id__in=ids).exclude(public_file="").order_by("-id"):
        photos[a.case_id] = a  # ends with the earliest photo of each case
    return [request_item(request, c, last_events, photos) for c in cases]


def service_item(category: Category, has_attributes: bool = False) -> dict:
    return {
        "service_code": category.full_code,
        "service_name": category.name,
        "description": category.description or category.name,
        "metadata": has_attributes,
        "type": "realtime",
        "keywords": ",".join(category.keywords.split()) if category.keywords else "",
        "group": category.major.name,
    }


def attribute_item(attribute: ServiceAttribute) -> dict:
    """One attribute of a service definition, in the spec's field order."""
    return {
        "variable": attribute.variable,
        "code": attribute.code,
        "datatype": attribute.datatype,
        "required": attribute.required,
        "datatype_description": attribute.datatype_description,
        "order": attribute.order,
        "description": attribute.description,
        "values": [
            {"key": str(v["key"]), "name": str(v["name"])}
            for v in attribute.values or []
            if isinstance(v, dict) and "key" in v and "name" in v
        ],
    }


# --- parsing -----------------------------------------------------------------------------------


def parse_when(value: str, name: str) -> datetime:
    """A W3C datetime (naive ones are Shanghai time) or a date (its local midnight)."""
    text = clean_text(value)
    try:
        parsed = parse_datetime(text)
        if parsed is None:
            day = parse_date(text)
            if day is not None:
                parsed = datetime(day.year, day.month, day.day)
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        raise Open311Error(400, f"{name} must be a W3C datetime, e.g. 2023-06-01T00:00:00+08:00.")
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=SHANGHAI)
    try:
        parsed.astimezone(SHANGHAI)
    except (ValueError, OverflowError):
        raise Open311Error(400, f"{name} is out of range.") from None
    return parsed


def window(params, now: datetime) -> tuple[datetime, datetime]:
    """start/end as the spec says: default the most recent 90 days, never more than 90."""
    start = parse_when(params["start_date"], "start_date") if params.get("start_date") else None
    end = parse_when(params["end_date"], "end_date") if params.get("end_date") else None
    try:
        if start is None and end is None:
            end, start = now, now - DEFAULT_WINDOW
        elif start is None:
            start = end - DEFAULT_WINDOW
        elif end is None:
            end = min(start + DEFAULT_WINDOW, now) if start < now else start + DEFAULT_WINDOW
    except OverflowError:
        raise Open311Error(400, "start_date or end_date is out of range.") from None
    if end < start:
        raise Open311Error(400, "end_date is before start_date.")
    if end - start > DEFAULT_WINDOW:
        raise Open311Error(400, "start_date and end_date may not span more than 90 days.")
    return start, end


def _codes(value: str) -> list[str]:
    return [c for c in (clean_text(v) for v in value.split(",")) if c][:MAX_RECORDS]


# --- the views ---------------------------------------------------------------------------------


@method_decorator(csrf_exempt, name="dispatch")
class Open311View(View):
    """Base of every endpoint: format, size limit, per-address rate limit, jurisdiction, and
    the spec's errors document for every refusal."""

    scope_exempt = "public Open311 endpoint; only public categories and case fields"
    http_method_names = ["get", "head", "options"]

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        fmt = kwargs.pop("format", "json")
        self.fmt = fmt
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = MAX_BODY + 1
        if length > MAX_BODY:
            return error_response(fmt, 413, f"The request body may not exceed {MAX_BODY} bytes.")
        ip = client_ip_of(request) or "unknown"
        if not throttle.allow(f"ip:{ip}", int(config.get("open311.ip_rate_per_minute"))):
            return error_response(fmt, 429, "Too many requests from this address; retry later.")
        try:
            params = request.POST if request.method == "POST" else request.GET
            jurisdiction = clean_text(params.get("jurisdiction_id"))
            if jurisdiction and jurisdiction != config.get("open311.jurisdiction_id"):
                raise Open311Error(404, "jurisdiction_id not found.")
            self.params = params
            return super().dispatch(request, *args, **kwargs)
        except Open311Error as exc:
            return error_response(fmt, exc.status, exc.description)
        except RequestDataTooBig:
            return error_response(fmt, 413, "The request body is too large.")
        except Http404:
            return error_response(fmt, 404, "Not found.")
        except (ValueError, TypeError, ValidationError, UnicodeError) as exc:
            # Unexpected malformed input: a 400 with the spec's document, not a server error.
            log.info("open311 refused malformed input: %r", exc)
            return error_response(fmt, 400, "Malformed request.")

    def http_method_not_allowed(self, request, *args, **kwargs):
        response = error_response(self.fmt, 405, "Method not allowed.")
        response["Allow"] = ", ".join(m.upper() for m in self._allowed_methods())
        return response


class DiscoveryView(Open311View):
    def get(self, request: HttpRequest) -> HttpResponse:
        base = request.build_absolute_uri(reverse("open311:discovery", kwargs={"format": "json"}))
        url = base.rsplit("/", 1)[0] + "/"
        data = {
            "changeset": iso(timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)),
            "contact": "北蔡镇城运中心 Beicai operations centre",
            "key_service": "向北蔡镇城运中心申请 Open311 密钥 (apply to the operations centre).",
            "endpoints": [
                {
                    "specification": "http://wiki.open311.org/GeoReport_v2",
                    "url": url,
                    "changeset": iso(timezone.now()),
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        }
        if self.fmt == "xml":
            element = ET.Element("discovery")
            for name in ("changeset", "contact", "key_service"):
                ET.SubElement(element, name).text = data[name]
            endpoints = ET.SubElement(element, "endpoints")
            for ep in data["endpoints"]:
                node = ET.SubElement(endpoints, "endpoint")
                for name in ("specification", "url", "changeset", "type"):
                    ET.SubElement(node, name).text = ep[name]
                formats = ET.SubElement(node, "formats")
                for f in ep["formats"]:
                    ET.SubElement(formats, "format").text = f
            body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, "utf-8")
            return HttpResponse(body, content_type="text/xml; charset=utf-8")
        return render("json", data, "discovery", None)


class ServiceListView(Open311View):
    def get(self, request: HttpRequest) -> HttpResponse:
        with_attributes = set(ServiceAttribute.objects.values_list("category_id", flat=True))
        items = [service_item(c, c.pk in with_attributes) for c in actions.public_categories()]
        return render(self.fmt, items, "services", "service")


class ServiceDefinitionView(Open311View):
    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        category = actions.public_categories().filter(full_code=clean_text(code)[:8]).first()
        if category is None:
            raise Open311Error(404, "service_code not found.")
        attributes = category.open311_attributes.order_by("order", "id")
        data = {
            "service_code": category.full_code,
            "attributes": [attribute_item(a) for a in attributes],
        }
        return render(self.fmt, data, "service_definition", None)


class RequestsView(Open311View):
    http_method_names = ["get", "post", "head", "options"]

    def get(self, request: HttpRequest) -> HttpResponse:
        params = self.params
        qs = public_cases()
        ids = _codes(params.get("service_request_id", ""))
        if ids:
            qs = qs.filter(number__in=ids)  # overrides every other parameter, as the spec says
        else:
            start, end = window(params, timezone.now())
            qs = qs.filter(reported_at__gte=start, reported_at__lte=end)
            codes = _codes(params.get("service_code", ""))
            if codes:
                qs = qs.filter(category__full_code__in=codes)
            statuses = set(_codes(params.get("status", "").lower()))
            if statuses - {"open", "closed"}:
                raise Open311Error(400, "status must be open or closed.")
            if statuses == {"open"}:
                qs = qs.exclude(status__in=CLOSED)
            elif statuses == {"closed"}:
                qs = qs.filter(status__in=CLOSED)
        cases = list(qs.order_by("-reported_at", "-id")[:MAX_RECORDS])
        return render(self.fmt, request_items(request, cases), "service_requests", "request")

    def post(self, request: HttpRequest) -> HttpResponse:
        params = request.POST
        key = actions.authenticate(params.get("api_key"))
        if key is None:
            raise Open311Error(403, "api_key is missing, invalid or revoked.")
        if not throttle.allow(f"key:{key.pk}", key.rate_limit_per_minute):
            return error_response(self.fmt, 429, "Too many requests for this api_key; retry later.")
        case = actions.submit(params, api_key=key)
        data = [
            {
                "service_request_id": case.number,
                "service_notice": f"已受理登记，案件编号 {case.number}。",
                "account_id": None,
            }
        ]
        return render(self.fmt, data, "service_requests", "request", status=201)


class RequestDetailView(Open311View):
    def get(self, request: HttpRequest, request_id: str) -> HttpResponse:
        case = public_cases().filter(number=clean_text(request_id)[:20]).first()
        if case is None:
            raise Open311Error(404, "service_request_id not found.")
        return render(self.fmt, request_items(request, [case]), "service_requests", "request")


class TokenView(Open311View):
    """This server answers POST with the service_request_id itself, so a token is that id."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        case = public_cases().filter(number=clean_text(token)[:20]).first()
        if case is None:
            raise Open311Error(404, "token not found.")
        data = [{"service_request_id": case.number, "token": case.number}]
        return render(self.fmt, data, "service_requests", "request")


class UpdatesView(Open311View):
    """FixMyStreet's servicerequestupdates: the public workflow events in a window."""

    def get(self, request: HttpRequest) -> HttpResponse:
        start, end = window(self.params, timezone.now())
        events = list(
            CaseEvent.objects.filter(case__category__is_public=True, at__gte=start, at__lte=end)
            .filter(action__in=["report", *TRANSITIONS])
            .select_related("case")
            .order_by("at", "id")[:MAX_RECORDS]
        )
        photos: dict[int, Attachment] = {}
        for a in Attachment.objects.filter(event__in=events).exclude(public_file=""):
            photos.setdefault(a.event_id, a)
        items = [
            {
                "update_id": str(e.pk),
                "service_request_id": e.case.number,
                "status": open311_status(e.to_status or e.case.status),
                "updated_datetime": iso(e.at),
                "description": _label(e.action),
                "media_url": media_url(request, photos.get(e.pk)),
            }
            for e in events
        ]
        return render(self.fmt, items, "service_request_updates", "request_update")


def public_media(request: HttpRequest, token: str) -> HttpResponse:
    """The EXIF-free public copy of a photo on a public case, by a signed id (not guessable)."""
    try:
        pk = signing.loads(token, salt=MEDIA_SALT)
    except signing.BadSignature:
        raise Http404 from None
    attachment = (
        Attachment.objects.filter(pk=pk, case__category__is_public=True)
        .exclude(public_file="")
        .first()
    )
    if attachment is None:
        raise Http404
    try:
        handle = attachment.public_file.open("rb")
    except OSError:
        raise Http404 from None
    ctype = "image/png" if attachment.public_file.name.endswith(".png") else "image/jpeg"
    if attachment.public_file.name.endswith(".webp"):
        ctype = "image/webp"
    response = FileResponse(handle, content_type=ctype)
    response["X-Content-Type-Options"] = "nosniff"
    return response
