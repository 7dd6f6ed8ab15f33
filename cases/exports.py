"""Exports of the filtered case lists to CSV and XLSX (services, rows and writers).

An export is built exactly like the list page (cases.lists): the gate's
queryset for the user, the list's FilterSet. Reporters' names and phone
numbers are masked (chengguan.masking) unless the user holds
`cases.view_reporter_contact`, as on the pages. Up to
settings.EXPORT_SYNC_MAX_ROWS rows stream in the response; larger exports
become an ExportJob that a Celery task writes to the default storage
(cases.tasks.run_export_job), and whose file the beat job
`purge_expired_exports` deletes after settings.EXPORT_RETENTION_DAYS days.
A job whose task never reached the broker, or whose worker died mid-run, is
queued again by the beat job `requeue_pending_exports`; one run at a time
holds a job (a lease, see `_claim`), so a job queued twice is still written
once. Every export is audited, and so is every download of a job's file.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.lists import filtered_cases, list_title, normalise_querystring
from cases.models import Case, ExportJob
from chengguan import clock
from chengguan.audit import audit
from chengguan.errors import InvalidInput
from chengguan.masking import mask_name, mask_phone
from chengguan.notifications import notify

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1000
# How long a run holds its job without a sign of life. The run renews it
# with every CHUNK_SIZE rows it writes, so only a run whose worker died (or
# hangs) lets it lapse; the requeue sweep then gives the job to a new run.
LEASE = timedelta(minutes=10)
CONTACT_PERMISSION = "cases.view_reporter_contact"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _moment(value: datetime | None) -> str:
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M}" if value else ""


def _name(obj: Any) -> str:
    return str(obj) if obj is not None else ""


# (header, value of one case); `contact` says whether the reader sees reporters in full.
COLUMNS: list[tuple[Any, Callable[[Case, bool, datetime], Any]]] = [
    (gettext_lazy("Case number"), lambda c, contact, now: c.number),
    (gettext_lazy("Tracking code"), lambda c, contact, now: c.tracking_code),
    (gettext_lazy("Status"), lambda c, contact, now: c.get_status_display()),
    (gettext_lazy("Source"), lambda c, contact, now: c.get_source_display()),
    (
        gettext_lazy("Category"),
        lambda c, contact, now: c.category.local_name if c.category else "",
    ),
    (
        gettext_lazy("Top-level category"),
        lambda c, contact, now: c.category.parent.local_name if c.category and c.category.parent else "",
    ),
    (gettext_lazy("Urgency"), lambda c, contact, now: c.get_urgency_display()),
    (gettext_lazy("Title"), lambda c, contact, now: c.title),
    (gettext_lazy("Description"), lambda c, contact, now: c.description),
    (gettext_lazy("District"), lambda c, contact, now: _name(c.district)),
    (gettext_lazy("Community"), lambda c, contact, now: _name(c.community)),
    (gettext_lazy("Address"), lambda c, contact, now: c.address),
    (gettext_lazy("Latitude"), lambda c, contact, now: c.lat),
    (gettext_lazy("Longitude"), lambda c, contact, now: c.lng),
    (
        gettext_lazy("Reporter name"),
        lambda c, contact, now: c.reporter_name if contact else mask_name(c.reporter_name),
    ),
    (
        gettext_lazy("Reporter phone"),
        lambda c, contact, now: c.reporter_phone if contact else mask_phone(c.reporter_phone),
    ),
    (gettext_lazy("Handling unit"), lambda c, contact, now: _name(c.handling_unit)),
    (
        gettext_lazy("Officer"),
        lambda c, contact, now: c.assignee.display_name if c.assignee else "",
    ),
    (gettext_lazy("Reported on"), lambda c, contact, now: _moment(c.reported_at)),
    (gettext_lazy("Current deadline"), lambda c, contact, now: _moment(c.deadline)),
    (
        gettext_lazy("Overdue"),
        lambda c, contact, now: _("Yes") if c.is_overdue(now) else "",
    ),
    (gettext_lazy("Closed on"), lambda c, contact, now: _moment(c.closed_at)),
    (gettext_lazy("Times reworked"), lambda c, contact, now: c.rework_count),
    (gettext_lazy("Times extended"), lambda c, contact, now: c.extension_count),
]


def spreadsheet_cell(value: Any) -> Any:
    """A value as a cell: text a spreadsheet would run as a formula stays text."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_header() -> list[str]:
    return [str(header) for header, _value in COLUMNS]


def export_rows(
    cases: Iterable[Case], *, show_contact: bool, now: datetime | None = None
) -> Iterator[list[Any]]:
    now = now or clock.now()
    for case in cases:
        yield [spreadsheet_cell(value(case, show_contact, now)) for _header, value in COLUMNS]


def export_queryset(filtered: QuerySet[Case]) -> QuerySet[Case]:
    """The list's cases with what the columns read, in one query per chunk."""
    return (
        filtered.select_related(
            "district", "category", "category__parent", "community", "handling_unit", "assignee"
        )
        # A worklist's prefetches serve its page, not the export.
        .prefetch_related(None)
        .defer("community__boundary", "district__boundary")
    )


def shows_contact(user: Any) -> bool:
    return bool(user.has_perm(CONTACT_PERMISSION))


# --- writers ------------------------------------------------------------------------


class _Line:
    """A file-like object that hands back what csv.writer writes to it."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[list[Any]]) -> Iterator[str]:
    # The BOM makes spreadsheet programs read the Chinese text as UTF-8.
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow(export_header())
    for row in rows:
        yield writer.writerow(row)


def write_xlsx(rows: Iterable[list[Any]], target: IO[bytes], *, title: str) -> None:
    """An XLSX workbook in openpyxl's write-only mode: rows are not kept in memory."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=_sheet_title(title))
    bold = Font(bold=True)
    header = []
    for text in export_header():
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(target)


def _sheet_title(title: str) -> str:
    for char in "[]:*?/\\":
        title = title.replace(char, " ")
    return title[:31] or "cases"


def export_filename(list_key: str, fmt: str, now: datetime | None = None) -> str:
    return f"{list_key}-{timezone.localtime(now or clock.now()):%Y%m%d-%H%M}.{fmt}"


# --- services --------------------------------------------------------------------


def _check_format(fmt: str) -> None:
    if fmt not in ExportJob.Format.values:
        raise InvalidInput(_("Choose CSV or XLSX."), code="export.unknown_format")


@transaction.atomic
def export_record(*, actor: Any, list_key: str, querystring: str, fmt: str, rows: int) -> None:
    """Audit an export streamed to the actor at once.

    Preconditions: the caller built the rows with cases.lists.filtered_cases
    for this actor. Side effects: one audit entry.
    """
    _check_format(fmt)
    audit(
        actor=actor,
        action="cases.exported",
        list=list_key,
        filters=querystring,
        format=fmt,
        rows=rows,
        contact=shows_contact(actor),
    )


@transaction.atomic
def export_job_create(*, owner: Any, list_key: str, querystring: str, fmt: str) -> ExportJob:
    """Queue the export of a filtered list, written later by a Celery task.

    Preconditions: the owner may open the list and the filters are valid
    (ActionNotPermitted, LookupError, InvalidInput otherwise).
    Side effects: an ExportJob row, an audit entry, and on commit the task
    cases.tasks.run_export_job.
    """
    _check_format(fmt)
    querystring = normalise_querystring(querystring)
    _case_list, filterset = filtered_cases(list_key, owner, querystring)
    job = ExportJob(
        owner=owner,
        list_key=list_key,
        querystring=querystring,
        format=fmt,
        rows_total=filterset.qs.count(),
    )
    job.full_clean()
    job.save()
    audit(
        actor=owner,
        action="cases.exported",
        target=job,
        list=list_key,
        filters=querystring,
        format=fmt,
        rows=job.rows_total,
        contact=shows_contact(owner),
    )
    from cases.tasks import run_export_job
    from chengguan.messaging import enqueue_on_commit

    # A broker outage leaves the job pending for the requeue-pending-exports job.
    enqueue_on_commit(run_export_job, job.pk)
    return job


def export_jobs_requeue(*, older_than: timedelta = timedelta(minutes=10), batch_size: int = 200) -> int:
    """Beat sweep: enqueue again the exports that no live run is writing.

    These are the jobs still pending `older_than` after they were made (their
    task never reached the broker, which was down, chengguan.messaging, or
    was lost with it) and the running ones whose run's lease lapsed (its
    worker died mid-run). A job whose run is alive and renewing its lease is
    left alone. Preconditions: none. Side effects: one `run_export_job` task
    per job, oldest first, at most `batch_size` per run; stops at the first
    broker error. A job whose first task is merely still queued may get a
    second one: whichever runs first claims the job and the other does
    nothing (`_claim`). Returns how many were enqueued.
    """
    from cases.tasks import run_export_job
    from chengguan.messaging import enqueue_pending

    stale = ExportJob.objects.filter(
        Q(status=ExportJob.Status.PENDING)
        | Q(status=ExportJob.Status.RUNNING, lease_expires_at__lte=clock.now())
    )
    enqueued = enqueue_pending(run_export_job, stale, older_than=older_than, batch_size=batch_size)
    if enqueued:
        logger.info("export_jobs_requeue: %d pending or abandoned export(s) enqueued again", enqueued)
    return enqueued


def export_job_download_record(*, job: ExportJob, actor: Any) -> None:
    """Audit one download of an export's file (the file leaves the system again).

    Preconditions: the actor is the job's owner and the file is ready (the
    view checks both). Side effects: one `cases.export_downloaded` audit entry.
    """
    audit(
        actor=actor,
        action="cases.export_downloaded",
        target=job,
        list=job.list_key,
        filters=job.querystring,
        format=job.format,
        rows=job.rows_done,
    )


class _LeaseLost(Exception):
    """This run's lease lapsed and the job is no longer its own (another run took it over)."""


def _claim(job_id: int) -> ExportJob | None:
    """Take the job for this run, or None when it is not to be run now.

    One conditional UPDATE takes a pending job, or a running one whose
    lease lapsed (its worker died), so of two runs at once only one gets it;
    a running job whose lease holds belongs to its run and is left alone,
    and so is a finished one. The claim numbers the run (`attempt`) and
    starts its lease.
    """
    now = clock.now()
    claimable = Q(status=ExportJob.Status.PENDING) | Q(
        status=ExportJob.Status.RUNNING, lease_expires_at__lte=now
    )
    with transaction.atomic():
        claimed = ExportJob.objects.filter(claimable, pk=job_id).update(
            status=ExportJob.Status.RUNNING,
            attempt=F("attempt") + 1,
            started_at=now,
            lease_expires_at=now + LEASE,
            rows_done=0,
        )
        if not claimed:
            return None
        # Read in the claim's transaction: the row is ours until it commits.
        return ExportJob.objects.select_related("owner").get(pk=job_id)


def _held(job: ExportJob) -> QuerySet[ExportJob]:
    """The job's row while this run (its `attempt`) still holds it."""
    return ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING, attempt=job.attempt)


def _counting(rows: Iterator[list[Any]], job: ExportJob) -> Iterator[list[Any]]:
    """Pass the rows through, writing the progress and renewing the lease every CHUNK_SIZE rows.

    Raises _LeaseLost when the job was taken over meanwhile.
    """
    done = 0
    for row in rows:
        yield row
        done += 1
        if done % CHUNK_SIZE == 0 and not _held(job).update(
            rows_done=done, lease_expires_at=clock.now() + LEASE
        ):
            raise _LeaseLost
    job.rows_done = done


def _stored_name(job: ExportJob) -> str:
    # The job's own name, the same on every run: a run after a lapsed one
    # replaces what that one may have left rather than adding a second file.
    return f"{job.pk}-{export_filename(job.list_key, job.format, job.created_at)}"


def _remove_leftover(job: ExportJob) -> None:
    """Delete the file an earlier run of this job left under its name before it died."""
    name = job.file.field.generate_filename(job, _stored_name(job))
    if job.file.storage.exists(name):
        job.file.storage.delete(name)


def _store(job: ExportJob, content: IO[bytes]) -> None:
    """Save the file and mark the job done, if this run still holds it (else _LeaseLost).

    The row stays locked meanwhile, so a run that takes over a lease lapsing
    now waits and then finds the job done.
    """
    with transaction.atomic():
        if not _held(job).select_for_update().exists():
            raise _LeaseLost
        _remove_leftover(job)
        job.file.save(_stored_name(job), File(content), save=False)
        job.status = ExportJob.Status.DONE
        job.finished_at = clock.now()
        job.lease_expires_at = None
        try:
            job.save(
                update_fields=["status", "rows_done", "rows_total", "file", "finished_at", "lease_expires_at"]
            )
        except Exception:
            job.file.storage.delete(job.file.name)
            raise


def export_job_run(*, job_id: int) -> ExportJob | None:
    """Write the file of a queued export (called by cases.tasks.run_export_job).

    Preconditions: the job is pending, or running under a lapsed lease (its
    worker died); a job another run holds, or a finished one, is left alone
    and None returned (`_claim`). The list is built for the owner as they
    are now: a narrower scope exports fewer cases.
    Side effects: the file on the default storage under the job's own name
    (replacing what a dead run left), the job's progress and lease, its
    status (failed with the error on any exception), a notification to the
    owner. A run that finds its lease taken over stops and records nothing.
    """
    job = _claim(job_id)
    if job is None:
        return None
    owner = job.owner
    try:
        case_list, filterset = filtered_cases(job.list_key, owner, job.querystring)
        cases = export_queryset(filterset.qs)
        job.rows_total = cases.count()
        if not _held(job).update(rows_total=job.rows_total, lease_expires_at=clock.now() + LEASE):
            raise _LeaseLost
        rows = _counting(
            export_rows(cases.iterator(chunk_size=CHUNK_SIZE), show_contact=shows_contact(owner)), job
        )
        with tempfile.TemporaryFile() as target:
            if job.format == ExportJob.Format.CSV:
                text = io.TextIOWrapper(target, encoding="utf-8", newline="")
                text.writelines(csv_lines(rows))
                text.flush()
                text.detach()
            else:
                write_xlsx(rows, target, title=str(case_list.title))
            target.seek(0)
            _store(job, target)
    except _LeaseLost:
        logger.warning("export %s: run %s lost its lease to another run; stopped", job.pk, job.attempt)
        return None
    except Exception as error:
        logger.exception("export %s failed", job.pk)
        job.status = ExportJob.Status.FAILED
        job.error = str(getattr(error, "message", error))[:1000]
        job.finished_at = clock.now()
        job.lease_expires_at = None
        failed = _held(job).update(
            status=job.status, error=job.error, finished_at=job.finished_at, lease_expires_at=None
        )
        if not failed:
            return None
        try:
            _remove_leftover(job)  # a failed job has no file, so the purge would never see it
        except Exception:
            logger.exception("export %s: could not delete the file an earlier run left", job.pk)
        return job
    notify(
        recipients=[owner],
        key=f"export:{job.pk}:done",
        title=_("Your export of “%(list)s” is ready") % {"list": list_title(job.list_key)},
        body=_("%(count)d row(s), kept for %(days)d days.")
        % {"count": job.rows_done, "days": settings.EXPORT_RETENTION_DAYS},
        url=reverse("cases:export_job", args=[job.pk]),
    )
    return job


def export_files_purge(*, now: datetime | None = None) -> int:
    """Delete the files of exports finished more than EXPORT_RETENTION_DAYS days ago.

    Idempotent. Side effects: removes the files from the default storage and
    marks their jobs expired; returns how many.
    """
    cutoff = (now or clock.now()) - timedelta(days=settings.EXPORT_RETENTION_DAYS)
    old = ExportJob.objects.filter(
        status__in=[ExportJob.Status.DONE, ExportJob.Status.FAILED], finished_at__lt=cutoff
    ).order_by("pk")
    purged = 0
    for job in old.iterator(chunk_size=200):
        if job.file:
            job.file.delete(save=False)
        job.file = ""  # type: ignore[assignment]
        job.status = ExportJob.Status.EXPIRED
        job.save(update_fields=["file", "status"])
        purged += 1
    logger.info("export_files_purge: %d export(s) expired", purged)
    return purged
