"""Scheduled work behind 门前三包 (run by Celery beat through inspections.tasks).

Idempotent like every job here: one notification key per reminder and recipient.
"""

import logging
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from chengguan import clock
from chengguan.models import NotificationKind
from chengguan.notifications import notify
from inspections.choices import NoticeStatus
from inspections.models import Agreement, RectificationNotice
from liaisons.selectors import liaisons_for

logger = logging.getLogger(__name__)
AGREEMENT_WARNING_DAYS = 30


def remind_reinspections() -> int:
    """Once a notice's deadline has passed, ask the liaison to re-inspect (复查)."""
    sent = 0
    notices = RectificationNotice.objects.filter(
        status=NoticeStatus.ISSUED, deadline__lte=clock.now()
    ).select_related("unit__community")
    for notice in notices:
        sent += notify(
            recipients=liaisons_for(notice.unit.community),
            key=f"notice:{notice.pk}:reinspect",
            kind=NotificationKind.FIELD_WORK,
            title=_("Re-inspection due: %(unit)s") % {"unit": notice.unit.name},
            body=_("Notice %(number)s was due %(deadline)s.")
            % {"number": notice.number, "deadline": f"{timezone.localtime(notice.deadline):%Y-%m-%d %H:%M}"},
        )
    logger.info("remind_reinspections: %d reminder(s)", sent)
    return sent


def remind_expiring_agreements() -> int:
    """Agreements ending within 30 days with no later one signed: remind the liaison to renew."""
    today = timezone.localtime(clock.now()).date()
    horizon = today + timedelta(days=AGREEMENT_WARNING_DAYS)
    sent = 0
    agreements = (
        Agreement.objects.filter(ends_on__gte=today, ends_on__lte=horizon, unit__is_active=True)
        # A unit that already signed an agreement running past the horizon is fine.
        .exclude(unit__agreements__ends_on__gt=horizon)
        .select_related("unit__community")
    )
    for agreement in agreements:
        sent += notify(
            recipients=liaisons_for(agreement.unit.community),
            key=f"agreement:{agreement.pk}:expiring",
            kind=NotificationKind.FIELD_WORK,
            title=_("Frontage responsibility agreement expiring: %(unit)s") % {"unit": agreement.unit.name},
            body=_("Agreement %(number)s ends on %(date)s.")
            % {"number": agreement.number, "date": agreement.ends_on},
        )
    logger.info("remind_expiring_agreements: %d reminder(s)", sent)
    return sent
