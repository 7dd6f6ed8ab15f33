"""The user's scope: what guardian says, computed in one query, once per request."""

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm, get_objects_for_user

from chengguan.models import User
from chengguan.permissions import EMPTY_SCOPE, Scope, scope_for
from chengguan.roles import Role
from communities.models import Community, District, HandlingUnit
from tests.factories import CommunityFactory, HandlingUnitFactory, StreetFactory, UserFactory, staff

pytestmark = pytest.mark.django_db


def guardian_scope(user: Any) -> tuple[frozenset[int], ...]:
    """The scope as guardian's get_objects_for_user computes it, one query per kind."""

    def ids(perm: str, klass: Any) -> frozenset[int]:
        qs = get_objects_for_user(user, perm, klass=klass, accept_global_perms=False)
        return frozenset(qs.values_list("pk", flat=True))

    communities = ids("communities.work_in_community", Community)
    placement = Community.objects.filter(pk__in=communities).values_list("street_id", "street__district_id")
    return (
        ids("communities.oversee_district", District),
        communities,
        ids("communities.work_for_unit", HandlingUnit),
        frozenset(d for _, d in placement),
        frozenset(s for s, _ in placement),
    )


def as_tuple(scope: Scope) -> tuple[frozenset[int], ...]:
    return (
        scope.district_ids,
        scope.community_ids,
        scope.unit_ids,
        scope.community_district_ids,
        scope.community_street_ids,
    )


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


@pytest.fixture
def places(district, community, other_community, unit):  # type: ignore[no-untyped-def]
    elsewhere = StreetFactory()
    return {
        "district": district,
        "other_district": elsewhere.district,
        "community": community,
        "other_community": other_community,
        "far_community": CommunityFactory(street=elsewhere),
        "unit": unit,
        "other_unit": HandlingUnitFactory(district=elsewhere.district),
    }


def test_scope_from_own_and_group_permissions_matches_guardian(places):
    # Given a user with object permissions of their own and through a group
    user = staff(Role.SUPERVISOR, scope=[places["district"], places["unit"]])
    assign_perm("communities.work_in_community", user, places["community"])
    team = Group.objects.create(name="片区组")
    user.groups.add(team)
    assign_perm("communities.work_in_community", team, places["far_community"])
    assign_perm("communities.work_for_unit", team, places["other_unit"])
    # and permissions that are not scope
    assign_perm("communities.change_community", user, places["other_community"])

    # When the scope is computed
    scope = scope_for(fresh(user))

    # Then it is what guardian answers
    assert as_tuple(scope) == guardian_scope(fresh(user))
    assert scope.community_ids == {places["community"].pk, places["far_community"].pk}
    assert scope.district_ids == {places["district"].pk}
    assert scope.unit_ids == {places["unit"].pk, places["other_unit"].pk}
    assert scope.community_district_ids == {places["district"].pk, places["other_district"].pk}
    assert not scope.city_wide


def test_a_superuser_works_everywhere_as_guardian_says(places):
    root: Any = UserFactory(username="root", is_superuser=True)

    scope = scope_for(fresh(root))

    assert scope.city_wide
    assert as_tuple(scope) == guardian_scope(fresh(root))
    assert scope.community_ids == set(Community.objects.values_list("pk", flat=True))


def test_no_permissions_no_scope(places):
    nobody: Any = UserFactory(username="nobody")

    scope = scope_for(fresh(nobody))

    assert scope.is_empty
    assert as_tuple(scope) == as_tuple(EMPTY_SCOPE)


def test_scope_costs_one_query_and_is_kept_on_the_user(places, django_assert_num_queries):
    # Given a liaison whose role is already known (the gate reads roles first)
    user = fresh(staff(Role.LIAISON, scope=[places["community"], places["other_community"]]))
    user.has_perm("communities.oversee_city")

    # When the scope is asked for twice
    with django_assert_num_queries(1):
        first = scope_for(user)
        second = scope_for(user)

    # Then one query answered both
    assert first is second
    assert first.community_ids == {places["community"].pk, places["other_community"].pk}


def test_permissions_on_deleted_objects_are_not_scope(places):
    # Given a permission left behind on a community that was deleted
    user = staff(Role.LIAISON, scope=places["community"])
    gone: Any = CommunityFactory()
    assign_perm("communities.work_in_community", user, gone)
    gone_pk = gone.pk
    gone.delete()

    scope = scope_for(fresh(user))

    assert gone_pk not in scope.community_ids
    assert scope.community_ids == {places["community"].pk}


def test_inactive_and_anonymous_users_have_no_scope(places):
    from django.contrib.auth.models import AnonymousUser

    user = staff(Role.LIAISON, scope=places["community"])
    user.is_active = False

    assert scope_for(user) is EMPTY_SCOPE
    assert scope_for(AnonymousUser()) is EMPTY_SCOPE
    assert scope_for(None) is EMPTY_SCOPE


def test_scope_query_is_one_statement(places):
    user = fresh(staff(Role.OPERATOR, scope=places["district"]))
    user.has_perm("communities.oversee_city")

    with CaptureQueriesContext(connection) as queries:
        scope_for(user)

    assert len(queries) == 1
    assert "UNION" in queries[0]["sql"].upper()
