"""Forms of the registry pages. They only parse what people type (widgets, types); the rules
are the actions' (``actions.create`` / ``update``), whose per-field Chinese messages are put back
on these forms' fields."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models
from django.forms.models import fields_for_model
from django.utils.translation import gettext_lazy as _

from towngrid.accounts.access import visible_to
from towngrid.grids.models import GridNode, Level

from . import queries
from .models import (
    NON_BEDROOM_SPACES,
    RESIDENT_TAGS,
    Component,
    Located,
)

PERSONAL_LABELS = {
    "id_number": _("身份证号码"),
    "phone": _("联系电话"),
    "owner_phone": _("产权人电话"),
    "contact_phone": _("联系电话"),
}
# Fields set by other means than the form (the JSON boundary through the API or import).
NOT_IN_FORM = {"boundary", "kind"}
# Parents chosen by where the form was opened from (a house's "add resident" link).
PARENTS = {"house", "household"}


def grid_choices(user, *, micro_only: bool = False) -> list[tuple[str, str]]:
    """Grid nodes the user may pick: its visible subtree (down to micro-grids)."""
    qs = visible_to(user, GridNode.objects.all())
    qs = qs.filter(level=Level.MICRO) if micro_only else qs.filter(level__lte=Level.MICRO)
    rows = qs.order_by("code").values_list("code", "name", "level")
    if micro_only:
        return [(code, f"{name}（{code[-3:]}）") for code, name, level in rows]
    return [(code, "\u3000" * max(level - 1, 0) + name) for code, name, level in rows]


def own_fields(model: type[Located]) -> list[str]:
    skip = {"id", "grid", "grid_code", "group", "lng", "lat", "version", "created_at", "updated_at"}
    return [
        f.name
        for f in model._meta.concrete_fields
        if f.name not in skip
        and f.name not in NOT_IN_FORM
        and not f.name.endswith(("_enc", "_hash"))
        and f.editable
    ]


class RegistryForm(forms.Form):
    """Base of every registry edit form; ``build_form`` adds the model's fields."""

    model: type[Located]

    def __init__(self, *args, user=None, instance: Located | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.fields["grid"].choices = [("", _("按经纬度自动定位"))] + grid_choices(
            user, micro_only=True
        )
        if instance is not None:
            for name in self.model.personal_fields:
                masked = getattr(instance, f"{name}_masked")
                self.fields[name].widget.attrs["placeholder"] = masked or ""
                self.fields[name].help_text = _("留空则不修改")

    def action_fields(self) -> dict[str, Any]:
        """The cleaned values as the actions take them (only what the form holds)."""
        data = dict(self.cleaned_data)
        out: dict[str, Any] = {}
        for name, value in data.items():
            if name in ("version", "reason"):
                continue
            if name in self.model.personal_fields:
                if value:  # blank on an edit keeps the stored value
                    out[name] = value
                continue
            if name in ("lng", "lat"):
                if data.get("lng") is not None and data.get("lat") is not None:
                    out[name] = value
                continue
            if name == "grid":
                if value:
                    out["grid"] = value
                continue
            if name in ("flags", "problems"):
                out[name] = [
                    v.strip() for v in (value or "").replace("，", ",").split(",") if v.strip()
                ]
                continue
            if isinstance(value, models.Model):
                out[name] = value
                continue
            if name in PARENTS and value in (None, "") and self.instance is None:
                continue
            out[name] = value
        return out


def build_form(model: type[Located], *, creating: bool) -> type[RegistryForm]:
    names = own_fields(model)
    fields: dict[str, forms.Field] = {}
    generated = fields_for_model(model, fields=[n for n in names if n not in PARENTS])
    for name in names:
        if name in PARENTS:
            fields[name] = forms.IntegerField(
                label=model._meta.get_field(name).verbose_name,
                required=False,
                widget=forms.HiddenInput,
            )
            continue
        field = generated.get(name)
        if field is None:
            continue
        if name == "tags":
            field = forms.MultipleChoiceField(
                label=_("标签"),
                choices=list(RESIDENT_TAGS.items()),
                required=False,
                widget=forms.CheckboxSelectMultiple,
            )
        elif name == "non_bedroom_sleeping":
            field = forms.MultipleChoiceField(
                label=_("非居住空间住人"),
                choices=list(NON_BEDROOM_SPACES.items()),
                required=False,
                widget=forms.CheckboxSelectMultiple,
            )
        elif name == "flags":
            field = forms.CharField(
                label=_("标记"), required=False, help_text=_("多个用逗号分隔，如：三合一场所")
            )
        elif name == "category" and model is Component:
            from towngrid.cases.models import Category, CategoryKind

            field = forms.ModelChoiceField(
                label=_("部件小类"),
                queryset=Category.objects.filter(
                    major__kind=CategoryKind.COMPONENT, active=True
                ).order_by("full_code"),
            )
        elif name == "code" and model is Component:
            field.required = False
            field.help_text = _("留空自动编号")
        if isinstance(field.widget, forms.DateInput):
            field.widget = forms.DateInput(attrs={"type": "date"})
        fields[name] = field
    for name in model.personal_fields:
        fields[name] = forms.CharField(
            label=PERSONAL_LABELS.get(name, name),
            required=False,
            max_length=30,
            widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
        )
    fields["grid"] = forms.ChoiceField(label=_("所属微网格"), required=False)
    fields["lng"] = forms.FloatField(label=_("经度"), required=False)
    fields["lat"] = forms.FloatField(label=_("纬度"), required=False)
    if not creating:
        fields["version"] = forms.IntegerField(widget=forms.HiddenInput, required=False)
        fields["reason"] = forms.CharField(label=_("修改说明"), required=False, max_length=200)
    return type(f"{model.__name__}Form", (RegistryForm,), {"model": model, **fields})


def initial_for(obj: Located) -> dict[str, Any]:
    out: dict[str, Any] = {"version": obj.version, "lng": obj.lng, "lat": obj.lat}
    out["grid"] = obj.grid_code
    for name in own_fields(type(obj)):
        value = getattr(obj, name if name not in PARENTS else f"{name}_id")
        if name == "flags":
            value = "，".join(value or [])
        elif isinstance(value, models.Model):
            value = value.pk
        out[name] = value
    return out


class FilterForm(forms.Form):
    """The list page's filters for one type (built from ``queries.TYPES``)."""

    q = forms.CharField(label=_("搜索"), required=False)
    grid = forms.ChoiceField(label=_("网格"), required=False)

    def __init__(self, *args, user=None, rtype: queries.RegistryType, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["grid"].choices = [("", _("全部"))] + grid_choices(user)
        model = rtype.model
        for param, (lookup, kind) in rtype.filters.items():
            if kind == "int":
                continue
            field_name = lookup.split("__")[0]
            try:
                model_field = model._meta.get_field(field_name)
            except Exception:
                model_field = None
            label = getattr(model_field, "verbose_name", param)
            if kind == "bool":
                self.fields[param] = forms.ChoiceField(
                    label=label,
                    required=False,
                    choices=[("", _("全部")), ("1", _("是")), ("0", _("否"))],
                )
            elif param == "tags":
                self.fields[param] = forms.ChoiceField(
                    label=_("标签"),
                    required=False,
                    choices=[("", _("全部"))] + list(RESIDENT_TAGS.items()),
                )
            elif model_field is not None and getattr(model_field, "choices", None):
                self.fields[param] = forms.ChoiceField(
                    label=label,
                    required=False,
                    choices=[("", _("全部"))] + list(model_field.choices),
                )
            elif param == "category":
                from towngrid.cases.models import Category, CategoryKind

                rows = Category.objects.filter(major__kind=CategoryKind.COMPONENT).order_by(
                    "full_code"
                )
                self.fields[param] = forms.ChoiceField(
                    label=_("部件小类"),
                    required=False,
                    choices=[("", _("全部"))] + [(c.full_code, str(c)) for c in rows],
                )
            elif kind in ("list", "jsonlist", "str"):
                self.fields[param] = forms.CharField(label=label, required=False)
        for name in model.personal_fields:
            self.fields[name] = forms.CharField(
                label=PERSONAL_LABELS.get(name, name),
                required=False,
                help_text=_("完整号码精确查询"),
                widget=forms.TextInput(attrs={"autocomplete": "off"}),
            )

    def params(self) -> dict[str, str]:
        """The valid, non-empty filters (a grid outside the user's scope is not one)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {k: str(v) for k, v in self.cleaned_data.items() if v not in (None, "")}


VISIT_PROBLEM_HELP = _("每行一条")


class VisitForm(forms.Form):
    findings = forms.CharField(
        label=_("走访情况"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    problems = forms.CharField(
        label=_("问题诉求"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text=VISIT_PROBLEM_HELP,
    )
    needs_followup = forms.BooleanField(label=_("需跟进"), required=False)


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("状态"), choices=Component._meta.get_field("status").choices)
    note = forms.CharField(label=_("说明"), required=False, max_length=200)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class RevealForm(forms.Form):
    field = forms.CharField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("查看事由"), max_length=500)
