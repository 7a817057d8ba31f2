"""Role × endpoint matrix: grid scope is the security boundary, proved on every endpoint.

Nothing here lists endpoints. They are discovered from the URLconf (``core.scoping.iter_routes``):

- every DRF view or viewset and every Django generic view whose model is scoped (declares
  ``scope_field``) gives its list, detail and extra actions;
- every other GET route without URL arguments (function views included), and every route whose
  only argument is ``code``, is swept for leaks.

For each endpoint and each principal (every role of ``roles.DEFAULT_ROLES`` scoped where its work
is, plus edge cases) the matrix checks, against an expectation computed here from the model's
declared ``scope_field`` / ``department_field`` (not through ``accounts.access``):

- a list holds exactly the rows inside the scope (all rows for town roles, none for residents and
  the security/audit administrators);
- a detail (or a detail action) of a row outside the scope is a 404 (403 for users with no data at
  all), inside a 200;
- no response carries the code of a grid outside the scope (ancestors excepted);
- anonymous requests get 401/403 from the API and a redirect to the login page from pages.

An endpoint added later by any app is picked up without editing this file; its app adds rows of
its model to the fixture town through ``tests/<app>/scope_samples.py`` (see scope_world.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.urls import reverse

from towngrid.accounts.access import is_scoped_model
from towngrid.core.scoping import Route, is_scope_exempt, iter_routes

from .scope_world import PRINCIPAL_KEYS, PRINCIPALS, TOWN, build_world

# Back office, schema, static files and the login machinery are not data endpoints.
EXCLUDED = re.compile(r"^(\^?)(admin/|api/schema|api/docs|i18n/|static/|media/|__debug__)")
EXCLUDED_NAMES = {"api-auth-token", "api-auth-token-revoke", "accounts:logout", "accounts:login"}
JSON = {"HTTP_ACCEPT": "application/json"}
DENIED = object()


@dataclass(frozen=True)
class Endpoint:
    id: str
    route: Route
    api: bool
    kind: str  # "list", "detail", "action-list", "action-detail"
    model: type | None
    lookup_attr: str = "pk"  # attribute of the object that goes into the URL
    lookup_kwarg: str | None = None  # the URL's argument

    def url(self, obj=None, value=None) -> str:
        kwargs = {}
        if self.lookup_kwarg:
            if value is None:
                value = getattr(obj, self.lookup_attr)
            kwargs[self.lookup_kwarg] = value
        return url_for(self.route, kwargs)


def url_for(route: Route, kwargs: dict) -> str:
    if route.name:
        return reverse(route.name, kwargs=kwargs or None)
    # Unnamed pattern: substitute the arguments into the pattern text.
    text = route.route.lstrip("^").rstrip("$")
    for name, value in kwargs.items():
        text = re.sub(rf"<(?:\w+:)?{name}>|\(\?P<{name}>[^)]*\)", str(value), text)
    return "/" + text


def _drf_kind(route: Route, cls) -> tuple[str, str, str] | None:
    from rest_framework import mixins

    lookup_attr = getattr(cls, "lookup_field", "pk") or "pk"
    kwarg = getattr(cls, "lookup_url_kwarg", None) or lookup_attr
    if route.actions:
        action = route.actions.get("get")
        if action is None:
            return None  # a write-only route (import …): not a read endpoint
        if action == "list":
            kind = "list"
        elif action == "retrieve":
            kind = "detail"
        else:
            kind = "action-detail" if kwarg in route.kwargs else "action-list"
        return kind, lookup_attr, kwarg
    if not hasattr(cls, "get"):
        return None
    if kwarg in route.kwargs:
        kind = "detail" if issubclass(cls, mixins.RetrieveModelMixin) else "action-detail"
    else:
        kind = "list" if issubclass(cls, mixins.ListModelMixin) else "action-list"
    return kind, lookup_attr, kwarg


def _page_kind(route: Route, cls) -> tuple[str, str, str | None] | None:
    from django.views.generic.detail import SingleObjectMixin
    from django.views.generic.list import MultipleObjectMixin

    if not hasattr(cls, "get"):
        return None
    if issubclass(cls, SingleObjectMixin):
        if cls.slug_url_kwarg in route.kwargs:
            return "detail", cls.slug_field, cls.slug_url_kwarg
        return "detail", "pk", cls.pk_url_kwarg
    if issubclass(cls, MultipleObjectMixin):
        return "list", "pk", None
    return None


def discover() -> tuple[list[Endpoint], list[Endpoint], list[str]]:
    """(scoped endpoints, other GET routes to sweep for leaks, problems found)."""
    scoped: list[Endpoint] = []
    sweep: list[Endpoint] = []
    problems: list[str] = []
    seen: set[str] = set()
    for route in iter_routes():
        if EXCLUDED.match(route.route) or route.name in EXCLUDED_NAMES:
            continue
        if "format" in route.kwargs:  # DRF's format-suffix twins of routes already seen
            continue
        api = route.is_drf or route.route.lstrip("^").startswith("api/")
        label = f"{'api' if api else 'page'}:{route.name or route.route}"
        if label in seen:
            continue
        seen.add(label)
        cls = route.view_class
        model = route.model
        if cls is not None and model is not None and is_scoped_model(model):
            if is_scope_exempt(cls):
                continue
            shape = _drf_kind(route, cls) if route.is_drf else _page_kind(route, cls)
            if shape is None:
                continue
            kind, attr, kwarg = shape
            if kind in {"list", "action-list"}:
                kwarg = None
            extra = set(route.kwargs) - ({kwarg} if kwarg else set())
            if extra:
                problems.append(f"{label}: cannot fill URL arguments {sorted(extra)}")
                continue
            scoped.append(Endpoint(label, route, api, kind, model, attr, kwarg))
        elif not route.kwargs:
            sweep.append(Endpoint(label, route, api, "plain", model))
        elif set(route.kwargs) == {"code"}:
            sweep.append(Endpoint(label, route, api, "code", model, "code", "code"))
    return scoped, sweep, problems


SCOPED, SWEEP, PROBLEMS = discover()
LISTS = [e for e in SCOPED if e.kind == "list"]
DETAILS = [e for e in SCOPED if e.kind in {"detail", "action-detail"}]
ACTION_LISTS = [e for e in SCOPED if e.kind == "action-list"]


def _ids(endpoints):
    return [e.id for e in endpoints]


# --- the fixture town, built once for the module and rolled back at its end ---------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        built = build_world()
        built.cache = {}
        yield built
        transaction.set_rollback(True)


def client_for(world, who: str | None) -> Client:
    client = Client()
    if who is not None:
        client.force_login(world.users[who])
    return client


# --- expectations, from the models' declarations --------------------------------------------


def scope_kind(world, who: str) -> str:
    user = world.users[who]
    if user.is_superuser:
        return "town"
    return user.role.scope_kind if user.role else "none"


def values_at(obj, path: str) -> list:
    current = [obj]
    for part in path.split("__"):
        following = []
        for item in current:
            if item is None:
                continue
            value = getattr(item, part)
            if hasattr(value, "all") and callable(value.all):
                following.extend(value.all())
            else:
                following.append(value)
        current = following
    return current


def expected_visible(world, who: str, model, obj) -> bool:
    kind = scope_kind(world, who)
    user = world.users[who]
    if kind == "town":
        return True
    if kind == "grid":
        if user.scope_id is None:
            return False
        return any(str(v).startswith(user.scope.code) for v in values_at(obj, model.scope_field))
    if kind == "department":
        if getattr(model, "department_sees_all", False):
            return True
        field = getattr(model, "department_field", None)
        if not field or user.department_id is None:
            return False
        return any(getattr(v, "pk", v) == user.department_id for v in values_at(obj, field))
    return False


def expected_visible_elsewhere(world, who: str, model) -> bool:
    """Rows outside the fixture town (the demo town's): only town roles, and departments for
    reference data, see them; the fixture's department owns none of them."""
    kind = scope_kind(world, who)
    return kind == "town" or (kind == "department" and getattr(model, "department_sees_all", False))


def world_rows(world, model) -> list:
    key = ("rows", model)
    if key not in world.cache:
        qs = model._default_manager.filter(**{f"{model.scope_field}__startswith": TOWN})
        world.cache[key] = list(qs.distinct())
    return world.cache[key]


def all_grid_codes(world) -> set[str]:
    from towngrid.grids.models import GridNode

    if "codes" not in world.cache:
        world.cache["codes"] = set(GridNode.objects.values_list("code", flat=True))
    return world.cache["codes"]


def forbidden_codes(world, who: str) -> set[str]:
    """Grid codes this principal must never be shown: everything outside its subtree except the
    subtree's ancestors (a path is shown with the grid it leads to)."""
    from towngrid.grids.models import GridNode

    kind = scope_kind(world, who)
    codes = all_grid_codes(world)
    if kind == "town":
        return set()
    if kind == "department":
        return set() if getattr(GridNode, "department_sees_all", False) else codes
    user = world.users[who]
    if kind == "grid" and user.scope_id:
        scope = user.scope.code
        return {c for c in codes if not (c.startswith(scope) or scope.startswith(c))}
    return codes


def assert_no_leak(world, who: str, response, where: str, echoed: tuple = ()) -> None:
    """No forbidden grid code in the body. A code the request itself named may be echoed back
    in a refusal (4xx), e.g. "grid 3101159012 not found", and in nothing else."""
    body = response.content.decode("utf-8", errors="replace")
    shown = set(re.findall(r"\d+", body))
    if response.status_code >= 400:
        shown -= set(echoed)
    leaked = shown & forbidden_codes(world, who)
    assert not leaked, f"{where} shows {who} grids outside its scope: {sorted(leaked)[:10]}"


# --- reading responses ----------------------------------------------------------------------


def items_of(data) -> list[dict]:
    if isinstance(data, dict):
        if "features" in data:
            out = []
            for feature in data["features"]:
                item = dict(feature.get("properties") or {})
                if "id" in feature:
                    item.setdefault("id", feature["id"])
                out.append(item)
            return out
        if "results" in data:
            data = data["results"]
    assert isinstance(data, list), f"cannot find the list in the response: {str(data)[:200]}"
    return data


def key_of(item: dict, attr: str) -> str:
    for name in (attr, "id", "pk"):
        if name in item and item[name] is not None:
            return str(item[name])
    raise AssertionError(f"a list item carries no `{attr}`, `id` or `pk`: {item}")


def listed_keys(world, endpoint: Endpoint, who: str):
    client = client_for(world, who)
    if endpoint.api:
        # Every page at once: both list paginations in use understand one of these.
        url = endpoint.url() + "?" + urlencode({"limit": 100000, "page_size": 100000})
        response = client.get(url, **JSON)
        if response.status_code in (403, 404):
            return DENIED, response
        assert response.status_code == 200, (response.status_code, response.content[:300])
        return {key_of(i, endpoint.lookup_attr) for i in items_of(response.json())}, response
    response = client.get(endpoint.url())
    if response.status_code in (403, 404):
        return DENIED, response
    assert response.status_code == 200, response.status_code
    paginator = response.context.get("paginator")
    rows = paginator.object_list if paginator is not None else response.context["object_list"]
    return {str(getattr(o, endpoint.lookup_attr)) for o in rows}, response


# --- the discovery itself -------------------------------------------------------------------


def test_discovery_finds_the_known_endpoints():
    ids = set(_ids(SCOPED))
    assert {"api:grid-list", "api:grid-detail", "page:grids:detail"} <= ids, sorted(ids)


def test_every_scoped_endpoint_can_be_exercised():
    assert not PROBLEMS, PROBLEMS


def test_every_role_is_in_the_matrix():
    from towngrid.accounts.roles import DEFAULT_ROLES

    assert {code for code, *_ in DEFAULT_ROLES} <= {p.role for p in PRINCIPALS}


@pytest.mark.parametrize("model_label", sorted({e.model._meta.label for e in SCOPED}))
def test_fixture_town_has_rows_of_every_served_model(world, db, model_label):
    """Without rows in two branches a list could leak and still pass: add samples for the model
    in tests/<app>/scope_samples.py (see tests/accounts/scope_world.py)."""
    from django.apps import apps

    model = apps.get_model(model_label)
    rows = world_rows(world, model)
    branches = {str(v)[: len(TOWN) + 1] for r in rows for v in values_at(r, model.scope_field)}
    assert len(branches) >= 2, f"{model_label}: rows in {len(branches)} area(s) of the fixture"


# --- the matrix -----------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", LISTS, ids=_ids(LISTS))
@pytest.mark.parametrize("who", PRINCIPAL_KEYS)
def test_list_holds_exactly_the_scope(world, db, who, endpoint):
    model = endpoint.model
    cache_key = ("baseline", endpoint.id)
    if cache_key not in world.cache:
        world.cache[cache_key] = listed_keys(world, endpoint, "superuser")[0]
    baseline = world.cache[cache_key]
    assert baseline is not DENIED
    rows = {str(getattr(r, endpoint.lookup_attr)): r for r in world_rows(world, model)}
    expected = {
        k
        for k in baseline
        if (
            expected_visible(world, who, model, rows[k])
            if k in rows
            else expected_visible_elsewhere(world, who, model)
        )
    }
    got, response = listed_keys(world, endpoint, who)
    if got is DENIED:
        assert not expected, f"{who} is refused {endpoint.id} but should see {len(expected)} rows"
        return
    assert got <= baseline, f"{who} sees rows the superuser does not: {sorted(got - baseline)[:5]}"
    outside = got - expected
    assert not outside, f"{who} sees rows outside its scope: {sorted(outside)[:10]}"
    missing = expected - got
    assert not missing, f"{who} misses rows inside its scope: {sorted(missing)[:10]}"
    assert_no_leak(world, who, response, endpoint.id)


@pytest.mark.parametrize("endpoint", DETAILS, ids=_ids(DETAILS))
@pytest.mark.parametrize("who", PRINCIPAL_KEYS)
def test_detail_inside_scope_only(world, db, who, endpoint):
    model = endpoint.model
    client = client_for(world, who)
    rows = world_rows(world, model)
    assert rows, f"no rows of {model._meta.label} in the fixture town"
    extra = JSON if endpoint.api else {}
    for obj in rows:
        url = endpoint.url(obj)
        response = client.get(url, **extra)
        if expected_visible(world, who, model, obj):
            if endpoint.kind == "detail":
                assert response.status_code == 200, f"{who} GET {url}: {response.status_code}"
            else:
                assert response.status_code < 500, f"{who} GET {url}: {response.status_code}"
            assert_no_leak(world, who, response, url)
        else:
            allowed = {404} if scope_kind(world, who) in {"grid", "town", "department"} else set()
            allowed |= {404, 403} if scope_kind(world, who) == "none" else set()
            if scope_kind(world, who) == "grid" and world.users[who].scope_id is None:
                allowed |= {403}
            assert response.status_code in allowed, (
                f"{who} GET {url} outside its scope: {response.status_code}, expected {allowed}"
            )


@pytest.mark.parametrize("endpoint", ACTION_LISTS, ids=_ids(ACTION_LISTS))
@pytest.mark.parametrize("who", PRINCIPAL_KEYS)
def test_list_actions_show_nothing_outside_scope(world, db, who, endpoint):
    response = client_for(world, who).get(endpoint.url(), **JSON)
    assert response.status_code < 500, response.status_code
    assert_no_leak(world, who, response, endpoint.id)


# Query parameters through which a list could be pointed at another grid.
GRID_PARAMS = ["root", "parent", "code", "grid", "scope", "within", "under"]


def probe_codes(world, who: str) -> list[str]:
    """One forbidden grid of the fixture per level (area, community, micro-grid, group)."""
    forbidden = forbidden_codes(world, who)
    by_length = {}
    for code in sorted(world.nodes):
        if code in forbidden:
            by_length.setdefault(len(code), code)
    return [by_length[n] for n in sorted(by_length)]


@pytest.mark.parametrize("endpoint", LISTS + ACTION_LISTS, ids=_ids(LISTS + ACTION_LISTS))
@pytest.mark.parametrize("who", PRINCIPAL_KEYS)
def test_grid_parameters_cannot_reach_outside_scope(world, db, who, endpoint):
    """``?root=``, ``?parent=`` … naming a grid outside the scope must not show it."""
    client = client_for(world, who)
    extra = JSON if endpoint.api else {}
    for code in probe_codes(world, who):
        for param in GRID_PARAMS:
            url = f"{endpoint.url()}?{urlencode({param: code})}"
            response = client.get(url, **extra)
            assert response.status_code < 500, (url, response.status_code)
            assert_no_leak(world, who, response, url, echoed=(code,))


@pytest.mark.parametrize("endpoint", SWEEP, ids=_ids(SWEEP))
@pytest.mark.parametrize("who", PRINCIPAL_KEYS)
def test_other_routes_show_nothing_outside_scope(world, db, who, endpoint):
    from towngrid.grids.models import GridNode

    client = client_for(world, who)
    extra = JSON if endpoint.api else {}
    if endpoint.kind == "plain":
        response = client.get(endpoint.url(), **extra)
        assert response.status_code < 500, response.status_code
        assert_no_leak(world, who, response, endpoint.id)
        return
    forbidden = forbidden_codes(world, who)
    for code in world.nodes:
        url = endpoint.url(value=code)
        response = client.get(url, **extra)
        assert response.status_code < 500, (url, response.status_code)
        node_visible = expected_visible(world, who, GridNode, world.nodes[code])
        if code in forbidden or not node_visible:
            assert response.status_code in (403, 404), (
                f"{who} GET {url} outside its scope: {response.status_code}"
            )
        else:
            assert_no_leak(world, who, response, url)


SCOPED_ENDPOINTS = [e for e in SCOPED]


@pytest.mark.parametrize("endpoint", SCOPED_ENDPOINTS, ids=_ids(SCOPED_ENDPOINTS))
def test_anonymous_is_refused(world, db, endpoint):
    obj = world_rows(world, endpoint.model)[0] if endpoint.lookup_kwarg else None
    url = endpoint.url(obj)
    client = Client()
    if endpoint.api:
        response = client.get(url, **JSON)
        assert response.status_code in (401, 403), (url, response.status_code)
        assert "error" in response.json()
    else:
        response = client.get(url)
        assert response.status_code == 302, (url, response.status_code)
        assert response["Location"].startswith(reverse(settings.LOGIN_URL))


def test_discovery_covers_new_endpoints_of_every_shape(settings):
    """What another app's endpoints would give the matrix: viewsets with a ``pk`` or ``code``
    lookup, Django list and detail pages; write-only and exempt views are left out."""
    settings.ROOT_URLCONF = "tests.core.scope_check_urls"
    scoped, _sweep, problems = discover()
    shapes = {(e.id, e.kind, e.lookup_attr, e.lookup_kwarg) for e in scoped}
    assert ("api:good-list", "list", "pk", None) in shapes
    assert ("api:good-detail", "detail", "pk", "pk") in shapes
    assert ("api:forgetful-detail", "detail", "pk", "pk") in shapes
    assert ("page:duties/", "list", "pk", None) in shapes
    assert ("page:nodes/<int:pk>/", "detail", "pk", "pk") in shapes
    assert not any(e.id == "page:outline/" for e in scoped)  # scope_exempt
    assert not problems
    detail = next(e for e in scoped if e.id == "page:nodes/<int:pk>/")
    assert detail.url(value=7) == "/nodes/7/"
