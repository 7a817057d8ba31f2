"""Routes of the reports API; included under ``api/v1/`` in towngrid/urls.py."""

from django.urls import path

from . import api

urlpatterns = [
    path("reports/drilldown/", api.DrilldownView.as_view(), name="api-reports-drilldown"),
    path(
        "reports/drilldown/export.xlsx",
        api.DrilldownExportView.as_view(),
        name="api-reports-drilldown-export",
    ),
    path("reports/cases/", api.FigureCasesView.as_view(), name="api-reports-cases"),
    path("reports/screen/", api.ScreenView.as_view(), name="api-reports-screen"),
]
