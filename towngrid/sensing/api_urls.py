"""Routes of the sensing API; included under ``api/v1/`` in towngrid/urls.py."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("sensing/devices", api.DeviceViewSet, basename="sensing-device")
router.register("sensing/device-types", api.DeviceTypeViewSet, basename="sensing-device-type")
router.register("sensing/alarms", api.AlarmViewSet, basename="sensing-alarm")
router.register("sensing/dead-letters", api.DeadLetterViewSet, basename="sensing-dead-letter")

urlpatterns = [
    path("sensing/ingest/", api.IngestView.as_view(), name="sensing-ingest"),
    path("sensing/alarm-counts/", api.AlarmCountsView.as_view(), name="sensing-alarm-counts"),
    *router.urls,
]
