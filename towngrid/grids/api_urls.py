from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import api

router = DefaultRouter(trailing_slash=True)
router.register("grids", api.GridNodeViewSet, basename="grid")

urlpatterns = [path("", include(router.urls))]
