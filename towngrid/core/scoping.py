"""Discovery of the views reachable from the URLconf and of the models they serve.

Used by the system check ``towngrid.E001`` (core/checks.py), which refuses a view that serves a
scoped model without the scoped base class, and by the role × endpoint test matrix
(tests/accounts/test_scope_matrix.py), which exercises every such view. Both see the same routes,
so an endpoint added later by any app is checked and tested without anyone listing it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    """One URL pattern and the class-based view behind it."""

    route: str  # the pattern text, joined from the resolvers above it
    name: str | None  # "namespace:name", for reverse()
    callback: object
    view_class: type | None  # the DRF view/viewset class or the Django view class
    is_drf: bool
    actions: dict = field(default_factory=dict)  # a DRF viewset's {method: action}
    kwargs: tuple[str, ...] = ()  # the URL's captured keyword arguments

    @property
    def model(self) -> type[models.Model] | None:
        return model_of(self.view_class) if self.view_class else None


def _pattern_text(pattern) -> str:
    return str(pattern.pattern)


def _kwargs_of(pattern) -> tuple[str, ...]:
    regex = pattern.pattern.regex
    return tuple(regex.groupindex)


def iter_routes(resolver: URLResolver | None = None) -> Iterator[Route]:
    """Every URL pattern of the URLconf, recursively, with its view class where it has one."""
    resolver = resolver or get_resolver()
    yield from _walk(resolver, "", (), ())


def _walk(resolver, prefix: str, namespaces: tuple, kwargs: tuple) -> Iterator[Route]:
    for entry in resolver.url_patterns:
        text = prefix + _pattern_text(entry)
        captured = kwargs + _kwargs_of(entry)
        if isinstance(entry, URLResolver):
            ns = (*namespaces, entry.namespace) if entry.namespace else namespaces
            yield from _walk(entry, text, ns, captured)
        elif isinstance(entry, URLPattern):
            callback = entry.callback
            drf_class = getattr(callback, "cls", None)
            django_class = getattr(callback, "view_class", None)
            name = ":".join((*namespaces, entry.name)) if entry.name else None
            yield Route(
                route=text,
                name=name,
                callback=callback,
                view_class=drf_class or django_class,
                is_drf=drf_class is not None,
                actions=dict(getattr(callback, "actions", None) or {}),
                kwargs=captured,
            )


def model_of(view_class: type) -> type[models.Model] | None:
    """The model a view serves, from its ``queryset``, ``model`` or serializer's ``Meta.model``."""
    queryset = getattr(view_class, "queryset", None)
    if isinstance(queryset, models.QuerySet | models.Manager):
        return queryset.model
    model = getattr(view_class, "model", None)
    if isinstance(model, type) and issubclass(model, models.Model):
        return model
    serializer = getattr(view_class, "serializer_class", None)
    meta = getattr(serializer, "Meta", None)
    model = getattr(meta, "model", None)
    if isinstance(model, type) and issubclass(model, models.Model):
        return model
    return None


def is_object_view(view_class: type) -> bool:
    """Whether the class is a generic view that fetches rows (and so must be scoped)."""
    from django.views.generic.detail import SingleObjectMixin
    from django.views.generic.list import MultipleObjectMixin
    from rest_framework.generics import GenericAPIView

    return issubclass(view_class, GenericAPIView | SingleObjectMixin | MultipleObjectMixin)


def scoped_base_problem(view_class: type, is_drf: bool) -> str | None:
    """Why ``view_class`` does not apply the grid scope, or None when it does.

    The mixin must come before the generic base in the MRO so that its ``get_queryset`` wins.
    """
    from django.views.generic.detail import SingleObjectMixin
    from django.views.generic.list import MultipleObjectMixin
    from rest_framework.generics import GenericAPIView

    from .api import ScopedViewSetMixin
    from .views import ScopedQuerysetMixin

    mixin = ScopedViewSetMixin if is_drf else ScopedQuerysetMixin
    mro = view_class.__mro__
    if mixin not in mro:
        return f"does not inherit {mixin.__module__}.{mixin.__qualname__}"
    bases = (GenericAPIView,) if is_drf else (SingleObjectMixin, MultipleObjectMixin)
    position = mro.index(mixin)
    for base in bases:
        if base in mro and mro.index(base) < position:
            return f"lists {mixin.__qualname__} after {base.__qualname__}; put it first"
    return None


def is_scope_exempt(view_class: type) -> bool:
    """A view may declare ``scope_exempt = "reason"`` when it serves a scoped model on purpose
    without the user's scope (e.g. a public page that shows no personal data)."""
    reason = getattr(view_class, "scope_exempt", None)
    return isinstance(reason, str) and bool(reason.strip())
