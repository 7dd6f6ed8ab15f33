from celery import shared_task

from liaisons import jobs


@shared_task(acks_late=True)
def schedule_patrols() -> int:
    return jobs.schedule_patrols()


@shared_task(acks_late=True)
def remind_patrols() -> int:
    return jobs.remind_patrols()


@shared_task(acks_late=True)
def flag_missed_patrols() -> int:
    return jobs.flag_missed_patrols()


@shared_task(acks_late=True)
def sync_cover_periods() -> int:
    return jobs.sync_cover_periods()
