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

from django.db import models
from django.db.models import Q

from .models import ScopeKind


def is_scoped_model(model: type[models.Model]) -> bool:
    return isinstance(getattr(model, "scope_field", None), str)


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
    return queryset if condition is None else queryset.filter(condition)


def can_see_grid_code(user, code: str) -> bool:
    """Whether a grid code (and so anything located in it) is inside the user's scope."""
    kind = scope_kind_of(user)
    if kind == ScopeKind.TOWN:
        return True
    if kind == ScopeKind.GRID:
        return user.scope_id is not None and code.startswith(user.scope.code)
    return kind == ScopeKind.DEPARTMENT
