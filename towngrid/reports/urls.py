from django.urls import include, path

from . import views

app_name = "reports"
urlpatterns = [
    path("", views.index, name="index"),
    path("export.xlsx", views.export, name="export"),
    path("cases/", views.cases, name="cases"),
    path("cases/export.xlsx", views.cases_export, name="cases-export"),
    path("screen/", views.screen, name="screen"),
    path("screen/data/", views.screen_data, name="screen-data"),
    # The half-year report's generation pages (towngrid/reports/halfyear/urls.py).
    path("half-year/", include("towngrid.reports.halfyear.urls")),
]
