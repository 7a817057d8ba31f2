from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "towngrid.reports"
    verbose_name = _("报表与大屏")

    def ready(self) -> None:
        from towngrid.cases.signals import case_changed

        from . import rollups

        case_changed.connect(rollups.on_case_changed, dispatch_uid="reports.rollups")
