"""Pages of the codes app: the phone page a scanned code opens (``/c/<token>/``) with check-in,
report and update, the patrol page, and door-plate sheets.

The scan page is public: anyone with the plate in front of them sees the public card (address,
grid, the grid's people and their work numbers, how to report). A signed-in user who may work on
the object (``codes.checkin`` or ``registry.view``, and the object inside the user's scope) sees
the full card. Every write goes through ``actions.py``, which checks capability and scope again.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from towngrid.accounts.access import can_see, has_capability

from . import conf, forms, objects, patrols, qr, queries
from .errors import CodeError
from .models import ObjectCode

SCAN_EXEMPT = (
    "the printed token is the key: the public card shows no personal data, the full card and "
    "every write check the user's capability and the object's grid scope"
)


def may_work_on(user, obj) -> bool:
    """Whether ``user`` sees the full card of ``obj``: a worker's capability and the object
    inside the user's scope."""
    if not getattr(user, "is_authenticated", False):
        return False
    if not (has_capability(user, "codes.checkin") or has_capability(user, "registry.view")):
        return False
    return can_see(user, obj)


def _refusal(request: HttpRequest, exc: CodeError) -> HttpResponse:
    if exc.code == "revoked":
        return render(request, "codes/scan_revoked.html", {"message": exc.message}, status=410)
    return render(request, "codes/scan_not_found.html", {"message": exc.message}, status=404)


class ScanMixin:
    """Resolves the token of the URL into ``self.code`` and ``self.obj`` (or a refusal page)."""

    model = ObjectCode
    scope_exempt = SCAN_EXEMPT

    def dispatch(self, request, *args, **kwargs):
        try:
            self.code = queries.code_for_token(kwargs["token"])
            self.obj = queries.subject_of(self.code)
        except CodeError as exc:
            return _refusal(request, exc)
        self.kind = objects.kind_of(self.obj)
        return super().dispatch(request, *args, **kwargs)

    def card_url(self) -> str:
        return queries.scan_path(self.code.token)

    def require_worker(self, request, capability: str) -> HttpResponse | None:
        """A login redirect, a refusal page, or None when the user may act."""
        if not request.user.is_authenticated:
            return redirect_to_login(self.card_url())
        if not has_capability(request.user, capability) or not can_see(request.user, self.obj):
            return render(
                request,
                "codes/scan_forbidden.html",
                {"card_url": self.card_url()},
                status=403,
            )
        return None

    def context(self, **extra):
        return {
            "code": self.code,
            "obj": self.obj,
            "kind": self.kind,
            "card_url": self.card_url(),
            **extra,
        }


class ScanCardView(ScanMixin, View):
    """GET /c/<token>/: the public or the full card."""

    def get(self, request, token: str):
        user = request.user
        full = may_work_on(user, self.obj)
        card = queries.full_card(self.obj) if full else queries.public_card(self.obj)
        context = self.context(card=card, full=full)
        if full:
            context.update(
                checkin_form=forms.CheckInForm(kind=self.kind),
                can_checkin=has_capability(user, "codes.checkin"),
                can_report=has_capability(user, "cases.report"),
                can_edit=has_capability(user, "registry.edit")
                and forms.update_form_class(type(self.obj), self.kind) is not None,
                can_manage=has_capability(user, "codes.manage"),
                radius_m=conf.checkin_radius_m(),
                reason_form=forms.ReasonForm(),
                colour_panel=_colour_panel(),
            )
            context.update(_colour_panel_context(request, self.obj, card.get("colour")))
            template = "codes/scan_full.html"
        else:
            template = "codes/scan_public.html"
        return render(request, template, context)


class ScanCheckInView(ScanMixin, View):
    """POST /c/<token>/checkin/: 巡查签到 with the phone's position."""

    def post(self, request, token: str):
        refused = self.require_worker(request, "codes.checkin")
        if refused:
            return refused
        from . import actions

        form = forms.CheckInForm(request.POST, kind=self.kind)
        if not form.is_valid():
            messages.error(request, _("签到信息有误：") + "；".join(_errors(form)))
            return redirect(self.card_url())
        data = form.cleaned_data
        try:
            checkin = actions.check_in(
                self.obj,
                actor=request.user,
                lng=data.get("lng"),
                lat=data.get("lat"),
                accuracy_m=data.get("accuracy"),
                note=data.get("note", ""),
                findings=data.get("findings"),
                code=self.code,
            )
        except CodeError as exc:
            messages.error(request, exc.message)
            return redirect(self.card_url())
        if checkin.no_position:
            messages.warning(request, _("已签到，但未取得手机定位，本次签到已标记待核。"))
        elif checkin.flagged_far:
            messages.warning(
                request,
                _("已签到，但手机位置距对象 %(d)s 米，超过 %(r)s 米，本次签到已标记待核。")
                % {"d": f"{checkin.distance_m:.0f}", "r": conf.checkin_radius_m()},
            )
        else:
            messages.success(
                request, _("签到成功（距对象 %(d)s 米）。") % {"d": f"{checkin.distance_m:.0f}"}
            )
        return redirect(self.card_url())


class ScanReportView(ScanMixin, View):
    """GET/POST /c/<token>/report/: report a problem about the object (a case with it as the
    subject, at its place and address)."""

    def get(self, request, token: str):
        refused = self.require_worker(request, "cases.report")
        if refused:
            return refused
        return self._render(request, forms.ScanReportForm())

    def post(self, request, token: str):
        refused = self.require_worker(request, "cases.report")
        if refused:
            return refused
        from . import actions

        form = forms.ScanReportForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            photos = [data["photos"]] if data.get("photos") else []
            try:
                case = actions.report_from_scan(
                    self.obj,
                    actor=request.user,
                    category=data["category"],
                    description=data["description"],
                    photos=photos,
                )
            except CodeError as exc:
                form.add_error(None, exc.message)
            except Exception as exc:  # noqa: BLE001 - a refused photo (cases.media.PhotoError)
                message = getattr(exc, "message", None)
                if message is None:
                    raise
                form.add_error("photos", message)
            else:
                messages.success(request, _("已上报，案件编号 %(n)s。") % {"n": case.number})
                return redirect("cases:receipt", number=case.number)
        return self._render(request, form, status=400)

    def _render(self, request, form, status: int = 200):
        return render(
            request,
            "codes/scan_report.html",
            self.context(form=form, address=objects.address_of(self.obj)),
            status=status,
        )


class ScanUpdateView(ScanMixin, View):
    """GET/POST /c/<token>/edit/: update the few fields a worker checks on the spot."""

    def _form_class(self):
        form_class = forms.update_form_class(type(self.obj), self.kind)
        if form_class is None:
            raise Http404(_("该对象没有可在现场更新的信息。"))
        return form_class

    def get(self, request, token: str):
        refused = self.require_worker(request, "registry.edit")
        if refused:
            return refused
        form = self._form_class()(instance=self.obj)
        return self._render(request, form)

    def post(self, request, token: str):
        refused = self.require_worker(request, "registry.edit")
        if refused:
            return refused
        from . import actions

        original = type(self.obj)._default_manager.get(pk=self.obj.pk)
        form = self._form_class()(request.POST, instance=self.obj)
        if form.is_valid():
            changes = {f: form.cleaned_data[f] for f in form.changed_data}
            try:
                expected = int(request.POST.get("version", ""))
            except ValueError:
                expected = None
            if not changes:
                messages.info(request, _("没有修改。"))
                return redirect(self.card_url())
            try:
                actions.update_object(
                    original, actor=request.user, expected_version=expected, **changes
                )
            except CodeError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("已更新。"))
                return redirect(self.card_url())
        return self._render(request, form, status=400)

    def _render(self, request, form, status: int = 200):
        return render(
            request,
            "codes/scan_edit.html",
            self.context(form=form, version=getattr(self.obj, "version", "")),
            status=status,
        )


class ScanReissueView(ScanMixin, View):
    """POST /c/<token>/reissue/: revoke this code and issue a new one (codes.manage)."""

    def post(self, request, token: str):
        refused = self.require_worker(request, "codes.manage")
        if refused:
            return refused
        from . import actions

        form = forms.ReasonForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("请填写作废原因。"))
            return redirect(self.card_url())
        try:
            code = actions.reissue(self.obj, actor=request.user, reason=form.cleaned_data["reason"])
        except CodeError as exc:
            messages.error(request, exc.message)
            return redirect(self.card_url())
        messages.success(
            request,
            _("原门牌码已作废，已生成第 %(n)s 版门牌码，请打印张贴。") % {"n": code.serial},
        )
        return redirect(queries.scan_path(code.token))


class ScanQrView(ScanMixin, View):
    """GET /c/<token>/qr.svg|qr.png: the code's QR image (the token is already in the URL, so
    the image reveals nothing more; revoked codes have none)."""

    def get(self, request, token: str, fmt: str):
        if fmt not in {"svg", "png"}:
            raise Http404(_("未知的图片格式。"))
        url = queries.scan_url(self.code.token, conf.public_url(request))
        if fmt == "png":
            return HttpResponse(qr.png(url), content_type="image/png")
        return HttpResponse(qr.svg(url, title=url), content_type="image/svg+xml")


def _colour_panel() -> str | None:
    """The colour engine's panel template when it exists (written beside these pages)."""
    from django.template import TemplateDoesNotExist
    from django.template.loader import get_template

    try:
        get_template("codes/_colour_panel.html")
    except TemplateDoesNotExist:
        return None
    return "codes/_colour_panel.html"


def _colour_panel_context(request, obj, state) -> dict:
    """What the colour engine's panel needs (its own ``panel_context``), if it is there."""
    try:
        from .colour_views import panel_context
    except ImportError:  # pragma: no cover - only while the colour engine is being written
        return {"state": state, "colour_state": state}
    context = panel_context(request, obj, state)
    context.pop("obj", None)
    return context


def _errors(form) -> list[str]:
    return [str(e) for errors in form.errors.values() for e in errors]


# --- patrols ---------------------------------------------------------------------------------------


def _position(request) -> tuple[float, float] | None:
    try:
        lng, lat = float(request.GET["lng"]), float(request.GET["lat"])
    except (KeyError, ValueError):
        return None
    if -180 <= lng <= 180 and -90 <= lat <= 90:
        return (lng, lat)
    return None


@login_required
def patrol_page(request: HttpRequest) -> HttpResponse:
    """巡查: my due and overdue patrols by colour, the day's route, coverage per grid and (for
    leaders) per worker."""
    user = request.user
    if not (has_capability(user, "codes.checkin") or has_capability(user, "registry.view")):
        return render(request, "codes/forbidden.html", status=403)
    today = timezone.localdate()
    start = today - timedelta(days=29)
    scope_code = _scope_prefix(user)
    context = {
        "due": patrols.due_patrols(user),
        "route": patrols.route_for_day(user, start=_position(request)),
        "coverage": patrols.coverage_by_grid(scope_code, start, today)[:100]
        if scope_code is not None
        else [],
        "coverage_total": patrols.patrol_coverage(scope_code, start, today)
        if scope_code is not None
        else None,
        "workers": patrols.worker_summary(user),
        "start": start,
        "today": today,
        "colours": patrols.COLOURS,
        "can_plates": has_capability(user, "codes.manage"),
    }
    return render(request, "codes/patrols.html", context)


def _scope_prefix(user) -> str | None:
    """The grid-code prefix of what the user sees located things in (None: nothing)."""
    from towngrid.accounts.access import scope_kind_of
    from towngrid.accounts.models import ScopeKind

    kind = scope_kind_of(user)
    if kind == ScopeKind.TOWN:
        from towngrid.grids.models import GridNode, Level

        town = GridNode.objects.filter(level=Level.TOWN).order_by("code").first()
        return town.code if town else ""
    if kind == ScopeKind.GRID and user.scope_id:
        return user.scope.code
    return None


@login_required
def index(request: HttpRequest) -> HttpResponse:
    return redirect("codes:patrols")


# --- door plates -----------------------------------------------------------------------------------


@login_required
def plates_page(request: HttpRequest) -> HttpResponse:
    """门牌码打印: pick a building group or grid and a format; the sheet is made by a background
    job whose progress the page shows."""
    from towngrid.accounts.access import in_grid_scope

    from . import plates

    user = request.user
    if not has_capability(user, "codes.manage"):
        return render(request, "codes/forbidden.html", status=403)
    job = None
    if request.method == "POST":
        form = forms.PlateForm(request.POST)
        if form.is_valid():
            code = form.cleaned_data["grid"].strip()
            if not in_grid_scope(user, code):
                form.add_error("grid", _("该网格不在您的管辖范围内。"))
            else:
                try:
                    job = plates.start_plate_job(
                        grid_code=code,
                        fmt=form.cleaned_data["format"],
                        base_url=conf.public_url(request),
                        actor=user,
                        building=form.cleaned_data.get("building", ""),
                    )
                except CodeError as exc:
                    form.add_error("grid", exc.message)
    else:
        form = forms.PlateForm(initial={"grid": request.GET.get("grid", "")})
    return render(
        request,
        "codes/plates.html",
        {"form": form, "job": job, "groups": plates.plate_groups(user)[:300]},
    )
