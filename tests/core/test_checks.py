"""The system check towngrid.E001: a view over a scoped model without the scoped base fails
``towngrid check`` (and this suite)."""

from django.core import checks
from django.core.management import call_command
from django.test import override_settings

from towngrid.core.checks import check_scoped_views


def test_the_real_urlconf_passes():
    problems = check_scoped_views()
    assert [p for p in problems if p.level >= checks.WARNING] == [], problems


def test_registered_with_django_checks():
    messages = checks.run_checks(tags=[checks.Tags.security])
    assert not [m for m in messages if m.id and m.id.startswith("towngrid.")]
    assert check_scoped_views in checks.registry.registry.get_checks()


@override_settings(ROOT_URLCONF="tests.core.scope_check_urls")
def test_forgotten_scope_is_an_error():
    problems = check_scoped_views()
    errors = {p.obj.__name__: p for p in problems if p.id == "towngrid.E001"}
    assert set(errors) == {
        "ForgetfulViewSet",
        "SerializerOnlyViewSet",
        "WrongOrderViewSet",
        "ForgetfulListView",
        "WrongOrderDetailView",
    }
    assert "put it first" in errors["WrongOrderViewSet"].msg
    assert "grids.DutyAssignment" in errors["ForgetfulListView"].msg
    assert all(p.level == checks.ERROR for p in errors.values())


@override_settings(ROOT_URLCONF="tests.core.scope_check_urls")
def test_towngrid_check_command_fails(capsys):
    import pytest
    from django.core.management.base import SystemCheckError

    with pytest.raises(SystemCheckError) as excinfo:
        call_command("check")
    assert "towngrid.E001" in str(excinfo.value)
