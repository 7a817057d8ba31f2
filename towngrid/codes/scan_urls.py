"""The short public path a printed code points at: ``/c/<token>/``."""

from django.urls import path

from . import views

app_name = "scan"
urlpatterns = [
    path("<str:token>/", views.ScanCardView.as_view(), name="card"),
    path("<str:token>/checkin/", views.ScanCheckInView.as_view(), name="checkin"),
    path("<str:token>/report/", views.ScanReportView.as_view(), name="report"),
    path("<str:token>/edit/", views.ScanUpdateView.as_view(), name="edit"),
    path("<str:token>/reissue/", views.ScanReissueView.as_view(), name="reissue"),
    path("<str:token>/qr.<str:fmt>", views.ScanQrView.as_view(), name="qr"),
]
