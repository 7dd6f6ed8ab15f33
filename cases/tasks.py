import logging

from celery import shared_task

from cases import services
from cases.models import CaseEvent
from cases.notifications import message_reporters, notify_for_event
from chengguan.messaging import deliver

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
        deliver_message.delay(message_id)
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
def schedule_return_visits() -> int:
    from cases import jobs

    return jobs.schedule_return_visits()


@shared_task(acks_late=True)
def remind_return_visits() -> int:
    from cases import jobs

    return jobs.remind_return_visits()
