"""``towngrid accounts create-user`` and the action behind it."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from towngrid.accounts import actions
from towngrid.accounts.models import Department, User
from towngrid.core.models import AuditEvent

PASSWORD = "Correct-horse-42"


@pytest.fixture
def places(db):
    from towngrid.grids.models import GridNode, Kind, Level

    town = GridNode.objects.create(
        code="310115904", name="建号镇", level=Level.TOWN, kind=Kind.TOWN
    )
    area = GridNode.objects.create(
        code="3101159041", name="建号片区", level=Level.AREA, kind=Kind.AREA, parent=town
    )
    dept = Department.objects.create(code="cu-dept", name="建号测试部门")
    return town, area, dept


def run(monkeypatch, *args, password=PASSWORD):
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    out = io.StringIO()
    call_command("accounts", "create-user", *args, "--password-stdin", stdout=out)
    return out.getvalue()


def test_creates_a_grid_scoped_user(monkeypatch, places):
    _town, area, _dept = places
    out = run(monkeypatch, "area-x", "--role", "area_staff", "--scope", area.code, "--name", "张三")
    assert "area-x" in out
    user = User.objects.get(username="area-x")
    assert (user.role.code, user.scope, user.display_name) == ("area_staff", area, "张三")
    assert user.check_password(PASSWORD) and user.password.startswith("argon2")
    assert user.must_change_password  # an initial password
    event = AuditEvent.objects.get(action="accounts.user_created", object_id=str(user.pk))
    assert event.changes["scope"] == area.code and event.changes["role"] == "area_staff"


def test_creates_department_and_town_users(monkeypatch, places):
    *_, dept = places
    run(monkeypatch, "dept-x", "--role", "dept_handler", "--department", dept.code)
    assert User.objects.get(username="dept-x").department == dept
    run(monkeypatch, "leader-y", "--role", "town_leader")
    assert User.objects.get(username="leader-y").scope is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "no_such_role"], "未知角色"),
        (["--role", "grid_worker"], "必须指定网格范围"),
        (["--role", "grid_worker", "--scope", "999999999999999"], "不存在"),
        (["--role", "town_leader", "--scope", "310115904"], "不能指定网格范围"),
        (["--role", "dept_handler"], "必须指定部门"),
        (["--role", "dept_handler", "--department", "nope"], "不存在"),
        (["--role", "resident", "--department", "cu-dept"], "不能指定部门"),
    ],
)
def test_refuses_what_the_role_does_not_fit(monkeypatch, places, args, message):
    with pytest.raises(CommandError, match=message):
        run(monkeypatch, "bad-x", *args)
    assert not User.objects.filter(username="bad-x").exists()
    assert not AuditEvent.objects.filter(action="accounts.user_created").exists()


@pytest.mark.parametrize("weak", ["short", "1234567890123", "password123"])
def test_password_validators_apply(monkeypatch, places, weak):
    with pytest.raises(CommandError, match="密码不符合要求"):
        run(monkeypatch, "weak-x", "--role", "town_leader", password=weak)
    assert not User.objects.filter(username="weak-x").exists()


def test_username_must_be_free(monkeypatch, places):
    run(monkeypatch, "twice-x", "--role", "town_leader")
    with pytest.raises(CommandError, match="已存在"):
        run(monkeypatch, "TWICE-X", "--role", "town_leader")


def test_empty_stdin_and_no_terminal(monkeypatch, places):
    with pytest.raises(CommandError, match="没有密码"):
        run(monkeypatch, "nopw-x", "--role", "town_leader", password="")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="--password-stdin"):
        call_command("accounts", "create-user", "nopw-x", "--role", "town_leader")


def test_roles_subcommand_lists_every_role(db):
    from towngrid.accounts.roles import DEFAULT_ROLES

    out = io.StringIO()
    call_command("accounts", "roles", stdout=out)
    for code, *_ in DEFAULT_ROLES:
        assert code in out.getvalue()


def test_action_is_usable_without_the_cli(places, user_factory):
    admin = user_factory(username="sec-x", role="security_admin")
    user = actions.create_user(
        "api-made",
        role="town_leader",
        password=PASSWORD,
        must_change_password=False,
        actor=admin,
        reason="ticket 7",
    )
    assert not user.must_change_password
    event = AuditEvent.objects.get(action="accounts.user_created", object_id=str(user.pk))
    assert event.actor == admin and event.reason == "ticket 7"


def test_reset_password_forces_a_change_and_unlocks(places, user_factory):
    from django.utils import timezone

    admin = user_factory(username="sec-y", role="security_admin")
    user = user_factory(username="locked-y", role="town_leader", password=PASSWORD)
    User.objects.filter(pk=user.pk).update(locked_until=timezone.now(), failed_logins=3)
    user.refresh_from_db()
    actions.reset_password(admin, user, "Brand-new-pass-8", reason="forgot")
    user.refresh_from_db()
    assert user.must_change_password and user.locked_until is None and user.failed_logins == 0
    assert AuditEvent.objects.filter(action="accounts.password_reset", actor=admin).exists()


def test_complexity_validator():
    from django.core.exceptions import ValidationError

    from towngrid.accounts.backends import PasswordComplexityValidator

    validator = PasswordComplexityValidator()
    validator.validate("Correct-horse-42")
    validator.validate("abc-def-123")
    for weak in ["alllowercase", "lower-and-symbol", "12345678901"]:
        with pytest.raises(ValidationError):
            validator.validate(weak)
    assert "3" in validator.get_help_text()


def test_reset_password_and_unlock_commands(monkeypatch, places, user_factory):
    from django.utils import timezone

    user = user_factory(username="ops-z", role="town_leader", password=PASSWORD)
    User.objects.filter(pk=user.pk).update(locked_until=timezone.now(), failed_logins=2)
    call_command("accounts", "unlock", "ops-z", stdout=io.StringIO())
    user.refresh_from_db()
    assert user.locked_until is None and user.failed_logins == 0
    assert AuditEvent.objects.filter(action="accounts.unlocked", object_id=str(user.pk)).exists()

    monkeypatch.setattr("sys.stdin", io.StringIO("Brand-new-pass-9\n"))
    call_command("accounts", "reset-password", "ops-z", "--password-stdin", stdout=io.StringIO())
    user.refresh_from_db()
    assert user.check_password("Brand-new-pass-9") and user.must_change_password
    with pytest.raises(CommandError, match="不存在"):
        call_command("accounts", "unlock", "nobody-z")
