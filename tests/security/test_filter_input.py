"""SQL-looking and malformed input in every filter parameter of every list.

The parameters are the fields of each list page's filter form and the
filters of each API list's FilterSet (so a new filter is exercised as soon
as it exists). A list answers 200 (filtered, maybe empty) or 400 with field errors,
never 500, and never shows more than it does unfiltered.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import resolve, reverse

from tests.security.routes import all_routes
from tests.security.world import World, build_world

pytestmark = pytest.mark.django_db

SQL = "' OR 1=1 --"
HOSTILE = [
    SQL,
    "1;DROP TABLE cases_case",
    "1) UNION SELECT password FROM chengguan_user --",
    "𠜎😀\u202e中文",
    "x" * 5000,
    "2026-13-45",
    "1e309",
]

PAGE_LISTS = [
    "/cases/",
    "/desk/intake/inbox/",
    "/desk/hotline/",
    "/desk/notifications/",
    "/desk/dispatch/",
    "/desk/mine/",
    "/desk/verify/",
    "/desk/extensions/",
    "/desk/parked/",
    "/desk/overdue/",
    "/desk/escalated/",
    "/field/patrols/",
    "/field/visits/",
    "/field/meetings/",
    "/field/covers/",
    "/shops/",
    "/dashboard/",
    "/dashboard/assessment/",
    "/dashboard/public/",
    "/communities/",
    "/communities/facilities/",
    "/cases/exports/",
    "/track/",
]


COMMON = ["page", "page_size", "ordering", "sort", "q", "search"]


def page_params(html: str) -> list[str]:
    """The fields of the page's GET forms (its filters)."""
    names: set[str] = set()
    for form in re.findall(r"<form\b[^>]*>.*?</form>", html, flags=re.S | re.I):
        head = form[: form.index(">")]
        if re.search(r'method=["\']?post', head, flags=re.I):
            continue
        names.update(re.findall(r'<(?:input|select|textarea)\b[^>]*\bname="([^"]+)"', form))
    return sorted(names | set(COMMON))


def api_lists() -> dict[str, list[str]]:
    """Every API list path with its filter parameters (from the viewset's FilterSet)."""
    lists: dict[str, list[str]] = {}
    for route in all_routes():
        if route.key.startswith("api:") and route.key.endswith("-list") and "(?P<format>" not in route.route:
            path = reverse(route.key)
            view = resolve(path).func
            cls = getattr(view, "cls", None)
            filterset = getattr(cls, "filterset_class", None)
            names = set(COMMON)
            if filterset is not None:
                for name, declared in filterset.base_filters.items():
                    names.add(name)
                    if "Range" in type(declared).__name__:
                        names.update({f"{name}_after", f"{name}_before", f"{name}_min", f"{name}_max"})
            lists[path] = sorted(names)
    return lists


@pytest.fixture
def world() -> World:
    return build_world()


def _listed(response: Any) -> int | None:
    if response.get("Content-Type", "").startswith("application/json"):
        body = response.json()
        if isinstance(body, dict) and "count" in body:
            return int(body["count"])
    return None


def _check(
    path: str, query: dict[str, str], response: Any, everything: int | None, broken: list[str]
) -> None:
    shown = {k: v[:30] for k, v in query.items()} if len(query) < 3 else f"{len(query)} params"
    ok = {200, 400}
    if path.startswith("/api/") and "page" in query:
        ok.add(404)  # DRF answers an invalid page number with its structured "Invalid page." 404
    if response.status_code not in ok:
        broken.append(f"{path} {shown}: {response.status_code}")
        return
    if response.status_code in (400, 404) and path.startswith("/api/"):
        body = response.json()
        if set(body) != {"code", "message", "fields"}:
            broken.append(f"{path} {shown}: unstructured 400 {body}")
    count = _listed(response)
    if count is not None and everything is not None and count > everything:
        broken.append(f"{path} {shown}: {count} rows > {everything} unfiltered")


def test_every_filter_parameter_survives_hostile_input(world):
    # Given the superuser (sees every row), every list and each list's filter parameters
    client = Client()
    client.force_login(world.root)
    targets: dict[str, list[str]] = {}
    for path in PAGE_LISTS:
        page = client.get(path)
        assert page.status_code == 200, path
        targets[path] = page_params(page.content.decode())
    targets.update(api_lists())
    assert len(targets["/cases/"]) > len(COMMON), "the case list's filter form was found"
    broken: list[str] = []

    for path, params in targets.items():
        baseline = client.get(path)
        if baseline.status_code == 405:
            continue  # a POST-only collection (resident ratings): nothing to filter
        everything = _listed(baseline)
        # When every parameter carries the same hostile value at once
        for value in HOSTILE:
            query = dict.fromkeys(params, value)
            _check(path, query, client.get(path, query), everything, broken)
        # and when each carries SQL on its own (an invalid neighbour cannot hide it)
        for name in params:
            query = {name: SQL}
            _check(path, query, client.get(path, query), everything, broken)

    # Then each answers 200 (filtered, never widened) or a 400 with field errors, never a 500
    assert broken == [], "\n".join(broken[:50])


def test_the_hostile_values_can_fail_the_check(world):
    # A parameter that is validated really answers 400: the loop above is not vacuous.
    client = Client()
    client.force_login(world.root)

    response = client.get(reverse("api:case-list"), {"reported_after": "2026-13-45"})

    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "reported_after" in response.json()["fields"]
