"""Forms of the scan and codes pages. They parse and check the shape of the input; the rules live
in ``actions.py``."""

from __future__ import annotations

from django import forms
from django.forms import modelform_factory
from django.utils.translation import gettext_lazy as _

# Findings a grid worker can tick at a check-in, per kind of object (free text is the note).
FINDINGS = {
    "house": ["疑似群租", "消防隐患", "违法搭建", "楼道堆物", "住户诉求", "无异常"],
    "enterprise": ["安全生产隐患", "消防隐患", "环保问题", "企业诉求", "无异常"],
    "shop": ["占道经营", "消防隐患", "门责不落实", "油烟扰民", "无异常"],
    "component": ["破损", "缺失", "被占用", "无异常"],
    "underground": ["渗漏积水", "消防隐患", "违规住人", "无异常"],
    "parcel": ["违法搭建", "垃圾堆放", "安全隐患", "无异常"],
}
NO_FINDING = "无异常"

# Fields a grid worker may update on the spot from a scan, per kind (the rest is edited in the
# registry pages).
UPDATE_FIELDS = {
    "house": [
        "use",
        "is_rented",
        "occupants",
        "tenant_count",
        "rented_rooms",
        "is_family_occupancy",
    ],
    "enterprise": ["employees", "industry"],
    "shop": ["business_type", "is_alliance_member"],
    "component": ["status"],
    "underground": ["use"],
    "parcel": ["stage", "households_signed"],
}


class CheckInForm(forms.Form):
    lng = forms.FloatField(required=False, widget=forms.HiddenInput)
    lat = forms.FloatField(required=False, widget=forms.HiddenInput)
    accuracy = forms.FloatField(required=False, widget=forms.HiddenInput)
    findings = forms.MultipleChoiceField(
        label=_("发现问题"), required=False, widget=forms.CheckboxSelectMultiple
    )
    note = forms.CharField(
        label=_("巡查记录"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": _("可选：现场情况")}),
    )

    def __init__(self, *args, kind: str = "house", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["findings"].choices = [(f, f) for f in FINDINGS.get(kind, [NO_FINDING])]

    def clean_findings(self):
        values = self.cleaned_data.get("findings") or []
        return [v for v in values if v != NO_FINDING]


class ScanReportForm(forms.Form):
    category = forms.ModelChoiceField(
        label=_("问题类别"),
        queryset=None,
        error_messages={
            "required": _("请选择问题类别。"),
            "invalid_choice": _("请选择有效的问题类别。"),
        },
    )
    description = forms.CharField(
        label=_("问题描述"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("请描述问题。")},
    )
    photos = forms.FileField(
        label=_("现场照片"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )

    def __init__(self, *args, **kwargs):
        from towngrid.cases.models import Category

        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = (
            Category.objects.filter(active=True).select_related("major").order_by("full_code")
        )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("原因"),
        max_length=200,
        error_messages={"required": _("请填写原因。")},
        widget=forms.TextInput(attrs={"placeholder": _("如：门牌遗失、被涂改、被复制")}),
    )


class PlateForm(forms.Form):
    FORMATS = [("pdf", "PDF"), ("svg", "SVG")]
    grid = forms.CharField(
        label=_("楼组或网格编码"),
        max_length=24,
        error_messages={"required": _("请选择楼组或网格。")},
    )
    building = forms.CharField(
        label=_("楼栋（可选）"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("地址开头，如 莲园路120弄3号")}),
    )
    format = forms.ChoiceField(label=_("格式"), choices=FORMATS, initial="pdf")


def update_form_class(model, kind: str):
    """A ModelForm over the fields a scan may update for this kind of object."""
    fields = [f for f in UPDATE_FIELDS.get(kind, []) if _has_field(model, f)]
    if not fields:
        return None
    return modelform_factory(model, fields=fields)


def _has_field(model, name: str) -> bool:
    try:
        model._meta.get_field(name)
    except Exception:  # noqa: BLE001 - FieldDoesNotExist
        return False
    return True
