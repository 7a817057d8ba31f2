from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "towngrid.cases"
    label = "cases"
    verbose_name = "一网统管案件"
