from django.urls import include, path

from . import queries, views

app_name = "registry"


def _type_routes(slug: str) -> list:
    rtype = queries.TYPES[slug]
    return [
        path(f"{slug}/", views.LIST_VIEWS[slug].as_view(), name=slug),
        path(f"{slug}/new/", views.create, {"rtype": rtype}, name=f"{slug}_new"),
        path(
            f"{slug}/<int:pk>/",
            views.DETAIL_VIEWS[slug].as_view(),
            name=f"{slug}_detail",
        ),
        path(f"{slug}/<int:pk>/edit/", views.edit, {"rtype": rtype}, name=f"{slug}_edit"),
        path(f"{slug}/<int:pk>/reveal/", views.reveal, {"rtype": rtype}, name=f"{slug}_reveal"),
    ]


urlpatterns: list = [
    path("", views.index, name="index"),
    path("enterprises/<int:pk>/visits/", views.add_visit, name="enterprises_visit"),
    path("components/<int:pk>/status/", views.change_status, name="components_status"),
    *[route for slug in queries.TYPES for route in _type_routes(slug)],
    # Excel import and export pages (towngrid/registry/io_urls.py).
    path("io/", include("towngrid.registry.io_urls")),
]
