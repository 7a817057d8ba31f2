from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from towngrid.accounts.views import admin_login
from towngrid.core import views_home

# The admin logs in through towngrid's login (lockout, audit, second factor).
admin.site.login = admin_login

api_v1 = [
    path("", include("towngrid.accounts.api_urls")),
    path("", include("towngrid.grids.api_urls")),
    path("", include("towngrid.cases.api_urls")),
    path("", include("towngrid.cases.api_evaluation_urls")),
    path("", include("towngrid.core.api_notifications")),
    path("", include("towngrid.core.api_jobs")),
    path("", include("towngrid.registry.api_urls")),
    path("", include("towngrid.registry.io_api_urls")),
    path("", include("towngrid.codes.api_urls")),
    path("", include("towngrid.sensing.api_urls")),
    path("", include("towngrid.programs.api_urls")),
    path("", include("towngrid.reports.api_urls")),
]

urlpatterns = [
    path("", views_home.home, name="home"),
    path("accounts/", include("towngrid.accounts.urls")),
    path("grids/", include("towngrid.grids.urls")),
    path("cases/", include("towngrid.cases.urls")),
    path("open311/", include("towngrid.open311.urls")),
    path("report/", include("towngrid.open311.resident_urls")),
    path("registry/", include("towngrid.registry.urls")),
    path("codes/", include("towngrid.codes.urls")),
    path("c/", include("towngrid.codes.scan_urls")),
    path("sensing/", include("towngrid.sensing.urls")),
    path("programs/", include("towngrid.programs.urls")),
    path("reports/", include("towngrid.reports.urls")),
    path("jobs/", include("towngrid.core.urls_jobs")),
    path("notifications/", include("towngrid.core.urls_notifications")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
