from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "towngrid.core"
    label = "core"
    verbose_name = "核心"

    def ready(self):
        from . import checks  # noqa: F401 - registers the scope system check
