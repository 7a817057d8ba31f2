from django.urls import path

from . import resident

app_name = "resident"
urlpatterns = [
    path("", resident.report_page, name="report"),
    path("nearby/", resident.nearby, name="nearby"),
    path("done/<str:token>/", resident.receipt, name="receipt"),
    path("track/<str:token>/", resident.track, name="track"),
]
