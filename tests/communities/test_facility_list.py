"""The staff facility list (/communities/facilities/): scoped, filtered, paginated, counted in one query;
and the staff links on the public community page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.choices import CaseStatus
from chengguan.roles import Role
from communities.choices import FacilityKind
from communities.models import EnforcementDisclosure, Facility
from tests import factories

pytestmark = pytest.mark.django_db

URL = reverse("communities:facility_list")


def make_facility(community, code, **kwargs):  # type: ignore[no-untyped-def]
    values = {"name": f"设施{code}", "kind": FacilityKind.STREET_LIGHT, "lat": 30.002, "lng": 120.002}
    values.update(kwargs)
    return Facility.objects.create(code=code, community=community, **values)


def reports(facility, *, days_ago, status=CaseStatus.DISPATCHED, **kwargs):  # type: ignore[no-untyped-def]
    return [
        factories.CaseFactory(
            facility=facility,
            community=facility.community,
            status=status,
            reported_at=timezone.now() - timedelta(days=day),
            **kwargs,
        )
        for day in days_ago
    ]


@pytest.fixture
def lamp(community):  # type: ignore[no-untyped-def]
    return make_facility(community, "LD-0001", name="东门路灯")


@pytest.fixture
def supervisor(district):  # type: ignore[no-untyped-def]
    return factories.staff(Role.SUPERVISOR, scope=district)


def codes(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    return [facility.code for facility in response.context["page_obj"].object_list]


# --- who may see it ------------------------------------------------------------------------------


def test_anonymous_goes_to_sign_in(client, lamp):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_signed_in_user_without_a_role_is_refused(client, lamp):
    client.force_login(factories.UserFactory())
    assert client.get(URL).status_code == 403


def test_staff_of_another_district_see_no_facility(client, lamp):
    # given a supervisor of another district
    client.force_login(factories.staff(Role.SUPERVISOR, scope=factories.DistrictFactory()))
    # when they open the list
    response = client.get(URL)
    # then the facility is not there
    assert codes(response) == []
    assert lamp.name not in response.content.decode()


def test_staff_without_an_area_are_refused(client, lamp, unit):
    # given staff with a role but no area: no scope at all, or a handling unit's
    for user in (factories.staff(Role.OPERATOR), factories.staff(Role.HANDLING_UNIT, scope=unit)):
        client.force_login(user)
        # then the page is refused
        assert client.get(URL).status_code == 403


def test_scoped_staff_see_their_area_facilities_with_links(client, lamp, other_community):
    # given a facility in the liaison's community and one elsewhere in the district,
    # and one in another district
    other = make_facility(other_community, "LJ-0002", kind=FacilityKind.BIN)
    away = make_facility(factories.CommunityFactory(street=factories.StreetFactory()), "X-9")
    liaison = factories.staff(Role.LIAISON, scope=lamp.community)
    client.force_login(liaison)
    # when the liaison opens the list
    response = client.get(URL)
    # then they see the district's facilities (geography is district-wide), not the other district's
    assert codes(response) == [lamp.code, other.code]  # by community, then code
    assert away.code not in codes(response)
    page = response.content.decode()
    assert reverse("communities:facility_detail", args=[lamp.code]) in page
    assert reverse("communities:facility_qr_sheet", args=[lamp.code]) in page
    assert reverse("communities:qr_sheet", args=[lamp.community.code]) in page


def test_the_staff_navigation_links_the_list(client, lamp, supervisor):
    client.force_login(supervisor)
    page = client.get(reverse("home")).content.decode()
    assert f'href="{URL}"' in page


# --- figures ---------------------------------------------------------------------------------------


def test_open_cases_and_repeat_faults_are_counted_per_facility(client, lamp, community, supervisor):
    # given a lamp reported three times lately (two still open) plus reports that do not count,
    # and a bin reported once
    reports(lamp, days_ago=[1, 10])
    reports(lamp, days_ago=[30], status=CaseStatus.CLOSED)
    reports(lamp, days_ago=[200])  # open, but too old to make a repeat fault
    reports(lamp, days_ago=[2], false_report=True)  # false reports count for nothing
    master = reports(lamp, days_ago=[3])[0]
    reports(lamp, days_ago=[3], merged_into=master)  # a duplicate counts once, with its master
    bin_ = make_facility(community, "LJ-0001", kind=FacilityKind.BIN)
    reports(bin_, days_ago=[5])
    client.force_login(supervisor)
    # when the supervisor opens the list
    response = client.get(URL)
    # then each facility carries its own figures
    rows = {facility.code: facility for facility in response.context["page_obj"].object_list}
    assert rows[lamp.code].open_case_count == 4
    assert rows[lamp.code].recent_case_count == 4 and rows[lamp.code].is_repeat_fault
    assert rows[bin_.code].open_case_count == 1 and not rows[bin_.code].is_repeat_fault
    page = response.content.decode()
    assert page.count("fw-item--alert") == 1


def test_the_list_costs_the_same_queries_for_more_facilities(
    client, lamp, community, other_community, supervisor, django_assert_max_num_queries
):
    client.force_login(supervisor)
    client.get(URL)  # warm the process-wide caches (content types)
    with django_assert_max_num_queries(9):
        first = client.get(URL)
    assert len(first.context["page_obj"].object_list) == 1
    for n in range(30):
        facility = make_facility(community if n % 2 else other_community, f"F-{n:03d}")
        reports(facility, days_ago=[1, 2, 3])
    with django_assert_max_num_queries(9):
        second = client.get(URL)
    # then a full page of 25, the rest on page 2
    assert len(second.context["page_obj"].object_list) == 25
    assert second.context["page_obj"].paginator.count == 31
    assert "?page=2" in second.content.decode()
    assert len(client.get(URL, {"page": 2}).context["page_obj"].object_list) == 6


# --- filters ---------------------------------------------------------------------------------------


def test_filters_narrow_the_list(client, lamp, community, other_community, supervisor):
    bin_ = make_facility(other_community, "LJ-0001", name="西门垃圾箱", kind=FacilityKind.BIN)
    retired = make_facility(community, "OLD-1", name="旧路灯", is_active=False)
    reports(bin_, days_ago=[1, 2, 3])
    client.force_login(supervisor)

    assert codes(client.get(URL, {"q": "垃圾"})) == [bin_.code]
    assert codes(client.get(URL, {"q": "ld-00"})) == [lamp.code]
    assert codes(client.get(URL, {"kind": FacilityKind.BIN})) == [bin_.code]
    assert set(codes(client.get(URL, {"community": community.pk}))) == {lamp.code, retired.code}
    assert codes(client.get(URL, {"is_active": "false"})) == [retired.code]
    assert retired.code not in codes(client.get(URL, {"is_active": "true"}))
    assert codes(client.get(URL, {"is_repeat_fault": "true"})) == [bin_.code]


def test_filtering_by_a_community_offers_its_qr_sheet(client, lamp, community, supervisor):
    client.force_login(supervisor)
    response = client.get(URL, {"community": community.pk})
    assert response.context["community"] == community
    assert 'id="community-qr"' in response.content.decode()


def test_a_community_outside_the_scope_is_a_filter_error_not_a_leak(client, lamp):
    # given a supervisor of another district who names our community
    client.force_login(factories.staff(Role.SUPERVISOR, scope=factories.DistrictFactory()))
    response = client.get(URL, {"community": lamp.community.pk, "kind": "rocket", "page": "x"})
    # then the page answers, shows the errors and lists nothing of ours
    assert response.status_code == 200
    form = response.context["filterset"].form
    assert "community" in form.errors and "kind" in form.errors
    assert codes(response) == []


def test_the_empty_list_says_so(client, supervisor):
    client.force_login(supervisor)
    response = client.get(URL, {"q": "nothing-like-this"})
    assert codes(response) == []
    assert reverse("communities:facility_list") in response.content.decode()


# --- the public community page --------------------------------------------------------------------


def test_community_page_links_staff_to_facilities_and_qr_sheet(client, lamp, community, supervisor):
    detail = reverse("communities:detail", args=[community.code])
    # given an anonymous visitor: no staff links
    assert 'id="staff-links"' not in client.get(detail).content.decode()
    # given staff of another district: none either
    client.force_login(factories.staff(Role.SUPERVISOR, scope=factories.DistrictFactory()))
    assert 'id="staff-links"' not in client.get(detail).content.decode()
    # given staff of this district: the facility list of the community and its QR sheet
    client.force_login(supervisor)
    page = client.get(detail).content.decode()
    assert 'id="staff-links"' in page
    assert f"{URL}?community={community.pk}" in page
    assert reverse("communities:qr_sheet", args=[community.code]) in page


def test_community_page_links_the_disclosure_only_once_published(client, community, district):
    detail = reverse("communities:detail", args=[community.code])
    page = client.get(detail).content.decode()
    assert 'id="disclosure-link"' not in page
    assert reverse("dashboard:public") in page
    EnforcementDisclosure.objects.create(
        district=district,
        matters="占道经营",
        legal_basis="条例",
        process="立案",
        appeal="复议",
        complaint_phone="12319",
    )
    page = client.get(detail).content.decode()
    assert 'id="disclosure-link"' in page and reverse("communities:disclosure", args=[district.code]) in page
