"""Routes of the programs API; included under ``api/v1/`` in towngrid/urls.py."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("programs/projects", api.ProjectViewSet, basename="program-project")
router.register("programs/targets", api.TargetViewSet, basename="program-target")
router.register("programs/pipelines", api.PipelineViewSet, basename="program-pipeline")

urlpatterns = [
    path("programs/summary/", api.SummaryView.as_view(), name="program-summary"),
    path(
        "programs/projects/<int:pk>/milestones/<int:milestone>/",
        api.MilestoneView.as_view(),
        name="program-milestone",
    ),
    path(
        "programs/stages/<int:pk>/readings/",
        api.StageReadingView.as_view(),
        name="program-stage-reading",
    ),
    *router.urls,
]
