from django.apps import AppConfig


class GridsConfig(AppConfig):
    name = "towngrid.grids"
    label = "grids"
    verbose_name = "五级网格"
