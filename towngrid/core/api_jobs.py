"""The jobs API: the caller's own background jobs and their progress."""

from __future__ import annotations

from rest_framework import mixins, serializers, viewsets
from rest_framework.routers import SimpleRouter

from .jobs import is_stale
from .models import Job
from .views_jobs import visible_jobs


class JobSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    stale = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "title",
            "status",
            "total",
            "done",
            "percent",
            "message",
            "result",
            "error",
            "file_name",
            "download_url",
            "stale",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_stale(self, job: Job) -> bool:
        return is_stale(job)

    def get_download_url(self, job: Job) -> str | None:
        from django.urls import reverse

        return reverse("jobs:download", args=[job.pk]) if job.file_name else None


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The caller's background jobs (imports, generated documents), newest first."""

    serializer_class = JobSerializer

    def get_queryset(self):
        return visible_jobs(self.request.user)


router = SimpleRouter()
router.register("jobs", JobViewSet, basename="job")
urlpatterns = router.urls
