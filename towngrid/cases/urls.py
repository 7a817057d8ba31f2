from django.urls import path

from . import views

app_name = "cases"
urlpatterns = [
    path("", views.CaseListView.as_view(), name="list"),
    path("export.xlsx", views.export, name="export"),
    path("report/", views.report, name="report"),
    path("report/duplicates/", views.report_duplicates, name="report-duplicates"),
    path("report/photo-hint/", views.photo_hint, name="photo-hint"),
    path("report/done/<str:number>/", views.receipt, name="receipt"),
    path("mine/", views.queue, name="queue"),
    path("evaluation/", views.evaluation, name="evaluation"),
    path("evaluation/export.xlsx", views.evaluation_export, name="evaluation-export"),
    path("<str:number>/photos/<int:pk>/", views.photo, name="photo"),
    path("<str:number>/photos/<int:pk>/<str:variant>/", views.photo, name="photo-variant"),
    path("<str:number>/", views.CaseDetailView.as_view(), name="detail"),
]
