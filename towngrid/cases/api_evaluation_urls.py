"""Routes of the evaluation API; included under ``api/v1/`` in towngrid/urls.py."""

from django.urls import path

from . import api_evaluation

urlpatterns = [
    path("evaluation/", api_evaluation.EvaluationView.as_view(), name="api-evaluation"),
    path(
        "evaluation/export.xlsx",
        api_evaluation.EvaluationExportView.as_view(),
        name="api-evaluation-export",
    ),
]
