"""The casework desk's role worklists (DESIGN §1, §7): which cases each queue holds.

A worklist is the gate's queryset for one action (`cases.selectors.cases_for`)
narrowed to the cases waiting for that action: a dispatcher's queue is what
they may dispatch and is registered, a handler's is what they may handle and
is with its handler, and so on. The navigation counts come from the same
definitions, all worklists in one aggregate query; pages do not run it: the
desk menu loads them from a small endpoint (cases.views.nav) that keeps each
user's counts in the cache for a few seconds (`cached_worklist_counts`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from cases.choices import (
    EXTENSION_STATUSES,
    OPEN_STATUSES,
    PARKING_STATUSES,
    CaseStatus,
    ExtensionStatus,
    ParkingRequestStatus,
)
from cases.dashboard import figures_token, figures_token_key
from cases.filtersets import (
    DispatchQueueFilterSet,
    HandlerQueueFilterSet,
    SingleStatusWorklistFilterSet,
    WorklistFilterSet,
)
from cases.models import Case, CaseEvent, ExtensionRequest, ParkingRequest
from cases.selectors import cases_for
from chengguan import clock
from chengguan.permissions import has_role_permission, rule_for, scope_for
from chengguan.worktime import WorkCalendar, get_calendar


def _pending_extension() -> Exists:
    return Exists(ExtensionRequest.objects.filter(case=OuterRef("pk"), status=ExtensionStatus.PENDING))


def _pending_parking() -> Exists:
    return Exists(ParkingRequest.objects.filter(case=OuterRef("pk"), status=ParkingRequestStatus.PENDING))


def _with_pending_requests(queryset: QuerySet[Case]) -> QuerySet[Case]:
    """Prefetch the pending extension and parking requests (two queries for the page)."""
    parking = ParkingRequest.objects.filter(status=ParkingRequestStatus.PENDING).select_related(
        "requested_by"
    )
    return _with_pending_extension(queryset).prefetch_related(
        Prefetch("parking_requests", queryset=parking, to_attr="pending_parking")
    )


def _with_last_status_event(queryset: QuerySet[Case]) -> QuerySet[Case]:
    """Annotate what last moved the case and its note, e.g. a handler's reason for returning it."""
    last = CaseEvent.objects.filter(case=OuterRef("pk")).exclude(to_status="").order_by("-created_at", "-id")
    return queryset.annotate(
        last_action=Subquery(last.values("action")[:1]), last_note=Subquery(last.values("note")[:1])
    )


def _with_pending_extension(queryset: QuerySet[Case]) -> QuerySet[Case]:
    pending = ExtensionRequest.objects.filter(status=ExtensionStatus.PENDING).select_related("requested_by")
    return queryset.prefetch_related(Prefetch("extension_requests", queryset=pending, to_attr="pending"))


@dataclass(frozen=True)
class Worklist:
    slug: str
    title: Promise
    description: Promise
    # The gate action: the queue holds only cases the user may act on this way.
    action: str
    # The cases waiting in the queue, as of `now`.
    where: Callable[[datetime], Q]
    filterset_class: type[WorklistFilterSet]
    ordering: tuple[str, ...] = ("deadline",)
    decorate: Callable[[QuerySet[Case]], QuerySet[Case]] | None = None
    # Columns the table shows besides number, category, community and deadline.
    columns: frozenset[str] = field(default_factory=frozenset)

    def queryset(self, user: Any) -> QuerySet[Case]:
        queryset = cases_for(user, self.action).filter(self.where(clock.now()))
        if self.decorate is not None:
            queryset = self.decorate(queryset)
        return queryset.order_by(*self.ordering, "pk")

    def is_for(self, user: Any) -> bool:
        return bool(user.is_authenticated) and has_role_permission(user, Case, self.action)


WORKLISTS: dict[str, Worklist] = {
    worklist.slug: worklist
    for worklist in [
        Worklist(
            slug="dispatch",
            title=_("To dispatch"),
            description=_("Registered cases waiting to be sent to a handling unit or a liaison."),
            action="dispatch",
            where=lambda now: Q(status=CaseStatus.REGISTERED),
            filterset_class=DispatchQueueFilterSet,
            decorate=_with_last_status_event,
            columns=frozenset({"select", "returned"}),
        ),
        Worklist(
            slug="mine",
            title=_("My cases"),
            description=_("Cases dispatched to you or your unit: sign for them and report the result."),
            action="handle",
            where=lambda now: Q(status__in=[CaseStatus.DISPATCHED, CaseStatus.IN_PROGRESS]),
            filterset_class=HandlerQueueFilterSet,
            decorate=_with_pending_extension,
            columns=frozenset({"status", "flags"}),
        ),
        Worklist(
            slug="verify",
            title=_("To verify"),
            # Supervisors in their area; a liaison where their community has them verify.
            description=_("Results submitted by the handlers, waiting for verification."),
            action="verify",
            where=lambda now: Q(status=CaseStatus.RESOLVED),
            filterset_class=SingleStatusWorklistFilterSet,
            columns=frozenset({"handler", "flags"}),
        ),
        Worklist(
            slug="extensions",
            title=_("Extension and parking requests"),
            description=_("Handlers asking for a later deadline, and requests to park cases (挂账)."),
            action="supervise",
            where=lambda now: (
                (Q(status__in=EXTENSION_STATUSES) & Q(_pending_extension()))
                | (Q(status__in=PARKING_STATUSES) & Q(_pending_parking()))
            ),
            filterset_class=WorklistFilterSet,
            decorate=_with_pending_requests,
            columns=frozenset({"status", "handler", "extension", "parking"}),
        ),
        Worklist(
            slug="parked",
            title=_("Parked"),
            description=_("Cases on hold (挂账); unpark them when they can be handled."),
            action="supervise",
            where=lambda now: Q(status=CaseStatus.PARKED),
            filterset_class=SingleStatusWorklistFilterSet,
            ordering=("parked_at",),
            columns=frozenset({"parked"}),
        ),
        Worklist(
            slug="overdue",
            title=_("Overdue"),
            description=_("Open cases past the deadline of their current stage."),
            action="supervise",
            where=lambda now: Q(status__in=OPEN_STATUSES, deadline__lt=now),
            filterset_class=WorklistFilterSet,
            columns=frozenset({"status", "handler", "flags"}),
        ),
        Worklist(
            slug="escalated",
            title=_("Escalated"),
            description=_("Open cases flagged for supervision (督办)."),
            action="supervise",
            where=lambda now: Q(status__in=OPEN_STATUSES, escalation_level__gt=0),
            filterset_class=WorklistFilterSet,
            # Longest overdue first; this also reads the head of the open-deadline
            # index, as an index on escalated_at would slow the escalation job.
            ordering=("deadline", "id"),
            columns=frozenset({"status", "handler", "flags"}),
        ),
    ]
}


def worklists_for(user: Any) -> list[Worklist]:
    return [worklist for worklist in WORKLISTS.values() if worklist.is_for(user)]


def worklist_counts(user: Any) -> dict[str, int]:
    """How many cases wait in each of the user's worklists, in one query.

    Each count is the worklist's filter under its own gate action; the rows
    scanned are the union of them (all open cases), not the whole table.
    """
    worklists = worklists_for(user)
    if not worklists:
        return {}
    now = clock.now()
    scope, rule = scope_for(user), rule_for(Case)
    conditions = {wl.slug: rule.q(scope, user, wl.action) & wl.where(now) for wl in worklists}
    return Case.objects.filter(reduce(or_, conditions.values())).aggregate(
        **{slug: Count("pk", filter=condition) for slug, condition in conditions.items()}
    )


# A user's worklist counts are this many seconds old at most (less after
# their own actions, which delete them: `forget_worklist_counts` from
# cases.services, and after changes of their scope, which replace their
# figures' token: chengguan.permissions.forget_scope).
WORKLIST_COUNTS_SECONDS = 30


def _counts_key(user_id: Any) -> str:
    # By user id alone: finding the user's scope would cost queries on every
    # page. The entry holds the token of the user's cached figures it was
    # counted under (cases.dashboard.figures_token), and is used only while
    # that token is the user's: a change of scope draws a new one once
    # committed (forget_scope), so counts of the old scope, even stored after
    # the commit by a request that started counting before it, are not shown.
    return f"desk:worklist-counts:{user_id}"


def _read_counts(user_id: Any) -> tuple[str | None, dict[str, int] | None]:
    """The user's token and their counts if counted under it: one cache round trip."""
    token_key, counts_key = figures_token_key(user_id), _counts_key(user_id)
    found = cache.get_many([token_key, counts_key])
    token, entry = found.get(token_key), found.get(counts_key)
    if token is None:
        return None, None
    # (token, counts) as `cached_worklist_counts` stores them; anything else
    # (another token, a former version's plain counts) is not used.
    if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == token:
        return str(token), entry[1]
    return str(token), None


def peek_worklist_counts(user: Any) -> dict[str, int] | None:
    """The user's cached worklist counts, or None; never queries the database."""
    return _read_counts(user.pk)[1]


def cached_worklist_counts(user: Any) -> dict[str, int]:
    """`worklist_counts`, from the cache when counted in the last WORKLIST_COUNTS_SECONDS.

    The token is read before counting, never after: counts of a scope that
    changes meanwhile are stored under the token it replaces, and not used.
    With the cache unreachable the counts are computed on every call.
    """
    token, counts = _read_counts(user.pk)
    if counts is not None:
        return counts
    if token is None:
        # None yet, or expired: draw the user's token (the dashboard's too).
        token = figures_token(user.pk)
    counts = worklist_counts(user)
    cache.set(_counts_key(user.pk), (token, counts), WORKLIST_COUNTS_SECONDS)
    return counts


def forget_worklist_counts(user_id: Any) -> None:
    """Drop a user's cached counts after they moved a case (cases.services), on commit.

    Only the counts: their dashboard figures are kept for their time, as
    before. A change of their scope needs no call: it replaces their token
    (forget_scope), which leaves these counts unused.
    """
    if user_id is not None:
        cache.delete(_counts_key(user_id))


# --- deadlines in working time -------------------------------------------------


@dataclass(frozen=True)
class DeadlineInfo:
    """The current stage's deadline seen from now, in working time (DESIGN §4)."""

    deadline: datetime
    overdue: bool
    # Working time left before the deadline, or past it when overdue.
    working_time: timedelta
    day_length: timedelta


def deadline_info(case: Case, *, now: datetime, calendar: WorkCalendar) -> DeadlineInfo | None:
    if case.deadline is None or not case.is_open:
        return None
    overdue = case.deadline < now
    working_time = calendar.between(case.deadline, now) if overdue else calendar.between(now, case.deadline)
    return DeadlineInfo(
        deadline=case.deadline, overdue=overdue, working_time=working_time, day_length=calendar.day_length
    )


def annotate_deadlines(cases: list[Case], *, now: datetime | None = None) -> list[Case]:
    """Set `case.deadline_info` on each case, with one calendar for the whole page."""
    now = now or clock.now()
    calendar = get_calendar()
    for case in cases:
        case.deadline_info = deadline_info(case, now=now, calendar=calendar)  # type: ignore[attr-defined]
    return cases
