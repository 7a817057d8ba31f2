from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "towngrid.core"
    label = "core"
    verbose_name = "核心"
