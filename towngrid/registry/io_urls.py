"""The registry's Excel pages, included at ``/registry/io/`` inside the "registry" namespace."""

from django.urls import path

from . import views_io

urlpatterns = [
    path("", views_io.index, name="io"),
    path("upload/", views_io.upload, name="io_upload"),
    path("batches/<int:pk>/", views_io.batch_detail, name="io_batch"),
    path("batches/<int:pk>/commit/", views_io.batch_commit, name="io_commit"),
    path("template/<str:type_key>/", views_io.template, name="io_template"),
    path("export/<str:type_key>/", views_io.export, name="io_export"),
    path("export/<str:type_key>/options/", views_io.export_form, name="io_export_form"),
]
