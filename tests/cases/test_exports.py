"""Exports of the case list and the desk worklists to CSV and XLSX.

The export holds exactly the cases the list shows (same gate, same
FilterSet), masks reporters for roles without the contact permission, is
audited, streams small lists at once and runs large ones as an owner-only
job whose file is purged after the retention period.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import cast

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from cases.choices import CaseStatus, ExtensionStatus
from cases.exports import export_files_purge, export_header
from cases.models import Case, ExportJob, ExtensionRequest
from cases.worklists import WORKLISTS
from chengguan import clock
from chengguan.clock import frozen_at
from chengguan.models import AuditEntry, User
from chengguan.roles import Role
from tests.factories import CaseFactory, CommunityFactory, DistrictFactory, StreetFactory, UserFactory, staff

pytestmark = pytest.mark.django_db

EXPORT = reverse("cases:export")


def post_export(client, list_key: str = "cases", querystring: str = "", fmt: str = "csv"):  # type: ignore[no-untyped-def]
    return client.post(EXPORT, {"list": list_key, "querystring": querystring, "format": fmt})


def body(response) -> bytes:  # type: ignore[no-untyped-def]
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def csv_rows(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    text = (response if isinstance(response, bytes) else body(response)).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == export_header()
    return rows[1:]


def xlsx_rows(content: bytes) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == export_header()
    return rows[1:]


def list_count(client, url: str) -> int:  # type: ignore[no-untyped-def]
    response = client.get(url)
    assert response.status_code == 200
    return response.context["page_obj"].paginator.count


def column(name: str) -> int:
    with translation.override("en"):
        return export_header().index(name)


@pytest.fixture
def supervisor(district):  # type: ignore[no-untyped-def]
    return staff(Role.SUPERVISOR, scope=district)


@pytest.fixture
def elsewhere():  # type: ignore[no-untyped-def]
    """A community in another district: outside the supervisor's scope."""
    return CommunityFactory(street=StreetFactory(district=DistrictFactory()), origin=(121.0, 31.0))


@pytest.fixture
def cases_around(community, elsewhere):  # type: ignore[no-untyped-def]
    past = timezone.now() - timedelta(hours=2)
    in_scope = [
        *CaseFactory.create_batch(3, community=community, status=CaseStatus.REGISTERED),
        *CaseFactory.create_batch(2, community=community, status=CaseStatus.DISPATCHED, deadline=past),
        CaseFactory(community=community, status=CaseStatus.CLOSED),
    ]
    CaseFactory.create_batch(2, community=elsewhere, status=CaseStatus.REGISTERED)
    return in_scope


# --- anonymous, unscoped, scoped ---------------------------------------------------------------


def test_anonymous_users_are_sent_to_log_in(client, cases_around):
    response = post_export(client)

    assert response.status_code == 302
    assert reverse("login") in response["Location"]
    assert not AuditEntry.objects.filter(action="cases.exported").exists()


def test_a_user_without_scope_exports_an_empty_list(client, cases_around):
    client.force_login(staff(Role.SUPERVISOR))

    assert csv_rows(post_export(client)) == []


def test_a_worklist_the_role_does_not_have_is_forbidden(client, unit, cases_around):
    client.force_login(staff(Role.HANDLING_UNIT, scope=unit))

    assert post_export(client, "dispatch").status_code == 403
    assert post_export(client, "no-such-list").status_code == 302  # refused by the form, with a message


@pytest.mark.parametrize(
    "querystring", ["", "status=registered", "status=registered&status=dispatched", "overdue=true", "q=CG"]
)
def test_the_csv_holds_the_same_cases_as_the_filtered_list(client, supervisor, cases_around, querystring):
    client.force_login(supervisor)

    rows = csv_rows(post_export(client, "cases", querystring))

    assert len(rows) == list_count(client, reverse("cases:list") + "?" + querystring)
    # Only what the gate lets the supervisor see.
    exported = {row[column("Case number")] for row in rows}
    assert exported <= {case.number for case in cases_around}


def test_the_xlsx_holds_the_same_cases_as_the_filtered_list(client, supervisor, cases_around):
    client.force_login(supervisor)

    response = post_export(client, "cases", "status=registered", fmt="xlsx")

    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert 'filename="cases-' in response["Content-Disposition"]
    rows = xlsx_rows(body(response))
    assert len(rows) == 3 == list_count(client, reverse("cases:list") + "?status=registered")


@pytest.mark.parametrize("slug", WORKLISTS)
def test_every_worklist_exports_what_it_lists(client, superuser, community, slug):
    # Given cases in every queue, one of them with an extension pending and one escalated
    past = timezone.now() - timedelta(hours=1)
    CaseFactory.create_batch(2, community=community, status=CaseStatus.REGISTERED)
    CaseFactory(community=community, status=CaseStatus.DISPATCHED, deadline=past, escalation_level=1)
    asking = cast(Case, CaseFactory(community=community, status=CaseStatus.IN_PROGRESS))
    ExtensionRequest.objects.create(
        case=asking,
        requested_by=superuser,
        requested_due_at=timezone.now() + timedelta(days=3),
        reason="需协调产权单位",
        status=ExtensionStatus.PENDING,
        created_at=timezone.now(),
    )
    CaseFactory(community=community, status=CaseStatus.RESOLVED)
    CaseFactory(community=community, status=CaseStatus.PARKED, parked_at=past)
    client.force_login(superuser)
    url = reverse("desk:worklist", args=[slug])

    rows = csv_rows(post_export(client, slug, "ordering=-reported"))

    assert len(rows) == list_count(client, url + "?ordering=-reported") > 0


def test_invalid_filters_are_refused_with_a_message_and_not_audited(client, supervisor, cases_around):
    client.force_login(supervisor)

    response = post_export(client, "cases", "reported_at_after=not-a-date&status=registered")

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("cases:list") + "?")
    assert not AuditEntry.objects.filter(action="cases.exported").exists()


def test_an_unknown_format_is_refused(client, supervisor, cases_around):
    client.force_login(supervisor)

    response = post_export(client, "cases", "", fmt="pdf")

    assert response.status_code == 302
    assert not AuditEntry.objects.filter(action="cases.exported").exists()


def test_every_export_is_audited(client, supervisor, cases_around):
    client.force_login(supervisor)

    body(post_export(client, "cases", "status=registered&page=2"))

    entry = AuditEntry.objects.get(action="cases.exported")
    assert entry.actor == supervisor
    assert entry.data == {
        "list": "cases",
        "filters": "status=registered",
        "format": "csv",
        "rows": 3,
        "contact": True,
    }


# --- personal data ----------------------------------------------------------------------------


def test_reporters_are_masked_for_a_role_without_the_contact_permission(client, community):
    CaseFactory(community=community, reporter_name="张三丰", reporter_phone="13812345678")
    client.force_login(staff(Role.COMMUNITY_STAFF, scope=community))

    [row] = csv_rows(post_export(client))

    assert row[column("Reporter name")] == "张**"
    assert row[column("Reporter phone")] == "138****5678"
    assert "13812345678" not in body(post_export(client, fmt="xlsx")).decode("latin-1")


def test_reporters_are_shown_to_a_role_with_the_contact_permission(client, supervisor, community):
    CaseFactory(community=community, reporter_name="张三丰", reporter_phone="13812345678")
    client.force_login(supervisor)

    [row] = csv_rows(post_export(client))

    assert row[column("Reporter name")] == "张三丰"
    assert row[column("Reporter phone")] == "13812345678"


def test_text_a_spreadsheet_would_run_as_a_formula_stays_text(client, supervisor, community):
    CaseFactory(community=community, description='=HYPERLINK("http://evil")')
    client.force_login(supervisor)

    [row] = csv_rows(post_export(client))

    assert row[column("Description")].startswith("'=")


# --- query count --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_query_count_does_not_grow_with_the_rows(client, supervisor, community, unit, fmt):
    client.force_login(supervisor)

    def create(n: int) -> None:
        CaseFactory.create_batch(n, community=community, handling_unit=unit, status=CaseStatus.DISPATCHED)

    def export_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            body(post_export(client, fmt=fmt))
        return len(queries.captured_queries)

    create(3)
    export_queries()  # warm the content-type cache
    with_three = export_queries()
    create(30)

    assert export_queries() == with_three


# --- large exports as a job ---------------------------------------------------------------------


@pytest.fixture
def low_threshold(settings):  # type: ignore[no-untyped-def]
    settings.EXPORT_SYNC_MAX_ROWS = 2
    return settings


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_large_export_runs_as_a_job_the_owner_downloads(
    client, supervisor, cases_around, low_threshold, fmt, django_capture_on_commit_callbacks
):
    client.force_login(supervisor)
    expected = list_count(client, reverse("cases:list") + "?status=registered&status=dispatched")

    # When the list has more rows than the threshold
    with django_capture_on_commit_callbacks(execute=True):
        response = post_export(client, "cases", "status=registered&status=dispatched", fmt=fmt)

    # Then a job is made, audited, and (the task being eager here) written
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:export_job", args=[job.pk])
    assert AuditEntry.objects.get(action="cases.exported").data["rows"] == expected == 5
    assert (job.owner, job.status, job.rows_total, job.rows_done) == (supervisor, "done", 5, 5)
    assert job.file.name.startswith(f"exports/{supervisor.pk}/")

    # The page shows the download link; the owner downloads the rows
    page = client.get(response["Location"]).content.decode()
    assert reverse("cases:export_job_download", args=[job.pk]) in page
    download = client.get(reverse("cases:export_job_download", args=[job.pk]))
    assert download.status_code == 200
    content = body(download)
    rows = csv_rows(content) if fmt == "csv" else xlsx_rows(content)
    assert len(rows) == expected


def test_a_pending_job_polls_its_status_until_it_is_done(client, supervisor, low_threshold):
    job = ExportJob.objects.create(
        owner=supervisor, list_key="cases", format="csv", rows_total=40, rows_done=10
    )
    client.force_login(supervisor)

    fragment = client.get(reverse("cases:export_job_status", args=[job.pk])).content.decode()

    assert f'hx-get="{reverse("cases:export_job_status", args=[job.pk])}"' in fragment
    assert 'value="25"' in fragment  # 10 of 40 rows
    assert reverse("cases:export_job_download", args=[job.pk]) not in fragment
    # Not ready yet: nothing to download.
    assert client.get(reverse("cases:export_job_download", args=[job.pk])).status_code == 404

    job.status = ExportJob.Status.DONE
    job.file.save("x.csv", ContentFile(b"\xef\xbb\xbfa\r\n"), save=True)
    fragment = client.get(reverse("cases:export_job_status", args=[job.pk])).content.decode()
    assert "hx-get" not in fragment
    assert reverse("cases:export_job_download", args=[job.pk]) in fragment


@pytest.mark.parametrize("other_kind", ["unscoped", "scoped"])
def test_only_the_owner_sees_and_downloads_a_job(client, district, supervisor, other_kind):
    job = ExportJob.objects.create(owner=supervisor, list_key="cases", format="csv", status="done")
    job.file.save("mine.csv", ContentFile(b"secret"), save=True)
    other = staff(Role.SUPERVISOR, scope=None if other_kind == "unscoped" else district)
    client.force_login(other)

    for name in ["export_job", "export_job_status", "export_job_download"]:
        assert client.get(reverse(f"cases:{name}", args=[job.pk])).status_code == 404
    assert "mine" not in client.get(reverse("cases:export_jobs")).content.decode()


def test_anonymous_users_cannot_reach_a_job(client, supervisor):
    job = ExportJob.objects.create(owner=supervisor, list_key="cases", format="csv", status="done")

    for name in ["export_job", "export_job_status", "export_job_download"]:
        response = client.get(reverse(f"cases:{name}", args=[job.pk]))
        assert response.status_code == 302 and reverse("login") in response["Location"]


def test_the_owner_lists_their_jobs(client, supervisor, django_assert_max_num_queries):
    for _ in range(3):
        ExportJob.objects.create(owner=supervisor, list_key="overdue", format="xlsx", status="done")
    ExportJob.objects.create(owner=cast(User, UserFactory()), list_key="cases", format="csv")
    client.force_login(supervisor)
    client.get(reverse("cases:export_jobs"))

    with django_assert_max_num_queries(12):
        response = client.get(reverse("cases:export_jobs"))

    assert len(response.context["page_obj"].object_list) == 3


def test_a_job_fails_with_the_reason_when_the_owner_lost_the_worklist(
    client, supervisor, low_threshold, community, django_capture_on_commit_callbacks
):
    CaseFactory.create_batch(3, community=community, status=CaseStatus.REGISTERED)
    job = ExportJob.objects.create(owner=staff(Role.HANDLING_UNIT), list_key="dispatch", format="csv")

    from cases.tasks import run_export_job

    assert run_export_job(job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and job.error and not job.file
    # Run again (a redelivered task): a finished job is left alone.
    assert run_export_job(job.pk) == "skipped"


# --- one run at a time -----------------------------------------------------------------------------


class WorkerKilled(BaseException):
    """The worker process dies here (not an error the run could catch and record)."""


@pytest.fixture
def queued(supervisor, cases_around):  # type: ignore[no-untyped-def]
    """A pending export of the supervisor's case list (6 cases in scope), made an hour ago."""
    return ExportJob.objects.create(
        owner=supervisor, list_key="cases", format="csv", created_at=clock.now() - timedelta(hours=1)
    )


def at_rows(monkeypatch, actions: dict[int, Callable[[], object]]) -> None:  # type: ignore[no-untyped-def]
    """Call actions[i] once, when a run has produced its row i (that is, while it is writing)."""
    from cases import exports

    original = exports.export_rows
    pending = dict(actions)

    def rows(*args, **kwargs):  # type: ignore[no-untyped-def]
        for index, row in enumerate(original(*args, **kwargs)):
            action = pending.pop(index, None)
            if action is not None:
                action()
            yield row

    monkeypatch.setattr(exports, "export_rows", rows)


def stored_files(owner: User) -> list[str]:
    directory = f"exports/{owner.pk}"
    return sorted(default_storage.listdir(directory)[1]) if default_storage.exists(directory) else []


def file_rows(job: ExportJob) -> list[list[str]]:
    with job.file.open("rb") as stored:
        return csv_rows(stored.read())


def kill(message: str) -> Callable[[], object]:
    def action() -> object:
        raise WorkerKilled(message)

    return action


def test_a_second_task_for_a_job_being_written_does_nothing(queued, supervisor, monkeypatch):
    # Given a job being written by one run, when a second task for it runs meanwhile
    # (the sweep queued it again while the first task was merely slow)
    from cases.tasks import run_export_job

    second: list[str] = []
    at_rows(monkeypatch, {0: lambda: second.append(run_export_job(queued.pk))})

    assert run_export_job(queued.pk) == "done"

    # Then the second did nothing, and the job was written once, by the first
    assert second == ["skipped"]
    job = ExportJob.objects.get(pk=queued.pk)
    assert (job.status, job.attempt, job.rows_done, job.lease_expires_at) == ("done", 1, 6, None)
    assert stored_files(supervisor) == [job.file.name.rsplit("/", 1)[1]]
    assert len(file_rows(job)) == 6


def test_the_sweep_gives_a_job_whose_worker_died_to_a_new_run_once_the_lease_lapses(
    queued, supervisor, monkeypatch
):
    from cases.exports import LEASE, export_jobs_requeue
    from cases.tasks import run_export_job

    # Given a run that claimed the job and whose worker died mid-way
    start = clock.now()
    at_rows(monkeypatch, {1: kill("SIGKILL")})
    with frozen_at(start), pytest.raises(WorkerKilled):
        run_export_job(queued.pk)
    job = ExportJob.objects.get(pk=queued.pk)
    assert (job.status, job.attempt, job.lease_expires_at) == ("running", 1, start + LEASE)

    # While its lease holds, neither the sweep nor a redelivered task touches it
    with frozen_at(start + LEASE - timedelta(seconds=1)):
        assert export_jobs_requeue(older_than=timedelta(0)) == 0
        assert run_export_job(queued.pk) == "skipped"
    assert ExportJob.objects.get(pk=queued.pk).attempt == 1

    # Once it lapsed, the sweep queues it again and a new run writes it
    with frozen_at(start + LEASE):
        assert export_jobs_requeue(older_than=timedelta(0)) == 1
    job = ExportJob.objects.get(pk=queued.pk)
    assert (job.status, job.attempt, job.rows_done) == ("done", 2, 6)
    assert len(file_rows(job)) == 6
    # and a later sweep leaves the finished job alone
    with frozen_at(start + 2 * LEASE):
        assert export_jobs_requeue(older_than=timedelta(0)) == 0


def die_after_storing_the_file(monkeypatch, job: ExportJob) -> list[str]:  # type: ignore[no-untyped-def]
    """A run of `job` whose worker dies once the file is stored, before the job is marked done.

    Returns the files left behind."""
    from cases.tasks import run_export_job

    save = ExportJob.save

    def dying_save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.status == ExportJob.Status.DONE:
            monkeypatch.setattr(ExportJob, "save", save)
            raise WorkerKilled("SIGKILL")
        save(self, *args, **kwargs)

    monkeypatch.setattr(ExportJob, "save", dying_save)
    with pytest.raises(WorkerKilled):
        run_export_job(job.pk)
    assert ExportJob.objects.get(pk=job.pk).status == "running"
    return stored_files(job.owner)


def test_a_run_after_a_lapsed_lease_replaces_the_file_the_dead_run_left(queued, supervisor, monkeypatch):
    from cases.exports import LEASE
    from cases.tasks import run_export_job

    # Given a run whose worker died after storing the file, before the job was marked done
    start = clock.now()
    with frozen_at(start):
        left = die_after_storing_the_file(monkeypatch, queued)
    assert len(left) == 1

    # When a new run takes the job over, minutes later
    with frozen_at(start + LEASE + timedelta(minutes=3)):
        assert run_export_job(queued.pk) == "done"

    # Then it wrote the job's file again in place: one file, the job's
    job = ExportJob.objects.get(pk=queued.pk)
    assert stored_files(supervisor) == left == [job.file.name.rsplit("/", 1)[1]]
    assert len(file_rows(job)) == 6


def test_a_failed_run_after_a_dead_one_leaves_no_file(queued, supervisor, monkeypatch):
    from cases import exports
    from cases.tasks import run_export_job

    start = clock.now()
    with frozen_at(start):
        assert len(die_after_storing_the_file(monkeypatch, queued)) == 1

    # When the new run fails (here: the list can no longer be built)
    def no_list(*args: object) -> None:
        raise LookupError("no such list")

    monkeypatch.setattr(exports, "filtered_cases", no_list)
    with frozen_at(start + exports.LEASE):
        assert run_export_job(queued.pk) == "failed"

    # Then the job failed with the reason, and the dead run's file went with it
    job = ExportJob.objects.get(pk=queued.pk)
    assert (job.status, job.error, job.lease_expires_at) == ("failed", "no such list", None)
    assert not job.file and stored_files(supervisor) == []


def test_a_run_that_lost_its_lease_stops_without_writing(queued, supervisor, monkeypatch):
    from cases.exports import LEASE
    from cases.tasks import run_export_job

    # Given a run so slow that its lease lapsed and another run took the job over and finished it
    start = clock.now()
    other: list[str] = []

    def taken_over() -> None:
        with frozen_at(start + LEASE):
            other.append(run_export_job(queued.pk))

    at_rows(monkeypatch, {2: taken_over})

    # When the slow run gets to the end
    with frozen_at(start):
        outcome = run_export_job(queued.pk)

    # Then it stops and records nothing: the job is the other run's
    assert (outcome, other) == ("skipped", ["done"])
    job = ExportJob.objects.get(pk=queued.pk)
    assert (job.status, job.attempt, job.rows_done) == ("done", 2, 6)
    assert stored_files(supervisor) == [job.file.name.rsplit("/", 1)[1]]


def test_a_run_renews_its_lease_as_it_writes(queued, monkeypatch):
    # Given runs that record their progress every 2 rows, and a run that takes
    # most of its lease to get to its second row
    from cases import exports
    from cases.tasks import run_export_job

    monkeypatch.setattr(exports, "CHUNK_SIZE", 2)
    start = timezone.now()
    later = start + exports.LEASE - timedelta(minutes=1)
    leases: list[object] = []

    def lease() -> None:
        leases.append(ExportJob.objects.get(pk=queued.pk).lease_expires_at)

    with time_machine.travel(start, tick=False) as traveller:
        at_rows(monkeypatch, {0: lease, 1: lambda: traveller.move_to(later), 3: lease})
        assert run_export_job(queued.pk) == "done"

    # Then the lease taken at the start was renewed once the second row was written
    assert leases == [start + exports.LEASE, later + exports.LEASE]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_of_two_runs_claiming_a_job_at_once_only_one_gets_it(supervisor):
    """On PostgreSQL the second claim waits for the first one's row lock, then finds the job taken."""
    from django.db import transaction

    from cases.exports import _claim

    job = ExportJob.objects.create(owner=supervisor, list_key="cases", format="csv")
    claimed, release = threading.Event(), threading.Event()
    results: dict[str, ExportJob | None] = {}

    def first_run() -> None:
        try:
            with transaction.atomic():  # the claim not committed yet
                results["first"] = _claim(job.pk)
                claimed.set()
                release.wait(5)
        finally:
            connection.close()

    def second_run() -> None:
        try:
            results["second"] = _claim(job.pk)
        finally:
            connection.close()

    first = threading.Thread(target=first_run)
    first.start()
    assert claimed.wait(5)
    second = threading.Thread(target=second_run)
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting for the first claim's row lock
    release.set()
    first.join(5)
    second.join(5)

    assert results["first"] is not None and results["second"] is None
    assert ExportJob.objects.get(pk=job.pk).attempt == 1


def test_old_export_files_are_purged(supervisor, settings):
    settings.EXPORT_RETENTION_DAYS = 7
    now = clock.now()
    old = ExportJob.objects.create(
        owner=supervisor, list_key="cases", format="csv", status="done", finished_at=now - timedelta(days=8)
    )
    old.file.save("old.csv", ContentFile(b"old"), save=True)
    recent = ExportJob.objects.create(
        owner=supervisor, list_key="cases", format="csv", status="done", finished_at=now - timedelta(days=6)
    )
    recent.file.save("recent.csv", ContentFile(b"recent"), save=True)
    old_name = old.file.name

    assert export_files_purge(now=now) == 1

    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.status == "expired" and not old.file
    assert not default_storage.exists(old_name)
    assert recent.status == "done" and default_storage.exists(recent.file.name)
    assert export_files_purge(now=now) == 0


def test_the_purge_runs_from_beat(settings):
    assert (
        settings.CELERY_BEAT_SCHEDULE["purge-expired-exports"]["task"] == "cases.tasks.purge_expired_exports"
    )
