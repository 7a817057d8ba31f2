"""Forms of the case pages: report a problem, filter the case list, and one form per workflow
action. They only parse and check the shape of the input; the rules live in ``actions.py``."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from towngrid.accounts.models import Department

from .models import Category, LimitUnit, Source, Status

MAX_PHOTOS = 9


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    """Several photos in one input; each is checked by its bytes in ``media.attach_photo``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        one = super().clean
        if isinstance(data, list | tuple):
            files = [one(d, initial) for d in data if d]
        else:
            files = [one(data, initial)] if data else []
        if len(files) > MAX_PHOTOS:
            raise forms.ValidationError(
                _("一次最多上传 %(n)s 张照片。"), params={"n": MAX_PHOTOS}, code="too_many"
            )
        return files


# Sources a user may choose when reporting, by role; others report as their role's source.
OPS_SOURCES = [Source.OPERATIONS, Source.HOTLINE]
OPS_ROLES = {"ops_registrar", "ops_shift_lead", "ops_dispatcher"}
ROLE_SOURCE = {
    "grid_worker": Source.GRID_WORKER,
    "grid_leader": Source.GRID_WORKER,
    "resident": Source.RESIDENT,
}


def sources_for(user) -> list[str]:
    """The sources ``user`` may report under; the first is the default."""
    role = getattr(getattr(user, "role", None), "code", "")
    if user.is_superuser or role in OPS_ROLES:
        return list(OPS_SOURCES)
    return [ROLE_SOURCE.get(role, Source.OPERATIONS)]


class ReportForm(forms.Form):
    category = forms.ModelChoiceField(
        label=_("问题类别"),
        queryset=Category.objects.none(),
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
    lng = forms.FloatField(
        label=_("经度"),
        min_value=-180,
        max_value=180,
        widget=forms.HiddenInput,
        error_messages={"required": _("请在地图上选点，或使用当前位置。")},
    )
    lat = forms.FloatField(
        label=_("纬度"),
        min_value=-90,
        max_value=90,
        widget=forms.HiddenInput,
        error_messages={"required": _("请在地图上选点，或使用当前位置。")},
    )
    crs = forms.ChoiceField(
        choices=[("wgs84", "WGS-84"), ("gcj02", "GCJ-02"), ("bd09", "BD-09")],
        initial="wgs84",
        required=False,
        widget=forms.HiddenInput,
    )
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    source = forms.ChoiceField(label=_("来源"), choices=())
    source_ref = forms.CharField(label=_("12345 工单号"), max_length=64, required=False)
    photos = MultiplePhotoField(label=_("现场照片"))
    # Set by the page once the user has seen the nearby open cases and still reports.
    duplicates_checked = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["category"].queryset = (
            Category.objects.filter(active=True).select_related("major").order_by("full_code")
        )
        sources = sources_for(user)
        self.fields["source"].choices = [(s, Source(s).label) for s in sources]
        self.fields["source"].initial = sources[0]
        if len(sources) == 1:
            self.fields["source"].widget = forms.HiddenInput()
        self.fields["description"].widget.attrs["placeholder"] = _(
            "发生了什么、在哪个位置、影响范围……"
        )
        self.fields["address"].widget.attrs["placeholder"] = _("如：莲园路 120 弄 3 号楼东侧")

    def clean(self):
        data = super().clean()
        if data.get("source") == Source.HOTLINE and not (data.get("source_ref") or "").strip():
            self.add_error("source_ref", _("12345 转派的案件请填写工单号。"))
        if data.get("source") != Source.HOTLINE:
            data["source_ref"] = ""
        data["crs"] = data.get("crs") or "wgs84"
        return data


class FilterForm(forms.Form):
    """The case list's filters. Unknown or out-of-scope values are dropped, never echoed."""

    q = forms.CharField(label=_("编号或描述"), required=False, max_length=100)
    status = forms.ChoiceField(label=_("状态"), required=False)
    category = forms.ChoiceField(label=_("类别"), required=False)
    grid = forms.ChoiceField(label=_("网格"), required=False)
    department = forms.ChoiceField(label=_("处置部门"), required=False)
    source = forms.ChoiceField(label=_("来源"), required=False)
    overdue = forms.ChoiceField(
        label=_("超期"),
        required=False,
        choices=[("", _("全部")), ("1", _("仅超期")), ("0", _("未超期"))],
    )
    start = forms.DateField(
        label=_("上报起"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("上报止"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, data=None, *, grid_choices=(), **kwargs):
        every = [("", _("全部"))]
        super().__init__(data, **kwargs)
        self.fields["status"].choices = every + list(Status.choices)
        self.fields["category"].choices = every + [
            (c.full_code, f"{c.full_code} {c.name}")
            for c in Category.objects.filter(active=True).order_by("full_code")
        ]
        self.fields["grid"].choices = every + list(grid_choices)
        self.fields["department"].choices = every + [
            (str(d.pk), d.name) for d in Department.objects.order_by("name")
        ]
        self.fields["source"].choices = every + list(Source.choices)
        if self.is_bound:
            # Drop values that are not choices (a grid outside the scope, a stale category …):
            # the list is shown unfiltered by them and the value is not repeated on the page.
            data = self.data.copy()
            for name in ("status", "category", "grid", "department", "source", "overdue"):
                valid = {str(k) for k, _label in self.fields[name].choices}
                if data.get(name, "") not in valid:
                    data[name] = ""
            self.data = data


class ActionForm(forms.Form):
    """Every workflow action posts its name, the case version the user saw, and a note."""

    action = forms.CharField(widget=forms.HiddenInput)
    expected_version = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(
        label=_("说明"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, transition=None, case=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.transition = transition
        self.case = case
        if transition is not None and transition.needs_reason:
            self.fields["note"].required = True
            self.fields["note"].label = _("理由")
            self.fields["note"].error_messages["required"] = _("请填写理由。")

    def action_data(self) -> dict:
        """Keyword arguments for ``actions.transition`` beyond the note."""
        return {}


class VerifyForm(ActionForm):
    valid = forms.TypedChoiceField(
        label=_("核实结果"),
        choices=[("1", _("属实")), ("0", _("不属实"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
        initial="1",
        error_messages={"required": _("请选择核实结果。")},
    )

    def action_data(self) -> dict:
        return {"valid": self.cleaned_data["valid"]}


class DispatchForm(ActionForm):
    department = forms.ModelChoiceField(
        label=_("处置部门"),
        queryset=Department.objects.order_by("name"),
        error_messages={
            "required": _("请选择处置部门。"),
            "invalid_choice": _("请选择有效的处置部门。"),
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        case = self.case
        if case is not None and not self.is_bound:
            default = case.department_id or getattr(case.category, "default_department_id", None)
            if default:
                self.fields["department"].initial = default

    def action_data(self) -> dict:
        return {"department": self.cleaned_data["department"]}


class HandleForm(ActionForm):
    photos = MultiplePhotoField(label=_("处置照片"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["note"].label = _("处置情况")
        self.fields["note"].required = True
        self.fields["note"].error_messages["required"] = _("请填写处置情况。")


class FeedbackForm(ActionForm):
    photos = MultiplePhotoField(label=_("处置后照片"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["note"].label = _("处理结果")


class RecheckForm(ActionForm):
    passed = forms.TypedChoiceField(
        label=_("核查结果"),
        choices=[("1", _("通过")), ("0", _("不通过，返工"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
        initial="1",
        error_messages={"required": _("请选择核查结果。")},
    )
    photos = MultiplePhotoField(label=_("核查照片"))

    field_order = ["passed", "note", "photos"]

    def clean(self):
        data = super().clean()
        if data.get("passed") is False and not (data.get("note") or "").strip():
            self.add_error("note", _("核查不通过时请填写返工理由。"))
        return data

    def action_data(self) -> dict:
        return {"passed": self.cleaned_data["passed"]}


class ExtensionForm(ActionForm):
    amount = forms.DecimalField(
        label=_("延期时长"),
        min_value=Decimal("0.5"),
        max_value=Decimal("1000"),
        decimal_places=1,
        initial=Decimal("1"),
        error_messages={"required": _("请填写延期时长。")},
    )
    unit = forms.ChoiceField(
        label=_("单位"), choices=LimitUnit.choices, initial=LimitUnit.WORK_DAYS
    )

    field_order = ["amount", "unit", "note"]

    def action_data(self) -> dict:
        return {"amount": self.cleaned_data["amount"], "unit": self.cleaned_data["unit"]}


class MergeForm(ActionForm):
    into = forms.CharField(
        label=_("合并到案件编号"),
        max_length=20,
        error_messages={"required": _("请填写要合并到的案件编号。")},
    )

    field_order = ["into", "note"]

    def action_data(self) -> dict:
        return {"into": self.cleaned_data["into"].strip()}


FORM_FOR_ACTION = {
    "verify": VerifyForm,
    "dispatch": DispatchForm,
    "handle": HandleForm,
    "feedback": FeedbackForm,
    "recheck": RecheckForm,
    "request_extension": ExtensionForm,
    "merge": MergeForm,
}


def action_form(transition, case, data=None, files=None, prefix=None):
    cls = FORM_FOR_ACTION.get(transition.action, ActionForm)
    initial = {"action": transition.action, "expected_version": case.version}
    return cls(data, files, transition=transition, case=case, initial=initial, prefix=prefix)
