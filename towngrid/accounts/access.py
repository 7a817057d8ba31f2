"""Every access rule of towngrid lives here.

Grid scope is the security boundary (DESIGN.md): a model that holds people-, house- or case-like
data declares ``scope_field``, the lookup path to the grid code it belongs to, and every query for
it goes through ``visible_to``. The API's base viewset and the pages' base views call it, so a new
endpoint is scoped by inheriting them, and tests/accounts/test_scope_matrix.py walks every route to
prove it.

Model attributes read here:
- ``scope_field`` (str): lookup path to a grid code, e.g. ``"grid__code"``.
- ``department_field`` (str, optional): lookup path to a department, for department-scoped users.
- ``department_sees_all`` (bool, optional): department users see every row (reference geography).
"""

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Q

from .models import ScopeKind


def is_scoped_model(model: type[models.Model]) -> bool:
    return isinstance(getattr(model, "scope_field", None), str)


def _crosses_many(model: type[models.Model], path: str) -> bool:
    """Whether a lookup path goes through a to-many relation (and so can repeat rows)."""
    current = model
    for part in path.split("__"):
        try:
            f = current._meta.get_field(part)
        except FieldDoesNotExist:
            return False
        if f.many_to_many or f.one_to_many:
            return True
        if not f.is_relation:
            return False
        current = f.related_model
    return False


def scope_kind_of(user) -> str:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return ScopeKind.NONE
    if user.is_superuser:
        return ScopeKind.TOWN
    role = user.role
    return role.scope_kind if role else ScopeKind.NONE


def has_capability(user, capability: str) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return bool(user.role and capability in (user.role.capabilities or []))


def scope_filter(user, model: type[models.Model]) -> Q | None:
    """The filter that limits ``model`` to what ``user`` may see; None means everything."""
    kind = scope_kind_of(user)
    nothing = Q(pk__in=[])
    if kind == ScopeKind.TOWN:
        return None
    if kind == ScopeKind.GRID:
        if user.scope_id is None:
            return nothing
        return Q(**{f"{model.scope_field}__startswith": user.scope.code})
    if kind == ScopeKind.DEPARTMENT:
        if getattr(model, "department_sees_all", False):
            return None
        field = getattr(model, "department_field", None)
        if field and user.department_id:
            return Q(**{field: user.department_id})
        return nothing
    return nothing


def visible_to(user, queryset: models.QuerySet) -> models.QuerySet:
    """``queryset`` limited to the rows ``user`` may see. Refuses unscoped models loudly, so that a
    personal-data model cannot be exposed by forgetting to declare its scope."""
    model = queryset.model
    if not is_scoped_model(model):
        raise TypeError(f"{model._meta.label} declares no scope_field; it cannot be scoped")
    condition = scope_filter(user, model)
    if condition is None:
        return queryset
    paths = [model.scope_field, getattr(model, "department_field", None) or ""]
    if any(p and _crosses_many(model, p) for p in paths):
        # A to-many path (e.g. staff → duties → grid) would repeat rows: filter by key instead.
        return queryset.filter(pk__in=model._default_manager.filter(condition).values("pk"))
    return queryset.filter(condition)


def can_see(user, obj: models.Model) -> bool:
    """Whether one object of a scoped model is visible to ``user``, by the same rule as lists."""
    model = type(obj)
    return visible_to(user, model._default_manager.filter(pk=obj.pk)).exists()


def in_grid_scope(user, code: str) -> bool:
    """Whether the grid code lies in the user's own grid subtree (town roles: everywhere).

    This is the rule for things *located* in a grid (houses, people, cases). Department and
    unscoped users are never inside by location; what they see is decided per model by
    ``visible_to`` (e.g. grid geography is visible to departments through ``department_sees_all``).
    """
    kind = scope_kind_of(user)
    if kind == ScopeKind.TOWN:
        return True
    if kind == ScopeKind.GRID:
        return user.scope_id is not None and code.startswith(user.scope.code)
    return False


def can_see_grid_code(user, code: str) -> bool:
    """Whether the grid node with this code is visible (the geography itself, not what is located
    in it): the user's subtree, or the whole grid for town roles and departments."""
    from towngrid.grids.models import GridNode

    if scope_kind_of(user) == ScopeKind.DEPARTMENT:
        return bool(getattr(GridNode, "department_sees_all", False))
    return in_grid_scope(user, code)


# --- passwords ---------------------------------------------------------------------------------

MUST_CHANGE = "must_change"
EXPIRED = "expired"


def password_max_age_days() -> int:
    """``TOWNGRID_PASSWORD_MAX_AGE_DAYS`` (default 90, MLPS 2.0 expiry); 0 turns expiry off."""
    from django.conf import settings

    return int(getattr(settings, "TOWNGRID_PASSWORD_MAX_AGE_DAYS", 90) or 0)


def password_change_required(user) -> str | None:
    """Why the user must change the password before doing anything else, or None.

    ``must_change``: an initial or reset password set by an administrator.
    ``expired``: older than ``TOWNGRID_PASSWORD_MAX_AGE_DAYS``. Demo accounts (refused in
    production anyway) and users without a usable password (token- or SSO-only) never expire.
    """
    from datetime import timedelta

    from django.utils import timezone

    if not getattr(user, "is_authenticated", False):
        return None
    if getattr(user, "is_demo", False) or not user.has_usable_password():
        return None
    if getattr(user, "must_change_password", False):
        return MUST_CHANGE
    days = password_max_age_days()
    changed = getattr(user, "password_changed_at", None)
    if days and changed and changed + timedelta(days=days) <= timezone.now():
        return EXPIRED
    return None


PASSWORD_CHANGE_URL_NAMES = [
    "accounts:password_change",
    "accounts:password_change_done",
    "accounts:logout",
    "accounts:login",
    "admin:password_change",
    "admin:password_change_done",
    "admin:logout",
    "set_language",
    "api-me",
    "api-me-password",
    "api-auth-token",
    "api-auth-token-revoke",
]


def password_change_allowed_path(path: str) -> bool:
    """Whether a user who must change the password first may still open ``path``: the ways to
    change it or to leave, the own profile in the API, and static files."""
    from django.conf import settings
    from django.urls import NoReverseMatch, reverse

    for prefix in (settings.STATIC_URL, settings.MEDIA_URL):
        if prefix and path.startswith(prefix):
            return True
    for name in PASSWORD_CHANGE_URL_NAMES:
        try:
            if path == reverse(name):
                return True
        except NoReverseMatch:
            continue
    return False


def password_change_page() -> str | None:
    """The page where a user changes the password, if the UI has one."""
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("accounts:password_change")
    except NoReverseMatch:
        return None
