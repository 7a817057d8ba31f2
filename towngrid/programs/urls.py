from django.urls import path

from . import views

app_name = "programs"
urlpatterns = [
    path("", views.index, name="index"),
    path("projects/<int:pk>/", views.project_detail, name="project"),
    path("projects/<int:pk>/progress/", views.add_progress, name="add-progress"),
    path(
        "projects/<int:pk>/milestones/<int:milestone>/",
        views.set_milestone,
        name="set-milestone",
    ),
    path("targets/", views.targets, name="targets"),
    path("targets/<int:pk>/record/", views.record_target, name="record-target"),
    path("pipelines/", views.pipelines, name="pipelines"),
    path("stages/<int:pk>/record/", views.record_stage, name="record-stage"),
    path("photos/<int:pk>/<str:variant>/", views.photo, name="photo"),
]
