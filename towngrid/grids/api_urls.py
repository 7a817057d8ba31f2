from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter(trailing_slash=True)
router.register("grids", api.GridNodeViewSet, basename="grid")

urlpatterns = [
    # The lookup is also served without the trailing slash (GET /api/v1/grids/lookup?lat=…):
    # clients built from the examples must not get a redirect.
    path(
        "grids/lookup",
        api.GridLookupAliasViewSet.as_view({"get": "lookup"}),
        name="grid-lookup-noslash",
    ),
    path("", include(router.urls)),
]
