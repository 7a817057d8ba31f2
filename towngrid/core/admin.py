from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail, read-only: no one adds, changes or deletes events here, and only the
    superuser and roles with ``audit.view`` (the audit administrator, 三权分立) may read it."""

    list_display = ["at", "actor_name", "action", "object_type", "object_repr", "client_ip"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "action", "object_repr", "object_id", "reason", "client_ip"]
    date_hierarchy = "at"
    readonly_fields = [
        "at",
        "actor",
        "actor_name",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "changes",
        "reason",
        "client_ip",
    ]
    actions = None

    def _may_read(self, request) -> bool:
        from towngrid.accounts.access import has_capability

        return (
            request.user.is_active
            and request.user.is_staff
            and (request.user.is_superuser or has_capability(request.user, "audit.view"))
        )

    def has_module_permission(self, request):
        return self._may_read(request)

    def has_view_permission(self, request, obj=None):
        return self._may_read(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
