from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


def personal_data_key_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """towngrid.E101: personal data cannot be encrypted with the configured key (in production:
    TOWNGRID_PERSONAL_DATA_KEY missing or malformed)."""
    from towngrid.core.personal import check_configuration

    problem = check_configuration()
    if problem is None:
        return []
    return [
        checks.Error(
            problem,
            hint='python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"',
            id="towngrid.E101",
        )
    ]


class RegistryConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "towngrid.registry"
    verbose_name = _("实有房屋、人口、单位和部件")

    def ready(self) -> None:
        checks.register(personal_data_key_check)
