from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class Open311Config(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "towngrid.open311"
    verbose_name = _("Open311 接口")

    def ready(self) -> None:
        from . import conf  # noqa: F401 - registers the configuration keys
