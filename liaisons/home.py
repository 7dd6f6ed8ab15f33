"""Reads behind the field-work pages: the liaison's home and the community choices.

Every block goes through the gate (chengguan.permissions.restrict or
cases.selectors.cases_for) and is one query, whatever the amount of data.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from cases.choices import OPEN_STATUSES, VisitStatus
from cases.models import Case, ReturnVisit
from cases.selectors import cases_for
from chengguan import clock
from chengguan.permissions import scope_for
from communities.models import Community, GridCell
from inspections.choices import NoticeStatus
from inspections.models import RectificationNotice
from liaisons.choices import ScheduledPatrolStatus
from liaisons.models import LiaisonAssignment, ScheduledPatrol

HOME_CASES = 10
HOME_VISITS = 10
HOME_NOTICES = 10
HOME_PATROLS = 30


def communities_worked_in(user: Any) -> QuerySet[Community]:
    """Where the user does field work themselves: patrols, inspections, new shops."""
    scope = scope_for(user)
    queryset = (
        Community.objects.filter(is_active=True)
        .select_related("street")
        .defer("boundary", "street__boundary")
    )
    if scope.city_wide:
        return queryset.order_by("street__code", "code")
    return queryset.filter(pk__in=scope.community_ids).order_by("street__code", "code")


def communities_overseen(user: Any) -> QuerySet[Community]:
    """Where the user may look at field work: the communities they work in and
    every community of the districts they oversee (the field-work scope rule)."""
    scope = scope_for(user)
    queryset = (
        Community.objects.filter(is_active=True)
        .select_related("street")
        .defer("boundary", "street__boundary")
    )
    if not scope.city_wide:
        queryset = queryset.filter(
            Q(pk__in=scope.community_ids) | Q(street__district_id__in=scope.district_ids)
        )
    return queryset.order_by("street__code", "code")


def grid_cells_of(communities: QuerySet[Community]) -> QuerySet[GridCell]:
    return (
        GridCell.objects.filter(is_active=True, community__in=communities)
        .defer("boundary")
        .order_by("community_id", "code")
    )


def this_week(today: date) -> tuple[date, date]:
    monday = today - timedelta(days=today.weekday())
    return monday, monday + timedelta(days=6)


@dataclass
class FieldHome:
    today: date
    week: tuple[date, date]
    postings: list[LiaisonAssignment] = field(default_factory=list)
    patrols: list[ScheduledPatrol] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    more_cases: bool = False
    visits: list[ReturnVisit] = field(default_factory=list)
    notices: list[RectificationNotice] = field(default_factory=list)


def field_home(user: Any) -> FieldHome:
    """What a liaison needs at the start of the day, one query per block."""
    now = clock.now()
    today = timezone.localtime(now).date()
    monday, sunday = this_week(today)
    home = FieldHome(today=today, week=(monday, sunday))
    home.postings = list(
        LiaisonAssignment.objects.filter(liaison=user, ends_at__isnull=True)
        .select_related("community__street")
        .defer("community__boundary", "community__street__boundary")
        .order_by("role", "community__code")
    )
    home.patrols = list(
        ScheduledPatrol.objects.restrict(user)
        .filter(
            Q(due_date__range=(monday, sunday))
            | Q(status=ScheduledPatrolStatus.DUE, due_date__lt=monday, window_end__gte=today)
        )
        .select_related("community", "patrol")
        .defer("community__boundary")
        .order_by("due_date", "slot", "community__code")[:HOME_PATROLS]
    )
    cases = list(
        cases_for(user)
        .filter(status__in=OPEN_STATUSES)
        .order_by(F("deadline").asc(nulls_last=True), "-reported_at")[: HOME_CASES + 1]
    )
    home.cases, home.more_cases = cases[:HOME_CASES], len(cases) > HOME_CASES
    home.visits = list(
        ReturnVisit.objects.restrict(user)
        .filter(liaison=user, status=VisitStatus.SCHEDULED)
        .select_related("case")
        .order_by("due_at", "pk")[:HOME_VISITS]
    )
    home.notices = list(
        RectificationNotice.objects.restrict(user)
        .filter(status=NoticeStatus.ISSUED)
        .select_related("unit")
        .order_by("deadline", "pk")[:HOME_NOTICES]
    )
    for notice in home.notices:
        notice.reinspection_due = notice.deadline <= now  # type: ignore[attr-defined]
    for visit in home.visits:
        visit.overdue = visit.due_at < now  # type: ignore[attr-defined]
    return home
