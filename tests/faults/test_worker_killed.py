"""A Celery worker killed (SIGKILL) in the middle of a job.

The deadline-reminder job is acknowledged late (CELERY_TASK_ACKS_LATE): a
worker that dies before finishing never acknowledges it, so Redis hands the
job out again once the visibility timeout (CELERY_VISIBILITY_TIMEOUT) has
passed, and the next worker runs it to the end. What the dead worker had
done was in a transaction the database rolled back with its connection, and
the job skips what a finished run recorded (`reminded_deadline`, one
notification per recipient and key): each handler is reminded once.

To catch the worker mid-job, the test holds a lock on the notification
table from a connection of its own: the job reminds the cases (rows locked
and updated, uncommitted) and then waits to write the notifications. That
is where it gets killed.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from cases.choices import CaseStatus
from cases.models import Case
from cases.tasks import remind_deadlines
from chengguan import clock
from chengguan.models import Notification, NotificationKind, OutboundMessage
from chengguan.notifications import notification_channels_save
from chengguan.roles import Role
from chengguan.worktime import get_calendar
from tests.factories import CaseFactory, staff
from tests.faults.conftest import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

VISIBILITY_TIMEOUT = 3  # seconds; the job takes well under that once unblocked
CASES = 4


def own_connection(*, autocommit: bool = False) -> psycopg.Connection[tuple[object, ...]]:
    """A connection of the test's own to the test database (not Django's)."""
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=autocommit,
    )


def waiting_on_notifications(watcher: psycopg.Connection[tuple[object, ...]]) -> bool:
    """Some other session waits for a lock while writing notifications: the worker, mid-job."""
    # Autocommit: inside a transaction pg_stat_activity would stay as first read.
    row = watcher.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query ILIKE %s",
        ["%chengguan_notification%"],
    ).fetchone()
    return bool(row and row[0])


def test_a_job_whose_worker_was_killed_completes_on_the_next_worker_without_duplicates(
    community, broker, make_worker, tmp_path
):
    # given a liaison who gets deadline reminders by SMS too, with cases due within the window
    sms_log = Path(tmp_path) / "sms.log"
    liaison = staff(Role.LIAISON, scope=community)
    liaison.phone = "13900003333"
    liaison.save(update_fields=["phone"])
    notification_channels_save(user=liaison, choices={"deadline": (False, True)})
    # Due at the end of the reminder window as it is now: the worker's window, a little later, holds it.
    deadline = get_calendar().add(clock.now(), settings.DEADLINE_REMINDER_BEFORE)
    assert (deadline - clock.now()).total_seconds() > 600
    CaseFactory.create_batch(
        CASES, community=community, status=CaseStatus.IN_PROGRESS, assignee=liaison, deadline=deadline
    )
    cases = list(Case.objects.filter(assignee=liaison).order_by("pk"))
    env = {
        "SMS_BACKEND": "tests.faults.sms.FileSMSBackend",
        "FAULT_SMS_LOG": str(sms_log),
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
    }
    broker.start()
    first = make_worker(broker.url, **env)
    first.start()

    # when the job runs and the worker is killed while it writes the reminders
    holder, watcher = own_connection(), own_connection(autocommit=True)
    try:
        holder.execute("LOCK TABLE chengguan_notification IN SHARE MODE")
        remind_deadlines.delay()
        queued_at = time.monotonic()
        wait_until(lambda: waiting_on_notifications(watcher), 60, "the job to reach the notifications")
        first.kill()
    finally:
        holder.rollback()
        holder.close()
        watcher.close()

    # then nothing of the killed run is left: its transaction went with its connection
    assert not Notification.objects.exists()
    assert not Case.objects.filter(reminded_deadline__isnull=False).exists()
    assert sms_log.exists() is False

    # when a new worker starts after the visibility timeout
    time.sleep(max(0.0, VISIBILITY_TIMEOUT + 1 - (time.monotonic() - queued_at)))
    make_worker(broker.url, **env).start()

    # then the job is handed out again and completes: every case reminded about, each once
    reminders = Notification.objects.filter(recipient=liaison, kind=NotificationKind.DEADLINE)
    texts = OutboundMessage.objects.filter(recipient=liaison.phone)
    wait_until(
        lambda: (
            reminders.count() == CASES and texts.filter(status=OutboundMessage.Status.SENT).count() == CASES
        ),
        60,
        "the reminders to be sent by the new worker",
    )
    # Long enough for a second delivery of the job, were there one, to show.
    time.sleep(VISIBILITY_TIMEOUT + 2)
    assert sorted(reminders.values_list("key", flat=True)) == sorted(
        f"deadline:{case.pk}:{timezone_stamp(deadline)}" for case in cases
    )
    assert texts.count() == CASES
    # The log holds each text as sent (several lines): its first line is "phone<TAB>number …".
    sent = [line for line in sms_log.read_text(encoding="utf-8").splitlines() if "\t" in line]
    assert Counter(line.split("\t")[0] for line in sent) == {liaison.phone: CASES}
    assert sorted(line.split("\t")[1].split()[0] for line in sent) == sorted(case.number for case in cases)
    assert Case.objects.filter(pk__in=[c.pk for c in cases], reminded_deadline=deadline).count() == CASES


def timezone_stamp(moment) -> str:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    return f"{timezone.localtime(moment):%Y%m%d%H%M%S}"
