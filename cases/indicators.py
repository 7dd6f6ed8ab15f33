"""The indicators of DESIGN §6 (综合评价), defined once, computed in the database.

Every figure is one conditional aggregate over the cases in a scope (any
queryset of cases: a user's gate, a district, a unit, a liaison, a
category, a source), for a period [start, end):

| key | definition |
| --- | --- |
| reported | cases reported in the period (受理数) |
| registered | cases registered in the period (立案数) |
| registration_rate | registered ÷ reported, both without merged duplicates (立案率) |
| due | registered cases whose handling deadline falls in the period, or closed in it (应结案数) |
| closed | cases closed in the period (结案数) |
| closure_rate | closed ÷ due (结案率) |
| closed_on_time | closed in the period on or before the handling deadline |
| on_time_rate | closed_on_time ÷ due (按期结案率) |
| reworked | closed in the period and reworked at least once |
| rework_rate | reworked ÷ closed (返工率) |
| extended | registered in the period and extended at least once |
| extension_rate | extended ÷ registered (延期率) |
| overdue | open past its current deadline at `now` (超期数) |
| visited | closed in the period with a done return visit for that closure (or the reporter's rating) |
| visit_rate | visited ÷ closed (回访率) |
| satisfied | visited and 满意 or 基本满意 |
| satisfaction_rate | satisfied ÷ visited (满意率) |
| avg_handling_hours | mean working hours from dispatch to result, of cases closed in the period (平均处置时长) |
| false_reports | cases marked false or malicious, closed or rejected in the period (不实投诉数) |

A case closed on the spot (当场处置) has no handling deadline: it counts as
closed on time. For handling units and liaisons (`for_assessment=True`) cases
marked false or malicious are left out of every figure except
`false_reports`. Patrol completion (巡查完成率) and the weighted score
(综合指标值) are at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from cases.choices import OPEN_STATUSES, CaseStatus, Satisfaction, VisitStatus
from cases.models import Case, ReturnVisit
from chengguan import clock


@dataclass(frozen=True)
class Period:
    """A half-open span of local days: [start, end)."""

    start: datetime
    end: datetime

    @classmethod
    def days(cls, first: date, last: date) -> Period:
        """From the start of `first` to the end of `last` (local time)."""
        tz = timezone.get_current_timezone()
        return cls(
            timezone.make_aware(datetime.combine(first, time.min), tz),
            timezone.make_aware(datetime.combine(last + timedelta(days=1), time.min), tz),
        )

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        first = date(year, month, 1)
        following = date(year + (month == 12), month % 12 + 1, 1)
        return cls.days(first, following - timedelta(days=1))

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.start - (self.end - self.start), self.start)

    def q(self, field: str) -> Q:
        return Q(**{f"{field}__gte": self.start, f"{field}__lt": self.end})


RATES = {
    "registration_rate": ("registered_non_duplicate", "reported_non_duplicate"),
    "closure_rate": ("closed", "due"),
    "on_time_rate": ("closed_on_time", "due"),
    "rework_rate": ("reworked", "closed"),
    "extension_rate": ("extended", "registered"),
    "visit_rate": ("visited", "closed"),
    "satisfaction_rate": ("satisfied", "visited"),
}


def _aggregates(period: Period, now: datetime) -> dict[str, Any]:
    reported = period.q("reported_at")
    registered = period.q("registered_at")
    closed = Q(status=CaseStatus.CLOSED) & period.q("closed_at")
    not_duplicate = Q(merged_into__isnull=True)
    due = (Q(registered_at__isnull=False) & period.q("due_at")) | closed
    closed_on_time = closed & Q(closed_at__lte=Coalesce(F("due_at"), F("closed_at")))
    visited = closed & Q(visited_this_round=True)
    satisfied = visited & Q(visit_satisfaction__in=[Satisfaction.SATISFIED, Satisfaction.BASICALLY])
    return {
        "reported": Count("pk", filter=reported),
        "reported_non_duplicate": Count("pk", filter=reported & not_duplicate),
        "registered": Count("pk", filter=registered),
        "registered_non_duplicate": Count("pk", filter=registered & not_duplicate),
        "due": Count("pk", filter=due),
        "closed": Count("pk", filter=closed),
        "closed_on_time": Count("pk", filter=closed_on_time),
        "closed_on_spot": Count("pk", filter=closed & Q(closed_on_spot=True)),
        "reworked": Count("pk", filter=closed & Q(rework_count__gt=0)),
        "extended": Count("pk", filter=registered & Q(extension_count__gt=0)),
        "overdue": Count("pk", filter=Q(status__in=OPEN_STATUSES, deadline__lt=now)),
        "visited": Count("pk", filter=visited),
        "satisfied": Count("pk", filter=satisfied),
        "avg_handling_hours": Avg("handling_hours", filter=closed & Q(handling_hours__isnull=False)),
    }


def _relevant(period: Period, now: datetime) -> Q:
    """Rows that can count in any figure; lets the database use its date indexes."""
    return (
        period.q("reported_at")
        | period.q("registered_at")
        | period.q("closed_at")
        | period.q("due_at")
        | period.q("false_report_at")
        | period.q("rejected_at")
        | Q(status__in=OPEN_STATUSES, deadline__lt=now)
    )


def _with_visits(cases: QuerySet[Case]) -> QuerySet[Case]:
    this_round = ReturnVisit.objects.filter(
        case=OuterRef("pk"), round=OuterRef("reopen_count"), status=VisitStatus.DONE
    )
    return cases.annotate(
        visited_this_round=Exists(this_round),
        visit_satisfaction=this_round.values("satisfaction")[:1],
    )


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    for rate, (numerator, denominator) in RATES.items():
        row[rate] = row[numerator] / row[denominator] if row[denominator] else None
    if row.get("avg_handling_hours") is not None:
        row["avg_handling_hours"] = float(row["avg_handling_hours"])
    return row


def _false_reports(period: Period) -> Count:
    return Count(
        "pk",
        filter=Q(false_report=True)
        & (period.q("closed_at") | period.q("rejected_at") | period.q("false_report_at")),
    )


def indicators(
    cases: QuerySet[Case], period: Period, *, for_assessment: bool = False, now: datetime | None = None
) -> dict[str, Any]:
    """All figures for one scope in one query."""
    now = now or clock.now()
    scoped = cases.filter(_relevant(period, now)).order_by()
    false_reports = scoped.aggregate(false_reports=_false_reports(period))["false_reports"]
    if for_assessment:
        scoped = scoped.filter(false_report=False)
    row = _with_visits(scoped).aggregate(**_aggregates(period, now))
    row["false_reports"] = false_reports
    return _finish(row)


def indicators_by(
    cases: QuerySet[Case],
    period: Period,
    group_by: str,
    *,
    for_assessment: bool = False,
    now: datetime | None = None,
) -> dict[Any, dict[str, Any]]:
    """The same figures per value of `group_by` (e.g. "handling_unit", "assignee", "community")."""
    now = now or clock.now()
    scoped = cases.filter(_relevant(period, now)).order_by()
    false_counts = {
        key: n
        for key, n in scoped.values_list(group_by)
        .annotate(n=_false_reports(period))
        .values_list(group_by, "n")
    }
    if for_assessment:
        scoped = scoped.filter(false_report=False)
    rows = _with_visits(scoped).values(group_by).annotate(**_aggregates(period, now)).order_by(group_by)
    result = {}
    for row in rows:
        key = row.pop(group_by)
        row["false_reports"] = false_counts.get(key, 0)
        result[key] = _finish(row)
    for key, n in false_counts.items():
        if key not in result and n:
            result[key] = _finish(
                {**{k: 0 for k in _EMPTY_KEYS}, "avg_handling_hours": None, "false_reports": n}
            )
    return result


_EMPTY_KEYS = [
    "reported",
    "reported_non_duplicate",
    "registered",
    "registered_non_duplicate",
    "due",
    "closed",
    "closed_on_time",
    "closed_on_spot",
    "reworked",
    "extended",
    "overdue",
    "visited",
    "satisfied",
]


# --- patrols and the composite score --------------------------------------------

DEFAULT_WEIGHTS = {"on_time_rate": 60, "closure_rate": 20, "rework_rate": 10, "satisfaction_rate": 10}


def patrol_completion(slots: Any, period: Period) -> dict[str, Any]:
    """巡查完成率: scheduled patrols done ÷ planned, for windows ending in the period."""
    from liaisons.choices import ScheduledPatrolStatus

    last_day = timezone.localtime(period.end - timedelta(microseconds=1)).date()
    first_day = timezone.localtime(period.start).date()
    row = slots.filter(window_end__gte=first_day, window_end__lte=last_day).aggregate(
        planned=Count("pk"), done=Count("pk", filter=Q(status=ScheduledPatrolStatus.DONE))
    )
    row["patrol_rate"] = row["done"] / row["planned"] if row["planned"] else None
    return row


def composite_score(
    figures: dict[str, Any], weights: dict[str, int | float | Decimal] | None = None
) -> float | None:
    """综合指标值: the weighted sum of the rates, out of the total weight (100 by default).

    Rework counts in reverse (1 − rework rate). A rate without data (no
    denominator) is left out and the score is scaled to the weights that
    remain; with no data at all there is no score.
    """
    chosen: dict[str, Any] = dict(weights or DEFAULT_WEIGHTS)
    total = 0.0
    used = 0.0
    for key, weight in chosen.items():
        value = figures.get(key)
        if value is None:
            continue
        if key == "rework_rate":
            value = 1 - value
        total += float(weight) * value
        used += float(weight)
    if not used:
        return None
    full = sum(float(w) for w in chosen.values())
    return round(total * full / used, 2)
