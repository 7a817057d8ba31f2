"""The home page: the user's town or scope at a glance, and where to go next."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from towngrid.accounts.access import has_capability, scope_kind_of
from towngrid.accounts.models import ScopeKind
from towngrid.grids.models import Level
from towngrid.grids.views import (
    POST_ORDER,
    active_duties,
    children_with_counts,
    level_counts,
    scope_roots,
)


@login_required
def home(request):
    user = request.user
    kind = scope_kind_of(user)
    roots = scope_roots(user) if kind != ScopeKind.NONE else []
    root = roots[0] if len(roots) == 1 else None
    stats = level_counts(root, user) if root is not None else None
    my_grids = []
    staff = getattr(user, "grid_staff", None)
    if staff is not None:
        order = {p: i for i, p in enumerate(POST_ORDER)}
        my_grids = sorted(
            active_duties(user).filter(staff=staff).select_related("grid"),
            key=lambda d: (d.grid.code, order.get(d.post, 99)),
        )
    context = {
        "scope_kind": ScopeKind(kind).label,
        "scope_kind_code": kind,
        "root": root,
        "roots": roots,
        "root_level_label": Level(root.level).label if root else "",
        "levels": stats["levels"] if stats else [],
        "post_counts": stats["posts"] if stats else [],
        "staff_people": stats["people"] if stats else 0,
        "my_grids": my_grids,
        "children": children_with_counts(root, user) if root is not None else [],
        "child_level_label": Level(root.level + 1).label
        if root and root.level < Level.GROUP
        else "",
        "can_view_map": has_capability(user, "grids.view_map"),
        "is_staff_user": user.is_staff,
    }
    return render(request, "home.html", context)
