"""The half-year report pages, included at /reports/half-year/ in the ``reports`` namespace."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="halfyear"),
    path("generate/", views.start, name="halfyear-generate"),
]
