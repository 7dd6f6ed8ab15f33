"""Patrol plans, scheduled patrols, patrol logs and findings that become cases."""

from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from cases.choices import CaseSource, CaseStatus
from chengguan.errors import ActionNotPermitted, InvalidInput
from chengguan.models import Notification
from chengguan.roles import Role
from liaisons import jobs
from liaisons.choices import PatrolFrequency, ScheduledPatrolStatus, Weekday
from liaisons.models import PatrolPlan, ScheduledPatrol
from liaisons.services import FindingInput, liaison_assign, patrol_finding_to_case, patrol_log, patrol_slots
from tests.factories import UserFactory, leaf_category, staff


def local(*args: int) -> datetime:
    return timezone.make_aware(datetime(*args))


@pytest.fixture
def liaison(community):  # type: ignore[no-untyped-def]
    admin = UserFactory(is_superuser=True)
    person = staff(Role.LIAISON)
    liaison_assign(community=community, liaison=person, actor=admin)
    return type(person).objects.get(pk=person.pk)


def test_weekly_plan_expects_one_patrol_per_week_due_on_the_preferred_day(community):
    plan = PatrolPlan(
        community=community, frequency=PatrolFrequency.WEEKLY, preferred_weekday=Weekday.WEDNESDAY
    )
    slots = patrol_slots(plan, date(2026, 11, 30), date(2026, 12, 14))
    assert slots == [
        (date(2026, 11, 30), date(2026, 12, 6), date(2026, 12, 2), 0),
        (date(2026, 12, 7), date(2026, 12, 13), date(2026, 12, 9), 0),
    ]


def test_twice_daily_and_monthly_plans():
    twice = PatrolPlan(frequency=PatrolFrequency.TWICE_DAILY)
    assert len(patrol_slots(twice, date(2026, 12, 1), date(2026, 12, 4))) == 6
    monthly = PatrolPlan(frequency=PatrolFrequency.MONTHLY, times_per_month=3)
    windows = patrol_slots(monthly, date(2026, 12, 1), date(2027, 1, 1))
    assert [(w[0].day, w[1].day) for w in windows] == [(1, 10), (11, 20), (21, 31)]


def test_scheduling_is_idempotent(community):
    PatrolPlan.objects.create(community=community, frequency=PatrolFrequency.DAILY)
    with time_machine.travel(local(2026, 12, 1, 1, 0), tick=False):
        assert jobs.schedule_patrols(days=7) == 7
        assert jobs.schedule_patrols(days=7) == 0
    assert ScheduledPatrol.objects.count() == 7


def test_a_logged_patrol_fulfils_the_scheduled_one_and_a_finding_becomes_a_case(community, liaison):
    # Given a weekly plan and its scheduled patrol
    PatrolPlan.objects.create(community=community, frequency=PatrolFrequency.WEEKLY)
    with time_machine.travel(local(2026, 12, 2, 10, 0), tick=False):
        jobs.schedule_patrols(days=5)  # this week only
        # When the liaison logs a patrol with a finding
        log = patrol_log(
            liaison=liaison,
            community=community,
            started_at=local(2026, 12, 2, 9, 0),
            ended_at=local(2026, 12, 2, 9, 50),
            notes="沿街巡查一遍",
            findings=[
                FindingInput(description="路口有流动摊贩", category=leaf_category(), lat=30.005, lng=120.005)
            ],
            client_uuid="draft-1",
        )
        # Then the week's scheduled patrol is done
        slot = ScheduledPatrol.objects.get()
        assert slot.status == ScheduledPatrolStatus.DONE and slot.patrol == log
        # And a retried offline submission does not log twice
        assert (
            patrol_log(
                liaison=liaison,
                community=community,
                started_at=local(2026, 12, 2, 9, 0),
                ended_at=local(2026, 12, 2, 9, 50),
                client_uuid="draft-1",
            ).pk
            == log.pk
        )
        # And the finding becomes a case in one step
        case = patrol_finding_to_case(finding=log.findings.get(), actor=liaison)
    assert case.source == CaseSource.PATROL
    assert case.community == community
    assert case.status == CaseStatus.REPORTED


def test_a_finding_fixed_on_the_spot_is_closed_at_once(community, liaison):
    with time_machine.travel(local(2026, 12, 2, 10, 0), tick=False):
        log = patrol_log(
            liaison=liaison,
            community=community,
            started_at=local(2026, 12, 2, 9, 0),
            ended_at=local(2026, 12, 2, 9, 30),
            findings=[FindingInput(description="门口堆放纸箱", lat=30.005, lng=120.005)],
        )
        case = patrol_finding_to_case(
            finding=log.findings.get(), actor=liaison, fixed_on_spot=True, result="已督促店主当场清理"
        )
    assert case.status == CaseStatus.CLOSED
    assert case.closed_on_spot
    assert case.assignee == liaison


def test_patrols_are_logged_only_in_ones_own_community(community, other_community, liaison):
    with pytest.raises(ActionNotPermitted):
        patrol_log(
            liaison=liaison,
            community=other_community,
            started_at=timezone.now() - timedelta(hours=1),
            ended_at=timezone.now(),
        )
    with pytest.raises(InvalidInput):
        patrol_log(
            liaison=liaison,
            community=community,
            started_at=timezone.now(),
            ended_at=timezone.now() - timedelta(hours=1),
        )


def test_reminders_the_day_before_and_the_morning_of_are_sent_once(community, liaison):
    PatrolPlan.objects.create(
        community=community, frequency=PatrolFrequency.WEEKLY, preferred_weekday=Weekday.WEDNESDAY
    )
    with time_machine.travel(local(2026, 11, 30, 1, 0), tick=False):
        jobs.schedule_patrols(days=7)
    with time_machine.travel(local(2026, 12, 1, 17, 0), tick=False):  # Tuesday afternoon
        assert jobs.remind_patrols() == 1
        assert jobs.remind_patrols() == 0
    with time_machine.travel(local(2026, 12, 2, 7, 0), tick=False):  # Wednesday morning
        assert jobs.remind_patrols() == 1
        assert jobs.remind_patrols() == 0
    assert Notification.objects.filter(recipient=liaison).count() == 2


def test_missed_patrols_are_flagged_once(community, liaison):
    PatrolPlan.objects.create(community=community, frequency=PatrolFrequency.WEEKLY)
    with time_machine.travel(local(2026, 11, 30, 1, 0), tick=False):
        jobs.schedule_patrols(days=7)
    with time_machine.travel(local(2026, 12, 7, 0, 15), tick=False):
        assert jobs.flag_missed_patrols() == 1
        assert jobs.flag_missed_patrols() == 0
    assert ScheduledPatrol.objects.get().status == ScheduledPatrolStatus.MISSED
    assert Notification.objects.filter(recipient=liaison, key__endswith=":missed").count() == 1
