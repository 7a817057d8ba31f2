"""A URLconf with views that forget the grid scope, for tests/core/test_checks.py."""

from django.urls import path
from django.views.generic import DetailView, ListView
from rest_framework import viewsets
from rest_framework.routers import SimpleRouter

from towngrid.core.api import ScopedViewSetMixin
from towngrid.core.views import ScopedQuerysetMixin
from towngrid.grids.api import GridNodeSerializer
from towngrid.grids.models import DutyAssignment, GridNode


class ForgetfulViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = GridNode.objects.all()
    serializer_class = GridNodeSerializer


class SerializerOnlyViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = GridNodeSerializer

    def get_queryset(self):
        return GridNode.objects.all()


class WrongOrderViewSet(viewsets.ReadOnlyModelViewSet, ScopedViewSetMixin):
    queryset = GridNode.objects.all()
    serializer_class = GridNodeSerializer


class GoodViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = GridNode.objects.all()
    serializer_class = GridNodeSerializer


class ForgetfulListView(ListView):
    model = DutyAssignment


class WrongOrderDetailView(DetailView, ScopedQuerysetMixin):
    model = GridNode


class GoodDetailView(ScopedQuerysetMixin, DetailView):
    model = GridNode


class ExemptListView(ListView):
    model = GridNode
    scope_exempt = "public outline of the town, no personal data"


router = SimpleRouter()
router.register("forgetful", ForgetfulViewSet, basename="forgetful")
router.register("serializer-only", SerializerOnlyViewSet, basename="serializer-only")
router.register("wrong-order", WrongOrderViewSet, basename="wrong-order")
router.register("good", GoodViewSet, basename="good")

urlpatterns = [
    path("duties/", ForgetfulListView.as_view()),
    path("nodes/<int:pk>/wrong/", WrongOrderDetailView.as_view()),
    path("nodes/<int:pk>/", GoodDetailView.as_view()),
    path("outline/", ExemptListView.as_view()),
    *router.urls,
]
