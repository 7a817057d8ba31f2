"""The residents' own page (居民上报), made for a phone: choose a problem type, set the place by
position or a pin, describe it, add photos, submit, get a receipt with a tracking link.

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
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from towngrid.cases.actions import report
from towngrid.cases.errors import CaseError
from towngrid.cases.media import PhotoError, check_photo, max_bytes
from towngrid.cases.models import Attachment, CaseEvent, Source, Status
from towngrid.core import config
from towngrid.core.middleware import client_ip_of
from towngrid.grids.models import GridNode

from . import throttle
from .actions import clean_text, public_categories
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


def report_page(request: HttpRequest) -> HttpResponse:
    categories = [
        {
            "code": c.full_code,
            "name": c.name,
            "group": c.major.name,
            "keywords": c.keywords,
        }
        for c in public_categories()
    ]
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
                case = report(
                    category=data["category"],
                    description=clean_text(data["description"]),
                    lng=data["lng"],
                    lat=data["lat"],
                    source=Source.RESIDENT,
                    address=clean_text(data["address"]),
                    photos=photos,
                )
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
        "categories": categories,
        "centre": {"lng": lng, "lat": lat},
        "max_photos": MAX_PHOTOS,
    }
    return render(request, "open311/report.html", context, status=status)


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
