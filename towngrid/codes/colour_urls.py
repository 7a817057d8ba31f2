"""Pages of the colour engine, spread into the "codes" namespace by codes/urls.py::

from .colour_urls import urlpatterns as colour_urlpatterns
urlpatterns += colour_urlpatterns
"""

from django.urls import path

from . import colour_views

urlpatterns = [
    path("colours/", colour_views.ColourListView.as_view(), name="colour_list"),
    path("colours/rules/", colour_views.colour_rules, name="colour_rules"),
    path(
        "colours/<str:kind>/<int:object_id>/",
        colour_views.colour_history,
        name="colour_history",
    ),
    path(
        "colours/<str:kind>/<int:object_id>/panel/",
        colour_views.colour_panel,
        name="colour_panel",
    ),
    path(
        "colours/<str:kind>/<int:object_id>/override/",
        colour_views.colour_override,
        name="colour_override",
    ),
    path(
        "colours/<str:kind>/<int:object_id>/clear/",
        colour_views.colour_clear,
        name="colour_clear",
    ),
]
