"""The residents' own page (居民上报), made for a phone: choose a problem type, answer its extra
questions (the same ``ServiceAttribute`` data Open311 clients get; an answer such as "I smell
gas" stops the report and says whom to phone), set the place by position or a pin, see the open
reports of the same type nearby (follow one instead of reporting again), describe it, add photos,
submit, get a receipt with a tracking link.

No login. Abuse protection: a honeypot field, a per-address limit on submissions
(``open311.report_per_ip_per_hour``), a request size limit, photos checked by their bytes
(``cases.media``). Name and phone are optional and never stored: the workflow does not need them
and storing them would need PIPL-grade encryption. The tracking link carries the case number
signed with the secret key, so case numbers cannot be enumerated; the tracking page shows the
status, category, timeline labels, the handling result and public (EXIF-free) photos only —
never the reporter or staff.
"""

from __future__ import annotations

from django import forms
from django.core import signing
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from towngrid.cases.actions import report
from towngrid.cases.errors import CaseError
from towngrid.cases.media import PhotoError, check_photo, max_bytes
from towngrid.cases.models import Attachment, CaseEvent, Source, Status
from towngrid.cases.queries import find_duplicates
from towngrid.cases.views import category_rows
from towngrid.core import config
from towngrid.core.middleware import client_ip_of
from towngrid.grids.models import GridNode

from . import throttle
from .actions import (
    AnswerError,
    attribute_answers,
    clean_text,
    public_categories,
    record_report_extras,
)
from .models import ServiceAttribute
from .views import media_url, public_cases

TRACK_SALT = "open311.track"
MAX_PHOTOS = 3
# Labels the resident sees on the timeline; everything else (requests, approvals) is internal.
PUBLIC_ACTIONS = {
    "report": gettext_lazy("已上报"),
    "accept": gettext_lazy("已受理"),
    "verify": gettext_lazy("已核实"),
    "open": gettext_lazy("已立案"),
    "reject": gettext_lazy("不予立案"),
    "dispatch": gettext_lazy("已派遣至处置部门"),
    "feedback": gettext_lazy("处置完成"),
    "recheck": gettext_lazy("核查通过"),
    "rework": gettext_lazy("返工处置"),
    "close": gettext_lazy("已结案"),
    "reopen": gettext_lazy("重新处理"),
    "merge": gettext_lazy("与已有案件合并"),
}


class ResidentReportForm(forms.Form):
    category = forms.ChoiceField(label=gettext_lazy("问题类别"))
    lng = forms.FloatField(widget=forms.HiddenInput, min_value=-180, max_value=180)
    lat = forms.FloatField(widget=forms.HiddenInput, min_value=-90, max_value=90)
    address = forms.CharField(label=gettext_lazy("地址（选填）"), max_length=200, required=False)
    description = forms.CharField(
        label=gettext_lazy("问题描述"), max_length=4000, widget=forms.Textarea
    )
    name = forms.CharField(
        label=gettext_lazy("称呼（选填，不保存）"), max_length=50, required=False
    )
    phone = forms.CharField(
        label=gettext_lazy("电话（选填，不保存）"), max_length=20, required=False
    )
    # A field people never see (hidden by CSS and off the tab order); bots fill it.
    website = forms.CharField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", _("请选择类别"))] + [
            (c.full_code, f"{c.major.name} · {c.name}") for c in public_categories()
        ]
        self.fields["lng"].error_messages["required"] = _("请在地图上点选或使用当前位置。")
        self.fields["lat"].error_messages["required"] = _("请在地图上点选或使用当前位置。")


def track_token(number: str) -> str:
    return signing.Signer(salt=TRACK_SALT).sign(number)


def _map_centre() -> tuple[float, float]:
    town = GridNode.objects.filter(level=1).exclude(centroid_lng=None).order_by("code").first()
    if town is None:
        return 121.53, 31.19
    return round(town.centroid_lng, 5), round(town.centroid_lat, 5)


def _questions() -> dict[str, list[dict]]:
    """The extra questions of every public category, by category code, for the page to show
    when a category is chosen."""
    by_code: dict[str, list[dict]] = {}
    attributes = ServiceAttribute.objects.filter(category__in=public_categories()).select_related(
        "category"
    )
    for a in attributes.order_by("category__full_code", "order", "id"):
        by_code.setdefault(a.category.full_code, []).append(
            {
                "code": a.code,
                "variable": a.variable,
                "datatype": a.datatype,
                "required": a.required,
                "description": a.description,
                "help": a.datatype_description,
                "values": a.values if a.is_list else [],
                "stops": list(a.stops_submission_on or []),
                "stop_message": a.stop_text(),
                "multiple": a.datatype == "multivaluelist",
            }
        )
    return by_code


def report_page(request: HttpRequest) -> HttpResponse:
    status = 200
    error = ""
    form = ResidentReportForm(request.POST or None)
    if request.method == "POST":
        ip = client_ip_of(request) or "unknown"
        limit = int(config.get("open311.report_per_ip_per_hour"))
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > MAX_PHOTOS * max_bytes() + 64 * 1024:
            error, status = _("提交内容过大，请减少或压缩照片后重试。"), 413
        elif not throttle.allow(f"report:{ip}", limit, window=3600):
            error, status = _("提交过于频繁，请稍后再试；紧急情况请拨打 12345。"), 429
        elif form.is_valid() and form.cleaned_data["website"]:
            error, status = _("提交失败，请刷新页面后重试。"), 400
        elif form.is_valid():
            photos = request.FILES.getlist("photos")[: MAX_PHOTOS + 1]
            try:
                if len(photos) > MAX_PHOTOS:
                    raise PhotoError("too_many", _("最多上传 %(n)d 张照片。") % {"n": MAX_PHOTOS})
                for photo in photos:
                    check_photo(photo)
                data = form.cleaned_data
                category = public_categories().get(full_code=data["category"])
                answers = attribute_answers(category, request.POST)
                with transaction.atomic():
                    case = report(
                        category=category,
                        description=clean_text(data["description"]),
                        lng=data["lng"],
                        lat=data["lat"],
                        source=Source.RESIDENT,
                        address=clean_text(data["address"]),
                        photos=photos,
                    )
                    record_report_extras(case, answers=answers)
            except AnswerError as exc:
                error, status = exc.message, 400
            except PhotoError as exc:
                error, status = exc.message, 400
            except CaseError as exc:
                error, status = exc.message, 400
            else:
                return redirect("resident:receipt", token=track_token(case.number))
        else:
            status = 400
    lng, lat = _map_centre()
    context = {
        "form": form,
        "error": error,
        "categories": category_rows(public_categories(), value="full_code"),
        "questions": _questions(),
        "chosen": form["category"].value() or "",
        "answers": {k: request.POST.getlist(k) for k in request.POST if k.startswith("attribute[")},
        "centre": {"lng": lng, "lat": lat},
        "max_photos": MAX_PHOTOS,
    }
    return render(request, "open311/report.html", context, status=status)


def nearby(request: HttpRequest) -> HttpResponse:
    """Open reports of the chosen type near the chosen point, as a fragment for the page: the
    resident can follow one instead of reporting it again. Only what the tracking page shows
    (type, status, date, a tracking link) — never descriptions, which may name people."""
    cases = []
    ip = client_ip_of(request) or "unknown"
    limit = 10 * int(config.get("open311.report_per_ip_per_hour"))
    category = public_categories().filter(full_code=request.GET.get("category", "")).first()
    try:
        lng, lat = float(request.GET.get("lng", "")), float(request.GET.get("lat", ""))
    except ValueError:
        category = None
    if category is not None and throttle.allow(f"nearby:{ip}", limit, window=3600):
        try:
            found = find_duplicates(category, lng, lat, queryset=public_cases())[:5]
        except CaseError:
            found = []
        cases = [
            {
                "number": c.number,
                "category": c.category.name,
                "status": Status(c.status).label,
                "reported_at": c.reported_at,
                "distance_m": round(c.distance_m),
                "track_url": reverse("resident:track", kwargs={"token": track_token(c.number)}),
            }
            for c in found
        ]
    return render(request, "open311/_nearby.html", {"cases": cases})


def _case_for(token: str):
    try:
        number = signing.Signer(salt=TRACK_SALT).unsign(token)
    except signing.BadSignature:
        raise Http404 from None
    case = public_cases().filter(number=number).first()
    if case is None:
        raise Http404
    return case


def receipt(request: HttpRequest, token: str) -> HttpResponse:
    case = _case_for(token)
    url = request.build_absolute_uri(reverse("resident:track", kwargs={"token": token}))
    return render(request, "open311/receipt.html", {"case": case, "track_url": url})


def track(request: HttpRequest, token: str) -> HttpResponse:
    case = _case_for(token)
    events = CaseEvent.objects.filter(case=case, action__in=PUBLIC_ACTIONS).order_by("at", "id")
    photos: dict[int | None, list[str]] = {}
    for a in Attachment.objects.filter(case=case).exclude(public_file="").order_by("id"):
        photos.setdefault(a.event_id, []).append(media_url(request, a))
    timeline = [
        {"at": e.at, "label": PUBLIC_ACTIONS[e.action], "photos": photos.get(e.pk, [])}
        for e in events
    ]
    result = ""
    feedback = events.filter(action="feedback").order_by("-at", "-id").first()
    if feedback is not None:
        result = feedback.note  # the department's account of what was done (no names)
    closed = case.status in {Status.CLOSED, Status.REJECTED, Status.MERGED}
    context = {
        "case": case,
        "status_label": Status(case.status).label,
        "closed": closed,
        "timeline": timeline,
        "result": result,
    }
    return render(request, "open311/track.html", context)
