"""Reminders to the handler before a deadline, counted in working time, once per case and deadline."""

from datetime import timedelta

import pytest

from cases import jobs
from cases.choices import CaseStatus
from cases.models import Case
from cases.tasks import remind_deadlines
from chengguan.clock import frozen_at
from chengguan.models import Notification, NotificationKind, OutboundMessage
from chengguan.notifications import notification_channels_save
from chengguan.roles import Role
from tests.factories import CaseFactory, aware, staff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def four_working_hours(settings):  # type: ignore[no-untyped-def]
    settings.DEADLINE_REMINDER_BEFORE = timedelta(hours=4)


@pytest.fixture
def liaison(community):  # type: ignore[no-untyped-def]
    user = staff(Role.LIAISON, scope=community)
    user.phone = "13900002222"
    user.save(update_fields=["phone"])
    return user


def due(community, deadline, **fields):  # type: ignore[no-untyped-def]
    fields.setdefault("status", CaseStatus.IN_PROGRESS)
    return CaseFactory(community=community, deadline=deadline, **fields)


def reminded(user) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(
        Notification.objects.filter(recipient=user, kind=NotificationKind.DEADLINE).values_list(
            "key", flat=True
        )
    )


def test_the_handler_is_reminded_within_four_working_hours_once(community, unit, liaison):
    # given on Monday 2026-03-02: a case of the liaison due 17:00, one due Tuesday 10:00,
    # a unit's case due 16:00 and a resolved case due 15:00
    member = staff(Role.HANDLING_UNIT, scope=unit)
    today = due(community, aware(2026, 3, 2, 17), assignee=liaison)
    tomorrow = due(community, aware(2026, 3, 3, 10), assignee=liaison)
    units = due(community, aware(2026, 3, 2, 16), handling_unit=unit, status=CaseStatus.DISPATCHED)
    due(community, aware(2026, 3, 2, 15), assignee=liaison, status=CaseStatus.RESOLVED)
    # when the job runs at 14:00 (4 working hours reach 18:00), twice
    with frozen_at(aware(2026, 3, 2, 14)):
        first, second = jobs.remind_deadlines(batch_size=1), jobs.remind_deadlines()
    # then the two cases due today were reminded about, once, to their handlers
    assert (first, second) == (2, 0)
    assert reminded(liaison) == [f"deadline:{today.pk}:20260302170000"]
    assert reminded(member) == [f"deadline:{units.pk}:20260302160000"]
    notice = Notification.objects.get(recipient=liaison)
    assert today.number in notice.title and notice.url == f"/cases/{today.number}/"
    assert Case.objects.get(pk=today.pk).reminded_deadline == today.deadline
    assert Case.objects.get(pk=today.pk).version == today.version  # bookkeeping, not a change
    # when it runs at 17:00 (4 working hours reach Tuesday 12:00)
    with frozen_at(aware(2026, 3, 2, 17)):
        assert remind_deadlines.apply().get() == 1
    # then the case due Tuesday 10:00 is reminded about too
    assert reminded(liaison) == sorted(
        [f"deadline:{today.pk}:20260302170000", f"deadline:{tomorrow.pk}:20260303100000"]
    )


def test_nights_and_weekends_do_not_count(community, liaison):
    # given a case due Monday 2026-03-09 10:00 and one due Monday 14:00
    monday_morning = due(community, aware(2026, 3, 9, 10), assignee=liaison)
    due(community, aware(2026, 3, 9, 14), assignee=liaison)
    # when the job runs on Friday at 17:00 (1 h that day + 3 h on Monday reach Monday 12:00)
    with frozen_at(aware(2026, 3, 6, 17)):
        assert jobs.remind_deadlines() == 1
    # then only the Monday-morning case was reminded about
    assert reminded(liaison) == [f"deadline:{monday_morning.pk}:20260309100000"]


def test_a_moved_deadline_reminds_again(community, liaison):
    case = due(community, aware(2026, 3, 2, 17), assignee=liaison)
    with frozen_at(aware(2026, 3, 2, 14)):
        jobs.remind_deadlines()
    # when an extension moves the deadline to Tuesday 11:00
    Case.objects.filter(pk=case.pk).update(deadline=aware(2026, 3, 3, 11))

    with frozen_at(aware(2026, 3, 3, 9)):
        assert jobs.remind_deadlines() == 1
        assert jobs.remind_deadlines() == 0

    assert reminded(liaison) == sorted(
        [f"deadline:{case.pk}:20260302170000", f"deadline:{case.pk}:20260303110000"]
    )


def test_overdue_and_undated_cases_are_not_reminded_about(community, liaison):
    due(community, aware(2026, 3, 2, 9), assignee=liaison)
    due(community, None, assignee=liaison)

    with frozen_at(aware(2026, 3, 2, 14)):
        assert jobs.remind_deadlines() == 0


def test_the_reminder_goes_by_sms_to_a_handler_who_chose_it(
    community, liaison, django_capture_on_commit_callbacks
):
    notification_channels_save(user=liaison, choices={"deadline": (False, True)})
    case = due(community, aware(2026, 3, 2, 17), assignee=liaison)

    with frozen_at(aware(2026, 3, 2, 14)), django_capture_on_commit_callbacks(execute=True):
        jobs.remind_deadlines()
        jobs.remind_deadlines()

    message = OutboundMessage.objects.get()
    assert (message.channel, message.recipient, message.status) == ("sms", "13900002222", "sent")
    assert case.number in message.body
