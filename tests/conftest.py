"""Shared fixtures.

The Beicai demo town is built into the test database once per session, on SQLite and PostgreSQL
alike, for the tests that ask for it::

    def test_something(demo_town, db):
        assert demo_town.micro_grid.level == 4

To keep the other tests fast and their database empty, tests that use ``demo_town`` (directly or
through ``login_as`` / ``demo_user``) are moved to the end of the run (stable order otherwise):
every test before them runs on an empty grid and never pays for the build; the first demo test
builds the town (about 3 s), committed, and every later one reuses it inside its own rolled-back
transaction.

``login_as("grid_worker")`` gives a test client logged in as the demo login of a role;
``demo_user("grid_worker")`` gives the user; ``user_factory(...)`` makes further users.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

DEMO_FIXTURES = {"demo_town"}


def pytest_collection_modifyitems(config, items):
    """Demo-town tests last, transactional ones among them at the very end (a transactional test
    flushes the tables, which would take the committed demo town with it). Runs after
    pytest-django's own reordering (tryfirst) and keeps it within each group."""

    def key(item) -> tuple[bool, bool]:
        names = set(getattr(item, "fixturenames", ()))
        demo = bool(names & DEMO_FIXTURES)
        return demo, demo and bool(names & {"transactional_db", "live_server"})

    items.sort(key=key)


@pytest.fixture(autouse=True)
def _zh_hans(settings):
    settings.LANGUAGE_CODE = "zh-hans"


@pytest.fixture(autouse=True)
def _jobs_inline(settings):
    """Background jobs run inline, inside the test's transaction (core/jobs.py)."""
    settings.TOWNGRID_JOBS_INLINE = True


@pytest.fixture(autouse=True)
def _config_caches():
    """Per-process caches of settings, calendar overrides and time limits are cleared by signals,
    but a rolled-back test sends none: clear them around every test."""
    from towngrid.core.config import clear_all_caches

    clear_all_caches()
    yield
    clear_all_caches()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's set-up; then, if a reused database (--reuse-db) still holds the demo town
    from an earlier run, remove it, so the tests before the demo tests see an empty grid."""
    from towngrid.demo.build import demo_town_exists, remove_demo_town

    with django_db_blocker.unblock():
        if demo_town_exists():
            remove_demo_town()


@pytest.fixture(scope="session")
def _demo_town_built(django_db_setup, django_db_blocker) -> None:
    """Build the demo town once (at ``extras.TEST_SCALE`` for the registry), committed outside
    every test's transaction."""
    with django_db_blocker.unblock():
        _build_demo()


def _build_demo() -> None:
    from towngrid.demo.build import build_demo_town, demo_town_exists
    from towngrid.demo.extras import TEST_SCALE, build_demo_extras

    if not demo_town_exists():
        build_demo_town(progress=False)
    build_demo_extras(scale=TEST_SCALE)


@dataclass
class DemoTown:
    """Handles on the demo town for tests."""

    town: object
    area: object  # 联勤南新片区, the area login's scope
    community: object  # 联勤村, the community login's scope
    micro_grid: object  # the gridleader/gridworker logins' micro-grid
    users: dict = field(default_factory=dict)  # username → User

    def user(self, role_code: str):
        """The demo login of a role (``"admin"`` for the superuser)."""
        return _demo_user(role_code)


def _demo_user(role_code: str):
    from towngrid.accounts.models import User

    qs = User.objects.select_related("role", "scope", "department").filter(is_demo=True)
    if role_code in {"admin", "superuser"}:
        return qs.get(is_superuser=True, username="admin")
    return qs.filter(role__code=role_code).order_by("id").first() or qs.get(username=role_code)


@pytest.fixture
def demo_town(_demo_town_built, db) -> DemoTown:
    from towngrid.accounts.models import User
    from towngrid.demo import data
    from towngrid.demo.build import demo_town_exists
    from towngrid.grids.models import GridNode

    if not demo_town_exists():
        # Flushed by an earlier transactional test: build again (inside this test's transaction
        # unless the test is transactional itself).
        _build_demo()
    nodes = GridNode.objects.filter(code__startswith=data.TOWN_CODE, level__lte=3)
    by_name = {(n.level, n.name): n for n in nodes}
    users = {u.username: u for u in User.objects.filter(is_demo=True).select_related("scope")}
    return DemoTown(
        town=GridNode.objects.get(code=data.TOWN_CODE),
        area=by_name[(2, data.DEMO_SCOPE_AREA)],
        community=by_name[(3, data.DEMO_SCOPE_COMMUNITY)],
        micro_grid=users["gridleader"].scope,
        users=users,
    )


@pytest.fixture
def demo_user(demo_town) -> Callable:
    """``demo_user("grid_worker")`` → the demo User holding that role."""
    return _demo_user


@pytest.fixture
def login_as(demo_town, client) -> Callable:
    """``login_as("grid_worker")`` → a test client logged in as that role's demo login (or pass a
    User). The client carries the user as ``client.user``. Each call logs the same client in
    afresh; use ``django.test.Client()`` for two sessions at once."""

    def _login(who):
        user = who if hasattr(who, "pk") else _demo_user(who)
        client.logout()
        client.force_login(user)
        client.user = user
        return client

    return _login


@pytest.fixture
def user_factory(db) -> Callable:
    """Make a user: ``user_factory(role="grid_worker", scope="310115125601001")``.

    ``role`` is a role code, ``scope`` a GridNode or grid code, ``department`` a Department or
    department code; the password is ``password`` (default: a valid throwaway one)."""
    from towngrid.accounts.models import Department, Role, User
    from towngrid.grids.models import GridNode

    counter = iter(range(1, 10**6))

    def _make(
        *,
        role: str | None = None,
        scope=None,
        department=None,
        username: str | None = None,
        password: str = "test-pass-12345",
        **extra,
    ):
        if isinstance(scope, str):
            scope = GridNode.objects.get(code=scope)
        if isinstance(department, str):
            department = Department.objects.get(code=department)
        user = User(
            username=username or f"user{next(counter)}",
            role=Role.objects.get(code=role) if role else None,
            scope=scope,
            department=department,
            **extra,
        )
        user.set_password(password)
        user.save()
        return user

    return _make
