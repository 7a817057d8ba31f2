from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CodesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "towngrid.codes"
    verbose_name = _("一码通用与三色管理")

    def ready(self) -> None:
        # Signal receivers: scan/check-in upkeep, and the colour engine's recomputation when a
        # registry object or a case about it changes.
        from . import colour_receivers, receivers  # noqa: F401
