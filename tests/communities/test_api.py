"""The geography and handling-unit API: read-only, through the gate, constant queries."""

import pytest

from chengguan.roles import Role
from tests.api import as_user, assert_anonymous_refused, assert_constant_queries, assert_error, listed
from tests.factories import (
    CommunityFactory,
    DistrictFactory,
    GridCellFactory,
    HandlingUnitFactory,
    StreetFactory,
    staff,
)

pytestmark = pytest.mark.django_db

LISTS = ["districts", "streets", "communities", "grid-cells", "handling-units"]


@pytest.fixture
def world(district, community, unit):  # type: ignore[no-untyped-def]
    """One of each object in `district`, keyed by the endpoint that lists it."""
    return {
        "districts": district,
        "streets": community.street,
        "communities": community,
        "grid-cells": GridCellFactory(community=community),
        "handling-units": unit,
    }


@pytest.fixture
def operator(district):  # type: ignore[no-untyped-def]
    return staff(Role.OPERATOR, scope=district)


@pytest.mark.parametrize("name", LISTS)
def test_anonymous_gets_401(name, world):
    assert_anonymous_refused(f"/api/v1/{name}/")
    assert_anonymous_refused(f"/api/v1/{name}/{world[name].pk}/")


@pytest.mark.parametrize("name", LISTS)
def test_unscoped_staff_sees_nothing(name, world):
    client = as_user(staff(Role.OPERATOR))

    assert listed(client.get(f"/api/v1/{name}/")) == []
    assert_error(client.get(f"/api/v1/{name}/{world[name].pk}/"), 404, "not_found")


@pytest.mark.parametrize("name", LISTS)
def test_staff_of_another_district_sees_nothing_here(name, world):
    client = as_user(staff(Role.OPERATOR, scope=DistrictFactory()))

    assert world[name].pk not in listed(client.get(f"/api/v1/{name}/"))
    assert_error(client.get(f"/api/v1/{name}/{world[name].pk}/"), 404, "not_found")


@pytest.mark.parametrize("name", LISTS)
def test_scoped_staff_see_their_district(name, world, operator):
    client = as_user(operator)

    assert listed(client.get(f"/api/v1/{name}/")) == [world[name].pk]
    assert client.get(f"/api/v1/{name}/{world[name].pk}/").json()["id"] == world[name].pk


def test_community_workers_see_their_whole_district(world, other_community):
    liaison = staff(Role.LIAISON, scope=world["communities"])

    codes = listed(as_user(liaison).get("/api/v1/communities/"), "code")

    assert codes == sorted([world["communities"].code, other_community.code])


def test_boundaries_are_in_the_detail_only(world, operator):
    client = as_user(operator)
    community = world["communities"]

    row = client.get("/api/v1/communities/").json()["results"][0]
    detail = client.get(f"/api/v1/communities/{community.pk}/").json()

    assert "boundary" not in row
    assert detail["boundary"]["type"] == "Polygon"
    assert (row["street"], row["district"]) == (community.street_id, community.street.district_id)


def test_filters(world, operator, other_community):
    client = as_user(operator)
    community = world["communities"]

    assert listed(client.get(f"/api/v1/communities/?street={community.street_id}")) == [community.pk]
    assert listed(client.get(f"/api/v1/communities/?q={other_community.name}")) == [other_community.pk]
    assert listed(client.get("/api/v1/communities/?ordering=-code"), "code") == sorted(
        [community.code, other_community.code], reverse=True
    )
    assert_error(client.get("/api/v1/communities/?district=abc"), 400, "invalid")


def test_city_level_units_are_seen_by_every_unit_viewer(db):
    city_unit = HandlingUnitFactory(district=None)

    assert listed(as_user(staff(Role.OPERATOR)).get("/api/v1/handling-units/")) == [city_unit.pk]


# How to add rows each list shows (for the query-count pins).
GROWERS = {
    "streets": lambda w: [StreetFactory(district=w["districts"]) for _ in range(5)],
    "communities": lambda w: [
        CommunityFactory(street=w["streets"], origin=(121.0 + n * 0.02, 31.0)) for n in range(5)
    ],
    "grid-cells": lambda w: [GridCellFactory(community=w["communities"]) for _ in range(5)],
    "handling-units": lambda w: [HandlingUnitFactory(district=w["districts"]) for _ in range(5)],
}


@pytest.mark.parametrize(
    ("name", "pinned"), [("streets", 7), ("communities", 7), ("grid-cells", 7), ("handling-units", 7)]
)
def test_list_query_count_is_constant(name, pinned, world, operator, django_assert_max_num_queries):
    assert_constant_queries(
        as_user(operator),
        f"/api/v1/{name}/",
        lambda: GROWERS[name](world),
        pinned,
        django_assert_max_num_queries,
    )


def test_district_list_query_count_is_constant(db, django_assert_max_num_queries):
    from guardian.shortcuts import assign_perm

    overseer = staff(Role.OPERATOR, scope=DistrictFactory())

    def grow() -> None:
        for _ in range(5):
            assign_perm("communities.oversee_district", overseer, DistrictFactory())

    assert_constant_queries(as_user(overseer), "/api/v1/districts/", grow, 7, django_assert_max_num_queries)
