"""Scheduled work on cases' return visits (run by Celery beat through cases.tasks).

Idempotent: one visit per closure round (unique constraint) and one
notification key per reminder and recipient.
"""

import logging
from datetime import timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.choices import CaseStatus, VisitStatus
from cases.models import Case, CaseFeedback, ReturnVisit
from cases.services import return_visit_schedule
from chengguan import clock
from chengguan.notifications import notify

logger = logging.getLogger(__name__)


def schedule_return_visits(*, batch_size: int = 500) -> int:
    """Schedule the return visit of every closed case that has none for its closure yet."""
    visited = ReturnVisit.objects.filter(case=OuterRef("pk"), round=OuterRef("reopen_count"))
    rated = CaseFeedback.objects.filter(case=OuterRef("pk"))
    pending = (
        Case.objects.filter(status=CaseStatus.CLOSED)
        .exclude(Exists(visited))
        .exclude(Exists(rated))
        .exclude(reporter_phone="", reporter__isnull=True)
        .select_related("community")
        .order_by("pk")
    )
    scheduled = 0
    for case in pending[:batch_size]:
        visit = return_visit_schedule(case=case)
        if visit is None:
            continue
        scheduled += 1
        if visit.liaison_id:
            notify(
                recipients=[visit.liaison],
                key=f"visit:{visit.pk}:scheduled",
                title=_("Return visit for %(number)s") % {"number": case.number},
                body=_("Call the reporter back by %(due)s.")
                % {"due": f"{timezone.localtime(visit.due_at):%Y-%m-%d %H:%M}"},
            )
    logger.info("schedule_return_visits: %d scheduled", scheduled)
    return scheduled


def remind_return_visits() -> int:
    """Remind the liaison of visits due by tomorrow, once a day each."""
    now = timezone.localtime(clock.now())
    visits = ReturnVisit.objects.filter(
        status=VisitStatus.SCHEDULED, liaison__isnull=False, due_at__lt=now + timedelta(days=1)
    ).select_related("case", "liaison")
    sent = 0
    for visit in visits:
        sent += notify(
            recipients=[visit.liaison],
            key=f"visit:{visit.pk}:due:{now.date()}",
            title=_("Return visit due: %(number)s") % {"number": visit.case.number},
            body=_("Due %(due)s.") % {"due": f"{timezone.localtime(visit.due_at):%Y-%m-%d %H:%M}"},
        )
    logger.info("remind_return_visits: %d reminder(s)", sent)
    return sent
