"""The notifications page (the bell in the top bar): the user's own notifications, newest first,
and marking them read. Notifications belong to one user, so there is no grid scope to apply:
every query filters on ``user=request.user``."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import notify
from .models import Notification

PAGE_SIZE = 30


@login_required
def notifications(request):
    qs = Notification.objects.filter(user=request.user)
    only_unread = request.GET.get("unread") == "1"
    if only_unread:
        qs = qs.filter(read_at__isnull=True)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/list.html",
        {
            "page_obj": page,
            "items": page.object_list,
            "unread": notify.unread_count(request.user),
            "only_unread": only_unread,
        },
    )


@login_required
@require_POST
def mark_read(request):
    """Mark one (``id``), several, or ``all`` read; then follow the notification's link if asked
    (``next``, a local URL only)."""
    ids = request.POST.getlist("id")
    if request.POST.get("all") == "1" or not ids:
        notify.mark_read(request.user, "all")
    else:
        notify.mark_read(request.user, [int(i) for i in ids if i.isdigit()])
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("notifications:list")
