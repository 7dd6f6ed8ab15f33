"""The case filed after a failed re-inspection quotes the notice's deadline in local time."""

from datetime import datetime

import pytest
import time_machine
from django.utils import timezone

from chengguan.roles import Role
from inspections.models import ChecklistItem, ResponsibilityUnit
from inspections.services import ItemOutcome, inspection_record, notice_reinspect
from liaisons.services import liaison_assign
from tests.factories import UserFactory, staff

pytestmark = pytest.mark.django_db


def local(*args: int) -> datetime:
    return timezone.make_aware(datetime(*args))


def test_the_case_quotes_the_deadline_in_local_time(community):
    # Given a liaison and a shop whose notice is due at 18:00 local time (10:00 UTC)
    liaison = staff(Role.LIAISON)
    liaison_assign(community=community, liaison=liaison, actor=UserFactory(is_superuser=True))
    liaison = type(liaison).objects.get(pk=liaison.pk)
    shop = ResponsibilityUnit.objects.create(
        name="老王烧烤", address="东园街248号", community=community, lat=30.005, lng=120.005
    )
    outcomes = [ItemOutcome(item=item, passed=item.code != "HW01") for item in ChecklistItem.objects.all()]
    with time_machine.travel(local(2026, 11, 30, 10, 0), tick=False):
        notice = inspection_record(unit=shop, inspector=liaison, outcomes=outcomes).notice
    notice.deadline = local(2026, 12, 3, 18, 0)
    notice.save(update_fields=["deadline"])

    # When the re-inspection finds it not rectified
    with time_machine.travel(local(2026, 12, 4, 9, 0), tick=False):
        notice = notice_reinspect(notice=notice, inspector=liaison, rectified=False)

    # Then the case says 18:00, as the notice did, not the UTC 10:00
    assert "2026-12-03 18:00" in notice.case.description
    assert "2026-12-03 10:00" not in notice.case.description
