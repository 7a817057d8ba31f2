"""Routes of the registry import/export API; included under ``api/v1/``."""

from django.urls import path

from . import api_io

urlpatterns = [
    path("registry/import/<str:type_key>/", api_io.ImportView.as_view(), name="registry-import"),
    path(
        "registry/import/<str:type_key>/template/",
        api_io.TemplateView.as_view(),
        name="registry-import-template",
    ),
    path("registry/export/<str:type_key>/", api_io.ExportView.as_view(), name="registry-export"),
]
