"""The facility API (/api/v1/facilities/): read-only, through the gate, figures in one query."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.choices import CaseStatus
from chengguan.roles import Role
from communities.choices import FacilityKind
from communities.models import Facility
from tests import factories
from tests.api import as_user, assert_anonymous_refused, assert_constant_queries, assert_error, listed

pytestmark = pytest.mark.django_db

LIST = "/api/v1/facilities/"


def make_facility(community, code, **kwargs):  # type: ignore[no-untyped-def]
    values = {"name": f"设施{code}", "kind": FacilityKind.STREET_LIGHT, "lat": 30.002, "lng": 120.002}
    values.update(kwargs)
    return Facility.objects.create(code=code, community=community, **values)


def report(facility, *, days_ago=1, status=CaseStatus.DISPATCHED):  # type: ignore[no-untyped-def]
    return factories.CaseFactory(
        facility=facility,
        community=facility.community,
        status=status,
        reported_at=timezone.now() - timedelta(days=days_ago),
    )


@pytest.fixture
def lamp(community):  # type: ignore[no-untyped-def]
    return make_facility(community, "LD-0001", name="东门路灯")


@pytest.fixture
def operator(district):  # type: ignore[no-untyped-def]
    return factories.staff(Role.OPERATOR, scope=district)


def test_anonymous_gets_401(lamp):
    assert_anonymous_refused(LIST)
    assert_anonymous_refused(f"{LIST}{lamp.code}/")


def test_unscoped_staff_see_nothing(lamp):
    for user in (
        factories.staff(Role.OPERATOR),
        factories.staff(Role.OPERATOR, scope=factories.DistrictFactory()),
    ):
        client = as_user(user)
        assert listed(client.get(LIST)) == []
        assert_error(client.get(f"{LIST}{lamp.code}/"), 404, "not_found")


def test_scoped_staff_see_the_facility_with_its_figures_and_links(lamp, operator):
    # given a lamp reported three times lately, two of them still open
    report(lamp, days_ago=1)
    report(lamp, days_ago=5)
    report(lamp, days_ago=9, status=CaseStatus.CLOSED)
    client = as_user(operator)
    # when the operator of the district reads it
    row = client.get(f"{LIST}{lamp.code}/").json()
    # then
    assert row["code"] == lamp.code and row["community"]["code"] == lamp.community.code
    assert (row["open_case_count"], row["recent_case_count"], row["is_repeat_fault"]) == (2, 3, True)
    assert row["report_url"].startswith("http://testserver/report/?facility=LD-0001")
    assert row["public_url"] == f"http://testserver/communities/facilities/{lamp.code}/"
    assert listed(client.get(LIST), "code") == [lamp.code]


def test_filters(lamp, community, other_community, operator):
    bin_ = make_facility(other_community, "LJ-0001", name="西门垃圾箱", kind=FacilityKind.BIN)
    retired = make_facility(community, "OLD-1", is_active=False)
    for days in (1, 2, 3):
        report(bin_, days_ago=days)
    client = as_user(operator)

    assert listed(client.get(LIST, {"q": "垃圾"}), "code") == [bin_.code]
    assert listed(client.get(LIST, {"kind": "bin"}), "code") == [bin_.code]
    assert set(listed(client.get(LIST, {"community": community.pk}), "code")) == {lamp.code, retired.code}
    assert listed(client.get(LIST, {"is_active": "false"}), "code") == [retired.code]
    assert listed(client.get(LIST, {"is_repeat_fault": "true"}), "code") == [bin_.code]
    assert listed(client.get(LIST, {"ordering": "-code"}), "code") == [retired.code, bin_.code, lamp.code]


def test_bad_filters_are_a_400_naming_them(lamp, operator):
    body = assert_error(as_user(operator).get(LIST, {"kind": "rocket", "community": "x"}), 400, "invalid")
    assert set(body["fields"]) == {"kind", "community"}


def test_the_api_is_read_only(lamp, operator):
    client = as_user(operator)
    assert_error(client.post(LIST, {"code": "N-1"}), 405, "method_not_allowed")
    assert_error(client.delete(f"{LIST}{lamp.code}/"), 405, "method_not_allowed")


def test_list_queries_stay_constant(lamp, community, operator, django_assert_max_num_queries):
    def grow() -> None:
        for n in range(10):
            report(make_facility(community, f"F-{n}"))

    assert_constant_queries(as_user(operator), LIST, grow, 7, django_assert_max_num_queries)
