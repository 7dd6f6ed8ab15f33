import logging

from celery import shared_task

from cases import services
from cases.models import CaseEvent
from cases.notifications import message_reporters, notify_for_event
from chengguan.messaging import deliver, deliver_pending_messages, enqueue

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def notify_case_event(event_id: int) -> int:
    event = (
        CaseEvent.objects.select_related("case", "case__assignee", "case__handling_unit", "case__district")
        .filter(pk=event_id)
        .first()
    )
    if event is None:
        logger.warning("notify_case_event: event %s not found", event_id)
        return 0
    notified = notify_for_event(event)
    for message_id in message_reporters(event):
        enqueue(deliver_message, message_id)
    return notified


@shared_task(acks_late=True, bind=True, max_retries=6)
def deliver_message(self, message_id: int) -> bool:  # type: ignore[no-untyped-def]
    """Send one outbound SMS/email; a failed send is retried with backoff."""
    if deliver(message_id):
        return True
    if self.request.is_eager:  # no broker to retry through; the row stays FAILED
        return False
    raise self.retry(countdown=min(60 * 2**self.request.retries, 3600))


@shared_task(acks_late=True)
def escalate_overdue_cases() -> int:
    count = services.escalate_overdue()
    logger.info("escalate_overdue_cases: escalated %d case(s)", count)
    return count


@shared_task(acks_late=True)
def remind_deadlines() -> int:
    """Remind handlers of deadlines within settings.DEADLINE_REMINDER_BEFORE of working time."""
    from cases import jobs

    return jobs.remind_deadlines()


@shared_task(acks_late=True)
def send_daily_digests() -> int:
    """Each supervisor's morning digest (settings.DAILY_DIGEST_AT)."""
    from cases import jobs

    return jobs.send_daily_digests()


@shared_task(acks_late=True)
def schedule_return_visits() -> int:
    from cases import jobs

    return jobs.schedule_return_visits()


@shared_task(acks_late=True)
def remind_return_visits() -> int:
    from cases import jobs

    return jobs.remind_return_visits()


@shared_task(acks_late=True)
def run_export_job(job_id: int) -> str:
    """Write the file of one queued case-list export (cases.exports).

    "skipped" when the job is finished or another run holds it (a second
    task for the same job, or a redelivery while the first run is alive).
    """
    from cases.exports import export_job_run

    job = export_job_run(job_id=job_id)
    return job.status if job is not None else "skipped"


@shared_task(acks_late=True)
def requeue_pending_exports() -> int:
    """Beat job: run the exports whose task never reached the broker or whose worker died (cases.exports)."""
    from cases.exports import export_jobs_requeue

    return export_jobs_requeue()


@shared_task(acks_late=True)
def purge_expired_exports() -> int:
    from cases.exports import export_files_purge

    return export_files_purge()


@shared_task(acks_late=True)
def prune_api_call_logs() -> int:
    """Drop the API call log older than settings.API_CALL_LOG_RETENTION_DAYS."""
    from cases.open311.services import api_call_logs_prune

    return api_call_logs_prune()


@shared_task(acks_late=True)
def anonymise_closed_cases() -> int:
    """Beat job: remove reporters' personal data past settings.PERSONAL_DATA_RETENTION_MONTHS."""
    from cases.retention import cases_anonymise_due

    return cases_anonymise_due()


@shared_task(acks_late=True)
def deliver_hotline_push(push_id: int) -> str | None:
    """Send one push to the 12345 platform (cases.hotline); failures wait for the retry job."""
    from cases.hotline import hotline_push_deliver

    return hotline_push_deliver(push_id=push_id)


@shared_task(acks_late=True)
def retry_hotline_pushes() -> int:
    """Beat job: deliver the pushes to the 12345 platform whose next attempt is due."""
    from cases.hotline import hotline_push_deliver_due

    return hotline_push_deliver_due()


@shared_task(acks_late=True)
def sweep_pending_messages() -> int:
    """Beat job: deliver the SMS/email whose task never reached the broker (chengguan.messaging)."""
    return deliver_pending_messages()
