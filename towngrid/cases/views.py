"""Pages of the case workflow (一网统管): report a problem, my queue, the case list with its map,
the case page with its timeline and action forms, the evaluation page, and case photos.

Views parse and render; every state change goes through ``actions.py`` (and ``media.py`` for
photos), every read of a case through ``accounts.access.visible_to`` (``ScopedQuerysetMixin`` for
the class-based views), so a case outside the user's scope is a 404 like one that does not exist.
"""

from __future__ import annotations

import datetime as dt
import math
import mimetypes
import re
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F, Q
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.generic import DetailView, ListView

from towngrid.accounts.access import has_capability, scope_kind_of, visible_to
from towngrid.accounts.models import ScopeKind
from towngrid.core.views import ScopedQuerysetMixin
from towngrid.grids.models import GridNode, Level

from . import forms
from .models import (
    OPEN_STATUSES,
    Attachment,
    AttachmentKind,
    Case,
    Category,
    Source,
    Status,
    Step,
)
from .workflow import TRANSITIONS, available_actions

# --- small helpers -------------------------------------------------------------------------------

# Labels of the events that are not workflow transitions.
EVENT_LABELS = {
    "report": gettext_lazy("上报"),
    "attach": gettext_lazy("添加照片"),
    "overdue": gettext_lazy("超期提醒"),
    "merged_into": gettext_lazy("合并"),
    "merged": gettext_lazy("合并重复上报"),
    "merged_in": gettext_lazy("并入重复案件"),
    "merge_from": gettext_lazy("并入重复上报"),
    "escalate": gettext_lazy("超期上报"),
    "comment": gettext_lazy("备注"),
}
# The workflow's labels, translatable (workflow.py keeps plain Chinese strings).
TRANSITION_LABELS = {
    "accept": gettext_lazy("受理"),
    "verify": gettext_lazy("核实"),
    "open": gettext_lazy("立案"),
    "reject": pgettext_lazy("action", "不予立案"),
    "dispatch": gettext_lazy("派遣"),
    "handle": gettext_lazy("处置"),
    "feedback": gettext_lazy("处理反馈"),
    "sendback": gettext_lazy("回退"),
    "recheck": gettext_lazy("核查"),
    "rework": gettext_lazy("返工"),
    "close": gettext_lazy("结案"),
    "request_extension": gettext_lazy("申请延期"),
    "approve_extension": gettext_lazy("批准延期"),
    "deny_request": gettext_lazy("驳回申请"),
    "request_park": gettext_lazy("申请挂账"),
    "approve_park": gettext_lazy("批准挂账"),
    "reopen": gettext_lazy("重新启用"),
    "merge": gettext_lazy("合并为重复"),
}
# What the timeline says for an event: the step done (核查通过 rather than the button's 核查).
EVENT_ACTION_LABELS = {**TRANSITION_LABELS, "recheck": gettext_lazy("核查通过")}


def label_of(action: str) -> str:
    return str(TRANSITION_LABELS.get(action) or TRANSITIONS[action].label)


# Extra labels for transitions whose workflow label is not what the timeline should say.
ACTION_LABELS = {
    "verify_invalid": gettext_lazy("核实（不属实）"),
}

# The actions that move a case on in the queue of whoever may take them.
QUEUE_ACTIONS = ["accept", "verify", "open", "dispatch", "feedback", "recheck", "close"]
APPROVALS = {"approve_extension": "extension", "approve_park": "park"}
# Photo kind attached by an action's form.
PHOTO_KIND = {
    "handle": AttachmentKind.AFTER,
    "feedback": AttachmentKind.AFTER,
    "recheck": AttachmentKind.OTHER,
}
STATUS_COLOURS = {
    Status.REPORTED: "#7a5af8",
    Status.VERIFYING: "#0086c9",
    Status.VERIFIED: "#0e9384",
    Status.OPENED: "#dc6803",
    Status.DISPATCHED: "#1747b5",
    Status.HANDLED: "#4ca30d",
    Status.RECHECKED: "#067647",
    Status.CLOSED: "#667085",
    Status.REJECTED: "#98a2b3",
    Status.PARKED: "#b54708",
    Status.MERGED: "#98a2b3",
}
PAGE_SIZE = 30
MAP_LIMIT = 1500


def _duration_text(seconds: float) -> str:
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("%(d)s 天 %(h)s 小时") % {"d": days, "h": hours}
    if hours:
        return _("%(h)s 小时 %(m)s 分") % {"h": hours, "m": minutes}
    return _("%(m)s 分钟") % {"m": max(minutes, 1) if seconds else 0}


def deadline_state(case: Case, now: dt.datetime | None = None) -> dict:
    """The current step's deadline, time left and overdue state of an open case, for display."""
    now = now or timezone.now()
    deadline = case.step_deadline
    if case.status not in OPEN_STATUSES or deadline is None:
        return {"deadline": deadline, "active": False, "overdue": False, "text": "", "level": ""}
    left = (deadline - now).total_seconds()
    overdue = left < 0
    if overdue:
        text = _("已超期 %(t)s") % {"t": _duration_text(left)}
        level = "overdue"
    else:
        text = _("剩余 %(t)s") % {"t": _duration_text(left)}
        level = "soon" if left < 4 * 3600 else "ok"
    return {"deadline": deadline, "active": True, "overdue": overdue, "text": text, "level": level}


def step_label(case: Case) -> str:
    return Step(case.step).label if case.step in Step.values else ""


def annotate(cases, now=None) -> list[Case]:
    now = now or timezone.now()
    rows = list(cases)
    for c in rows:
        c.state = deadline_state(c, now)
        c.step_label = step_label(c)
    return rows


def visible_cases(user):
    return visible_to(user, Case.objects.all())


def visible_grids(user):
    return visible_to(user, GridNode.objects.all())


def grid_choices(user) -> list[tuple[str, str]]:
    """Grid nodes a user may filter by: their visible subtree down to the communities (and the
    user's own micro-grid or group when that is their scope)."""
    qs = visible_grids(user)
    if scope_kind_of(user) == ScopeKind.GRID and user.scope_id:
        qs = qs.filter(level__lte=max(Level.COMMUNITY, user.scope.level + 1))
    else:
        qs = qs.filter(level__lte=Level.COMMUNITY)
    rows = qs.order_by("code").values_list("code", "name", "level")
    return [(code, "\u3000" * max(level - 1, 0) + name) for code, name, level in rows]


def grid_path(user, node: GridNode) -> list[dict]:
    path = node.path()
    visible = set(
        visible_grids(user).filter(code__in=[n.code for n in path]).values_list("code", flat=True)
    )
    return [{"node": n, "linked": n.code in visible} for n in path]


# --- the report page ---------------------------------------------------------------------------


def category_rows(categories=None, *, value: str = "pk") -> list[dict]:
    """Rows for the category picker (cases/_category_picker.html); ``value`` is the attribute the
    form posts (the staff form the id, the residents' page the code)."""
    if categories is None:
        categories = Category.objects.filter(active=True)
    rows = []
    for c in categories.select_related("major").order_by("full_code"):
        rows.append(
            {
                "value": getattr(c, value),
                "code": c.full_code,
                "name": c.name,
                "major": c.major.name,
                "kind": c.major.get_kind_display(),
                "keywords": c.keywords,
            }
        )
    return rows


def _report_geojson(user) -> dict:
    """Outlines for the report map: the areas, and the user's own grid (filled) if scoped."""
    from towngrid.grids.views import FEATURE_FIELDS, feature_collection

    qs = visible_grids(user)
    levels = [Level.TOWN, Level.AREA, Level.COMMUNITY]
    if scope_kind_of(user) == ScopeKind.GRID and user.scope_id:
        levels = [Level.TOWN, Level.AREA, Level.COMMUNITY, Level.MICRO]
        qs = qs.filter(code__startswith=user.scope.code[:15])
    return feature_collection(
        qs.filter(level__in=levels).order_by("level", "code").values(*FEATURE_FIELDS)
    )


def outline_geojson(user) -> dict:
    """The town and its areas (or the user's own grid) as a background for the case map."""
    from towngrid.grids.views import FEATURE_FIELDS, feature_collection

    qs = visible_grids(user)
    if scope_kind_of(user) == ScopeKind.GRID and user.scope_id:
        qs = qs.filter(pk=user.scope_id)
    else:
        qs = qs.filter(level__in=[Level.TOWN, Level.AREA])
    return feature_collection(qs.order_by("level", "code").values(*FEATURE_FIELDS))


def find_duplicates(user, category, lng, lat, crs="wgs84") -> list[Case]:
    """Open cases of the same subclass near the point (the town's radius, 50 m by default) that
    the user may see, nearest first."""
    from . import queries
    from .errors import CaseError

    try:
        found = queries.find_duplicates(category, lng, lat, crs=crs, queryset=visible_cases(user))
    except CaseError:
        return []
    return annotate(found[:10])


@login_required
def report(request):
    user = request.user
    if not has_capability(user, "cases.report"):
        return render(request, "cases/forbidden.html", status=403)
    duplicates: list[Case] = []
    if request.method == "POST":
        form = forms.ReportForm(request.POST, request.FILES, user=user)
        if form.is_valid():
            data = form.cleaned_data
            if not data.get("duplicates_checked"):
                duplicates = find_duplicates(
                    user, data["category"], data["lng"], data["lat"], data["crs"]
                )
            if not duplicates:
                case = _create_report(request, form)
                if case is not None:
                    return redirect("cases:receipt", number=case.number)
    else:
        form = forms.ReportForm(user=user)
    return render(
        request,
        "cases/report.html",
        {
            "form": form,
            "duplicates": duplicates,
            "categories": category_rows(),
            "geojson": _report_geojson(user),
            "show_source": len(forms.sources_for(user)) > 1,
        },
    )


def _check_photos(form, files) -> bool:
    """Refuse a file that is not a usable photo before anything is written."""
    from .media import PhotoError, check_photo

    for f in files:
        try:
            check_photo(f)
        except PhotoError as exc:
            form.add_error("photos", f"{getattr(f, 'name', '')}：{exc.message}")
            return False
        finally:
            f.seek(0)
    return True


def _create_report(request, form) -> Case | None:
    """Report the case with its photos, all or nothing. None with the errors on the form."""
    from . import actions
    from .errors import CaseError
    from .media import PhotoError

    data = form.cleaned_data
    if not _check_photos(form, data["photos"]):
        return None
    try:
        return actions.report(
            category=data["category"],
            description=data["description"],
            lng=data["lng"],
            lat=data["lat"],
            crs=data["crs"],
            source=data["source"],
            actor=request.user,
            address=data["address"],
            source_ref=data["source_ref"],
            photos=data["photos"],
        )
    except CaseError as exc:
        form.add_error(_error_field(exc, form, REPORT_ERROR_FIELDS), exc.message)
    except PhotoError as exc:
        form.add_error("photos", exc.message)
    return None


REPORT_ERROR_FIELDS = {"outside_town": "lng", "lng": "lng", "lat": "lng", "crs": "lng"}


def _error_field(exc, form, by_code: dict) -> str | None:
    """The form field an action's error belongs to (``details.field`` or its code), if shown."""
    details = getattr(exc, "details", None)
    field = details.get("field") if isinstance(details, dict) else None
    field = by_code.get(field, field) or by_code.get(getattr(exc, "code", ""))
    return field if field in form.fields else None


@login_required
def report_duplicates(request):
    """The open cases of a subclass near a point, as a fragment for the report page."""
    user = request.user
    duplicates: list[Case] = []
    try:
        category = Category.objects.get(pk=int(request.GET.get("category", "")))
        lng = float(request.GET.get("lng", ""))
        lat = float(request.GET.get("lat", ""))
    except (ValueError, Category.DoesNotExist):
        category = None
    if category is not None and math.isfinite(lng) and math.isfinite(lat):
        crs = request.GET.get("crs") or "wgs84"
        if crs not in {"wgs84", "gcj02", "bd09", "cgcs2000"}:
            crs = "wgs84"
        duplicates = find_duplicates(user, category, lng, lat, crs)
    return render(request, "cases/_duplicates.html", {"duplicates": duplicates})


@login_required
def photo_hint(request):
    """The EXIF GPS position of a photo chosen on the report page, offered as the location.
    The photo itself is not kept: it is uploaded again with the report."""
    if request.method != "POST":
        return JsonResponse({"error": {"code": "method_not_allowed"}}, status=405)
    from . import media

    upload = request.FILES.get("photo")
    if upload is None:
        return JsonResponse({"location": None})
    try:
        media.check_photo(upload)
    except media.PhotoError as exc:
        return JsonResponse({"location": None, "error": exc.message})
    upload.seek(0)
    hint = media.exif_location_hint(upload)
    if hint is None:
        return JsonResponse({"location": None})
    lng, lat = hint
    return JsonResponse({"location": {"lng": round(lng, 7), "lat": round(lat, 7)}})


@login_required
def receipt(request, number: str):
    """The receipt of a report, for its reporter (a resident cannot open the case page)."""
    case = (
        Case.objects.select_related("category", "grid")
        .filter(number=number)
        .filter(Q(reporter=request.user) | Q(reporters__user=request.user))
        .first()
    )
    if case is None:
        raise Http404
    can_open = visible_cases(request.user).filter(pk=case.pk).exists()
    return render(
        request,
        "cases/receipt.html",
        {"case": case, "can_open": can_open, "photos": list(case.attachments.all())},
    )


# --- my queue ----------------------------------------------------------------------------------


def queue_queryset(user):
    """The cases waiting for ``user``'s post, inside their scope (``queries.my_queue``)."""
    from . import queries

    return queries.my_queue(user)


@login_required
def queue(request):
    user = request.user
    qs = (
        queue_queryset(user)
        .select_related("category", "grid", "department")
        .order_by(F("step_deadline").asc(nulls_last=True), "reported_at")
    )
    rows = annotate(qs[:500])
    total = len(rows)
    overdue = sum(1 for r in rows if r.state["overdue"])
    # Grouped by what is to be done, so each post sees its steps together.
    groups: dict[str, list[Case]] = {}
    for r in rows:
        groups.setdefault(r.get_status_display(), []).append(r)
    return render(
        request,
        "cases/queue.html",
        {
            "rows": rows,
            "total": total,
            "overdue": overdue,
            "status_counts": [(label, len(items)) for label, items in groups.items()],
            "can_report": has_capability(user, "cases.report"),
        },
    )


# --- the case list -----------------------------------------------------------------------------


class CaseListView(ScopedQuerysetMixin, ListView):
    model = Case
    template_name = "cases/list.html"
    context_object_name = "cases"
    paginate_by = PAGE_SIZE

    def get_filter_form(self):
        if not hasattr(self, "_filter_form"):
            form = forms.FilterForm(
                self.request.GET or None, grid_choices=grid_choices(self.request.user)
            )
            form.is_valid()
            self._filter_form = form
        return self._filter_form

    def get_queryset(self):
        qs = super().get_queryset().select_related("category", "grid", "department")
        form = self.get_filter_form()
        f = form.cleaned_data if form.is_bound else {}
        now = timezone.now()
        if f.get("q"):
            q = f["q"].strip()
            qs = qs.filter(
                Q(number__icontains=q) | Q(description__icontains=q) | Q(address__icontains=q)
            )
        if f.get("status"):
            qs = qs.filter(status=f["status"])
        if f.get("category"):
            qs = qs.filter(category__full_code=f["category"])
        if f.get("grid"):
            qs = qs.filter(grid_code__startswith=f["grid"])
        if f.get("department"):
            qs = qs.filter(department_id=int(f["department"]))
        if f.get("source"):
            qs = qs.filter(source=f["source"])
        if f.get("overdue") == "1":
            qs = qs.filter(status__in=OPEN_STATUSES, step_deadline__lt=now)
        elif f.get("overdue") == "0":
            qs = qs.exclude(status__in=OPEN_STATUSES, step_deadline__lt=now)
        if f.get("start"):
            start = timezone.make_aware(dt.datetime.combine(f["start"], dt.time.min))
            qs = qs.filter(reported_at__gte=start)
        if f.get("end"):
            end = timezone.make_aware(dt.datetime.combine(f["end"], dt.time.min))
            qs = qs.filter(reported_at__lt=end + dt.timedelta(days=1))
        return qs.order_by("-reported_at", "-id")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        now = timezone.now()
        ctx["cases"] = annotate(ctx["cases"], now)
        ctx["filter_form"] = self.get_filter_form()
        qs = self.object_list
        markers = [
            {
                "n": number,
                "lat": round(lat, 6),
                "lng": round(lng, 6),
                "s": status,
                "c": name,
            }
            for number, lat, lng, status, name in qs.values_list(
                "number", "lat", "lng", "status", "category__name"
            )[:MAP_LIMIT]
        ]
        ctx["markers"] = markers
        ctx["map_truncated"] = ctx["paginator"].count > MAP_LIMIT if ctx.get("paginator") else False
        ctx["status_legend"] = [
            {"code": s, "label": Status(s).label, "colour": c} for s, c in STATUS_COLOURS.items()
        ]
        ctx["status_colours"] = {str(k): v for k, v in STATUS_COLOURS.items()}
        ctx["status_labels"] = {str(k): str(v) for k, v in Status.choices}
        ctx["outline"] = outline_geojson(self.request.user)
        ctx["map_limit"] = MAP_LIMIT
        form = ctx["filter_form"]
        clean = {
            name: form.data.get(name)
            for name in form.fields
            if form.is_bound and form.data.get(name)
        }
        ctx["query_string"] = urlencode(clean)
        ctx["filtered"] = bool(clean)
        ctx["detail_url_template"] = reverse("cases:detail", args=["__N__"])
        return ctx


EXPORT_LIMIT = 20000
WIDTHS = [16, 10, 14, 8, 12, 14, 16, 19, 24, 18, 17, 17, 17, 6, 60]


@login_required
def export(request):
    """The filtered case list as an XLSX workbook: the list page's own queryset (scope and
    filters), so it holds exactly the cases the page lists."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = str(_("案件"))
    headers = [
        _("案件编号"), _("大类"), _("小类"), _("状态"), _("来源"), _("来源编号"), _("网格"),
        _("网格编码"), _("地址"), _("处置部门"), _("上报时间"), _("环节时限"), _("结案时间"),
        _("超期"), _("问题描述"),
    ]  # fmt: skip
    ws.append([str(h) for h in headers])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    now = timezone.now()

    def local(value):
        return timezone.localtime(value).replace(tzinfo=None) if value else None

    view = CaseListView()
    view.setup(request)
    for c in view.get_queryset().select_related("category__major")[:EXPORT_LIMIT]:
        ws.append(
            [
                c.number,
                c.category.major.name,
                c.category.name,
                c.get_status_display(),
                c.get_source_display(),
                c.source_ref,
                c.grid.name,
                c.grid_code,
                c.address,
                c.department.name if c.department_id else "",
                local(c.reported_at),
                local(c.step_deadline),
                local(c.closed_at),
                str(_("是")) if deadline_state(c, now)["overdue"] else "",
                c.description,
            ]
        )
    for column, width in zip("ABCDEFGHIJKLMNO", WIDTHS, strict=True):
        ws.column_dimensions[column].width = width
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    response = HttpResponse(
        buf.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    stamp = timezone.localtime(now).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="cases-{stamp}.xlsx"'
    return response


# --- the case page -----------------------------------------------------------------------------


# Actions that undo or refuse, shown as such.
DANGER_ACTIONS = {"reject", "rework", "sendback", "deny_request"}
# Actions covered by another action's form on the page: 核查 offers 通过 / 返工 itself.
HIDDEN_ACTIONS = {"rework": {Status.HANDLED}}


def actions_for(user, case: Case) -> list:
    """The workflow actions ``user`` may take on ``case`` now (status, capability, scope and
    pending requests, as ``actions.can_take`` decides)."""
    from . import actions

    out = []
    for t in available_actions(case.status):
        if case.status in HIDDEN_ACTIONS.get(t.action, ()):
            continue
        if actions.can_take(case, t.action, user):
            out.append(t)
    return out


def reporter_label(user, case: Case) -> str:
    """Who reported: a name for the town's own roles and the reporter, a role otherwise."""
    reporter = case.reporter
    if reporter is None:
        return Source(case.source).label if case.source in Source.values else ""
    role = str(reporter.role) if reporter.role_id else ""
    if reporter.pk == user.pk or scope_kind_of(user) == ScopeKind.TOWN:
        return f"{reporter}（{role}）" if role else str(reporter)
    return role or _("上报人")


def timeline(case: Case) -> list[dict]:
    """The case's history, rebuilt from its events, with each event's photos."""
    events = list(case.events.select_related("actor", "actor__role", "department"))
    photos: dict[int, list] = {}
    for a in case.attachments.all():
        if a.event_id:
            photos.setdefault(a.event_id, []).append(a)
    rows = []
    for e in events:
        label = (
            ACTION_LABELS.get(e.action)
            or EVENT_ACTION_LABELS.get(e.action)
            or EVENT_LABELS.get(e.action, e.action)
        )
        if e.action == "verify" and (e.data or {}).get("valid") is False:
            label = ACTION_LABELS["verify_invalid"]
        actor = e.actor_name or (str(e.actor) if e.actor else _("系统"))
        rows.append(
            {
                "event": e,
                "label": label,
                "actor": actor,
                "to_status": Status(e.to_status).label if e.to_status in Status.values else "",
                "photos": photos.get(e.pk, []),
            }
        )
    return rows


def case_grid_geojson(user, case: Case) -> dict:
    """The boundary of the case's micro-grid (and building group) for the case page's map."""
    from towngrid.grids.views import FEATURE_FIELDS, feature_collection

    codes = [n.code for n in case.grid.path() if n.level >= Level.MICRO]
    qs = visible_grids(user).filter(code__in=codes).order_by("level")
    return feature_collection(qs.values(*FEATURE_FIELDS))


class CaseDetailView(ScopedQuerysetMixin, DetailView):
    model = Case
    slug_field = "number"
    slug_url_kwarg = "number"
    template_name = "cases/detail.html"
    context_object_name = "case"

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .select_related(
                "category",
                "category__major",
                "grid",
                "department",
                "reporter",
                "reporter__role",
                "duplicate_of",
            )
        )

    def get_context_data(self, forms_by_action=None, open_action=None, conflict=None, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        case: Case = self.object
        ctx["state"] = deadline_state(case)
        ctx["step_label"] = step_label(case)
        ctx["path"] = grid_path(user, case.grid)
        ctx["reporter_label"] = reporter_label(user, case)
        ctx["timeline"] = timeline(case)
        attachments = list(case.attachments.all())
        ctx["before_photos"] = [a for a in attachments if a.kind == AttachmentKind.BEFORE]
        ctx["after_photos"] = [a for a in attachments if a.kind == AttachmentKind.AFTER]
        ctx["other_photos"] = [a for a in attachments if a.kind == AttachmentKind.OTHER]
        forms_by_action = forms_by_action or {}
        action_forms = []
        for t in actions_for(user, case):
            form = forms_by_action.get(t.action) or forms.action_form(t, case, prefix=t.action)
            action_forms.append(
                {
                    "t": t,
                    "label": label_of(t.action),
                    "form": form,
                    "open": t.action == open_action,
                    "danger": t.action in DANGER_ACTIONS,
                }
            )
        ctx["action_forms"] = action_forms
        ctx["conflict"] = conflict
        ctx["duplicates"] = visible_to(user, case.duplicates.all()).select_related("category")
        ctx["grid_geojson"] = case_grid_geojson(user, case)
        ctx["pending_label"] = {
            "extension": _("延期申请待审批"),
            "park": _("挂账申请待审批"),
        }.get(case.pending_request, case.pending_request)
        return ctx

    def post(self, request, *args, **kwargs):
        from .errors import CaseError

        self.object = case = self.get_object()
        user = request.user
        action = request.POST.get("action", "")
        available = {t.action: t for t in actions_for(user, case)}
        t = available.get(action)
        if t is None:
            known = TRANSITIONS.get(action)
            if known is None:
                raise Http404
            # Someone else moved the case on (or decided the request) since the page was
            # shown: say so on the page as it is now.
            message = _("案件已被他人处理，当前状态为“%(status)s”，不能再执行“%(action)s”。") % {
                "status": case.get_status_display(),
                "action": label_of(action),
            }
            ctx = self.get_context_data(object=case, conflict=message)
            return self.render_to_response(ctx, status=409)
        form = forms.action_form(t, case, request.POST, request.FILES, prefix=action)
        if not form.is_valid():
            return self._again(form, t)
        data = form.cleaned_data
        from . import actions
        from .media import PhotoError

        photos = data.get("photos") or []
        if photos and not _check_photos(form, photos):
            return self._again(form, t)
        extra = form.action_data()
        if photos:
            extra["photos"] = photos
        try:
            actions.transition(
                case,
                action,
                actor=user,
                note=data.get("note", ""),
                expected_version=data["expected_version"],
                **extra,
            )
        except CaseError as exc:
            if exc.code == "conflict":
                return self._again(form, t, conflict=exc.message, status=409)
            form.add_error(_error_field(exc, form, {}), exc.message)
            return self._again(form, t)
        except PhotoError as exc:
            form.add_error("photos" if "photos" in form.fields else None, exc.message)
            return self._again(form, t)
        messages.success(request, _("已%(action)s。") % {"action": label_of(t.action)})
        return redirect("cases:detail", number=case.number)

    def _again(self, form, t, conflict=None, status=200):
        # Show the latest state of the case, with the user's input kept in the form.
        self.object = self.get_object()
        ctx = self.get_context_data(
            object=self.object,
            forms_by_action={t.action: form},
            open_action=t.action,
            conflict=conflict,
        )
        return self.render_to_response(ctx, status=status)


# --- photos ------------------------------------------------------------------------------------


@login_required
def photo(request, number: str, pk: int, variant: str = "file"):
    """A case photo, served only to users who can see the case (never from a public URL)."""
    case = visible_cases(request.user).filter(number=number).first()
    if case is None:
        raise Http404
    attachment = Attachment.objects.filter(case=case, pk=pk).first()
    if attachment is None:
        raise Http404
    field = {"thumb": attachment.thumbnail, "file": attachment.file}.get(variant)
    if variant == "thumb" and not attachment.thumbnail:
        field = attachment.public_file or attachment.file
    if not field:
        raise Http404
    try:
        handle = field.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    content_type = (
        attachment.content_type
        if variant == "file" and attachment.content_type
        else mimetypes.guess_type(field.name)[0] or "application/octet-stream"
    )
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- evaluation --------------------------------------------------------------------------------

PERIOD_RE = re.compile(r"^(\d{4})(?:([HhQq])([1-4])|-(\d{1,2}))?$")


def parse_period(text: str | None, today: dt.date | None = None) -> tuple[str, dt.date, dt.date]:
    """``2023H1``, ``2023Q2``, ``2023-05`` or ``2023`` → (label, first day, day after the last).
    Empty or invalid: the current half-year."""
    today = today or timezone.localdate()
    m = PERIOD_RE.match((text or "").strip())
    if not m:
        half = 1 if today.month <= 6 else 2
        return parse_period(f"{today.year}H{half}")
    year = int(m.group(1))
    if not 2000 <= year <= 2100:
        return parse_period(None, today)
    kind, n, month = m.group(2), m.group(3), m.group(4)
    if kind and kind.upper() == "H" and n in {"1", "2"}:
        start = dt.date(year, 1 if n == "1" else 7, 1)
        end = dt.date(year, 7, 1) if n == "1" else dt.date(year + 1, 1, 1)
        return f"{year}H{n}", start, end
    if kind and kind.upper() == "Q":
        q = int(n)
        start = dt.date(year, 3 * q - 2, 1)
        end = dt.date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1)
        return f"{year}Q{q}", start, end
    if month:
        mo = int(month)
        if not 1 <= mo <= 12:
            return parse_period(None, today)
        start = dt.date(year, mo, 1)
        end = dt.date(year + (mo == 12), 1 if mo == 12 else mo + 1, 1)
        return f"{year}-{mo:02d}", start, end
    if kind:
        return parse_period(None, today)
    return str(year), dt.date(year, 1, 1), dt.date(year + 1, 1, 1)


def period_choices(today: dt.date | None = None) -> list[tuple[str, str]]:
    today = today or timezone.localdate()
    out = []
    for year in range(today.year, 2022, -1):
        out.append((f"{year}H2", _("%(y)s 年下半年") % {"y": year}))
        out.append((f"{year}H1", _("%(y)s 年上半年") % {"y": year}))
        for q in (4, 3, 2, 1):
            out.append((f"{year}Q{q}", _("%(y)s 年第 %(q)s 季度") % {"y": year, "q": q}))
        out.append((str(year), _("%(y)s 年全年") % {"y": year}))
    return out


# Columns of the evaluation tables: (attribute, label, kind); kind decides the formatting.
AREA_COLUMNS = [
    ("due", gettext_lazy("应结案"), "int"),
    ("closed", gettext_lazy("结案"), "int"),
    ("closed_on_time", gettext_lazy("按期结案"), "int"),
    ("parked", gettext_lazy("挂账"), "int"),
    ("overdue", gettext_lazy("超期"), "int"),
    ("closure_rate", gettext_lazy("结案率"), "rate"),
    ("on_time_rate", gettext_lazy("按期结案率"), "rate"),
]
DEPARTMENT_COLUMNS = [
    ("dispatched", gettext_lazy("派遣"), "int"),
    ("sent_back", gettext_lazy("回退"), "int"),
    ("handled", gettext_lazy("处置"), "int"),
    ("handled_on_time", gettext_lazy("按期处置"), "int"),
    ("reworked", gettext_lazy("返工"), "int"),
    ("on_time_rate", gettext_lazy("按期处置率"), "rate"),
    ("rework_rate", gettext_lazy("返工率"), "rate"),
    ("sendback_rate", gettext_lazy("回退率"), "rate"),
]
WORKER_COLUMNS = [
    ("reports", gettext_lazy("上报"), "int"),
    ("valid_rate", gettext_lazy("有效上报率"), "rate"),
    ("verified", gettext_lazy("核实"), "int"),
    ("verify_rate", gettext_lazy("按时核实率"), "rate"),
    ("rechecked", gettext_lazy("核查"), "int"),
    ("recheck_rate", gettext_lazy("按时核查率"), "rate"),
    ("miss_rate", gettext_lazy("漏报率"), "rate"),
]
OPS_COLUMNS = [
    ("volume", gettext_lazy("业务量"), "int"),
    ("accept_rate", gettext_lazy("按时受理率"), "rate"),
    ("verify_dispatch_rate", gettext_lazy("按时派发核实率"), "rate"),
    ("open_rate", gettext_lazy("按时立案率"), "rate"),
    ("open_accuracy", gettext_lazy("准确立案率"), "rate"),
    ("close_rate", gettext_lazy("按时结案率"), "rate"),
    ("dispatch_rate", gettext_lazy("按时派遣率"), "rate"),
    ("dispatch_accuracy", gettext_lazy("准确派遣率"), "rate"),
]
OPS_POST_LABELS = {
    "registrar": gettext_lazy("受理员"),
    "shift_lead": gettext_lazy("值班长"),
    "dispatcher": gettext_lazy("派遣员"),
}
WORKER_POST_LABELS = {
    "leader": gettext_lazy("网格长"),
    "full_time": gettext_lazy("专职网格员"),
    "part_time": gettext_lazy("兼职网格员"),
}


def _cells(row, columns) -> list[dict]:
    return [{"value": getattr(row, key, None), "kind": kind} for key, _label, kind in columns]


def _evaluation_root(user, code: str | None) -> GridNode | None:
    """The node to evaluate: the one asked for when the user may see it, else the top of the
    user's scope (the town for town-wide roles)."""
    nodes = visible_grids(user)
    if code:
        node = nodes.filter(code=code, level__lte=Level.MICRO).first()
        if node is not None:
            return node
    if scope_kind_of(user) == ScopeKind.GRID:
        return nodes.filter(pk=user.scope_id).first()
    return nodes.order_by("level", "code").first()


def _evaluate(user, root: GridNode, start: dt.date, end: dt.date):
    from . import evaluation as ev

    # The root lies in the user's scope, so its subtree is what a town or grid user may see; a
    # department user sees only the department's cases, so the evaluation is narrowed to them.
    if scope_kind_of(user) in (ScopeKind.TOWN, ScopeKind.GRID):
        return ev.evaluate(start, end, root)
    return ev.evaluate(start, end, root, cases=visible_cases(user))


@login_required
def evaluation(request):
    user = request.user
    label, start, end = parse_period(request.GET.get("period"))
    root = _evaluation_root(user, request.GET.get("grid"))
    ctx = {
        "period": label,
        "start": start,
        "end_inclusive": end - dt.timedelta(days=1),
        "periods": period_choices(),
        "root": root,
    }
    if root is not None:
        result = _evaluate(user, root, start, end)
        visible_codes = set(
            visible_grids(user)
            .filter(code__in=[a.code for a in result.areas])
            .values_list("code", flat=True)
        )
        ctx["areas"] = [
            {
                "row": r,
                "cells": _cells(r, AREA_COLUMNS),
                "linked": r.code in visible_codes and r.code != root.code,
            }
            for r in result.areas
        ]
        ctx["total"] = {"row": result.total, "cells": _cells(result.total, AREA_COLUMNS)}
        ctx["departments"] = [
            {"row": r, "cells": _cells(r, DEPARTMENT_COLUMNS)}
            for r in sorted(result.departments, key=lambda r: (r.score is None, -(r.score or 0)))
        ]
        ctx["workers"] = [
            {
                "row": r,
                "cells": _cells(r, WORKER_COLUMNS),
                "post": WORKER_POST_LABELS.get(r.post, r.post_label),
            }
            for r in sorted(
                result.workers, key=lambda r: (r.score is None, -(r.score or 0), r.name)
            )
        ]
        ctx["operations"] = [
            {
                "row": r,
                "cells": _cells(r, OPS_COLUMNS),
                "post": OPS_POST_LABELS.get(r.post, r.post_label),
            }
            for r in result.operations
        ]
        ctx["columns"] = {
            "area": AREA_COLUMNS,
            "department": DEPARTMENT_COLUMNS,
            "worker": WORKER_COLUMNS,
            "ops": OPS_COLUMNS,
        }
        choices = grid_choices(user)
        if root.code not in {c for c, _n in choices}:
            choices = [(root.code, root.name), *choices]
        ctx["grid_choices"] = choices
        ctx["path"] = grid_path(user, root)
        ctx["query"] = urlencode({"period": label, "grid": root.code})
    return render(request, "cases/evaluation.html", ctx)


@login_required
def evaluation_export(request):
    from . import evaluation as ev

    user = request.user
    label, start, end = parse_period(request.GET.get("period"))
    root = _evaluation_root(user, request.GET.get("grid"))
    if root is None:
        raise Http404
    content = ev.evaluation_xlsx(_evaluate(user, root, start, end))
    response = HttpResponse(
        content,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="evaluation-{label}.xlsx"'
    return response
