"""The liaison-work API: current postings, patrols and meetings, through the gate."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chengguan.roles import Role
from liaisons.services import meeting_record
from tests.api import as_user, assert_anonymous_refused, assert_constant_queries, assert_error, listed
from tests.factories import staff
from tests.fieldwork import liaison, log_patrol, operator, outsider, superuser, supervisor

pytestmark = pytest.mark.django_db

__all__ = ["liaison", "operator", "outsider", "superuser", "supervisor"]


def meeting(community, actor):  # type: ignore[no-untyped-def]
    return meeting_record(
        community=community,
        actor=actor,
        held_at=timezone.now() - timedelta(days=1),
        title="占道经营协调会",
        attendees="居委会、物业、城管",
        issues="早市占道",
    )


@pytest.mark.parametrize("name", ["liaisons", "patrols", "meetings"])
def test_anonymous_gets_401(name):
    assert_anonymous_refused(f"/api/v1/{name}/")
    assert_anonymous_refused(f"/api/v1/{name}/1/")


def test_current_postings(liaison, outsider, supervisor, community, other_community):
    mine = as_user(liaison).get("/api/v1/liaisons/").json()["results"]
    overseen = listed(as_user(supervisor).get("/api/v1/liaisons/"))

    assert [(row["community"]["id"], row["liaison"]["id"], row["role"]) for row in mine] == [
        (community.pk, liaison.pk, "responsible")
    ]
    assert len(overseen) == 2
    assert listed(as_user(staff(Role.LIAISON)).get("/api/v1/liaisons/")) == []


def test_ended_postings_are_not_listed(liaison, community, superuser):
    from liaisons.services import liaison_assign

    successor = staff(Role.LIAISON, username="successor")
    liaison_assign(community=community, liaison=successor, actor=superuser)

    rows = as_user(superuser).get(f"/api/v1/liaisons/?community={community.pk}").json()["results"]

    assert [row["liaison"]["id"] for row in rows] == [successor.pk]


def test_patrols_are_seen_by_their_community_and_district(liaison, outsider, supervisor, operator, community):
    patrol = log_patrol(liaison, community, findings=2)

    row = as_user(liaison).get("/api/v1/patrols/").json()["results"][0]

    assert row["id"] == patrol.pk
    assert [f["description"] for f in row["findings"]] == [f.description for f in patrol.findings.all()]
    assert {"category", "case", "fixed_on_spot"} <= set(row["findings"][0])
    assert listed(as_user(supervisor).get("/api/v1/patrols/")) == [patrol.pk]
    # Field work is not shared with the neighbouring community, and operators have no patrol role.
    assert listed(as_user(outsider).get("/api/v1/patrols/")) == []
    assert listed(as_user(operator).get("/api/v1/patrols/")) == []
    assert_error(as_user(outsider).get(f"/api/v1/patrols/{patrol.pk}/"), 404, "not_found")


def test_patrol_list_query_count_is_constant(liaison, community, django_assert_max_num_queries):
    log_patrol(liaison, community)

    assert_constant_queries(
        as_user(liaison),
        "/api/v1/patrols/",
        lambda: [log_patrol(liaison, community, findings=2, hours_ago=3 + n) for n in range(4)],
        10,
        django_assert_max_num_queries,
    )


def test_meetings(liaison, outsider, community, django_assert_max_num_queries):
    first = meeting(community, liaison)

    assert listed(as_user(liaison).get("/api/v1/meetings/")) == [first.pk]
    assert listed(as_user(outsider).get("/api/v1/meetings/")) == []
    assert_error(as_user(outsider).get(f"/api/v1/meetings/{first.pk}/"), 404, "not_found")
    assert_constant_queries(
        as_user(liaison),
        "/api/v1/meetings/",
        lambda: [meeting(community, liaison) for _ in range(4)],
        8,
        django_assert_max_num_queries,
    )


def test_liaison_list_query_count_is_constant(
    supervisor, liaison, superuser, district, django_assert_max_num_queries
):
    from liaisons.services import liaison_assign
    from tests.factories import CommunityFactory, StreetFactory

    def grow() -> None:
        street = StreetFactory(district=district)
        for n in range(4):
            place = CommunityFactory(street=street, origin=(121.0 + 0.02 * n, 31.0))
            liaison_assign(community=place, liaison=staff(Role.LIAISON), actor=superuser)

    assert_constant_queries(as_user(supervisor), "/api/v1/liaisons/", grow, 7, django_assert_max_num_queries)
