"""Pages of sensing (物联感知): the alarm board (map + list, live by htmx polling, acknowledge and
clear), the device list, a device's page (ECharts series from the observations API, its alarms)
and the pump-station panel for a storm (forebay levels against warning and danger, pump states).

Every list goes through the user's grid scope (``ScopedQuerysetMixin`` / ``visible_to``); the
pages need ``sensing.view``, acknowledging and clearing ``sensing.ack``, and every change goes
through ``actions.acknowledge`` / ``actions.clear``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import DetailView, ListView

from towngrid.accounts.access import has_capability, visible_to
from towngrid.core.views import ScopedQuerysetMixin

from . import actions, queries
from .errors import SensingError
from .models import (
    ACTIVE_STATUSES,
    SEVERITY_RANK,
    Alarm,
    AlarmStatus,
    Device,
    DeviceState,
    DeviceType,
    Rule,
    Severity,
)

SEVERITY_COLOURS = {
    Severity.CRITICAL: "#b42318",
    Severity.MAJOR: "#dc6803",
    Severity.MINOR: "#ca8504",
    Severity.WARNING: "#0086c9",
    Severity.INDETERMINATE: "#667085",
}
STATE_LABELS = dict(DeviceState.choices)
BOARD_PAGE = 30
MAP_LIMIT = 500
PUMP_TYPE = "rain_pump_station"
DEFAULT_WARNING, DEFAULT_DANGER = 3.0, 3.5
STATUS_FILTERS = {
    "active": (gettext_lazy("活动告警"), Q(status__in=ACTIVE_STATUSES)),
    "unack": (
        gettext_lazy("未确认"),
        Q(status__in=[AlarmStatus.ACTIVE_UNACK, AlarmStatus.CLEARED_UNACK]),
    ),
    "cleared": (gettext_lazy("已清除"), ~Q(status__in=ACTIVE_STATUSES)),
    "all": (gettext_lazy("全部"), Q()),
}


class SensingPageMixin(ScopedQuerysetMixin):
    """Login, the user's grid scope, and ``sensing.view``."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not has_capability(request.user, "sensing.view"):
            raise PermissionDenied(_("您没有查看物联感知的权限。"))
        return super().dispatch(request, *args, **kwargs)


# The query parameters each page understands; nothing else is echoed back into its links (an
# unknown parameter, such as a grid code outside the user's scope, must not reappear).
BOARD_PARAMS = ("status", "severity", "type", "device_type", "page")
DEVICE_PARAMS = ("type", "state", "q", "page")
PUMP_PARAMS = ("date",)


def _query_string(request, keep: tuple[str, ...], drop: tuple[str, ...] = ("page",)) -> str:
    return urlencode([(k, v) for k, v in request.GET.items() if k in keep and k not in drop and v])


def _marker(alarm: Alarm) -> dict:
    device = alarm.device
    return {
        "id": alarm.pk,
        "lat": device.lat,
        "lng": device.lng,
        "severity": alarm.severity,
        "colour": SEVERITY_COLOURS.get(alarm.severity, "#667085"),
        "title": alarm.name or alarm.alarm_type,
        "device": device.name,
        "url": reverse("sensing:device", args=[device.code]),
        "active": alarm.status in ACTIVE_STATUSES,
    }


# --- the alarm board --------------------------------------------------------------------------


class AlarmBoardView(SensingPageMixin, ListView):
    """告警看板: the scoped alarms (active by default), newest first, with a map; the list part
    answers htmx polls on its own (``HX-Request``) so the board stays live."""

    model = Alarm
    paginate_by = BOARD_PAGE
    template_name = "sensing/alarms.html"
    context_object_name = "alarms"

    def get_queryset(self):
        qs = super().get_queryset().select_related("device", "device__device_type", "case")
        status = self.request.GET.get("status") or "active"
        self.status = status if status in STATUS_FILTERS else "active"
        qs = qs.filter(STATUS_FILTERS[self.status][1])
        params = {
            k: v for k, v in self.request.GET.items() if k in ("severity", "type", "device_type")
        }
        return queries.filter_alarms(qs, params).order_by("-last_seen_at", "-id")

    def get_template_names(self):
        if self.request.headers.get("HX-Request"):
            return ["sensing/_alarm_live.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        scoped = visible_to(user, Alarm.objects.all())
        active = scoped.filter(status__in=ACTIVE_STATUSES)
        counts = {
            row["severity"]: row["n"] for row in active.values("severity").annotate(n=Count("id"))
        }
        map_rows = self.object_list.select_related("device")[:MAP_LIMIT]
        alarms = list(ctx["alarms"])
        for a in alarms:
            a.colour = SEVERITY_COLOURS.get(a.severity, "#667085")
        ctx.update(
            {
                "alarms": alarms,
                "map_limit": MAP_LIMIT,
                "status": self.status,
                "status_filters": [(k, v[0]) for k, v in STATUS_FILTERS.items()],
                "severities": [
                    {
                        "code": code,
                        "label": label,
                        "colour": SEVERITY_COLOURS[code],
                        "count": counts.get(code, 0),
                    }
                    for code, label in Severity.choices
                ],
                "active_total": sum(counts.values()),
                "unack_total": active.filter(status=AlarmStatus.ACTIVE_UNACK).count(),
                "device_types": DeviceType.objects.order_by("name"),
                "selected_severity": self.request.GET.get("severity", ""),
                "selected_type": self.request.GET.get("device_type", ""),
                "query_string": _query_string(self.request, BOARD_PARAMS),
                "back_url": self.request.path + "?" + _query_string(self.request, BOARD_PARAMS, ()),
                "live_url": self.request.path + "?" + _query_string(self.request, BOARD_PARAMS, ()),
                "markers": [_marker(a) for a in map_rows],
                "map_truncated": self.object_list.count() > MAP_LIMIT,
                "can_ack": has_capability(user, "sensing.ack"),
                "severity_colours": SEVERITY_COLOURS,
                "now": timezone.now(),
            }
        )
        return ctx


def _back(request, fallback: str) -> str:
    target = request.POST.get("next") or request.META.get("HTTP_REFERER") or ""
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, request.is_secure()
    ):
        return target
    return fallback


def _alarm_action(request, pk: int, func, done: str):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not has_capability(request.user, "sensing.view"):
        raise PermissionDenied(_("您没有查看物联感知的权限。"))
    alarm = get_object_or_404(visible_to(request.user, Alarm.objects.all()), pk=pk)
    version = request.POST.get("version")
    try:
        func(
            alarm,
            actor=request.user,
            note=(request.POST.get("note") or "").strip()[:500],
            expected_version=int(version) if version and version.isdigit() else None,
        )
    except SensingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect(_back(request, reverse("sensing:alarms")))


@login_required
def alarm_ack(request, pk: int):
    return _alarm_action(request, pk, actions.acknowledge, _("告警已确认。"))


@login_required
def alarm_clear(request, pk: int):
    return _alarm_action(request, pk, actions.clear, _("告警已清除。"))


# --- devices ----------------------------------------------------------------------------------


class DeviceListView(SensingPageMixin, ListView):
    model = Device
    paginate_by = 50
    template_name = "sensing/devices.html"
    context_object_name = "devices"

    def get_queryset(self):
        qs = super().get_queryset().select_related("device_type", "grid")
        qs = queries.filter_devices(qs, self.request.GET).annotate(
            active_alarms=Count("alarms", filter=Q(alarms__status__in=ACTIVE_STATUSES))
        )
        return qs.order_by("device_type__code", "code")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        page = list(ctx["devices"])
        latest = queries.latest_values(Device.objects.filter(pk__in=[d.pk for d in page]))
        for d in page:
            d.newest = latest.get(d.pk)
            d.summary = _summary(d)
        scoped = visible_to(self.request.user, Device.objects.all())
        ctx.update(
            {
                "devices": page,
                "state_counts": queries.device_state_counts(scoped),
                "device_types": DeviceType.objects.order_by("name"),
                "states": DeviceState.choices,
                "query_string": _query_string(self.request, DEVICE_PARAMS),
                "filtered": any(self.request.GET.get(k) for k in ("type", "state", "q")),
            }
        )
        return ctx


def _summary(device: Device, limit: int = 3) -> list[dict]:
    """A few of the newest values with their names and units, for lists and cards."""
    latest = getattr(device, "newest", None)
    if not latest:
        return []
    metrics = device.device_type.metrics
    out = []
    for name, value in latest["values"].items():
        spec = metrics.get(name, {})
        if spec.get("kind") == "image" or name == "snapshot" or isinstance(value, dict):
            continue
        if isinstance(value, bool):
            value = _("是") if value else _("否")
        out.append({"name": spec.get("name", name), "value": value, "unit": spec.get("unit", "")})
        if len(out) >= limit:
            break
    return out


def _level_lines(devices: list[Device]) -> dict[int, tuple[float, float]]:
    """Each pump station's effective forebay warning and danger levels: its own rule override,
    else its type's rule, else the catalogue default."""
    rules = Rule.objects.filter(
        is_active=True, code__in=["level_warning", "level_danger"], device_type__code=PUMP_TYPE
    ).filter(Q(device=None) | Q(device__in=devices))
    found: dict[tuple[int | None, str], float] = {
        (r.device_id, r.code): r.threshold for r in rules if r.threshold is not None
    }
    out = {}
    for d in devices:
        warning = found.get(
            (d.pk, "level_warning"), found.get((None, "level_warning"), DEFAULT_WARNING)
        )
        danger = found.get(
            (d.pk, "level_danger"), found.get((None, "level_danger"), DEFAULT_DANGER)
        )
        out[d.pk] = (warning, danger)
    return out


class DeviceDetailView(SensingPageMixin, DetailView):
    model = Device
    slug_field = "code"
    slug_url_kwarg = "code"
    template_name = "sensing/device.html"
    context_object_name = "device"

    def get_queryset(self):
        return super().get_queryset().select_related("device_type", "grid", "owner_department")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        device = self.object
        metrics = device.device_type.metrics
        latest = queries.latest_values(Device.objects.filter(pk=device.pk)).get(device.pk)
        rows = []
        if latest:
            for name, value in latest["values"].items():
                spec = metrics.get(name, {})
                if name == "snapshot" or spec.get("kind") == "image":
                    continue
                rows.append(
                    {
                        "code": name,
                        "name": spec.get("name", name),
                        "unit": spec.get("unit", ""),
                        "value": value,
                    }
                )
        charted = [
            {"code": code, "name": spec.get("name", code), "unit": spec.get("unit", "")}
            for code, spec in metrics.items()
            if spec.get("kind", "number") in ("number", "bool") or spec.get("derived")
        ]
        lines = {}
        if device.device_type.code == PUMP_TYPE:
            warning, danger = _level_lines([device])[device.pk]
            lines = {"water_level": {"warning": warning, "danger": danger}}
        alarms = visible_to(self.request.user, Alarm.objects.filter(device=device)).order_by(
            "-last_seen_at"
        )[:50]
        day = _day_param(self.request.GET.get("date"))
        start, end = _window(day)
        ctx.update(
            {
                "back_url": self.request.path,
                "latest": latest,
                "latest_rows": rows,
                "chart_config": {
                    "url": reverse("sensing-device-observations", args=[device.code]),
                    "from": start.isoformat(),
                    "to": end.isoformat(),
                    "buckets": 288,
                    "metrics": charted,
                    "lines": lines,
                },
                "day": day,
                "alarms": alarms,
                "can_ack": has_capability(self.request.user, "sensing.ack"),
                "severity_colours": SEVERITY_COLOURS,
                "rules": Rule.objects.filter(
                    Q(device_type=device.device_type, device=None) | Q(device=device),
                    is_active=True,
                ).order_by("metric", "code"),
            }
        )
        return ctx


def _day_param(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _window(day: date | None) -> tuple[datetime, datetime]:
    """The chart's time window: that whole day (Beijing time), or the last 24 hours."""
    if day is None:
        end = timezone.now()
        return end - timedelta(hours=24), end
    start = timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())
    return start, start + timedelta(days=1)


# --- the pump-station storm panel -------------------------------------------------------------


class PumpPanelView(SensingPageMixin, ListView):
    """雨水泵站: every station's forebay level against its warning and danger lines, its pumps,
    the rain and its active alarms. Cards refresh by htmx polling, charts by fetch."""

    model = Device
    template_name = "sensing/pumps.html"
    context_object_name = "stations"

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .filter(device_type__code=PUMP_TYPE, is_active=True)
            .select_related("device_type", "grid")
            .order_by("code")
        )

    def get_template_names(self):
        if self.request.headers.get("HX-Request"):
            return ["sensing/_pump_cards.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        stations = list(ctx["stations"])
        latest = queries.latest_values(Device.objects.filter(pk__in=[s.pk for s in stations]))
        lines = _level_lines(stations)
        active = {}
        for alarm in visible_to(
            self.request.user,
            Alarm.objects.filter(device__in=stations, status__in=ACTIVE_STATUSES),
        ):
            current = active.get(alarm.device_id)
            if current is None or SEVERITY_RANK[alarm.severity] > SEVERITY_RANK[current.severity]:
                active[alarm.device_id] = alarm
        day = _day_param(self.request.GET.get("date"))
        start, end = _window(day)
        cards = []
        for s in stations:
            values = (latest.get(s.pk) or {}).get("values", {})
            warning, danger = lines[s.pk]
            level = values.get("water_level")
            pumps_total = (s.settings or {}).get("pumps") or sum(
                1 for k in values if k.startswith("pump_")
            )
            pumps = [
                {"n": k, "running": bool(values.get(f"pump_{k}"))}
                for k in range(1, int(pumps_total or 0) + 1)
            ]
            state = "unknown"
            if isinstance(level, int | float):
                state = "danger" if level >= danger else "warning" if level >= warning else "normal"
            cards.append(
                {
                    "device": s,
                    "level": level,
                    "warning": warning,
                    "danger": danger,
                    "state": state,
                    "rainfall": values.get("rainfall"),
                    "flow": values.get("flow"),
                    "pumps": pumps,
                    "running": values.get("pumps_running", sum(p["running"] for p in pumps)),
                    "observed_at": (latest.get(s.pk) or {}).get("observed_at"),
                    "alarm": active.get(s.pk),
                    "series_url": reverse("sensing-device-observations", args=[s.code]),
                }
            )
        ctx.update(
            {
                "cards": cards,
                "day": day,
                "window": {"from": start.isoformat(), "to": end.isoformat()},
                "live_url": self.request.path + "?" + _query_string(self.request, PUMP_PARAMS, ()),
                "over_warning": sum(1 for c in cards if c["state"] in ("warning", "danger")),
                "pumps_running": sum(
                    c["running"] or 0 for c in cards if isinstance(c["running"], int)
                ),
                "pumps_total": sum(len(c["pumps"]) for c in cards),
                "severity_colours": SEVERITY_COLOURS,
                "pump_config": {
                    "from": start.isoformat(),
                    "to": end.isoformat(),
                    "stations": [
                        {
                            "code": c["device"].code,
                            "name": c["device"].name,
                            "url": c["series_url"],
                            "warning": c["warning"],
                            "danger": c["danger"],
                        }
                        for c in cards
                    ],
                },
            }
        )
        return ctx
