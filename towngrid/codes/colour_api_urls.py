"""Routes of the colour API, included under ``api/v1/`` (paths start with ``codes/``)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import colour_api

router = SimpleRouter()
router.register("codes/colours", colour_api.ColourStateViewSet, basename="colour-state")
router.register("codes/colour-changes", colour_api.ColourChangeViewSet, basename="colour-change")
router.register(
    "codes/colour-rule-sets", colour_api.ColourRuleSetViewSet, basename="colour-rule-set"
)

urlpatterns = [
    path(
        "codes/objects/<str:kind>/<int:object_id>/colour/",
        colour_api.ObjectColourView.as_view(),
        name="colour-of-object",
    ),
    *router.urls,
]
