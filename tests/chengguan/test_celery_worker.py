"""The scheduled jobs run for real: a Celery worker process against the real
Redis broker and the test database, each job sent twice, each reminder sent once."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from chengguan.models import Notification
from chengguan.roles import Role
from liaisons.choices import PatrolFrequency
from liaisons.models import PatrolPlan, ScheduledPatrol
from liaisons.services import liaison_assign
from tests.factories import UserFactory, staff

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path):  # type: ignore[no-untyped-def]
    """A real worker on the test database, consuming a queue of its own."""
    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{host}:{port}/{db['NAME']}",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CHENGGUAN_VAR_DIR": str(tmp_path),
    }
    log = tmp_path / "worker.log"
    queue = f"test-{os.getpid()}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "chengguan",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while "ready" not in log.read_text():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail(f"worker did not start:\n{log.read_text()}")
        time.sleep(0.3)
    yield queue, log
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_for(log: Path, text: str, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while log.read_text().count(text) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{text!r} seen {log.read_text().count(text)} of {count} times:\n{log.read_text()}")
        time.sleep(0.3)


def test_patrol_reminders_run_on_a_real_worker_and_are_sent_once(community, worker):
    from chengguan.celery import app
    from liaisons.tasks import remind_patrols

    queue, log = worker
    # Given a liaison whose community has a patrol due today
    liaison = staff(Role.LIAISON)
    liaison_assign(community=community, liaison=liaison, actor=UserFactory(is_superuser=True))
    plan = PatrolPlan.objects.create(community=community, frequency=PatrolFrequency.DAILY)
    today = timezone.localdate()
    ScheduledPatrol.objects.create(
        plan=plan, community=community, window_start=today, window_end=today, due_date=today
    )
    app.conf.task_always_eager = False
    try:
        # When beat fires the reminder job twice (e.g. after a restart)
        remind_patrols.apply_async(queue=queue)
        remind_patrols.apply_async(queue=queue)
        wait_for(log, "succeeded", 2)
    finally:
        app.conf.task_always_eager = True
    # Then the worker ran it twice and the liaison was reminded once
    assert log.read_text().count("remind_patrols: ") == 2
    assert Notification.objects.filter(recipient=liaison).count() == 1
    assert Notification.objects.get(recipient=liaison).created_at > timezone.now() - timedelta(minutes=5)


def test_every_scheduled_job_runs_twice_on_a_real_worker_and_reminds_once(community, worker):
    """All beat jobs, sent twice each: every reminder key reaches its recipient once."""
    from cases.choices import CaseStatus
    from cases.tasks import escalate_overdue_cases, remind_return_visits, schedule_return_visits
    from chengguan.celery import app
    from inspections.models import Agreement, ChecklistItem, ResponsibilityUnit
    from inspections.services import ItemOutcome, inspection_record
    from inspections.tasks import remind_expiring_agreements, remind_reinspections
    from liaisons.tasks import flag_missed_patrols, remind_patrols, schedule_patrols
    from tests.factories import CaseFactory

    queue, log = worker
    now = timezone.now()
    liaison = staff(Role.LIAISON)
    liaison_assign(community=community, liaison=liaison, actor=UserFactory(is_superuser=True))
    # A patrol plan, a missed slot from last week, a closed case with a reporter,
    # an overdue case, a notice past its deadline and an agreement about to end.
    plan = PatrolPlan.objects.create(community=community, frequency=PatrolFrequency.DAILY)
    week_ago = timezone.localdate() - timedelta(days=7)
    ScheduledPatrol.objects.create(
        plan=plan, community=community, window_start=week_ago, window_end=week_ago, due_date=week_ago
    )
    CaseFactory(
        community=community,
        status=CaseStatus.CLOSED,
        closed_at=now - timedelta(days=1),
        reporter_phone="13700001234",
    )
    CaseFactory(community=community, status=CaseStatus.REGISTERED, deadline=now - timedelta(hours=1))
    shop = ResponsibilityUnit.objects.create(name="老王烧烤", address="东园街248号", community=community)
    inspection = inspection_record(
        unit=shop, inspector=liaison, outcomes=[ItemOutcome(item=ChecklistItem.objects.first(), passed=False)]
    )
    type(inspection.notice).objects.filter(pk=inspection.notice.pk).update(deadline=now - timedelta(hours=1))
    Agreement.objects.create(
        unit=shop,
        number="MQ-1",
        starts_on=week_ago,
        ends_on=timezone.localdate() + timedelta(days=10),
        signed_on=week_ago,
        signed_by="王老板",
        duties="门前三包",
    )
    jobs = [
        schedule_patrols,
        remind_patrols,
        flag_missed_patrols,
        schedule_return_visits,
        remind_return_visits,
        remind_reinspections,
        remind_expiring_agreements,
        escalate_overdue_cases,
    ]
    app.conf.task_always_eager = False
    try:
        for job in jobs + jobs:
            job.apply_async(queue=queue)
        wait_for(log, "succeeded", 2 * len(jobs), timeout=120)
    finally:
        app.conf.task_always_eager = True
    keys = list(Notification.objects.filter(recipient=liaison).values_list("key", flat=True))
    assert len(keys) == len(set(keys))
    assert any(key.endswith(":missed") for key in keys)
    assert any(key.endswith(":reinspect") for key in keys)
    assert any(key.endswith(":expiring") for key in keys)
    assert any(key.endswith(":scheduled") for key in keys)
