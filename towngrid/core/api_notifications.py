"""The notifications API (the bell): the caller's own notifications, the unread count, and
marking them read. Notifications belong to one user, so every query filters on the caller;
there is no grid scope to apply and nobody can read or mark another user's."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from . import notify
from .api import ApiError
from .models import Notification


class NotificationSerializer(serializers.ModelSerializer):
    unread = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "title",
            "body",
            "url",
            "object_type",
            "object_id",
            "created_at",
            "read_at",
            "unread",
        ]

    def get_unread(self, obj: Notification) -> bool:
        return obj.read_at is None


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    all = serializers.BooleanField(required=False, default=False)


COUNT = inline_serializer("UnreadCount", {"unread": serializers.IntegerField()})


class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's notifications, newest first."""

    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer

    def get_queryset(self):
        qs = super().get_queryset().filter(user=self.request.user)
        unread = self.request.query_params.get("unread")
        if unread in {"1", "true"}:
            qs = qs.filter(read_at__isnull=True)
        return qs

    @extend_schema(
        parameters=[OpenApiParameter("unread", bool, description="只看未读")],
        summary="我的通知",
    )
    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        if isinstance(response.data, dict):
            response.data["unread"] = notify.unread_count(request.user)
        return response

    @extend_schema(responses={200: COUNT}, summary="未读通知数（角标）")
    @action(detail=False, methods=["get"], url_path="unread_count")
    def unread_count(self, request):
        return Response({"unread": notify.unread_count(request.user)})

    @extend_schema(
        request=MarkReadSerializer,
        responses={
            200: inline_serializer(
                "MarkedRead",
                {"marked": serializers.IntegerField(), "unread": serializers.IntegerField()},
            )
        },
        summary="标为已读：ids 列表，或 all=true 全部",
    )
    @action(detail=False, methods=["post"], url_path="mark_read")
    def mark_read(self, request):
        serializer = MarkReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data.get("all"):
            marked = notify.mark_read(request.user, "all")
        elif data.get("ids"):
            marked = notify.mark_read(request.user, data["ids"])
        else:
            raise ApiError("invalid", "请指定要标为已读的通知 ids，或 all=true。")
        return Response({"marked": marked, "unread": notify.unread_count(request.user)})


router = SimpleRouter()
router.register("notifications", NotificationViewSet, basename="notification")
urlpatterns = router.urls
