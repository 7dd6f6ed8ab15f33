"""Cover periods (AB角) in the API (/api/v1/cover-periods/): read through the gate; supervisors
create and cancel through the same services as the cover page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chengguan.models import AuditEntry
from chengguan.roles import Role
from liaisons.models import CoverPeriod
from liaisons.services import cover_create
from tests import factories
from tests.api import as_user, assert_anonymous_refused, assert_constant_queries, assert_error, listed

pytestmark = pytest.mark.django_db

LIST = "/api/v1/cover-periods/"


@pytest.fixture
def backup(outsider):  # type: ignore[no-untyped-def]
    """The neighbouring community's liaison, who covers ours (B角)."""
    return outsider


def payload(community, backup, *, start_in=timedelta(days=1), length=timedelta(days=3), reason="事假"):  # type: ignore[no-untyped-def]
    start = timezone.now() + start_in
    return {
        "community": community.pk,
        "backup": backup.pk,
        "starts_at": start.isoformat(),
        "ends_at": (start + length).isoformat(),
        "reason": reason,
    }


@pytest.fixture
def cover(community, backup, supervisor):  # type: ignore[no-untyped-def]
    start = timezone.now() + timedelta(days=1)
    return cover_create(
        community=community,
        backup=backup,
        starts_at=start,
        ends_at=start + timedelta(days=2),
        reason="年假",
        actor=supervisor,
    )


# --- reading -------------------------------------------------------------------------------------


def test_anonymous_gets_401(cover, community, backup):
    assert_anonymous_refused(LIST)
    assert_anonymous_refused(f"{LIST}{cover.pk}/")
    from rest_framework.test import APIClient

    assert_error(APIClient().post(LIST, payload(community, backup)), 401, "not_authenticated")
    assert_error(APIClient().post(f"{LIST}{cover.pk}/cancel/"), 401, "not_authenticated")
    assert CoverPeriod.objects.count() == 1


def test_unscoped_users_see_nothing(cover, operator, liaison):
    elsewhere = factories.staff(Role.SUPERVISOR, scope=factories.DistrictFactory())
    # the operator and the liaison hold no cover permission; the other supervisor no scope here
    for user in (operator, liaison, elsewhere, factories.staff(Role.SUPERVISOR)):
        client = as_user(user)
        assert listed(client.get(LIST)) == []
        assert_error(client.get(f"{LIST}{cover.pk}/"), 404, "not_found")


def test_the_supervisor_reads_covers_of_the_district(cover, supervisor, backup, community):
    row = as_user(supervisor).get(f"{LIST}{cover.pk}/").json()
    assert row["community"]["code"] == community.code and row["backup"]["id"] == backup.pk
    assert row["state"] == "planned" and row["reason"] == "年假" and row["granted_at"] is None
    assert row["created_by"]["id"] == supervisor.pk


def test_filters(cover, supervisor, community, other_community, backup, liaison):
    running = cover_create(
        community=other_community,
        backup=liaison,
        starts_at=timezone.now() - timedelta(hours=1),
        ends_at=timezone.now() + timedelta(days=1),
        reason="培训",
        actor=supervisor,
    )
    client = as_user(supervisor)
    assert listed(client.get(LIST)) == [cover.pk, running.pk]  # newest start first
    assert listed(client.get(LIST, {"state": "running"})) == [running.pk]
    assert listed(client.get(LIST, {"state": "planned"})) == [cover.pk]
    assert listed(client.get(LIST, {"community": community.pk})) == [cover.pk]
    assert listed(client.get(LIST, {"backup": liaison.pk})) == [running.pk]
    assert listed(client.get(LIST, {"state": "over"})) == []
    body = assert_error(client.get(LIST, {"state": "someday", "community": "x"}), 400, "invalid")
    assert set(body["fields"]) == {"state", "community"}


def test_list_queries_stay_constant(cover, supervisor, community, backup, django_assert_max_num_queries):
    def grow() -> None:
        for n in range(5):
            start = timezone.now() + timedelta(days=10 + 5 * n)
            cover_create(
                community=community,
                backup=backup,
                starts_at=start,
                ends_at=start + timedelta(days=1),
                reason=f"假{n}",
                actor=supervisor,
            )

    assert_constant_queries(as_user(supervisor), LIST, grow, 7, django_assert_max_num_queries)


# --- writing -------------------------------------------------------------------------------------


def test_the_supervisor_creates_a_running_cover_and_the_backup_gets_access(supervisor, community, backup):
    # when the supervisor names the backup for a period running now
    response = as_user(supervisor).post(LIST, payload(community, backup, start_in=timedelta(hours=-1)))
    # then the cover exists, is running, the access is granted and it is audited
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "running" and body["granted_at"] is not None
    cover = CoverPeriod.objects.get()
    assert body["id"] == cover.pk and cover.created_by == supervisor
    assert AuditEntry.objects.filter(action="cover.created").exists()
    assert backup.has_perm("communities.work_in_community", community)


def test_the_supervisor_cancels_a_cover_twice_without_harm(cover, supervisor):
    client = as_user(supervisor)
    first = client.post(f"{LIST}{cover.pk}/cancel/")
    assert first.status_code == 200 and first.json()["state"] == "cancelled"
    assert client.post(f"{LIST}{cover.pk}/cancel/").status_code == 200
    assert AuditEntry.objects.filter(action="cover.cancelled").count() == 1


def test_roles_without_the_cover_permission_are_refused(cover, community, backup, liaison, operator):
    for user in (liaison, operator):
        client = as_user(user)
        assert_error(client.post(LIST, payload(community, backup)), 403, "permission_denied")
        # covers do not exist for them at all
        assert_error(client.post(f"{LIST}{cover.pk}/cancel/"), 404, "not_found")
    assert CoverPeriod.objects.count() == 1
    cover.refresh_from_db()
    assert cover.cancelled_at is None


def test_a_supervisor_of_another_district_cannot_touch_our_covers(cover, community, backup):
    client = as_user(factories.staff(Role.SUPERVISOR, scope=factories.DistrictFactory()))
    # our community does not exist for them
    body = assert_error(client.post(LIST, payload(community, backup)), 400, "invalid")
    assert "community" in body["fields"]
    assert_error(client.post(f"{LIST}{cover.pk}/cancel/"), 404, "not_found")
    assert CoverPeriod.objects.count() == 1
    cover.refresh_from_db()
    assert cover.cancelled_at is None


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"ends_at": "2000-01-01T00:00:00+08:00"}, "invalid.cover_period", "ends_at"),
        ({"reason": ""}, "invalid", "reason"),
        ({"reason": "x" * 201}, "invalid", "reason"),
        ({"starts_at": "next monday"}, "invalid", "starts_at"),
        ({"backup": 999999}, "invalid", "backup"),
        ({"community": 999999}, "invalid", "community"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_saves_nothing(
    change, code, field, supervisor, community, backup
):
    body = assert_error(as_user(supervisor).post(LIST, {**payload(community, backup), **change}), 400, code)
    assert field in body["fields"]
    assert not CoverPeriod.objects.exists()


def test_the_communitys_own_liaison_or_a_non_liaison_cannot_cover(supervisor, community, liaison, operator):
    client = as_user(supervisor)
    body = assert_error(client.post(LIST, payload(community, liaison)), 400, "invalid.cover")
    assert "backup" in body["fields"]
    body = assert_error(client.post(LIST, payload(community, operator)), 400, "invalid.liaison")
    assert "backup" in body["fields"]
    assert not CoverPeriod.objects.exists()
