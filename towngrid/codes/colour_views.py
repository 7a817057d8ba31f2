"""Pages of the colour engine: the colour list (重点企业颜色清单 by default; any kind with
filters), an object's colour history, the colour panel (a fragment the scan page includes and
htmx refreshes) with its override and clear forms, and the rule sets (read; edited in the
admin or the API by ``colours.configure``). Writes go through ``colours``; every object is
looked up through ``accounts.access.visible_to`` on its own model (outside the scope: 404).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.generic import ListView

from towngrid.accounts.access import has_capability, in_grid_scope, visible_to
from towngrid.core.views import ScopedQuerysetMixin

from . import colour_queries, colours
from .colour_models import Colour, ColourRuleSet, ColourState
from .colours import ColourError

VIEW_CAPABILITIES = ("registry.view", "codes.checkin", "colours.override", "colours.configure")


def may_view_colours(user) -> bool:
    return any(has_capability(user, c) for c in VIEW_CAPABILITIES)


def _object(request: HttpRequest, kind: str, object_id: int):
    from .objects import model_by_kind

    model = model_by_kind(kind)
    if model is None:
        raise Http404(_("对象不存在。"))
    obj = visible_to(request.user, model._default_manager.filter(pk=object_id)).first()
    if obj is None:
        raise Http404(_("对象不存在。"))
    return obj


def panel_context(request: HttpRequest, obj, state: ColourState | None = None, **extra) -> dict:
    """What ``codes/_colour_panel.html`` needs for one object."""
    from .objects import kind_of

    if state is None:
        state = colours.current(obj)
    kind = kind_of(obj)
    default_expiry = timezone.localdate() + timedelta(days=30)
    return {
        "obj": obj,
        "state": state,
        "colour_state": state,
        "colour_kind": kind,
        "colour_choices": Colour.choices,
        "default_expiry": default_expiry.isoformat(),
        "now": timezone.now(),
        **extra,
    }


class ColourListView(ScopedQuerysetMixin, ListView):
    """三色清单: the live colours of one kind inside the user's scope, worst first. Without a
    kind it is the 重点企业颜色清单 (key enterprises)."""

    model = ColourState
    template_name = "codes/colour_list.html"
    paginate_by = 50

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not may_view_colours(request.user):
            return render(request, "codes/colour_forbidden.html", status=403)
        return super().dispatch(request, *args, **kwargs)

    def get_filter(self) -> colour_queries.ColourFilter:
        p = self.request.GET
        kind = p.get("kind") or "enterprise"
        key_default = "1" if "kind" not in p and "key" not in p else ""
        grid = p.get("grid", "").strip()[:24]
        if grid and not in_grid_scope(self.request.user, grid):
            grid = ""  # outside the scope there is nothing to narrow to (and nothing to echo)
        return colour_queries.ColourFilter(
            kind=kind if kind in colours.known_kinds() else "enterprise",
            colour=p.get("colour", ""),
            grid=grid,
            q=p.get("q", "").strip()[:50],
            key_only=p.get("key", key_default) == "1",
            overridden=p.get("overridden") == "1",
            overdue=p.get("overdue") == "1",
        )

    def get_queryset(self):
        self.filter = self.get_filter()
        return colour_queries.colour_list(super().get_queryset(), self.filter)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        f = self.filter
        counts_filter = colour_queries.ColourFilter(**{**f.__dict__, "colour": ""})
        base = ScopedQuerysetMixin.get_queryset(self)
        ctx.update(
            {
                "f": f,
                "kinds": colours.known_kinds(),
                "counts": colour_queries.colour_counts(
                    colour_queries.colour_list(base, counts_filter)
                ),
                "colours": Colour.choices,
                "now": timezone.now(),
                "title": _("重点企业颜色清单")
                if f.kind == "enterprise" and f.key_only
                else _("%(kind)s三色清单") % {"kind": colours.known_kinds().get(f.kind, "")},
            }
        )
        return ctx


@login_required
def colour_history(request: HttpRequest, kind: str, object_id: int) -> HttpResponse:
    if not may_view_colours(request.user):
        return render(request, "codes/colour_forbidden.html", status=403)
    obj = _object(request, kind, object_id)
    state = colours.current(obj)
    return render(
        request,
        "codes/colour_history.html",
        {**panel_context(request, obj, state), "changes": colours.history(obj, limit=200)},
    )


@login_required
def colour_panel(request: HttpRequest, kind: str, object_id: int) -> HttpResponse:
    if not may_view_colours(request.user):
        return render(request, "codes/colour_forbidden.html", status=403)
    obj = _object(request, kind, object_id)
    return render(request, "codes/_colour_panel.html", panel_context(request, obj))


def _expiry(text: str):
    text = (text or "").strip()
    # A bare date means the end of that day (parse_datetime would read it as midnight).
    moment = None if parse_date(text) is not None else parse_datetime(text)
    if moment is None:
        day = parse_date(text)
        if day is None:
            raise ColourError(
                "invalid", _("请填写有效的到期日期。"), details={"field": "expires_at"}
            )
        moment = timezone.datetime(day.year, day.month, day.day, 23, 59, 59)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _answer(request, obj, *, error: str = "", done: str = "") -> HttpResponse:
    """htmx: the refreshed panel (with the error, if any); otherwise back to the history page."""
    if request.headers.get("HX-Request"):
        ctx = panel_context(request, obj, error=error, done=done, posted=request.POST)
        return render(request, "codes/_colour_panel.html", ctx, status=400 if error else 200)
    if error:
        messages.error(request, error)
    elif done:
        messages.success(request, done)
    from .objects import kind_of

    return redirect(reverse("codes:colour_history", args=[kind_of(obj), obj.pk]))


@login_required
@require_POST
def colour_override(request: HttpRequest, kind: str, object_id: int) -> HttpResponse:
    obj = _object(request, kind, object_id)
    try:
        colours.override(
            obj,
            request.POST.get("colour", ""),
            reason=request.POST.get("reason", ""),
            expires_at=_expiry(request.POST.get("expires_at", "")),
            actor=request.user,
        )
    except ColourError as exc:
        return _answer(request, obj, error=exc.message)
    return _answer(request, obj, done=_("已人工调整颜色。"))


@login_required
@require_POST
def colour_clear(request: HttpRequest, kind: str, object_id: int) -> HttpResponse:
    obj = _object(request, kind, object_id)
    try:
        colours.clear_override(obj, reason=request.POST.get("reason", ""), actor=request.user)
    except ColourError as exc:
        return _answer(request, obj, error=exc.message)
    return _answer(request, obj, done=_("已撤销人工调整，按规则重新评定。"))


@login_required
def colour_rules(request: HttpRequest) -> HttpResponse:
    """The rule sets as people read them (edited in the admin or the API)."""
    if not may_view_colours(request.user):
        return render(request, "codes/colour_forbidden.html", status=403)
    rule_sets = ColourRuleSet.objects.prefetch_related("rules").order_by("colour_kind", "-active")
    return render(
        request,
        "codes/colour_rules.html",
        {
            "rule_sets": rule_sets,
            "kinds": colours.known_kinds(),
            "can_configure": has_capability(request.user, "colours.configure"),
        },
    )
