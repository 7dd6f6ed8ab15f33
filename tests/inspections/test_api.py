"""The 门前三包 API: responsibility units, inspections and rectification notices, through the gate."""

import pytest

from chengguan.roles import Role
from inspections.models import ChecklistItem, ResponsibilityUnit
from inspections.services import ItemOutcome, inspection_record
from tests.api import as_user, assert_anonymous_refused, assert_constant_queries, assert_error, listed
from tests.factories import staff
from tests.fieldwork import liaison, operator, outsider, superuser, supervisor

pytestmark = pytest.mark.django_db

__all__ = ["liaison", "operator", "outsider", "superuser", "supervisor"]


def shop(community, name: str = "老王烧烤") -> ResponsibilityUnit:  # type: ignore[no-untyped-def]
    return ResponsibilityUnit.objects.create(
        name=name, address="东园街248号", community=community, contact_name="王老板", lat=30.005, lng=120.005
    )


def inspect(unit, inspector, failing=("ZX01",)):  # type: ignore[no-untyped-def]
    outcomes = [
        ItemOutcome(item=item, passed=item.code not in failing) for item in ChecklistItem.objects.all()
    ]
    return inspection_record(unit=unit, inspector=inspector, outcomes=outcomes, requirements="三日内整改")


@pytest.mark.parametrize("name", ["shops", "inspections", "rectification-notices"])
def test_anonymous_gets_401(name):
    assert_anonymous_refused(f"/api/v1/{name}/")
    assert_anonymous_refused(f"/api/v1/{name}/1/")


def test_scoped_unscoped_and_neighbours(liaison, outsider, supervisor, operator, community):
    unit = shop(community)
    inspection = inspect(unit, liaison)
    notice = inspection.notice
    urls = {
        "shops": unit.pk,
        "inspections": inspection.pk,
        "rectification-notices": notice.pk,
    }

    for name, pk in urls.items():
        assert listed(as_user(liaison).get(f"/api/v1/{name}/")) == [pk]
        assert listed(as_user(supervisor).get(f"/api/v1/{name}/")) == [pk]
        assert listed(as_user(outsider).get(f"/api/v1/{name}/")) == []
        # Operators have no role in field work.
        assert listed(as_user(operator).get(f"/api/v1/{name}/")) == []
        assert listed(as_user(staff(Role.LIAISON)).get(f"/api/v1/{name}/")) == []
        assert_error(as_user(outsider).get(f"/api/v1/{name}/{pk}/"), 404, "not_found")
        assert as_user(liaison).get(f"/api/v1/{name}/{pk}/").json()["id"] == pk


def test_inspection_shows_its_checklist_and_notice_its_failures(liaison, community):
    inspection = inspect(shop(community), liaison, failing=("ZX01", "YY01"))
    client = as_user(liaison)

    detail = client.get(f"/api/v1/inspections/{inspection.pk}/").json()
    notice = client.get("/api/v1/rectification-notices/").json()["results"][0]

    assert detail["passed"] is False
    assert {(r["item"], r["passed"]) for r in detail["results"]} >= {("ZX01", False), ("YY01", False)}
    assert sorted(notice["failed_items"]) == ["YY01", "ZX01"]
    assert (notice["status"], notice["case"]) == ("issued", None)


def test_filters(liaison, community):
    first, second = shop(community, "老王烧烤"), shop(community, "李记面馆")
    inspect(second, liaison, failing=())
    client = as_user(liaison)

    assert listed(client.get("/api/v1/shops/?q=面馆")) == [second.pk]
    assert listed(client.get(f"/api/v1/inspections/?shop={first.pk}")) == []
    assert listed(client.get("/api/v1/rectification-notices/?status=issued")) == []


@pytest.mark.parametrize(("name", "pinned"), [("shops", 7), ("inspections", 8), ("rectification-notices", 8)])
def test_list_query_count_is_constant(name, pinned, liaison, community, django_assert_max_num_queries):
    inspect(shop(community), liaison)

    assert_constant_queries(
        as_user(liaison),
        f"/api/v1/{name}/",
        lambda: [inspect(shop(community, f"店{n}"), liaison) for n in range(4)],
        pinned,
        django_assert_max_num_queries,
    )
