from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.generic import DetailView

from towngrid.core.views import ScopedQuerysetMixin

from .models import GridNode


@login_required
def grid_map(request):
    return render(request, "grids/map.html")


class GridDetailView(ScopedQuerysetMixin, DetailView):
    model = GridNode
    slug_field = "code"
    slug_url_kwarg = "code"
    template_name = "grids/detail.html"
    context_object_name = "node"
