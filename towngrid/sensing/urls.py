"""Pages of sensing, under ``/sensing/`` (app_name ``sensing``)."""

from django.urls import path

from . import views

app_name = "sensing"
urlpatterns = [
    path("", views.AlarmBoardView.as_view(), name="alarms"),
    path("alarms/<int:pk>/ack/", views.alarm_ack, name="alarm-ack"),
    path("alarms/<int:pk>/clear/", views.alarm_clear, name="alarm-clear"),
    path("devices/", views.DeviceListView.as_view(), name="devices"),
    path("devices/<str:code>/", views.DeviceDetailView.as_view(), name="device"),
    path("pumps/", views.PumpPanelView.as_view(), name="pumps"),
]
