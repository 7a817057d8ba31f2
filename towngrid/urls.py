from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from towngrid.core import views_home

api_v1 = [
    path("", include("towngrid.accounts.api_urls")),
    path("", include("towngrid.grids.api_urls")),
    path("", include("towngrid.cases.api_urls")),
    path("", include("towngrid.cases.api_evaluation_urls")),
    path("", include("towngrid.core.api_notifications")),
]

urlpatterns = [
    path("", views_home.home, name="home"),
    path("accounts/", include("towngrid.accounts.urls")),
    path("grids/", include("towngrid.grids.urls")),
    path("cases/", include("towngrid.cases.urls")),
    path("open311/", include("towngrid.open311.urls")),
    path("report/", include("towngrid.open311.resident_urls")),
    path("notifications/", include("towngrid.core.urls_notifications")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
