from django.urls import path

from . import views_jobs

app_name = "jobs"
urlpatterns = [
    path("<int:pk>/", views_jobs.detail, name="detail"),
    path("<int:pk>/progress/", views_jobs.progress, name="progress"),
    path("<int:pk>/download/", views_jobs.download, name="download"),
]
