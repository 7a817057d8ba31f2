from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "towngrid.demo"
    label = "demo"
    verbose_name = "演示镇"
