import logging

from celery import shared_task

from cases import services
from cases.models import CaseEvent
from cases.notifications import notify_for_event

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
    return notify_for_event(event)


@shared_task(acks_late=True)
def escalate_overdue_cases() -> int:
    count = services.escalate_overdue()
    logger.info("escalate_overdue_cases: escalated %d case(s)", count)
    return count
