"""The supervisors' daily digest: their scope's figures each morning, once a day, in-app and by email."""

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases import jobs
from cases.choices import CaseStatus
from cases.models import ExtensionRequest, ParkingRequest
from cases.selectors import supervisor_digest
from cases.tasks import send_daily_digests
from chengguan.clock import frozen_at
from chengguan.models import Notification, NotificationKind, OutboundMessage
from chengguan.roles import Role
from tests.factories import CaseFactory, DistrictFactory, aware, staff

pytestmark = pytest.mark.django_db

MORNING = aware(2026, 3, 3, 8)  # Tuesday


@pytest.fixture
def desk(community, unit):  # type: ignore[no-untyped-def]
    """The district's cases as a supervisor finds them on Tuesday morning."""
    worker = staff(Role.HANDLING_UNIT, scope=unit)
    yesterday = [CaseFactory(community=community, reported_at=aware(2026, 3, 2, h)) for h in (9, 15)]
    CaseFactory(community=community, reported_at=aware(2026, 3, 1, 23))  # Sunday: not yesterday
    CaseFactory(community=community, reported_at=aware(2026, 3, 3, 7))  # this morning: not yesterday
    overdue = CaseFactory(
        community=community, status=CaseStatus.DISPATCHED, deadline=aware(2026, 3, 2, 17), reported_at=MORNING
    )
    CaseFactory(
        community=community,
        status=CaseStatus.IN_PROGRESS,
        deadline=aware(2026, 3, 4, 17),
        escalation_level=1,
        reported_at=MORNING,
    )
    CaseFactory(community=community, status=CaseStatus.RESOLVED, reported_at=MORNING)
    ExtensionRequest.objects.create(
        case=overdue,
        requested_by=worker,
        requested_due_at=aware(2026, 3, 6, 17),
        reason="需协调",
        created_at=MORNING,
    )
    parked = CaseFactory(community=community, status=CaseStatus.REGISTERED, reported_at=MORNING)
    ParkingRequest.objects.create(case=parked, requested_by=worker, reason="涉及拆迁", created_at=MORNING)
    CaseFactory(
        community=community, status=CaseStatus.CLOSED, deadline=aware(2026, 3, 1, 10), reported_at=MORNING
    )
    return {"yesterday": yesterday}


def expected() -> dict[str, int]:
    return {"new_reports": 2, "overdue": 1, "escalated": 1, "to_verify": 1, "extensions": 1, "parking": 1}


def test_the_figures_follow_the_supervisors_scope(district, desk):
    ours = staff(Role.SUPERVISOR, scope=district)
    theirs = staff(Role.SUPERVISOR, scope=DistrictFactory())
    since, until = aware(2026, 3, 2), aware(2026, 3, 3)

    assert supervisor_digest(ours, since=since, until=until, now=MORNING) == expected()
    assert set(supervisor_digest(theirs, since=since, until=until, now=MORNING).values()) == {0}
    handler = staff(Role.DISPATCHER, scope=district)  # no supervise/verify role: only what they see
    figures = supervisor_digest(handler, since=since, until=until, now=MORNING)
    assert figures["new_reports"] == 2 and figures["overdue"] == figures["to_verify"] == 0


def test_each_supervisor_gets_one_digest_a_day_in_app_and_by_email(
    district, desk, django_capture_on_commit_callbacks
):
    # given two supervisors of the district (one with an email address), one elsewhere and a liaison
    with_email = staff(Role.SUPERVISOR, scope=district)
    with_email.email = "chen@example.cn"
    with_email.save(update_fields=["email"])
    without_email = staff(Role.SUPERVISOR, scope=district)
    elsewhere = staff(Role.SUPERVISOR, scope=DistrictFactory())
    liaison = staff(Role.LIAISON, scope=district)
    # when the morning job runs, and again
    with frozen_at(MORNING), django_capture_on_commit_callbacks(execute=True):
        first = send_daily_digests.apply().get()
        second = jobs.send_daily_digests()
    # then each supervisor has one digest of their own scope, and nobody else has one
    assert (first, second) == (3, 0)
    digests = Notification.objects.filter(kind=NotificationKind.DIGEST, key="digest:2026-03-03")
    assert sorted(digests.values_list("recipient_id", flat=True)) == sorted(
        [with_email.pk, without_email.pk, elsewhere.pk]
    )
    assert not Notification.objects.filter(recipient=liaison).exists()
    mine = digests.get(recipient=with_email)
    assert "2026-03-03" in mine.title and mine.url == "/desk/"
    lines = mine.body.splitlines()
    assert len(lines) == 6
    assert lines[0].endswith(": 2 (/cases/)")
    assert lines[1].endswith(": 1 (/desk/overdue/)")
    assert lines[3].endswith(": 1 (/desk/verify/)")
    assert all(": 0" in line for line in digests.get(recipient=elsewhere).body.splitlines())
    # and the one with an address got it by email, through the outbox, once
    message = OutboundMessage.objects.get()
    assert (message.channel, message.recipient, message.status) == ("email", "chen@example.cn", "sent")
    assert [m.to for m in mail.outbox] == [["chen@example.cn"]]
    # when the next morning comes, a new digest is sent
    with frozen_at(aware(2026, 3, 4, 8)):
        assert jobs.send_daily_digests() == 3


def test_queries_grow_by_a_constant_per_supervisor(district, desk):
    def queries_for(supervisors: int, day: int) -> int:
        for _ in range(supervisors):
            staff(Role.SUPERVISOR, scope=district)
        Notification.objects.all().delete()
        with frozen_at(aware(2026, 3, day, 8)), CaptureQueriesContext(connection) as queries:
            jobs.send_daily_digests()
        return len(queries)

    one = queries_for(1, 3)  # one supervisor
    three = queries_for(2, 4)  # three
    five = queries_for(2, 5)  # five
    assert five - three == three - one
    assert (three - one) / 2 <= 8  # scope (guardian), role check, one aggregate
