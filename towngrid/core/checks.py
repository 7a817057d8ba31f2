"""System checks that keep the grid-scope guarantee from being forgotten.

``towngrid.E001``: a class-based view reachable from the URLconf (DRF view or viewset, or a Django
generic view) serves a scoped model (one declaring ``scope_field``) without the scoped base class
(``core.api.ScopedViewSetMixin`` / ``core.views.ScopedQuerysetMixin``), or lists it after the
generic base. ``towngrid check`` fails, and so does the test suite (tests/core/test_checks.py).
A view that must serve a scoped model unscoped says why in ``scope_exempt = "…"``.

``towngrid.W001``: a generic object view whose model cannot be told from ``queryset``, ``model``
or its serializer, so E001 cannot vouch for it.
"""

from django.core import checks


@checks.register(checks.Tags.security, checks.Tags.urls)
def check_scoped_views(app_configs=None, **kwargs):
    from towngrid.accounts.access import is_scoped_model

    from .scoping import (
        is_object_view,
        is_scope_exempt,
        iter_routes,
        model_of,
        scoped_base_problem,
    )

    errors = []
    seen: set[tuple[type, bool]] = set()
    try:
        routes = list(iter_routes())
    except Exception as exc:  # noqa: BLE001 - the URL checks report a broken URLconf themselves
        return [checks.Warning(f"URLconf not inspected for scope: {exc}", id="towngrid.W002")]
    for route in routes:
        view_class = route.view_class
        if view_class is None or (view_class, route.is_drf) in seen:
            continue
        seen.add((view_class, route.is_drf))
        label = f"{view_class.__module__}.{view_class.__qualname__}"
        model = model_of(view_class)
        if model is None:
            if is_object_view(view_class) and not is_scope_exempt(view_class):
                errors.append(
                    checks.Warning(
                        f"{label} (/{route.route}) is a generic object view whose model cannot be "
                        "determined, so its grid scope cannot be checked.",
                        hint="Declare `queryset` (or `model`) on the view.",
                        obj=view_class,
                        id="towngrid.W001",
                    )
                )
            continue
        if not is_scoped_model(model) or is_scope_exempt(view_class):
            continue
        problem = scoped_base_problem(view_class, route.is_drf)
        if problem:
            base = "ScopedViewSetMixin" if route.is_drf else "ScopedQuerysetMixin"
            errors.append(
                checks.Error(
                    f"{label} (/{route.route}) serves the scoped model {model._meta.label} but "
                    f"{problem}: it would show rows outside the user's grid scope.",
                    hint=f"Inherit towngrid.core.{'api' if route.is_drf else 'views'}.{base} "
                    'first, or set `scope_exempt = "why"` on the view.',
                    obj=view_class,
                    id="towngrid.E001",
                )
            )
    return errors
