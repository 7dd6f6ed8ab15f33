"""The scheduled work behind patrols (run by Celery beat through liaisons.tasks).

Each job is idempotent: scheduled patrols are unique per plan and window,
and every reminder carries a unique notification key per recipient, so a
job that runs twice, or is killed and rerun, creates nothing twice.
"""

import logging
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.selectors import users_overseeing
from chengguan import clock
from chengguan.models import NotificationKind
from chengguan.notifications import notify
from chengguan.roles import Role
from liaisons.choices import ScheduledPatrolStatus
from liaisons.models import CoverPeriod, PatrolPlan, ScheduledPatrol
from liaisons.selectors import liaisons_for
from liaisons.services import cover_sync, patrol_plan_schedule

logger = logging.getLogger(__name__)


def today() -> date:
    return timezone.localtime(clock.now()).date()


def schedule_patrols(*, days: int = 14) -> int:
    created = 0
    for plan in PatrolPlan.objects.filter(is_active=True).select_related("community"):
        created += patrol_plan_schedule(plan=plan, start=today(), days=days)
    logger.info("schedule_patrols: %d new scheduled patrol(s)", created)
    return created


def remind_patrols() -> int:
    """Remind liaisons the day before a patrol is due and on the morning it is due."""
    now = timezone.localtime(clock.now())
    due_today, due_tomorrow = now.date(), now.date() + timedelta(days=1)
    sent = 0
    slots = ScheduledPatrol.objects.filter(
        status=ScheduledPatrolStatus.DUE, due_date__in=[due_today, due_tomorrow]
    ).select_related("community")
    for slot in slots:
        when = "morning" if slot.due_date == due_today else "eve"
        if when == "eve" and now.hour < 12:
            continue  # the evening-before reminder goes out in the afternoon
        title = (
            _("Patrol due today in %(community)s")
            if when == "morning"
            else _("Patrol due tomorrow in %(community)s")
        ) % {"community": slot.community.name}
        sent += notify(
            recipients=liaisons_for(slot.community),
            key=f"patrol:{slot.pk}:{when}",
            kind=NotificationKind.FIELD_WORK,
            title=title,
            body=_("Window %(start)s – %(end)s.") % {"start": slot.window_start, "end": slot.window_end},
        )
    logger.info("remind_patrols: %d reminder(s)", sent)
    return sent


def flag_missed_patrols() -> int:
    """Scheduled patrols whose window ended without a patrol are missed; tell the liaison and supervisors."""
    flagged = 0
    for slot_id in ScheduledPatrol.objects.filter(
        status=ScheduledPatrolStatus.DUE, window_end__lt=today()
    ).values_list("pk", flat=True):
        with transaction.atomic():
            slot = (
                ScheduledPatrol.objects.select_for_update()
                .select_related("community__street__district")
                .get(pk=slot_id)
            )
            if slot.status != ScheduledPatrolStatus.DUE:
                continue
            slot.status = ScheduledPatrolStatus.MISSED
            slot.save(update_fields=["status"])
            people = [
                *liaisons_for(slot.community),
                *users_overseeing(slot.community.street.district, Role.SUPERVISOR),
            ]
            notify(
                recipients=people,
                key=f"patrol:{slot.pk}:missed",
                kind=NotificationKind.FIELD_WORK,
                title=_("Missed patrol in %(community)s") % {"community": slot.community.name},
                body=_("No patrol was logged between %(start)s and %(end)s.")
                % {"start": slot.window_start, "end": slot.window_end},
            )
            flagged += 1
    logger.info("flag_missed_patrols: %d missed", flagged)
    return flagged


def sync_cover_periods() -> int:
    """Grant and withdraw backup liaisons' access at their cover periods' edges.

    Picks the covers whose access does not match the clock and syncs each in
    its own transaction (liaisons.services.cover_sync); running it twice does
    nothing the second time.
    """
    now = clock.now()
    running = Q(cancelled_at__isnull=True, starts_at__lte=now, ends_at__gt=now)
    holds = Q(granted_at__isnull=False, withdrawn_at__isnull=True)
    changed = 0
    for cover in CoverPeriod.objects.filter((running & ~holds) | (holds & ~running)):
        before = (cover.granted_at, cover.withdrawn_at)
        after = cover_sync(cover=cover, now=now)
        changed += (after.granted_at, after.withdrawn_at) != before
    logger.info("sync_cover_periods: %d cover(s) changed", changed)
    return changed
