import io
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command
from django.utils import timezone

from cases.choices import TRANSITION_ACTIONS, CaseStatus
from cases.models import Case, CaseEvent
from chengguan.models import User
from chengguan.roles import Role
from communities.geometry import covers
from communities.models import Community, District, GridCell
from liaisons.choices import AssignmentRole
from liaisons.models import LiaisonAssignment

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    out = io.StringIO()
    call_command("seed_demo", "--cases", "60", "--seed", "7", stdout=out)
    return out.getvalue()


def test_seed_demo_builds_a_complete_demo(seeded):
    # given the demo seeded with 60 cases (fixture)
    # then every part of the demo is there
    assert_cases_cover_every_status()
    assert_history_is_the_services_own()
    assert_points_are_routed_to_their_community()
    assert_geography()
    assert_every_role_has_a_user_who_can_sign_in()
    assert_each_community_has_one_responsible_liaison_with_access()
    assert "Demo@2026" in seeded
    for username in (
        "admin",
        "operator1",
        "dispatcher1",
        "supervisor1",
        "liaison01",
        "community01",
        "unit_hw",
    ):
        assert username in seeded


def assert_cases_cover_every_status():
    assert Case.objects.count() == 60
    assert set(Case.objects.values_list("status", flat=True)) == set(CaseStatus.values)
    duplicate = Case.objects.filter(merged_into__isnull=False).select_related("merged_into").first()
    assert duplicate is not None
    assert duplicate.status == CaseStatus.REJECTED
    assert duplicate.merged_into.report_count >= 2


def assert_history_is_the_services_own():
    now = timezone.now()
    for case in Case.objects.prefetch_related("events"):
        events = list(case.events.all())
        # Each case starts with its report, in the last 90 days, and its last
        # status change leads to the status it has now.
        assert events[0].action == "report"
        assert events[0].created_at == case.reported_at
        assert now - timedelta(days=91) < case.reported_at < now
        moves = [e for e in events if e.action in TRANSITION_ACTIONS]
        assert (moves[-1].to_status if moves else CaseStatus.REPORTED) == case.status
        assert all(e.created_at < now for e in events)


def assert_points_are_routed_to_their_community():
    located = Case.objects.filter(lat__isnull=False).select_related("community", "grid_cell")
    assert located.exists()
    for case in located:
        assert covers(case.community.boundary, case.lat, case.lng)
        assert case.grid_cell is not None
        assert case.grid_cell.community_id == case.community_id


def assert_geography():
    district = District.objects.get()
    communities = Community.objects.filter(street__district=district)
    assert district.streets.count() >= 3
    assert communities.count() >= 12
    for community in communities:
        assert community.boundary is not None
        assert GridCell.objects.filter(community=community, boundary__isnull=False).count() == 4


def assert_every_role_has_a_user_who_can_sign_in():
    for role in Role:
        assert User.objects.filter(groups__name=role, is_active=True).exists(), role
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert check_password("Demo@2026", admin.password)
    assert check_password("Demo@2026", User.objects.get(username="liaison01").password)


def assert_each_community_has_one_responsible_liaison_with_access():
    for community in Community.objects.all():
        current = LiaisonAssignment.objects.filter(
            community=community, role=AssignmentRole.RESPONSIBLE, ends_at__isnull=True
        )
        assert current.count() == 1
        assignment = current.get()
        assert assignment.duties
        assert assignment.liaison.groups.filter(name=Role.LIAISON).exists()
        assert assignment.liaison.has_perm("communities.work_in_community", community)


def test_if_empty_does_nothing_the_second_time(seeded):
    counts = (District.objects.count(), User.objects.count(), Case.objects.count(), CaseEvent.objects.count())
    out = io.StringIO()
    call_command("seed_demo", "--if-empty", "--cases", "60", stdout=out)
    assert "did nothing" in out.getvalue()
    assert (
        District.objects.count(),
        User.objects.count(),
        Case.objects.count(),
        CaseEvent.objects.count(),
    ) == counts
    # Without --if-empty a second run refuses rather than mixing two demos.
    with pytest.raises(CommandError):
        call_command("seed_demo", "--cases", "5", stdout=io.StringIO())
