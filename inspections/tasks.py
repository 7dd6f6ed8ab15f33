from celery import shared_task

from inspections import jobs


@shared_task(acks_late=True)
def remind_reinspections() -> int:
    return jobs.remind_reinspections()


@shared_task(acks_late=True)
def remind_expiring_agreements() -> int:
    return jobs.remind_expiring_agreements()
