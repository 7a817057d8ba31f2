"""Routes of the cases API; included under ``api/v1/`` in towngrid/urls.py."""

from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("cases", api.CaseViewSet, basename="case")
router.register("categories", api.CategoryViewSet, basename="category")

urlpatterns = router.urls
