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
from communities.models import Community, District, EnforcementDisclosure, Facility, GridCell
from communities.selectors import locate_point
from inspections.choices import NoticeStatus
from inspections.models import Agreement, Inspection, RectificationNotice, ResponsibilityUnit
from liaisons.choices import AssignmentRole, PatrolFrequency, ScheduledPatrolStatus
from liaisons.models import LiaisonAssignment, PatrolLog, PatrolPlan, ScheduledPatrol

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
    assert_each_community_has_field_work()
    assert_facilities_and_disclosure()
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


def assert_each_community_has_field_work():
    today = timezone.localdate()
    for community in Community.objects.all():
        # an active weekly patrol plan, whose past weeks were patrolled or flagged missed
        plan = PatrolPlan.objects.get(community=community)
        assert plan.is_active and plan.frequency == PatrolFrequency.WEEKLY
        past = ScheduledPatrol.objects.filter(plan=plan, window_end__lt=today)
        assert past.count() >= 5
        assert not past.filter(status=ScheduledPatrolStatus.DUE).exists()
        assert past.filter(status=ScheduledPatrolStatus.DONE, patrol__isnull=False).exists()
        assert ScheduledPatrol.objects.filter(plan=plan, window_end__gte=today).exists()
        logs = PatrolLog.objects.filter(community=community)
        assert logs.exists()
        assert all(log.liaison.groups.filter(name=Role.LIAISON).exists() for log in logs)
        assert all(log.ended_at < timezone.now() for log in logs)
        # two or three shops, each under a current agreement and inspected once
        shops = ResponsibilityUnit.objects.filter(community=community)
        assert 2 <= shops.count() <= 3
        for shop in shops:
            assert Agreement.objects.filter(unit=shop, starts_on__lte=today, ends_on__gte=today).count() == 1
            assert Inspection.objects.filter(unit=shop).count() == 1
        # the latest inspection failed: its rectification notice is running
        failed = Inspection.objects.filter(unit__community=community, passed=False)
        assert failed.count() == 1
        notice = RectificationNotice.objects.get(inspection=failed.get())
        assert notice.status == NoticeStatus.ISSUED
        assert notice.deadline > timezone.now()
        assert notice.failed_items.count() == 1


def assert_facilities_and_disclosure():
    for community in Community.objects.all():
        facilities = Facility.objects.filter(community=community, is_active=True)
        assert 1 <= facilities.count() <= 2
        for facility in facilities:
            place = locate_point(facility.lat, facility.lng)
            assert place.community == community
            assert facility.grid_cell == place.grid_cell
            assert facility.code.startswith(community.code)
    disclosure = EnforcementDisclosure.objects.get()
    assert disclosure.is_published and disclosure.matter_lines and disclosure.officers


def _counts():
    return tuple(
        model.objects.count()
        for model in (
            District,
            User,
            Case,
            CaseEvent,
            Facility,
            EnforcementDisclosure,
            PatrolPlan,
            ScheduledPatrol,
            PatrolLog,
            ResponsibilityUnit,
            Agreement,
            Inspection,
            RectificationNotice,
        )
    )


def test_if_empty_does_nothing_the_second_time(seeded):
    counts = _counts()
    assert all(counts)
    out = io.StringIO()
    call_command("seed_demo", "--if-empty", "--cases", "60", stdout=out)
    assert "did nothing" in out.getvalue()
    assert _counts() == counts
    # Without --if-empty a second run refuses rather than mixing two demos.
    with pytest.raises(CommandError):
        call_command("seed_demo", "--cases", "5", stdout=io.StringIO())
