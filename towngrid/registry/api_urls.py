"""Routes of the registry API; included under ``api/v1/`` in towngrid/urls.py."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("registry/houses", api.HouseViewSet, basename="registry-house")
router.register("registry/households", api.HouseholdViewSet, basename="registry-household")
router.register("registry/residents", api.ResidentViewSet, basename="registry-resident")
router.register("registry/enterprises", api.EnterpriseViewSet, basename="registry-enterprise")
router.register("registry/visits", api.EnterpriseVisitViewSet, basename="registry-visit")
router.register("registry/shops", api.ShopViewSet, basename="registry-shop")
router.register("registry/components", api.ComponentViewSet, basename="registry-component")
router.register(
    "registry/underground", api.UndergroundSpaceViewSet, basename="registry-underground"
)
router.register("registry/parcels", api.LandParcelViewSet, basename="registry-parcel")

urlpatterns = [
    path("registry/counts/", api.CountsView.as_view(), name="registry-counts"),
    *router.urls,
]
