"""Scheduled work on cases (run by Celery beat through cases.tasks).

Every job is idempotent and batched, so it can run over 100,000 cases in
bounded memory and be run again (or twice at once) without doing anything
twice:

* escalation (督办) once per case and deadline (`Case.escalated_deadline`);
* a deadline reminder once per case and deadline (`Case.reminded_deadline`);
* one digest per supervisor and day, one return visit per closure round
  (unique constraint) and one notification per key and recipient.

Batches are chosen by keyset pagination on the primary key (interleaved, so
that PostgreSQL can keep each updated row on its page: see `_keyset`); each
batch is one transaction that locks its rows with the job's condition
(skipping rows another transaction holds: the next run takes them), updates
them, writes the events and notifications in bulk, and audits. On
PostgreSQL the escalation of a batch is one statement; elsewhere (SQLite)
the same writes go through the ORM.
"""

import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import events
from cases.choices import ESCALATABLE_STATUSES, HANDLING_STATUSES, CaseAction, CaseStatus, VisitStatus
from cases.models import Case, CaseEvent, CaseFeedback, ReturnVisit
from cases.selectors import DIGEST_FIGURES, supervisor_digest, unit_members, users_overseeing
from cases.services import return_visit_schedule
from chengguan import clock
from chengguan.audit import audit
from chengguan.models import NotificationKind, User
from chengguan.notifications import Draft, absolute_url, notify, notify_many
from chengguan.roles import Role
from chengguan.worktime import get_calendar
from communities.models import District, HandlingUnit

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000
# Rows of one batch are spread over this many neighbouring pages' worth of
# ids (see `_keyset`), so that on PostgreSQL each page receives few enough
# new row versions per transaction to keep them on the page (HOT updates,
# no index entries): cases_case keeps 20 % of each page free (fillfactor 80,
# cases/migrations/0015), about a sixth of a page's rows.
CASE_STRIDE = 6


def _keyset(queryset: Any, batch_size: int, *, stride: int = 1) -> Iterator[list[int]]:
    """The ids of `queryset` in ascending chunks of at most `batch_size`, each window read afresh.

    With a `stride`, a window of up to `stride` × `batch_size` ids is read
    at once and handed out as interleaved chunks (every n-th id), as few as
    the window needs: a transaction then changes a few rows of each page
    and the next one finds the old versions gone, instead of needing room
    for a new version of every row of the page at once.
    """
    last_pk = 0
    window = batch_size * stride
    while True:
        ids = list(queryset.filter(pk__gt=last_pk).order_by("pk").values_list("pk", flat=True)[:window])
        if not ids:
            return
        chunks = -(-len(ids) // batch_size)
        for offset in range(chunks):
            yield ids[offset::chunks]
        last_pk = ids[-1]


@dataclass
class _Recipients:
    """Who hears about a case, cached per district and unit for the length of one run."""

    supervisors: dict[int | None, list[int]] = field(default_factory=dict)
    units: dict[int, list[int]] = field(default_factory=dict)
    active: dict[int, bool] = field(default_factory=dict)

    def overseeing(self, district_id: int | None) -> list[int]:
        if district_id not in self.supervisors:
            district = District(pk=district_id) if district_id else None
            self.supervisors[district_id] = list(
                users_overseeing(district, Role.SUPERVISOR).values_list("pk", flat=True)
            )
        return self.supervisors[district_id]

    def handlers(self, assignee_id: int | None, unit_id: int | None) -> list[int]:
        if assignee_id:
            if assignee_id not in self.active:
                self.active[assignee_id] = User.objects.filter(pk=assignee_id, is_active=True).exists()
            return [assignee_id] if self.active[assignee_id] else []
        if unit_id:
            if unit_id not in self.units:
                self.units[unit_id] = list(
                    unit_members(HandlingUnit(pk=unit_id)).values_list("pk", flat=True)
                )
            return self.units[unit_id]
        return []


def _case_url(number: str) -> str:
    # Reversed once per process: resolving the URL per case would cost more than the rest of a batch.
    return _case_url_pattern().replace("~number~", number)


@functools.cache
def _case_url_pattern() -> str:
    return reverse("cases:detail", args=["~number~"])


# --- escalation (督办) ------------------------------------------------------------


def _overdue(now: datetime) -> Q:
    """Open, unparked, past the deadline, and not yet escalated for that deadline."""
    return Q(status__in=ESCALATABLE_STATUSES, deadline__lt=now) & (
        Q(escalated_deadline__isnull=True) | ~Q(escalated_deadline=F("deadline"))
    )


class _Escalated(NamedTuple):
    """One case a batch escalated, with its new event: what the notifications need."""

    case_id: int
    number: str
    district_id: int | None
    assignee_id: int | None
    handling_unit_id: int | None
    event_id: int
    subject_officer_id: int | None


def escalate_overdue(*, batch_size: int = BATCH_SIZE) -> int:
    """Escalate every open case past its deadline that was not yet escalated for it.

    Preconditions: none (automatic escalation has no actor).
    Side effects, per batch in one transaction: escalation level +1 and
    `escalated_deadline` set (version bumped, so a form open on the case is
    stale), one automatic `escalate` event per case, the district's
    supervisors and the handler notified, one audit entry.
    Idempotent: a second run (or one running at the same time) finds nothing
    to do, because a batch locks its rows and only those still overdue, and
    skips rows someone else holds (the next run takes them). Returns how many
    cases were escalated.
    """
    now = clock.now()
    recipients = _Recipients()
    escalated = 0
    for ids in _keyset(Case.objects.filter(_overdue(now)), batch_size, stride=CASE_STRIDE):
        escalated += _escalate_batch(ids, now=now, recipients=recipients)
    logger.info("escalate_overdue: escalated %d case(s)", escalated)
    return escalated


@transaction.atomic
def _escalate_batch(ids: list[int], *, now: datetime, recipients: _Recipients) -> int:
    note = _("Deadline passed without action.")
    if connection.vendor == "postgresql":
        rows = _escalate_rows_in_sql(ids, now=now, note=note)
    else:
        rows = _escalate_rows(ids, now=now, note=note)
    if not rows:
        return 0
    # Translated once per batch, not per case.
    title, action = _("%(number)s: %(action)s"), str(CaseAction.ESCALATE.label)
    drafts = [
        Draft(
            recipient_id=pk,
            key=f"case-event:{row.event_id}",
            title=title % {"number": row.number, "action": action},
            body=note,
            url=_case_url(row.number),
            kind=NotificationKind.CASE_ESCALATED,
        )
        for row in rows
        for pk in dict.fromkeys(
            recipients.overseeing(row.district_id)
            + recipients.handlers(row.assignee_id, row.handling_unit_id)
        )
        # The officer a conduct complaint is about never hears of it (as in notify_for_event).
        if pk != row.subject_officer_id
    ]
    notify_many(drafts)
    audit(
        actor=None,
        action="cases.escalated_overdue",
        count=len(rows),
        first_case=rows[0].case_id,
        last_case=rows[-1].case_id,
        at=now.isoformat(),
    )
    return len(rows)


def _escalate_rows_in_sql(ids: list[int], *, now: datetime, note: str) -> list[_Escalated]:
    """PostgreSQL: lock, escalate and write the events of a batch in one statement.

    The rows are locked with the overdue guard (SKIP LOCKED: rows another
    transaction is changing are left to the next run); once locked, nobody
    can make them not overdue before this transaction ends. The UPDATE
    changes no indexed column, so with free room on the page it is a HOT
    update that touches none of the case table's indexes.
    """
    locked = (
        Case.objects.select_for_update(skip_locked=True)
        .filter(_overdue(now), pk__in=ids)
        .order_by("pk")
        .values("pk")
    )
    locked_sql, locked_params = locked.query.get_compiler(using=locked.db).as_sql()
    table = Case._meta.db_table
    insert_events, event_params = events.escalated_insert_sql(
        "escalated", note=note, automatic=True, created_at=clock.now()
    )
    sql = (
        f"WITH locked (id) AS ({locked_sql}), "
        f"escalated AS (UPDATE {table} AS c SET escalation_level = c.escalation_level + 1, "
        "escalated_at = %s, escalated_deadline = c.deadline, version = c.version + 1, updated_at = %s "
        "FROM locked WHERE c.id = locked.id "
        "RETURNING c.id, c.number, c.deadline, c.escalation_level, c.district_id, c.assignee_id, "
        "c.handling_unit_id, c.subject_officer_id), "
        f"created AS ({insert_events}) "
        "SELECT e.id, e.number, e.district_id, e.assignee_id, e.handling_unit_id, created.id, "
        "e.subject_officer_id "
        "FROM escalated AS e JOIN created ON created.case_id = e.id ORDER BY e.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*locked_params, now, now, *event_params])
        return [_Escalated(*row) for row in cursor.fetchall()]


def _escalate_rows(ids: list[int], *, now: datetime, note: str) -> list[_Escalated]:
    """The portable path (SQLite): the same writes through the ORM, with the guard repeated in the UPDATE."""
    guard = _overdue(now)
    locked = list(
        Case.objects.select_for_update(skip_locked=True)
        .filter(guard, pk__in=ids)
        .only(
            "pk",
            "number",
            "deadline",
            "escalation_level",
            "district_id",
            "assignee_id",
            "handling_unit_id",
            "subject_officer_id",
        )
        .order_by("pk")
    )
    if not locked:
        return []
    updated = Case.objects.filter(guard, pk__in=[case.pk for case in locked]).update(
        escalation_level=F("escalation_level") + 1,
        escalated_at=now,
        escalated_deadline=F("deadline"),
        version=F("version") + 1,
        updated_at=now,
    )
    if updated != len(locked):
        # Only where the database cannot lock rows (SQLite): keep the cases the update reached.
        reached = set(
            Case.objects.filter(pk__in=[c.pk for c in locked], escalated_at=now)
            .filter(escalated_deadline=F("deadline"))
            .values_list("pk", flat=True)
        )
        locked = [case for case in locked if case.pk in reached]
    unsaved = []
    for case in locked:
        case.escalation_level += 1
        case.escalated_at = now
        case.escalated_deadline = case.deadline
        unsaved.append(events.escalated_unsaved(case, actor=None, note=note, automatic=True))
    created = CaseEvent.objects.bulk_create(unsaved)
    return [
        _Escalated(
            case.pk,
            case.number,
            case.district_id,
            case.assignee_id,
            case.handling_unit_id,
            event.pk,
            case.subject_officer_id,
        )
        for case, event in zip(locked, created, strict=True)
    ]


# --- reminders before a deadline ----------------------------------------------------


def _due_soon(now: datetime, horizon: datetime) -> Q:
    """With its handler, due within the reminder window, not yet reminded of this deadline."""
    return Q(status__in=HANDLING_STATUSES, deadline__gt=now, deadline__lte=horizon) & (
        Q(reminded_deadline__isnull=True) | ~Q(reminded_deadline=F("deadline"))
    )


def remind_deadlines(*, batch_size: int = BATCH_SIZE) -> int:
    """Remind each case's handler when its deadline is within DEADLINE_REMINDER_BEFORE of working time.

    Preconditions: none. Side effects, per batch in one transaction:
    `reminded_deadline` set to the deadline (not a change anyone makes, so
    the version stays), the assignee (or the handling unit's members)
    notified in-app and on the channels they chose. Once per case and
    deadline: an extension that moves the deadline reminds again. Returns
    how many cases were reminded about.
    """
    now = clock.now()
    horizon = get_calendar().add(now, settings.DEADLINE_REMINDER_BEFORE)
    recipients = _Recipients()
    reminded = 0
    for ids in _keyset(Case.objects.filter(_due_soon(now, horizon)), batch_size, stride=CASE_STRIDE):
        reminded += _remind_batch(ids, now=now, horizon=horizon, recipients=recipients)
    logger.info("remind_deadlines: %d case(s)", reminded)
    return reminded


@transaction.atomic
def _remind_batch(ids: list[int], *, now: datetime, horizon: datetime, recipients: _Recipients) -> int:
    guard = _due_soon(now, horizon)
    locked = list(
        Case.objects.select_for_update(skip_locked=True)
        .filter(guard, pk__in=ids)
        .only("pk", "number", "deadline", "assignee_id", "handling_unit_id", "subject_officer_id")
        .order_by("pk")
    )
    if not locked:
        return 0
    updated = Case.objects.filter(guard, pk__in=[case.pk for case in locked]).update(
        reminded_deadline=F("deadline")
    )
    if updated != len(locked):  # SQLite only, as in _escalate_batch
        reached = set(
            Case.objects.filter(pk__in=[c.pk for c in locked], reminded_deadline=F("deadline")).values_list(
                "pk", flat=True
            )
        )
        locked = [case for case in locked if case.pk in reached]
    drafts = []
    for case in locked:
        assert case.deadline is not None
        due = timezone.localtime(case.deadline)
        for pk in recipients.handlers(case.assignee_id, case.handling_unit_id):
            if pk == case.subject_officer_id:
                continue  # the officer a conduct complaint is about never hears of it
            drafts.append(
                Draft(
                    recipient_id=pk,
                    key=f"deadline:{case.pk}:{due:%Y%m%d%H%M%S}",
                    title=_("%(number)s is due %(due)s")
                    % {"number": case.number, "due": f"{due:%m-%d %H:%M}"},
                    body=_("Finish the case or ask for an extension before %(due)s.")
                    % {"due": f"{due:%Y-%m-%d %H:%M}"},
                    url=_case_url(case.number),
                    kind=NotificationKind.DEADLINE,
                )
            )
    notify_many(drafts)
    return len(locked)


# --- supervisors' daily digest ------------------------------------------------------


def _digest_links() -> dict[str, str]:
    from cases.worklists import WORKLISTS

    desk = reverse("desk:home")

    def worklist(slug: str) -> str:
        return reverse("desk:worklist", args=[slug]) if slug in WORKLISTS else desk

    return {
        "new_reports": reverse("cases:list"),
        "overdue": worklist("overdue"),
        "escalated": worklist("escalated"),
        "to_verify": worklist("verify"),
        "extensions": worklist("extensions"),
        "parking": worklist("parking"),
    }


def _digest_labels() -> dict[str, str]:
    return {
        "new_reports": _("New reports yesterday"),
        "overdue": _("Overdue"),
        "escalated": _("Escalated"),
        "to_verify": _("Awaiting verification"),
        "extensions": _("Extension requests pending"),
        "parking": _("Parking requests pending"),
    }


def send_daily_digests(*, batch_size: int = 200) -> int:
    """Send every active supervisor one digest of their scope for today.

    Preconditions: none. Side effects: per supervisor one in-app notification
    keyed by the day (so a rerun sends nothing) and its email through the
    outbox (unless they turned the digest's email off), written per batch of
    supervisors. Constant queries per supervisor: the scope, one aggregate.
    Returns how many digests were new.
    """
    now = timezone.localtime(clock.now())
    today = now.date()
    since = timezone.make_aware(datetime.combine(today - timedelta(days=1), datetime.min.time()))
    until = since + timedelta(days=1)
    links, labels = _digest_links(), _digest_labels()
    title = _("Daily digest %(date)s") % {"date": f"{today:%Y-%m-%d}"}
    supervisors = (
        User.objects.filter(is_active=True, groups__name=Role.SUPERVISOR)
        .exclude(Exists(_digest_sent(today)))
        .distinct()
    )
    sent = 0
    for ids in _keyset(supervisors, batch_size):
        drafts = []
        for user in User.objects.filter(pk__in=ids).order_by("pk"):
            figures = supervisor_digest(user, since=since, until=until, now=now)
            body = "\n".join(
                f"{labels[name]}: {figures[name]}"
                + (f" ({absolute_url(links[name])})" if figures[name] else "")
                for name in DIGEST_FIGURES
            )
            drafts.append(
                Draft(
                    recipient_id=user.pk,
                    key=f"digest:{today:%Y-%m-%d}",
                    title=title,
                    body=body,
                    url=reverse("desk:home"),
                    kind=NotificationKind.DIGEST,
                )
            )
        sent += notify_many(drafts)
    logger.info("send_daily_digests: %d digest(s)", sent)
    return sent


def _digest_sent(day: Any) -> Any:
    from chengguan.models import Notification

    return Notification.objects.filter(recipient=OuterRef("pk"), key=f"digest:{day:%Y-%m-%d}")


# --- return visits (回访) ------------------------------------------------------------


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
        if visit.liaison_id and visit.liaison_id != case.subject_officer_id:
            notify(
                recipients=[visit.liaison],
                key=f"visit:{visit.pk}:scheduled",
                kind=NotificationKind.FIELD_WORK,
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
        if visit.liaison_id == visit.case.subject_officer_id:
            continue  # the officer a conduct complaint is about never hears of it
        sent += notify(
            recipients=[visit.liaison],
            key=f"visit:{visit.pk}:due:{now.date()}",
            kind=NotificationKind.FIELD_WORK,
            title=_("Return visit due: %(number)s") % {"number": visit.case.number},
            body=_("Due %(due)s.") % {"due": f"{timezone.localtime(visit.due_at):%Y-%m-%d %H:%M}"},
        )
    logger.info("remind_return_visits: %d reminder(s)", sent)
    return sent
