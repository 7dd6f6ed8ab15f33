"""门前三包: inspections, rectification notices, re-inspection reminders and the
case that follows a failed re-inspection."""

from datetime import datetime

import pytest
import time_machine
from django.utils import timezone

from cases.choices import CaseSource, CaseStatus
from chengguan.errors import ActionNotPermitted, TransitionNotAllowed
from chengguan.models import Notification
from chengguan.roles import Role
from inspections import jobs
from inspections.choices import NoticeStatus
from inspections.models import ChecklistItem, ResponsibilityUnit
from inspections.services import ItemOutcome, inspection_record, notice_reinspect
from liaisons.services import liaison_assign
from tests.factories import UserFactory, staff


def local(*args: int) -> datetime:
    return timezone.make_aware(datetime(*args))


@pytest.fixture
def liaison(community):  # type: ignore[no-untyped-def]
    person = staff(Role.LIAISON)
    liaison_assign(community=community, liaison=person, actor=UserFactory(is_superuser=True))
    return type(person).objects.get(pk=person.pk)


@pytest.fixture
def shop(community):  # type: ignore[no-untyped-def]
    return ResponsibilityUnit.objects.create(
        name="老王烧烤",
        address="东园街248号",
        community=community,
        lat=30.005,
        lng=120.005,
        contact_name="王老板",
    )


def outcomes(failing: set[str]) -> list[ItemOutcome]:
    return [ItemOutcome(item=item, passed=item.code not in failing) for item in ChecklistItem.objects.all()]


def test_a_passed_inspection_issues_no_notice(shop, liaison):
    inspection = inspection_record(unit=shop, inspector=liaison, outcomes=outcomes(set()))
    assert inspection.passed
    assert not hasattr(inspection, "notice") or inspection.notice is None


def test_failed_items_issue_a_notice_then_reminder_then_case(shop, liaison):
    # Given a Monday inspection where trading outside the shop (1 day) and
    # fumes (10 days) fail
    with time_machine.travel(local(2026, 11, 30, 10, 0), tick=False):
        inspection = inspection_record(
            unit=shop, inspector=liaison, outcomes=outcomes({"ZX01", "YY01"}), client_uuid="insp-1"
        )
        notice = inspection.notice
        # Then a notice with the longest rectification time is issued
        assert notice.status == NoticeStatus.ISSUED
        assert set(notice.failed_items.values_list("code", flat=True)) == {"ZX01", "YY01"}
        assert timezone.localtime(notice.deadline) == local(2026, 12, 14, 10, 0)  # 10 working days
        assert "油烟" in notice.requirements
        # And a replayed submission does not inspect twice
        assert (
            inspection_record(unit=shop, inspector=liaison, outcomes=outcomes({"ZX01"}), client_uuid="insp-1")
            == inspection
        )
        # And no reminder before the deadline
        assert jobs.remind_reinspections() == 0
    # When the deadline passes, the liaison is reminded once
    with time_machine.travel(local(2026, 12, 14, 14, 0), tick=False):
        assert jobs.remind_reinspections() == 1
        assert jobs.remind_reinspections() == 0
        assert Notification.objects.filter(recipient=liaison, key=f"notice:{notice.pk}:reinspect").exists()
        # And a failed re-inspection files a case linked to the notice
        notice = notice_reinspect(
            notice=notice, inspector=liaison, rectified=False, notes="油烟净化器仍未安装"
        )
    assert notice.status == NoticeStatus.NOT_RECTIFIED
    case = notice.case
    assert case.source == CaseSource.INSPECTION
    assert case.status == CaseStatus.REPORTED
    assert case.community == shop.community
    assert notice.number in case.description and "油烟净化器仍未安装" in case.description
    with pytest.raises(TransitionNotAllowed):
        notice_reinspect(notice=notice, inspector=liaison, rectified=True)


def test_a_rectified_unit_settles_its_notice(shop, liaison):
    inspection = inspection_record(unit=shop, inspector=liaison, outcomes=outcomes({"HW01"}))
    notice = notice_reinspect(notice=inspection.notice, inspector=liaison, rectified=True)
    assert notice.status == NoticeStatus.RECTIFIED
    assert notice.case is None
    assert notice.reinspections.get().passed


def test_only_liaisons_of_the_community_inspect(shop, other_community):
    outsider = staff(Role.LIAISON, scope=other_community)
    with pytest.raises(ActionNotPermitted):
        inspection_record(unit=shop, inspector=outsider, outcomes=outcomes(set()))
