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
| avg_handling_hours | mean working hours, dispatch to result, of cases closed in the period (平均处置时长) |
| false_reports | cases marked false or malicious, closed or rejected in the period (不实投诉数) |

A case closed on the spot (当场处置) has no handling deadline: it counts as
closed on time. For handling units and liaisons (`for_assessment=True`) cases
marked false or malicious are left out of every figure except
`false_reports`. Patrol completion (巡查完成率) and the weighted score
(综合指标值) are at the end.

Each counted figure is one filter (`indicator_q`); `cases_matching` applies
it to list the cases behind a figure, so a dashboard tile and the case list
it links to count the same cases.

Cost: one pass over the period's cases (through the date indexes; in
parallel on PostgreSQL) counts every figure, the return visits included:
the case carries its latest done visit (`Case.last_visit_round`,
`last_visit_satisfaction`, kept by the return-visit services), and the visit
of the last closure is the one whose round is the case's reopen count.
Grouped rows (`indicator_rows`) add up, so one grouped query serves a total
and its breakdowns (`combine`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.choices import OPEN_STATUSES, CaseStatus, Satisfaction
from cases.models import Case
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


# The counted figures, each one filter over cases (see `indicator_q`).
COUNTS = (
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
)
# What each figure is called on the dashboard and in the case list's filter.
INDICATOR_LABELS: dict[str, Any] = {
    "reported": _("Reported (受理数)"),
    "reported_non_duplicate": _("Reported, without duplicates"),
    "registered": _("Registered (立案数)"),
    "registered_non_duplicate": _("Registered, without duplicates"),
    "due": _("Due for closure (应结案数)"),
    "closed": _("Closed (结案数)"),
    "closed_on_time": _("Closed by the deadline"),
    "closed_on_spot": _("Fixed on the spot"),
    "reworked": _("Closed after rework"),
    "extended": _("Registered and extended"),
    "overdue": _("Overdue now (超期数)"),
    "visited": _("Closed and visited back"),
    "satisfied": _("Visited and satisfied"),
    "false_reports": _("False or malicious reports (不实投诉数)"),
    "attention": _("Open and overdue or escalated"),
}


def _visit_of_last_closure() -> Q:
    """The case has a done return visit for its last closure round (or the reporter's own rating).

    Visits are made per closure round (the reopen count at closure) and the
    case carries its latest done one (cases.services.case_sync_last_visit):
    that visit is of the last closure when its round is the reopen count.
    """
    return Q(last_visit_round=F("reopen_count"))


def indicator_q(key: str, period: Period, now: datetime) -> Q:
    """The cases one counted figure counts, as a filter.

    The one definition behind both the aggregates below and the drill-down
    from a dashboard tile to the case list (`cases_matching`), so the two
    always agree. Besides the figures of `COUNTS`, `false_reports`
    (不实投诉数) and `attention` (open and overdue or escalated: the
    dashboard's table).
    """
    reported = period.q("reported_at")
    registered = period.q("registered_at")
    closed = Q(status=CaseStatus.CLOSED) & period.q("closed_at")
    not_duplicate = Q(merged_into__isnull=True)
    builders: dict[str, Any] = {
        "reported": lambda: reported,
        "reported_non_duplicate": lambda: reported & not_duplicate,
        "registered": lambda: registered,
        "registered_non_duplicate": lambda: registered & not_duplicate,
        "due": lambda: (Q(registered_at__isnull=False) & period.q("due_at")) | closed,
        "closed": lambda: closed,
        "closed_on_time": lambda: closed & Q(closed_at__lte=Coalesce(F("due_at"), F("closed_at"))),
        "closed_on_spot": lambda: closed & Q(closed_on_spot=True),
        "reworked": lambda: closed & Q(rework_count__gt=0),
        "extended": lambda: registered & Q(extension_count__gt=0),
        "overdue": lambda: Q(status__in=OPEN_STATUSES, deadline__lt=now),
        "visited": lambda: closed & _visit_of_last_closure(),
        "satisfied": lambda: closed & _visit_of_last_closure() & Q(last_visit_satisfaction__in=SATISFIED),
        "false_reports": lambda: (
            Q(false_report=True)
            & (period.q("closed_at") | period.q("rejected_at") | period.q("false_report_at"))
        ),
        "attention": lambda: Q(status__in=OPEN_STATUSES) & (Q(deadline__lt=now) | Q(escalation_level__gt=0)),
    }
    try:
        return builders[key]()
    except KeyError:
        raise ValueError(f"Unknown indicator {key!r}") from None


def cases_matching(
    cases: QuerySet[Case],
    key: str,
    period: Period,
    *,
    for_assessment: bool = False,
    now: datetime | None = None,
) -> QuerySet[Case]:
    """The cases behind one figure of `indicators(cases, period, ...)`: its drill-down."""
    now = now or clock.now()
    if for_assessment and key != "false_reports":
        cases = cases.filter(false_report=False)
    return cases.filter(indicator_q(key, period, now))


SATISFIED = [Satisfaction.SATISFIED, Satisfaction.BASICALLY]


def _aggregates(period: Period, now: datetime, *, for_assessment: bool) -> dict[str, Any]:
    # For a unit or a liaison, false reports count only as false reports; the
    # condition sits in each figure's filter so that one pass counts them all.
    # Every aggregate is a count or a sum, so rows of a grouped query add up
    # (`combine`); the mean handling time is worked out from its sum in `_finish`.
    counted = Q(false_report=False) if for_assessment else Q()
    timed = counted & indicator_q("closed", period, now) & Q(handling_hours__isnull=False)
    return {
        **{key: Count("pk", filter=counted & indicator_q(key, period, now)) for key in COUNTS},
        "handling_hours_sum": Sum("handling_hours", filter=timed),
        "handling_hours_n": Count("pk", filter=timed),
        "false_reports": Count("pk", filter=indicator_q("false_reports", period, now)),
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


ADDITIVE = (*COUNTS, "false_reports", "handling_hours_n")


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    for rate, (numerator, denominator) in RATES.items():
        row[rate] = row[numerator] / row[denominator] if row[denominator] else None
    total, n = row.get("handling_hours_sum"), row.get("handling_hours_n")
    row["avg_handling_hours"] = float(total) / n if n and total is not None else None
    return row


def indicators(
    cases: QuerySet[Case], period: Period, *, for_assessment: bool = False, now: datetime | None = None
) -> dict[str, Any]:
    """All figures for one scope, in one query."""
    now = now or clock.now()
    scoped = cases.filter(_relevant(period, now)).order_by()
    return _finish(scoped.aggregate(**_aggregates(period, now, for_assessment=for_assessment)))


def indicator_rows(
    cases: QuerySet[Case],
    period: Period,
    group_by: tuple[str, ...],
    *,
    for_assessment: bool = False,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The figures per combination of the `group_by` values, in one query, not yet finished.

    Their counts add up: `combine` turns any set of rows into the figures of
    their union (e.g. the whole scope from rows per street and grid cell).
    """
    now = now or clock.now()
    scoped = cases.filter(_relevant(period, now)).order_by()
    aggregates = _aggregates(period, now, for_assessment=for_assessment)
    return list(scoped.values(*group_by).annotate(**aggregates))


def combine(rows: Any) -> dict[str, Any]:
    """The finished figures of the union of some `indicator_rows`."""
    total: dict[str, Any] = dict.fromkeys(ADDITIVE, 0)
    hours = None
    for row in rows:
        for key in ADDITIVE:
            total[key] += row[key]
        if row["handling_hours_sum"] is not None:
            hours = (hours or 0) + row["handling_hours_sum"]
    total["handling_hours_sum"] = hours
    return _finish(total)


def indicators_by(
    cases: QuerySet[Case],
    period: Period,
    group_by: str,
    *,
    for_assessment: bool = False,
    now: datetime | None = None,
) -> dict[Any, dict[str, Any]]:
    """The same figures per value of `group_by` (e.g. "handling_unit", "assignee", "community")."""
    rows = indicator_rows(cases, period, (group_by,), for_assessment=for_assessment, now=now)
    return {row.pop(group_by): _finish(row) for row in rows}


# --- patrols and the composite score --------------------------------------------

DEFAULT_WEIGHTS = {"on_time_rate": 60, "closure_rate": 20, "rework_rate": 10, "satisfaction_rate": 10}


def _patrol_windows(slots: Any, period: Period) -> Any:
    last_day = timezone.localtime(period.end - timedelta(microseconds=1)).date()
    first_day = timezone.localtime(period.start).date()
    return slots.filter(window_end__gte=first_day, window_end__lte=last_day)


def _patrol_counts() -> dict[str, Count]:
    from liaisons.choices import ScheduledPatrolStatus

    return {"planned": Count("pk"), "done": Count("pk", filter=Q(status=ScheduledPatrolStatus.DONE))}


def patrol_completion(slots: Any, period: Period) -> dict[str, Any]:
    """巡查完成率: scheduled patrols done ÷ planned, for windows ending in the period."""
    row = _patrol_windows(slots, period).aggregate(**_patrol_counts())
    row["patrol_rate"] = row["done"] / row["planned"] if row["planned"] else None
    return row


def patrol_completion_by(slots: Any, period: Period, group_by: str) -> dict[Any, dict[str, Any]]:
    """`patrol_completion` per value of `group_by` (a field or an annotation of `slots`), one query."""
    rows = _patrol_windows(slots, period).order_by().values(group_by).annotate(**_patrol_counts())
    result = {}
    for row in rows:
        key = row.pop(group_by)
        row["patrol_rate"] = row["done"] / row["planned"] if row["planned"] else None
        result[key] = row
    return result


def composite_score(
    figures: dict[str, Any], weights: Mapping[str, int | float | Decimal] | None = None
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
