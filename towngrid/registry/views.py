"""The registry pages (phone first): an index with counts in the user's scope, a list page per
type with filters and pagination, detail pages (personal values masked, a reveal that asks for
the reason and shows the value once, the audit history, linked cases, a map pin) and forms to
register and update objects.

Thin: every read is scoped (``ScopedQuerysetMixin`` / ``visible_to``) and needs
``registry.view``; every write goes through ``actions``. A page of an object outside the scope is
a 404 like one that does not exist.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import select_template
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.generic import DetailView, ListView

from towngrid.accounts.access import can_see_grid_code, has_capability, visible_to
from towngrid.core.views import ScopedQuerysetMixin

from . import actions, forms, queries
from .errors import RegistryError
from .models import (
    NON_BEDROOM_SPACES,
    RESIDENT_TAGS,
    Component,
    Enterprise,
    House,
    Household,
    Located,
    Resident,
)

PAGE_SIZE = 30
COLOUR_PANEL = "codes/_colour_panel.html"

# Columns of each list: (label, attribute or callable); the first is the link to the detail.
COLUMNS: dict[str, list[tuple[str, Any]]] = {
    "houses": [
        ("地址", "full_address"),
        ("类型", "get_house_type_display"),
        ("使用", "get_use_display"),
        ("居住人数", "occupants"),
        ("产权人", "owner_name"),
    ],
    "households": [
        ("户主", "head_name"),
        ("户号", "number"),
        ("户别", "get_household_type_display"),
        ("地址", "address"),
    ],
    "residents": [
        ("姓名", "name"),
        ("身份证号码", "id_number_masked"),
        ("联系电话", "phone_masked"),
        ("标签", lambda o: "、".join(o.tag_labels)),
        ("地址", "address"),
    ],
    "enterprises": [
        ("名称", "name"),
        ("统一社会信用代码", "credit_code"),
        ("行业", "industry"),
        ("规上", lambda o: _("是") if o.is_above_scale else ""),
        ("重点", lambda o: _("是") if o.is_key else ""),
        ("联系电话", "contact_phone_masked"),
    ],
    "shops": [
        ("店名", "name"),
        ("街道", "street"),
        ("经营类别", "business_type"),
        ("商户联盟", lambda o: o.alliance if o.is_alliance_member else ""),
        ("联系电话", "contact_phone_masked"),
    ],
    "components": [
        ("部件编码", "code"),
        ("名称", lambda o: o.name or o.category.name),
        ("状态", "get_status_display"),
        ("类型", "get_kind_display"),
        ("主管部门", lambda o: o.owner_department or ""),
    ],
    "underground": [
        ("名称", "name"),
        ("用途", "use"),
        ("面积（㎡）", "area"),
        ("管理单位", "manager"),
        ("联系电话", "contact_phone_masked"),
    ],
    "parcels": [
        ("名称", "name"),
        ("单元", "unit"),
        ("阶段", "get_stage_display"),
        ("签约", lambda o: f"{o.households_signed}/{o.households_total}"),
    ],
}


def _value(obj, accessor) -> Any:
    if callable(accessor):
        return accessor(obj)
    value = getattr(obj, accessor)
    return value() if callable(value) else value


def url_name(rtype: queries.RegistryType, suffix: str = "") -> str:
    return f"registry:{rtype.slug}{'_' + suffix if suffix else ''}"


def detail_url(obj: Located) -> str:
    rtype = queries.type_for(type(obj))
    return reverse(url_name(rtype, "detail"), args=[obj.pk])


def _require_view(request) -> None:
    if not has_capability(request.user, "registry.view"):
        raise Http404


# --- index -----------------------------------------------------------------------------------


@login_required
def index(request):
    """Counts per type in the user's scope, with links to the lists."""
    from .api import scoped_counts

    if not has_capability(request.user, "registry.view"):
        return render(request, "registry/forbidden.html", status=403)
    numbers = scoped_counts(request.user)
    cards = [
        {"rtype": rtype, "count": numbers[slug], "url": reverse(url_name(rtype))}
        for slug, rtype in queries.TYPES.items()
    ]
    residents = visible_to(request.user, Resident.objects.filter(is_active=True))
    tags = queries.resident_tag_counts(residents)
    tag_rows = [
        {"code": code, "label": RESIDENT_TAGS[code], "count": n} for code, n in tags.items() if n
    ]
    return render(
        request,
        "registry/index.html",
        {
            "cards": cards,
            "tag_rows": tag_rows,
            "can_edit": has_capability(request.user, "registry.edit"),
            "can_import": has_capability(request.user, "registry.import"),
        },
    )


# --- lists -----------------------------------------------------------------------------------


class RegistryListView(ScopedQuerysetMixin, ListView):
    rtype: queries.RegistryType = None  # set by as_view(rtype=…)
    template_name = "registry/list.html"
    paginate_by = PAGE_SIZE

    def get_filter_form(self) -> forms.FilterForm:
        if not hasattr(self, "_filter_form"):
            self._filter_form = forms.FilterForm(
                self.request.GET or None, user=self.request.user, rtype=self.rtype
            )
        return self._filter_form

    def get_queryset(self):
        qs = super().get_queryset()
        if not has_capability(self.request.user, "registry.view"):
            return qs.none()
        params = self.get_filter_form().params()
        return queries.filter_queryset(self.rtype.model, params, qs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        params = self.get_filter_form().params()
        columns = COLUMNS[self.rtype.slug]
        rows = [
            {
                "obj": obj,
                "url": reverse(url_name(self.rtype, "detail"), args=[obj.pk]),
                "cells": [_value(obj, acc) for _label, acc in columns],
            }
            for obj in ctx["object_list"]
        ]
        ctx.update(
            {
                "rtype": self.rtype,
                "columns": [label for label, _acc in columns],
                "rows": rows,
                "filter_form": self.get_filter_form(),
                "query_string": urlencode(params),
                "filtered": bool(params),
                "can_create": has_capability(self.request.user, "registry.edit"),
                "create_url": reverse(url_name(self.rtype, "new")),
                "list_url": reverse(url_name(self.rtype)),
            }
        )
        return ctx


# --- details ---------------------------------------------------------------------------------


def _display(obj: Located, field) -> Any:
    name = field.name
    value = getattr(obj, name)
    if field.choices:
        return getattr(obj, f"get_{name}_display")()
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if name == "tags":
        return "、".join(obj.tag_labels)
    if name == "non_bedroom_sleeping":
        return "、".join(NON_BEDROOM_SPACES.get(v, v) for v in value or [])
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if name == "boundary":
        return _("已绘制") if value else ""
    return value


def detail_rows(obj: Located) -> list[dict]:
    skip = {"id", "grid", "grid_code", "group", "lng", "lat", "version", "created_at",
            "updated_at", "address"}  # fmt: skip
    rows = []
    for field in type(obj)._meta.concrete_fields:
        if field.name in skip or field.name.endswith(("_enc", "_hash")):
            continue
        value = _display(obj, field)
        if value in (None, "", []):
            continue
        if field.is_relation and field.name in ("house", "household"):
            rows.append({"label": field.verbose_name, "value": value, "url": detail_url(value)})
            continue
        rows.append({"label": field.verbose_name, "value": value})
    return rows


def personal_rows(request, obj: Located, revealed: dict | None = None) -> list[dict]:
    may = actions.may_reveal(request.user, obj)
    out = []
    for name in obj.personal_fields:
        out.append(
            {
                "field": name,
                "label": forms.PERSONAL_LABELS.get(name, name),
                "masked": getattr(obj, f"{name}_masked"),
                "has_value": obj.has_personal(name),
                "may_reveal": may,
                "revealed": (revealed or {}).get(name),
            }
        )
    return out


def colour_panel_template() -> str | None:
    """The codes app's colour panel, when that app provides one."""
    try:
        select_template([COLOUR_PANEL])
    except Exception:
        return None
    return COLOUR_PANEL


class RegistryDetailView(ScopedQuerysetMixin, DetailView):
    rtype: queries.RegistryType = None
    template_name = "registry/detail.html"
    context_object_name = "obj"

    def get_queryset(self):
        qs = super().get_queryset()
        if not has_capability(self.request.user, "registry.view"):
            return qs.none()
        return qs.select_related("grid", "group", *self.rtype.related)

    def get_context_data(self, revealed=None, reveal_error=None, **kwargs):
        ctx = super().get_context_data(**kwargs)
        obj = self.object
        user = self.request.user
        ctx.update(detail_context(self.request, obj, self.rtype))
        ctx["personal"] = personal_rows(self.request, obj, revealed)
        ctx["reveal_error"] = reveal_error
        ctx["can_edit"] = actions.may_edit(user, obj.grid_code)
        return ctx


def detail_context(request, obj: Located, rtype: queries.RegistryType) -> dict:
    user = request.user
    ctx: dict[str, Any] = {
        "rtype": rtype,
        "rows": detail_rows(obj),
        "history": queries.audit_history(obj, limit=30),
        "cases": queries.cases_for(obj),
        "colour_panel": colour_panel_template(),
        "edit_url": reverse(url_name(rtype, "edit"), args=[obj.pk]),
        "reveal_url": reverse(url_name(rtype, "reveal"), args=[obj.pk]),
        "list_url": reverse(url_name(rtype)),
        "path": [
            {"node": n, "linked": can_see_grid_code(user, n.code)}
            for n in obj.grid.path() + ([obj.group] if obj.group_id else [])
        ],
        "point": {"lng": obj.lng, "lat": obj.lat} if obj.lng is not None else None,
    }
    related = []
    if isinstance(obj, House):
        related.append(
            (
                _("户"),
                visible_to(user, Household.objects.filter(house=obj)),
                "households",
                f"?house={obj.pk}",
            )
        )
        related.append(
            (
                _("居住人员"),
                visible_to(user, Resident.objects.filter(house=obj)),
                "residents",
                f"?house={obj.pk}",
            )
        )
    elif isinstance(obj, Household):
        related.append(
            (
                _("家庭成员"),
                visible_to(user, Resident.objects.filter(household=obj)),
                "residents",
                f"?household={obj.pk}",
            )
        )
    ctx["related"] = [
        {
            "label": label,
            "rows": [(o, reverse(f"registry:{slug}_detail", args=[o.pk])) for o in qs[:50]],
            "count": qs.count(),
            "new_url": reverse(f"registry:{slug}_new") + query,
            "slug": slug,
        }
        for label, qs, slug, query in related
    ]
    if isinstance(obj, Enterprise):
        ctx["visits"] = queries.visits_for(obj)
        ctx["visit_form"] = forms.VisitForm()
        ctx["visit_url"] = reverse("registry:enterprises_visit", args=[obj.pk])
    if isinstance(obj, Component):
        ctx["status_form"] = forms.StatusForm(
            initial={"status": obj.status, "version": obj.version}
        )
        ctx["status_url"] = reverse("registry:components_status", args=[obj.pk])
    return ctx


def _scoped_object(request, rtype: queries.RegistryType, pk: int) -> Located:
    _require_view(request)
    qs = visible_to(request.user, rtype.model.objects.select_related("grid", "group"))
    return get_object_or_404(qs, pk=pk)


@login_required
def reveal(request, rtype: queries.RegistryType, pk: int):
    """POST field + reason: the plain value, once (an htmx fragment, or the detail page)."""
    if request.method != "POST":
        return redirect(url_name(rtype, "detail"), pk)
    obj = _scoped_object(request, rtype, pk)
    form = forms.RevealForm(request.POST)
    field = request.POST.get("field", "")
    error = None
    value = None
    if not form.is_valid():
        error = _("查看个人信息原文必须填写事由。")
    else:
        try:
            value = actions.reveal(
                obj,
                form.cleaned_data["field"],
                actor=request.user,
                reason=form.cleaned_data["reason"],
            )
        except RegistryError as exc:
            error = exc.message
            if exc.code == "forbidden":
                if request.headers.get("HX-Request"):
                    return HttpResponse(
                        f'<span class="field-error" data-testid="reveal-error">{error}</span>',
                        status=403,
                    )
                return render(request, "registry/forbidden.html", {"message": error}, status=403)
    if request.headers.get("HX-Request"):
        return render(
            request,
            "registry/_revealed.html",
            {
                "field": field,
                "value": value,
                "error": error,
                "obj": obj,
                "reveal_url": reverse(url_name(rtype, "reveal"), args=[obj.pk]),
            },
            # htmx swaps only 2xx answers: a refusal it must show is a 200 fragment too.
            status=200,
        )
    view = DETAIL_VIEWS[rtype.slug]()
    view.setup(request, pk=pk)
    view.object = obj
    ctx = view.get_context_data(
        object=obj,
        revealed={field: value} if value is not None else None,
        reveal_error={field: error} if error else None,
    )
    return render(request, "registry/detail.html", ctx, status=200 if value is not None else 400)


# --- forms -----------------------------------------------------------------------------------


def _put_errors(form, exc: RegistryError) -> None:
    details = exc.details if isinstance(exc.details, dict) else {}
    placed = False
    for field, messages in details.items():
        target = field if field in form.fields else None
        if field in ("house_id", "household_id"):
            target = field[:-3] if field[:-3] in form.fields else None
        if target is None and field in ("lng", "lat", "crs"):
            target = "lng" if "lng" in form.fields else None
        for message in messages if isinstance(messages, list) else [messages]:
            form.add_error(target, str(message))
            placed = True
    if not placed:
        form.add_error(None, exc.message)


@login_required
def create(request, rtype: queries.RegistryType):
    user = request.user
    _require_view(request)
    if not has_capability(user, "registry.edit"):
        return render(request, "registry/forbidden.html", status=403)
    form_class = forms.build_form(rtype.model, creating=True)
    parent_context = {}
    if request.method == "POST":
        form = form_class(request.POST, user=user)
        if form.is_valid():
            fields = form.action_fields()
            try:
                _check_parents(user, fields)
                obj = actions.create(rtype.model, actor=user, **fields)
            except RegistryError as exc:
                _put_errors(form, exc)
            else:
                return redirect(url_name(rtype, "detail"), obj.pk)
    else:
        initial = {k: request.GET[k] for k in ("house", "household") if request.GET.get(k)}
        form = form_class(initial=initial, user=user)
        parent_context = _parent_context(user, initial)
    return render(
        request,
        "registry/form.html",
        {
            "form": form,
            "rtype": rtype,
            "creating": True,
            "list_url": reverse(url_name(rtype)),
            **parent_context,
        },
        status=400 if form.errors else 200,
    )


def _parent_context(user, initial: dict) -> dict:
    out = {}
    for key, model in (("house", House), ("household", Household)):
        value = initial.get(key)
        if value and str(value).isdigit():
            parent = visible_to(user, model.objects.filter(pk=int(value))).first()
            if parent is not None:
                out[f"parent_{key}"] = parent
    return out


def _check_parents(user, fields: dict) -> None:
    """A house or household named by id must be one the user can see (no probing by id)."""
    for key, model in (("house", House), ("household", Household)):
        value = fields.get(key)
        if value in (None, ""):
            continue
        if not visible_to(user, model.objects.filter(pk=value)).exists():
            label = _("房屋") if key == "house" else _("户")
            raise RegistryError(
                "invalid", _("所选%s不存在。") % label, details={key: [_("所选%s不存在。") % label]}
            )


@login_required
def edit(request, rtype: queries.RegistryType, pk: int):
    user = request.user
    obj = _scoped_object(request, rtype, pk)
    if not actions.may_edit(user, obj.grid_code):
        return render(request, "registry/forbidden.html", status=403)
    form_class = forms.build_form(rtype.model, creating=False)
    conflict = None
    if request.method == "POST":
        form = form_class(request.POST, user=user, instance=obj)
        if form.is_valid():
            fields = form.action_fields()
            try:
                _check_parents(user, fields)
                actions.update(
                    obj,
                    actor=user,
                    expected_version=form.cleaned_data.get("version"),
                    reason=form.cleaned_data.get("reason") or "",
                    **fields,
                )
            except RegistryError as exc:
                if exc.code == "conflict":
                    conflict = exc.message
                    obj.refresh_from_db()
                    form = form_class(initial=forms.initial_for(obj), user=user, instance=obj)
                else:
                    _put_errors(form, exc)
            else:
                return redirect(url_name(rtype, "detail"), obj.pk)
    else:
        form = form_class(initial=forms.initial_for(obj), user=user, instance=obj)
    status = 409 if conflict else (400 if form.errors else 200)
    return render(
        request,
        "registry/form.html",
        {
            "form": form,
            "rtype": rtype,
            "obj": obj,
            "creating": False,
            "conflict": conflict,
            "list_url": reverse(url_name(rtype)),
            "detail_url": reverse(url_name(rtype, "detail"), args=[obj.pk]),
        },
        status=status,
    )


@login_required
def add_visit(request, pk: int):
    rtype = queries.TYPES["enterprises"]
    obj = _scoped_object(request, rtype, pk)
    if request.method != "POST":
        return redirect(url_name(rtype, "detail"), pk)
    form = forms.VisitForm(request.POST)
    error = None
    if form.is_valid():
        problems = [p.strip() for p in form.cleaned_data["problems"].splitlines() if p.strip()]
        try:
            actions.add_visit(
                obj,
                actor=request.user,
                findings=form.cleaned_data["findings"],
                problems=problems,
                needs_followup=form.cleaned_data["needs_followup"],
            )
        except RegistryError as exc:
            if exc.code == "forbidden":
                return render(
                    request, "registry/forbidden.html", {"message": exc.message}, status=403
                )
            error = exc.message
        else:
            return redirect(url_name(rtype, "detail"), pk)
    return _detail_again(request, rtype, obj, visit_form=form, visit_error=error)


@login_required
def change_status(request, pk: int):
    rtype = queries.TYPES["components"]
    obj = _scoped_object(request, rtype, pk)
    if request.method != "POST":
        return redirect(url_name(rtype, "detail"), pk)
    form = forms.StatusForm(request.POST)
    error = None
    if form.is_valid():
        try:
            actions.set_component_status(
                obj,
                form.cleaned_data["status"],
                actor=request.user,
                note=form.cleaned_data["note"],
                expected_version=form.cleaned_data.get("version"),
            )
        except RegistryError as exc:
            if exc.code == "forbidden":
                return render(
                    request, "registry/forbidden.html", {"message": exc.message}, status=403
                )
            error = exc.message
            obj.refresh_from_db()
        else:
            return redirect(url_name(rtype, "detail"), pk)
    else:
        error = _("请选择状态。")
    return _detail_again(request, rtype, obj, status_error=error)


def _detail_again(request, rtype, obj, **extra):
    view = DETAIL_VIEWS[rtype.slug]()
    view.setup(request, pk=obj.pk)
    view.object = obj
    ctx = view.get_context_data(object=obj)
    for key, value in extra.items():
        if value is not None:
            ctx[key] = value
    return render(request, "registry/detail.html", ctx, status=400)


# One list and one detail view class per type, each declaring its model, so the scope check
# (towngrid.E001/W001) and the scope matrix can tell what every page serves.
LIST_VIEWS: dict[str, type[RegistryListView]] = {
    slug: type(
        f"{rtype.model.__name__}ListView",
        (RegistryListView,),
        {"rtype": rtype, "model": rtype.model},
    )
    for slug, rtype in queries.TYPES.items()
}
DETAIL_VIEWS: dict[str, type[RegistryDetailView]] = {
    slug: type(
        f"{rtype.model.__name__}DetailView",
        (RegistryDetailView,),
        {"rtype": rtype, "model": rtype.model},
    )
    for slug, rtype in queries.TYPES.items()
}
