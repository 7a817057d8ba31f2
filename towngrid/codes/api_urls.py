"""Routes of the codes API; included under ``api/v1/`` in towngrid/urls.py."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("codes/codes", api.ObjectCodeViewSet, basename="objectcode")
router.register("codes/checkins", api.CheckInViewSet, basename="checkin")

urlpatterns = [
    path("codes/scan/<str:token>/", api.ScanView.as_view(), name="codes-scan"),
    path(
        "codes/scan/<str:token>/checkin/", api.ScanCheckInView.as_view(), name="codes-scan-checkin"
    ),
    path("codes/scan/<str:token>/report/", api.ScanReportView.as_view(), name="codes-scan-report"),
    path("codes/scan/<str:token>/object/", api.ScanObjectView.as_view(), name="codes-scan-object"),
    path("codes/patrols/", api.PatrolsView.as_view(), name="codes-patrols"),
    path("codes/patrols/route/", api.RouteView.as_view(), name="codes-route"),
    path("codes/coverage/", api.CoverageView.as_view(), name="codes-coverage"),
    path("codes/plates/", api.PlatesView.as_view(), name="codes-plates"),
    *router.urls,
]

# The colour engine's routes share this prefix and namespace.
from .colour_api_urls import urlpatterns as colour_urlpatterns  # noqa: E402

urlpatterns += colour_urlpatterns
