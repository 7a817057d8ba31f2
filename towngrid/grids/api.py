from rest_framework import serializers, viewsets

from towngrid.core.api import ScopedViewSetMixin

from .models import GridNode


class GridNodeSerializer(serializers.ModelSerializer):
    parent_code = serializers.CharField(source="parent.code", default=None, read_only=True)

    class Meta:
        model = GridNode
        fields = ["code", "name", "level", "kind", "parent_code", "centroid_lng", "centroid_lat", "area_m2"]


class GridNodeViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = GridNode.objects.select_related("parent")
    serializer_class = GridNodeSerializer
    lookup_field = "code"
