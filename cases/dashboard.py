"""Reads behind the supervisor dashboard, the monthly assessment (月度考核) and
the public statistics page.

Every staff read starts at the gate (`restrict(..., user, "view")`) and counts
in the database with the definitions of cases.indicators: nothing here loads
cases into Python to count them, and each page runs the same number of
queries whatever the number of cases.

The dashboard's figures of the current period are kept in the cache for
DASHBOARD_CACHE_SECONDS (a minute by default), per user, scope and period,
as plain numbers by id; the page says when they were computed and offers a
"refresh" that recomputes them, at most once per FRESH_SECONDS per user
(`start_afresh`). At a million cases recomputing takes a fifth of a
second of the database per request, which twenty supervisors on a small
machine would otherwise pay on every page and chart. The monthly
assessment keeps its figures the same way (`FigureCache`): a month under
way as long as the dashboard's, a month that is over for
ASSESSMENT_CACHE_SECONDS. Everything cached for a user is stored under
their token, which a refresh or a change of their scope replaces
(`forget_cached_figures`).

Every figure shown links to the case list (cases:list) filtered to the cases
it counts: the dashboard's scope filters become CaseFilterSet parameters and
the figure becomes `indicator=<key>&period_start=…&period_end=…`, which the
case list turns back into the same filter (cases.indicators.cases_matching).
"""

from __future__ import annotations

import calendar
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any, overload
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Avg, Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from cases.choices import CaseSource
from cases.indicators import (
    Period,
    cases_matching,
    combine,
    composite_score,
    indicator_rows,
    indicators,
    indicators_by,
    patrol_completion,
    patrol_completion_by,
)
from cases.models import AssessmentWeights, Case, Category, TwoWayRating
from chengguan import clock
from chengguan.permissions import restrict
from communities.models import Community, District, GridCell, HandlingUnit, Street

# A custom period longer than this would aggregate years of cases per request.
MAX_CUSTOM_DAYS = 366
ATTENTION_PER_PAGE = 10
PREVIOUS_PERIOD_CACHE_SECONDS = 600
# The "refresh" link recomputes a user's current figures at most this often.
FRESH_SECONDS = 10
# Cached figures past their time are recomputed by one request while the
# others are served them, for this many seconds more at most (`read_through`).
STALE_SECONDS = 30
# A request that finds no figures while another computes them waits this long for them.
WAIT_SECONDS = 5.0
GRID_CELL_PLACEHOLDER = "CELL"
# A day no period contains: the drill-down links of the trend swap it for each day.
DAY_PLACEHOLDER = date(1, 1, 1)


@contextmanager
def analytic_reads() -> Iterator[None]:
    """Run a page's aggregate reads without PostgreSQL's JIT compiler.

    The planner's estimates for aggregates over a month of a large case table
    pass `jit_above_cost`, and compiling them takes longer than running them:
    measured at a million cases, 0.5 s of JIT against 0.1 s of work for one
    query. And the pages that read them read the same recent part of the
    table again and again, which stays cached: an index probe costs about as
    little as a sequential read (random_page_cost), so the planner probes the
    return visits of a few thousand closed cases instead of hashing them all.
    SET LOCAL ends with the transaction.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off; SET LOCAL random_page_cost = 1.1")
        yield


# --- periods --------------------------------------------------------------------


def month_last_day(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def previous_month(first: date) -> date:
    return (first.replace(day=1) - timedelta(days=1)).replace(day=1)


@dataclass(frozen=True)
class DashboardPeriod:
    """The days shown (first..last, inclusive) and the period they are compared with."""

    kind: str
    first: date
    last: date
    previous_first: date
    previous_last: date

    @property
    def period(self) -> Period:
        return Period.days(self.first, self.last)

    @property
    def previous(self) -> Period:
        return Period.days(self.previous_first, self.previous_last)

    def days(self, until: date | None = None) -> list[date]:
        """Every day of the period, up to `until` (today: the future has no cases)."""
        last = min(self.last, until) if until else self.last
        return [self.first + timedelta(days=n) for n in range((last - self.first).days + 1)]


def dashboard_period(
    kind: str = "month", first: date | None = None, last: date | None = None, *, today: date | None = None
) -> DashboardPeriod:
    """Today, this week (Monday to Sunday), this month, or custom days.

    A month, or custom days that make up one calendar month, compare with
    the previous calendar month; other periods with as many days just before.
    """
    today = today or timezone.localdate(clock.now())
    if kind == "today":
        first = last = today
    elif kind == "week":
        first = today - timedelta(days=today.weekday())
        last = first + timedelta(days=6)
    elif kind == "custom" and first and last:
        first, last = min(first, last), max(first, last)
    else:
        kind = "month"
        first = today.replace(day=1)
        last = month_last_day(first)
    if first.day == 1 and last == month_last_day(first):
        previous_first = previous_month(first)
        previous_last = month_last_day(previous_first)
    else:
        length = (last - first).days + 1
        previous_last = first - timedelta(days=1)
        previous_first = previous_last - timedelta(days=length - 1)
    return DashboardPeriod(kind, first, last, previous_first, previous_last)


# --- scope --------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardFilters:
    """The dashboard's scope filters, inside what the gate lets the user see."""

    district: int | None = None
    street: int | None = None
    community: int | None = None
    category: int | None = None
    source: str = ""
    unit: int | None = None
    liaison: int | None = None

    @property
    def for_assessment(self) -> bool:
        """Figures of a unit or a liaison leave out false reports (DESIGN §6)."""
        return bool(self.unit or self.liaison)

    def q(self) -> Q:
        # The same lookups as the case list's filters (cases.filtersets).
        q = Q()
        if self.district:
            q &= Q(district_id=self.district)
        if self.street:
            q &= Q(community__street_id=self.street)
        if self.community:
            q &= Q(community_id=self.community)
        if self.category:
            q &= Q(category_id=self.category) | Q(category__parent_id=self.category)
        if self.source:
            q &= Q(source=self.source)
        if self.unit:
            q &= Q(handling_unit_id=self.unit)
        if self.liaison:
            q &= Q(assignee_id=self.liaison)
        return q

    def list_params(self) -> dict[str, str]:
        """The same filters as parameters of the case list (CaseFilterSet)."""
        pairs = [
            ("district", self.district),
            ("street", self.street),
            ("community", self.community),
            ("category", self.category),
            ("source", self.source),
            ("handling_unit", self.unit),
            ("assignee", self.liaison),
        ]
        return {name: str(value) for name, value in pairs if value}

    def community_q(self) -> Q:
        """The geographic filters only, for what belongs to a community (grid cells, patrols)."""
        q = Q()
        if self.district:
            q &= Q(community__street__district_id=self.district)
        if self.street:
            q &= Q(community__street_id=self.street)
        if self.community:
            q &= Q(community_id=self.community)
        return q


def case_list_url(
    filters: DashboardFilters, key: str, first: date, last: date, *, base: str = "", **extra: Any
) -> str:
    """The case list filtered to the cases behind figure `key` for days first..last.

    `base` is the case list's path when the caller already has it (one reverse() per page).
    """
    params = filters.list_params()
    params.update(indicator=key, period_start=first.isoformat(), period_end=last.isoformat())
    if filters.for_assessment and key != "false_reports":
        params["false_report"] = "false"
    params.update({name: str(value) for name, value in extra.items()})
    return f"{base or reverse('cases:list')}?{urlencode(params)}"


@dataclass(frozen=True)
class FilterChoices:
    """What the scope filters offer: only what the user can see."""

    districts: list[tuple[int, str]]
    streets: list[tuple[int, str]]
    communities: list[tuple[int, str]]
    categories: list[tuple[int, str]]
    sources: list[tuple[str, str]]
    units: list[tuple[int, str]]
    liaisons: list[tuple[int, str]]


FILTER_CHOICES_CACHE_SECONDS = 300


def filter_choices(user: Any) -> FilterChoices:
    """What the scope filters offer the user, kept in the cache for a few minutes.

    Reference data that rarely changes, read on every dashboard request (a
    query per list and the gate's own): per user, their token (a change of
    scope changes the lists) and language.
    """
    key = f"dashboard:choices:{user.pk}:{figures_token(user.pk)}:{get_language()}"
    choices = cache.get(key)
    if choices is None:
        choices = _filter_choices(user)
        cache.set(key, choices, FILTER_CHOICES_CACHE_SECONDS)
    return choices


def _filter_choices(user: Any) -> FilterChoices:
    from liaisons.models import LiaisonAssignment

    def pairs(queryset: QuerySet[Any]) -> list[tuple[int, str]]:
        return [(pk, name) for pk, name in queryset.values_list("pk", "name")]

    liaisons: dict[int, str] = {}
    assignments = restrict(LiaisonAssignment.objects.filter(ends_at__isnull=True), user).values_list(
        "liaison_id", "liaison__name", "liaison__username"
    )
    for pk, name, username in assignments.order_by("liaison__name", "liaison_id"):
        liaisons[pk] = name or username
    categories = [
        (c.pk, f"{c.parent.local_name} / {c.local_name}" if c.parent_id and c.parent else c.local_name)
        for c in Category.objects.filter(is_active=True).select_related("parent").order_by("code")
    ]
    return FilterChoices(
        districts=pairs(restrict(District.objects.filter(is_active=True), user).order_by("code")),
        streets=pairs(restrict(Street.objects.filter(is_active=True), user).order_by("code")),
        communities=pairs(restrict(Community.objects.filter(is_active=True), user).order_by("code")),
        categories=categories,
        sources=[(value, str(label)) for value, label in CaseSource.choices],
        units=pairs(restrict(HandlingUnit.objects.filter(is_active=True), user).order_by("code")),
        liaisons=list(liaisons.items()),
    )


# --- tiles ----------------------------------------------------------------------

# (figure, label, kind, numerator, denominator, higher is better)
TILE_SPECS: list[tuple[str, Any, str, str | None, str | None, bool | None]] = [
    ("reported", _("Reports received"), "count", None, None, None),
    ("registered", _("Cases registered"), "count", None, None, None),
    (
        "registration_rate",
        _("Registration rate"),
        "rate",
        "registered_non_duplicate",
        "reported_non_duplicate",
        None,
    ),
    ("due", _("Due for closure"), "count", None, None, None),
    ("closure_rate", _("Closure rate"), "rate", "closed", "due", True),
    ("on_time_rate", _("On-time closure rate"), "rate", "closed_on_time", "due", True),
    ("rework_rate", _("Rework rate"), "rate", "reworked", "closed", False),
    ("extension_rate", _("Extension rate"), "rate", "extended", "registered", False),
    ("overdue", _("Overdue now"), "count", None, None, False),
    ("visit_rate", _("Return-visit rate"), "rate", "visited", "closed", True),
    ("satisfaction_rate", _("Satisfaction rate"), "rate", "satisfied", "visited", True),
    ("avg_handling_hours", _("Average handling time"), "hours", None, None, False),
    ("patrol_rate", _("Patrol completion"), "rate", "done", "planned", True),
    ("score", _("Composite score"), "score", None, None, True),
    ("false_reports", _("False or malicious reports"), "count", None, None, None),
]


@dataclass
class Tile:
    key: str
    label: Any
    kind: str
    value: Any
    previous: Any
    better: bool | None
    url: str = ""
    numerator: int | None = None
    denominator: int | None = None
    numerator_key: str | None = None
    denominator_key: str | None = None
    denominator_url: str = ""
    # Counts link to the cases counted, rates to their numerator.
    link_key: str | None = None

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None or self.key == "overdue":
            return None
        if self.kind == "count":
            return (self.value - self.previous) / self.previous if self.previous else None
        return float(self.value) - float(self.previous)

    @property
    def trend(self) -> str:
        """ "good", "bad" or "" for the colour of the change."""
        change = self.change
        if not change or self.better is None:
            return ""
        return "good" if (change > 0) == self.better else "bad"


# --- a user's cached figures ------------------------------------------------------
#
# Every figure cached for a user (the dashboard's, its previous period's, the
# monthly assessment's, the scope filters' choices) is stored under the user's
# token, and what was stored under another token is never used. The token is
# replaced when the user asks for fresh figures (`start_afresh`) and when their
# scope changes (`forget_cached_figures`, from chengguan.permissions.forget_scope):
# no entry has to be found and deleted, the old ones expire by themselves.

# How long a token is kept. When it expires or is evicted a new one is drawn:
# the user's figures are computed again, and an older token never comes back.
FIGURES_TOKEN_SECONDS = 24 * 3600


def figures_token_key(user_id: Any) -> str:
    return f"dashboard:token:{user_id}"


def figures_token(user_id: Any) -> str:
    """The token under which the user's figures are cached now (drawn on first use)."""
    key = figures_token_key(user_id)
    token = cache.get(key)
    if token is None:
        token = uuid.uuid4().hex
        # Two requests drawing one at once keep the first stored (add); with
        # the cache unreachable each request has its own and computes anyway.
        if not cache.add(key, token, FIGURES_TOKEN_SECONDS):
            token = cache.get(key) or token
    return str(token)


def forget_cached_figures(user_id: Any) -> None:
    """Have every figure cached for the user so far computed again when next read.

    For a change of what the user may see (their scope): call it once the
    change is committed, so that no request recomputes the figures under the
    new token while still seeing the old scope.
    """
    cache.set(figures_token_key(user_id), uuid.uuid4().hex, FIGURES_TOKEN_SECONDS)


def fresh_throttle_key(user_id: Any) -> str:
    """Held for FRESH_SECONDS after each refresh of the user's figures."""
    return f"dashboard:fresh:{user_id}"


def start_afresh(user: Any) -> bool:
    """Have the user's next reads compute their cached figures anew; whether it was allowed.

    At most once per FRESH_SECONDS per user (otherwise the cached figures are
    shown), so the link cannot be used to load the database. It gives the
    user a new token: cached figures computed under another one are not used
    (every scope, period, chart, page of the overdue table and month of the
    assessment alike) and expire by themselves.
    """
    if not cache.add(fresh_throttle_key(user.pk), True, FRESH_SECONDS):
        return False
    forget_cached_figures(user.pk)
    return True


def _usable(entry: Any, token: Any) -> bool:
    """An entry as `read_through` stores it (not one a former version left), under `token`."""
    return isinstance(entry, tuple) and len(entry) == 4 and entry[0] == token


def read_through(
    key: str, compute: Callable[[], Any], *, seconds: int, now: datetime, token: Any = None
) -> tuple[datetime, Any]:
    """`compute()` and when it was computed (`now`), kept in the cache for `seconds`, computed once at a time.

    Twenty supervisors whose figures expire at once would otherwise all run
    the same aggregates together and saturate a small machine. So one of them
    (the one that takes the entry's lock) computes, and meanwhile the others
    are served the expired figures (their time says how old) or, when there
    are none yet, wait up to WAIT_SECONDS for them. An entry stored under
    another `token` (before the user's last refresh) is not used at all.
    With the cache unreachable every request computes its own.
    """
    entry = cache.get(key)
    stale = None
    if _usable(entry, token):
        if time.time() - entry[2] < seconds:
            return entry[1], entry[3]
        stale = entry
    lock = f"{key}:computing"
    locked = cache.add(lock, True, STALE_SECONDS)
    if locked is False:  # (None: the cache is unreachable)
        if stale is not None:
            return stale[1], stale[3]
        waited_until = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < waited_until:
            time.sleep(0.05)
            entry = cache.get(key)
            if _usable(entry, token):
                return entry[1], entry[3]
        # The other request failed or is slow: compute here as well.
    try:
        value = compute()
        cache.set(key, (token, now, time.time(), value), seconds + STALE_SECONDS)
    finally:
        if locked:
            cache.delete(lock)
    return now, value


class FigureCache:
    """One request's reads of a user's cached figures: `read_through` under the user's token.

    The dashboard and the monthly assessment share it. Each read names its
    lifetime (0: compute now, nothing cached); `as_of` is when the oldest of
    the figures read with `as_of=True` was computed.
    """

    def __init__(self, user: Any, now: datetime) -> None:
        self.user = user
        self.now = now
        self.computed_at: dict[str, datetime] = {}

    @cached_property
    def token(self) -> str:
        return figures_token(self.user.pk)

    def get(self, key: str, compute: Callable[[], Any], *, seconds: int, as_of: bool = True) -> Any:
        """`compute()` (plain data), cached if computed under the user's token in the last `seconds`."""
        if seconds:
            computed_at, value = read_through(key, compute, seconds=seconds, now=self.now, token=self.token)
        else:
            computed_at, value = self.now, compute()
        if as_of:
            self.computed_at[key] = computed_at
        return value

    @property
    def as_of(self) -> datetime:
        return min(self.computed_at.values(), default=self.now)


# --- the dashboard --------------------------------------------------------------


class AttentionIds(Sequence[int]):
    """The overdue table's case ids as the Paginator reads them: their number and one page, each cached.

    The page's slice (start and end) is part of the key.
    """

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard

    def __len__(self) -> int:
        return int(self.dashboard.cached("attention-count", lambda: self.dashboard.attention.count()))

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> list[int]: ...

    def __getitem__(self, index: int | slice) -> int | list[int]:
        if isinstance(index, int):
            return self[index : index + 1][0]
        key = f"attention:{index.start}:{index.stop}"
        return list(self.dashboard.cached(key, lambda: list(self.dashboard.attention[index])))


class Dashboard:
    """The dashboard for one user, scope and period; each part is computed once, when used.

    The current period's figures come from the cache when computed less than
    DASHBOARD_CACHE_SECONDS ago for the same user, scope and period, under the
    user's token (`cached`); `as_of` says when they were computed.
    """

    def __init__(self, user: Any, filters: DashboardFilters, period: DashboardPeriod) -> None:
        self.user = user
        self.filters = filters
        self.dperiod = period
        self.now = clock.now()
        self.figure_cache = FigureCache(user, self.now)

    # The cases in scope; for a unit or a liaison without the false reports
    # (indicators() leaves them out itself and still counts them apart).
    @cached_property
    def scoped(self) -> QuerySet[Case]:
        return restrict(Case.objects.all(), self.user, "view").filter(self.filters.q())

    @cached_property
    def counted(self) -> QuerySet[Case]:
        return self.scoped.filter(false_report=False) if self.filters.for_assessment else self.scoped

    @cached_property
    def list_base(self) -> str:
        return reverse("cases:list")

    def url(self, key: str, first: date | None = None, last: date | None = None, **extra: Any) -> str:
        return case_list_url(
            self.filters,
            key,
            first or self.dperiod.first,
            last or self.dperiod.last,
            base=self.list_base,
            **extra,
        )

    # --- the cache of the current period's figures ---

    def cache_key(self, part: str) -> str:
        """Everything the figures depend on: the user (their scope), the period and the filters.

        By user id rather than scope: finding the scope costs queries, and a
        change of scope replaces the user's token (`forget_cached_figures`).
        The values are numbers by id, without labels or links, so the
        language is not part of the key.
        """
        parts = (part, self.user.pk, self.dperiod.first, self.dperiod.last, *astuple(self.filters))
        return "dashboard:current:" + ":".join(str(value) for value in parts)

    def cached(self, part: str, compute: Callable[[], Any]) -> Any:
        """`compute()` (plain data), from the cache when computed in the last DASHBOARD_CACHE_SECONDS.

        What was computed before the user's last refresh or change of scope is computed anew.
        """
        return self.figure_cache.get(self.cache_key(part), compute, seconds=settings.DASHBOARD_CACHE_SECONDS)

    @property
    def as_of(self) -> datetime:
        """When the oldest of the current figures read so far was computed."""
        return self.figure_cache.as_of

    # --- figures ---

    @cached_property
    def current(self) -> dict[str, Any]:
        """This period's case figures of the tiles, the street chart and the map (cached)."""
        return dict(self.cached("figures", self._current))

    def _current(self) -> dict[str, Any]:
        rows = indicator_rows(
            self.scoped,
            self.dperiod.period,
            ("community__street", "grid_cell"),
            for_assessment=self.filters.for_assessment,
            now=self.now,
        )
        figures = combine(rows)
        # Per street office: due and closed on time; per grid cell: reported.
        streets: dict[int, list[int]] = {}
        cells: dict[int, int] = {}
        for row in rows:
            if row["community__street"] is not None:
                street = streets.setdefault(row["community__street"], [0, 0])
                street[0] += row["due"]
                street[1] += row["closed_on_time"]
            if row["grid_cell"] is not None:
                cells[row["grid_cell"]] = cells.get(row["grid_cell"], 0) + row["reported"]
        return {"figures": figures, "streets": streets, "cells": cells}

    @cached_property
    def figures(self) -> dict[str, Any]:
        figures = dict(self.current["figures"])
        figures.update(self.cached("patrols", lambda: self.patrols(self.dperiod.period)))
        return figures

    @cached_property
    def previous_figures(self) -> dict[str, Any]:
        """The previous period's figures, for the change of each tile.

        That period is over, so they are cached for longer (per user, scope
        and period, under the user's token) than the current ones. Only
        `overdue` depends on now, and its tile shows no change.
        """
        key = "dashboard:previous:" + ":".join(
            str(part)
            for part in (
                self.user.pk,
                self.dperiod.previous_first,
                self.dperiod.previous_last,
                *astuple(self.filters),
            )
        )

        def compute() -> dict[str, Any]:
            figures = indicators(
                self.scoped, self.dperiod.previous, for_assessment=self.filters.for_assessment, now=self.now
            )
            figures.update(self.patrols(self.dperiod.previous))
            return figures

        figures = self.figure_cache.get(key, compute, seconds=PREVIOUS_PERIOD_CACHE_SECONDS, as_of=False)
        return dict(figures)

    @cached_property
    def weights(self) -> dict[str, int]:
        return dict(self.cached("weights", lambda: AssessmentWeights.current().as_dict()))

    def patrols(self, period: Period) -> dict[str, Any]:
        from liaisons.models import ScheduledPatrol

        slots = restrict(ScheduledPatrol.objects.all(), self.user, "view").filter(self.filters.community_q())
        if self.filters.liaison:
            slots = slots.filter(
                community__assignments__liaison_id=self.filters.liaison,
                community__assignments__ends_at__isnull=True,
            )
        return patrol_completion(slots, period)

    @cached_property
    def tiles(self) -> list[Tile]:
        now, before = self.figures, self.previous_figures
        now["score"] = composite_score(now, self.weights)
        before["score"] = composite_score(before, self.weights)
        tiles = []
        for key, label, kind, numerator, denominator, better in TILE_SPECS:
            tile = Tile(key, label, kind, now.get(key), before.get(key), better)
            if kind == "rate":
                tile.numerator, tile.denominator = now.get(numerator or ""), now.get(denominator or "")
                tile.numerator_key, tile.denominator_key = numerator, denominator
            if key == "patrol_rate":
                pass  # patrols are not cases
            elif key == "score":
                tile.url = reverse("dashboard:assessment")
            elif kind == "count":
                tile.link_key = key
            elif kind == "hours":
                tile.link_key = "closed"
            else:
                tile.link_key = numerator
                tile.denominator_url = self.url(denominator or "")
            if tile.link_key:
                tile.url = self.url(tile.link_key)
            tiles.append(tile)
        return tiles

    # --- charts ---

    @cached_property
    def reported(self) -> list[tuple[Any, Any, str, int]]:
        """Cases reported in the period per (day, category, source): the trend, category and source charts.

        Categories are the main ones, or the subcategories of the category
        chosen; cases without a category have none. One query for the three
        charts, cached.
        """

        def compute() -> list[tuple[Any, Any, str, int]]:
            group = (
                F("category_id") if self.filters.category else Coalesce("category__parent_id", "category_id")
            )
            rows = (
                self.counted.filter(self.dperiod.period.q("reported_at"))
                .order_by()
                .annotate(day=TruncDate("reported_at"), group=group)
                .values("day", "group", "source")
                .annotate(n=Count("pk"))
                .values_list("day", "group", "source", "n")
            )
            return list(rows)

        return [tuple(row) for row in self.cached("reported", compute)]

    @cached_property
    def closed(self) -> dict[date, int]:
        """Cases closed in the period per day (cached)."""

        def compute() -> dict[date, int]:
            rows = (
                cases_matching(self.counted, "closed", self.dperiod.period, now=self.now)
                .order_by()
                .annotate(day=TruncDate("closed_at"))
                .values("day")
                .annotate(n=Count("pk"))
                .values_list("day", "n")
            )
            return dict(rows)

        return dict(self.cached("closed", compute))

    @cached_property
    def trend(self) -> list[dict[str, Any]]:
        """Reported and closed per day."""
        reported: dict[date, int] = {}
        for day, _group, _source, n in self.reported:
            reported[day] = reported.get(day, 0) + n
        closed = self.closed
        today = timezone.localdate(self.now)
        # Up to 62 links that differ only in the day: built once per figure, the day put in after.
        reported_url, closed_url = self.day_url("reported"), self.day_url("closed")
        placeholder = DAY_PLACEHOLDER.isoformat()
        rows = []
        for day in self.dperiod.days(until=max(today, self.dperiod.first)):
            iso = day.isoformat()
            rows.append(
                {
                    "day": day,
                    "reported": reported.get(day, 0),
                    "closed": closed.get(day, 0),
                    "reported_url": reported_url.replace(placeholder, iso),
                    "closed_url": closed_url.replace(placeholder, iso),
                }
            )
        return rows

    def day_url(self, key: str) -> str:
        """The drill-down of figure `key` for one day, with DAY_PLACEHOLDER for the day."""
        return self.url(key, DAY_PLACEHOLDER, DAY_PLACEHOLDER)

    @cached_property
    def categories(self) -> list[dict[str, Any]]:
        """Reported per category, most first."""
        counts: dict[int, int] = {}
        for _day, group, _source, n in self.reported:
            if group is not None:
                counts[group] = counts.get(group, 0) + n
        names = {c.pk: c.local_name for c in Category.objects.filter(pk__in=list(counts))}
        ranked = sorted(counts.items(), key=lambda item: (-item[1], names.get(item[0], "")))
        return [
            {"id": pk, "name": names.get(pk, "?"), "count": n, "url": self.url("reported", category=pk)}
            for pk, n in ranked
        ]

    @cached_property
    def sources(self) -> list[dict[str, Any]]:
        labels = dict(CaseSource.choices)
        counts: dict[str, int] = {}
        for _day, _group, source, n in self.reported:
            counts[source] = counts.get(source, 0) + n
        return [
            {
                "source": source,
                "name": str(labels.get(source, source)),
                "count": n,
                "url": self.url("reported", source=source),
            }
            for source, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        ]

    @cached_property
    def streets(self) -> list[dict[str, Any]]:
        """On-time closure rate (closed on time ÷ due) per street office, best first."""
        counts: dict[int, list[int]] = self.current["streets"]
        names = dict(Street.objects.filter(pk__in=list(counts)).values_list("pk", "name"))
        result: list[dict[str, Any]] = [
            {
                "id": pk,
                "name": names.get(pk, "?"),
                "due": due,
                "closed_on_time": on_time,
                "rate": on_time / due,
                "url": self.url("closed_on_time", street=pk),
                "due_url": self.url("due", street=pk),
            }
            for pk, (due, on_time) in counts.items()
            if due
        ]
        result.sort(key=lambda r: (-r["rate"], -r["due"], r["name"]))
        return result

    @cached_property
    def grid_cells(self) -> list[dict[str, Any]]:
        """Cases reported per grid cell in scope (every cell, with or without cases)."""
        counts: dict[int, int] = self.current["cells"]
        # Hundreds of cells share one link but for the id (`grid_cell_url`).
        template = self.grid_cell_url
        return [
            {
                "id": pk,
                "code": code,
                "name": name,
                "community": community,
                "count": counts.get(pk, 0),
                "boundary": boundary,
                "url": template.replace(f"grid_cell={GRID_CELL_PLACEHOLDER}", f"grid_cell={pk}"),
            }
            for pk, code, name, community, boundary in self.cells
        ]

    @cached_property
    def cells(self) -> list[tuple[int, str, str, str, Any]]:
        """The active grid cells in scope with their community and boundary (cached: hundreds of shapes)."""

        def compute() -> list[tuple[int, str, str, str, Any]]:
            cells = (
                restrict(GridCell.objects.filter(is_active=True), self.user)
                .filter(self.filters.community_q())
                .order_by("code")
                .values_list("pk", "code", "name", "community__name", "boundary")
            )
            return list(cells)

        return [tuple(cell) for cell in self.cached("grid-cells", compute)]

    @cached_property
    def grid_cell_url(self) -> str:
        """The drill-down of a grid cell, with GRID_CELL_PLACEHOLDER for its id."""
        return self.url("reported", grid_cell=GRID_CELL_PLACEHOLDER)

    def geojson(self) -> dict[str, Any]:
        return {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": cell["boundary"],
                    "properties": {k: v for k, v in cell.items() if k != "boundary"},
                }
                for cell in self.grid_cells
                if cell["boundary"]
            ],
        }

    @cached_property
    def attention(self) -> QuerySet[Case, int]:
        """Open cases past their deadline or escalated, the most overdue first, as ids.

        The page is sorted on the narrow rows and its cases loaded after
        (`attention_cases`): sorting thousands of joined rows to show twenty
        costs more than the second query.
        """
        return (
            cases_matching(self.counted, "attention", self.dperiod.period, now=self.now)
            .order_by(F("deadline").asc(nulls_last=True), "-escalation_level", "pk")
            .values_list("pk", flat=True)
        )

    @property
    def attention_ids(self) -> AttentionIds:
        """`attention` to paginate, its count and each page's ids cached like the figures."""
        return AttentionIds(self)

    def attention_cases(self, ids: Any) -> list[Case]:
        ids = list(ids)
        cases = Case.objects.filter(pk__in=ids).select_related(
            "category", "category__parent", "community", "handling_unit", "assignee"
        )
        by_pk = {case.pk: case for case in cases}
        return [by_pk[pk] for pk in ids if pk in by_pk]

    def chart_data(self) -> dict[str, Any]:
        """What the page's own charts draw, for json_script: the ones computed from the tiles' query.

        The others (ASYNC_CHARTS) each run a query of their own: the page
        leaves them out and its script loads them from dashboard:chart_data.
        """
        return {"streets": self.streets}


# --- the charts loaded after the page -------------------------------------------

# Each runs its own query (cases reported per day, category and source; cases
# closed per day), which the page itself does not wait for.
ASYNC_CHARTS = ("trend", "categories", "sources")


def chart_items(dashboard: Dashboard, chart: str) -> list[dict[str, Any]]:
    """The rows one of ASYNC_CHARTS draws, each with the links of its figures, for JSON."""
    if chart == "trend":
        return [{**row, "day": row["day"].isoformat()} for row in dashboard.trend]
    if chart == "categories":
        return dashboard.categories
    if chart == "sources":
        return dashboard.sources
    raise KeyError(chart)


# --- CSV of each chart --------------------------------------------------------


def chart_rows(dashboard: Dashboard, chart: str) -> tuple[list[Any], list[list[Any]]]:
    """The header and rows of one chart's numbers, as the CSV download offers them."""
    if chart == "indicators":
        header = [_("indicator"), _("value"), _("previous period"), _("numerator"), _("denominator")]
        return header, [[t.key, t.value, t.previous, t.numerator, t.denominator] for t in dashboard.tiles]
    if chart == "trend":
        return [_("date"), _("reports received"), _("closed")], [
            [r["day"].isoformat(), r["reported"], r["closed"]] for r in dashboard.trend
        ]
    if chart == "categories":
        return [_("category"), _("reports received")], [[r["name"], r["count"]] for r in dashboard.categories]
    if chart == "sources":
        return [_("source"), _("reports received")], [[r["name"], r["count"]] for r in dashboard.sources]
    if chart == "streets":
        return [_("street office"), _("due for closure"), _("closed by the deadline"), _("on-time rate")], [
            [r["name"], r["due"], r["closed_on_time"], round(r["rate"], 4)] for r in dashboard.streets
        ]
    if chart == "grid_cells":
        return [_("grid cell code"), _("grid cell"), _("community"), _("reports received")], [
            [r["code"], r["name"], r["community"], r["count"]] for r in dashboard.grid_cells
        ]
    raise KeyError(chart)


CHARTS = ("indicators", "trend", "categories", "sources", "streets", "grid_cells")


# --- monthly assessment -------------------------------------------------------


@dataclass
class AssessmentRow:
    key: int
    name: str
    figures: dict[str, Any]
    score: float | None
    previous_score: float | None
    rank: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def change(self) -> float | None:
        if self.score is None or self.previous_score is None:
            return None
        return round(self.score - self.previous_score, 2)


def _rank(rows: list[AssessmentRow]) -> list[AssessmentRow]:
    """Best score first; equal scores share a rank; no score, no rank (listed last)."""
    rows.sort(key=lambda r: (r.score is None, -(r.score or 0), r.name))
    rank = 0
    previous: float | None = None
    for position, row in enumerate(rows, start=1):
        if row.score is None:
            continue
        if row.score != previous:
            rank, previous = position, row.score
        row.rank = rank
    return rows


def _by(rows: list[dict[str, Any]], group_by: str) -> dict[Any, dict[str, Any]]:
    """The figures per value of `group_by` of some `indicator_rows` (rows without one left out)."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        if row[group_by] is not None:
            groups.setdefault(row[group_by], []).append(row)
    return {key: combine(group) for key, group in groups.items()}


class Assessment:
    """The monthly assessment of handling units and liaisons for one user's scope.

    The costly part is each month's figures (a grouped count of its cases and
    one of its patrols, for this month and the last): with `cached` they come
    from the cache like the dashboard's (`FigureCache`, under the user's
    token), kept for DASHBOARD_CACHE_SECONDS while the month runs and for
    ASSESSMENT_CACHE_SECONDS once it is over; `as_of` says when the month's
    were computed. Names, weights and the two-way ratings are small reads,
    made on every request, so that a rating just given or a change of the
    weights shows at once. Without `cached` (the exports) everything is
    computed now.
    """

    def __init__(self, user: Any, first: date, *, cached: bool = False) -> None:
        self.user = user
        self.first = first.replace(day=1)
        self.last = month_last_day(self.first)
        self.previous_first = previous_month(self.first)
        self.period = Period.days(self.first, self.last)
        self.previous_period = Period.days(self.previous_first, month_last_day(self.previous_first))
        self.now = clock.now()
        self.cached = cached
        self.figure_cache = FigureCache(user, self.now)

    @cached_property
    def cases(self) -> QuerySet[Case]:
        return restrict(Case.objects.all(), self.user, "view")

    @cached_property
    def weights(self) -> dict[str, int]:
        return AssessmentWeights.current().as_dict()

    @property
    def weight_rows(self) -> list[tuple[Any, int]]:
        return [(weight_label(key), weight) for key, weight in self.weights.items() if weight]

    def links(self, filters: DashboardFilters) -> dict[str, str]:
        """The case list behind each figure of one unit's or liaison's row (false reports left out)."""
        return {key: case_list_url(filters, key, self.first, self.last) for key in ASSESSMENT_LINKS}

    # --- the cache of each month's figures ---

    def cache_seconds(self, first: date) -> int:
        """How long the figures of the month starting `first` are kept: 0 without `cached`."""
        if not self.cached:
            return 0
        if month_last_day(first) < timezone.localdate(self.now):
            return int(settings.ASSESSMENT_CACHE_SECONDS)
        return int(settings.DASHBOARD_CACHE_SECONDS)

    def cache_key(self, first: date) -> str:
        """Per user (their scope, as the dashboard's `cache_key`) and month; numbers by id only."""
        return f"assessment:month:{self.user.pk}:{first.isoformat()}"

    def _month(self, period: Period) -> dict[str, dict[Any, dict[str, Any]]]:
        """One month's figures by id: per unit and per officer (one query), patrols per liaison (one)."""
        rows = indicator_rows(
            self.cases, period, ("handling_unit", "assignee"), for_assessment=True, now=self.now
        )
        return {
            "units": _by(rows, "handling_unit"),
            "liaisons": _by(rows, "assignee"),
            "patrols": self._liaison_patrols(period),
        }

    @cached_property
    def figures(self) -> dict[str, dict[Any, dict[str, Any]]]:
        """This month's figures by id (cached with `cached`; `as_of` is when they were computed)."""
        return dict(
            self.figure_cache.get(
                self.cache_key(self.first),
                lambda: self._month(self.period),
                seconds=self.cache_seconds(self.first),
            )
        )

    @cached_property
    def previous_figures(self) -> dict[str, dict[Any, dict[str, Any]]]:
        """Last month's figures by id, for the change of each score (the entry of that month's own page)."""
        return dict(
            self.figure_cache.get(
                self.cache_key(self.previous_first),
                lambda: self._month(self.previous_period),
                seconds=self.cache_seconds(self.previous_first),
                as_of=False,
            )
        )

    @property
    def as_of(self) -> datetime:
        """When this month's figures were computed (read first if they were not yet)."""
        _figures = self.figures
        return self.figure_cache.as_of

    # --- the rankings ---

    @cached_property
    def units(self) -> list[AssessmentRow]:
        now, before = self.figures["units"], self.previous_figures["units"]
        units = restrict(HandlingUnit.objects.all(), self.user).filter(
            Q(is_active=True) | Q(pk__in=list(now))
        )
        rows = []
        for pk, name in units.values_list("pk", "name"):
            figures = now.get(pk, {})
            rows.append(
                AssessmentRow(
                    key=pk,
                    name=name,
                    figures=figures,
                    score=composite_score(figures, self.weights) if figures else None,
                    previous_score=composite_score(before[pk], self.weights) if pk in before else None,
                    extra={"links": self.links(DashboardFilters(unit=pk))},
                )
            )
        return _rank(rows)

    @cached_property
    def ratings(self) -> dict[tuple[date, int], dict[str, Any]]:
        """Average rating of each liaison by their communities, this month and the last."""
        rows = (
            TwoWayRating.objects.filter(
                month__in=[self.first, self.previous_first],
                direction=TwoWayRating.Direction.OF_LIAISON,
                community__in=restrict(Community.objects.all(), self.user).values("pk"),
            )
            .values("month", "liaison")
            .annotate(average=Avg("score"), n=Count("pk"))
        )
        return {(r["month"], r["liaison"]): {"average": r["average"], "n": r["n"]} for r in rows}

    def _liaison_patrols(self, period: Period) -> dict[Any, dict[str, Any]]:
        from liaisons.choices import AssignmentRole
        from liaisons.models import LiaisonAssignment, ScheduledPatrol

        # A patrol slot belongs to the community's responsible liaison on its last day.
        holder = (
            LiaisonAssignment.objects.filter(
                community_id=OuterRef("community_id"),
                role=AssignmentRole.RESPONSIBLE,
                starts_at__date__lte=OuterRef("window_end"),
            )
            .filter(Q(ends_at__isnull=True) | Q(ends_at__date__gte=OuterRef("window_end")))
            .order_by("-starts_at")
            .values("liaison_id")[:1]
        )
        slots = restrict(ScheduledPatrol.objects.all(), self.user).annotate(liaison=Subquery(holder))
        return patrol_completion_by(slots, period, "liaison")

    @cached_property
    def liaisons(self) -> list[AssessmentRow]:
        from chengguan.models import User
        from liaisons.models import LiaisonAssignment

        now, before = self.figures["liaisons"], self.previous_figures["liaisons"]
        patrols, previous_patrols = self.figures["patrols"], self.previous_figures["patrols"]
        posted = restrict(LiaisonAssignment.objects.filter(ends_at__isnull=True), self.user).values(
            "liaison_id"
        )
        keys = set(now) | {k for k in patrols if k is not None}
        people = User.objects.filter(Q(pk__in=list(keys)) | Q(pk__in=posted)).values_list(
            "pk", "name", "username"
        )
        rows = []
        for pk, name, username in people:
            figures = dict(now.get(pk, {}))
            previous = dict(before.get(pk, {}))
            figures.update(patrols.get(pk, {}))
            previous.update(previous_patrols.get(pk, {}))
            rating = self.ratings.get((self.first, pk))
            previous_rating = self.ratings.get((self.previous_first, pk))
            if rating:
                figures["community_rating"] = float(rating["average"]) / 5
            if previous_rating:
                previous["community_rating"] = float(previous_rating["average"]) / 5
            rows.append(
                AssessmentRow(
                    key=pk,
                    name=name or username,
                    figures=figures,
                    score=composite_score(figures, self.weights) if "due" in figures else None,
                    previous_score=composite_score(previous, self.weights) if "due" in previous else None,
                    extra={
                        "links": self.links(DashboardFilters(liaison=pk)),
                        "rating": rating["average"] if rating else None,
                        "rating_count": rating["n"] if rating else 0,
                    },
                )
            )
        return _rank(rows)

    @cached_property
    def two_way(self) -> list[dict[str, Any]]:
        """The month's two-way ratings per community: of the liaison, and of the community's cooperation."""
        ratings = (
            TwoWayRating.objects.filter(
                month=self.first, community__in=restrict(Community.objects.all(), self.user).values("pk")
            )
            .select_related("community", "liaison", "rater")
            .order_by("community__code", "direction")
        )
        communities: dict[int, dict[str, Any]] = {}
        for rating in ratings:
            row = communities.setdefault(
                rating.community_id, {"community": rating.community, "of_liaison": None, "of_community": None}
            )
            row[rating.direction] = rating
        return list(communities.values())

    @cached_property
    def cooperation_average(self) -> float | None:
        scores = [row["of_community"].score for row in self.two_way if row["of_community"]]
        return sum(scores) / len(scores) if scores else None


def weight_label(key: str) -> str:
    return AssessmentWeights.label(key)


ASSESSMENT_LINKS = (
    "due",
    "closed",
    "closed_on_time",
    "reworked",
    "visited",
    "satisfied",
    "overdue",
    "false_reports",
)

ASSESSMENT_COLUMNS: list[tuple[str, Any]] = [
    ("due", _("Due for closure")),
    ("closed", _("Closed")),
    ("closed_on_time", _("Closed by the deadline")),
    ("on_time_rate", _("On-time rate")),
    ("closure_rate", _("Closure rate")),
    ("rework_rate", _("Rework rate")),
    ("satisfaction_rate", _("Satisfaction rate")),
    ("avg_handling_hours", _("Average handling hours")),
    ("overdue", _("Overdue now")),
    ("false_reports", _("False reports (left out)")),
]
LIAISON_COLUMNS: list[tuple[str, Any]] = [
    ("patrol_rate", _("Patrol completion")),
    ("community_rating", _("Rating by the community")),
]


def assessment_table(assessment: Assessment, kind: str) -> tuple[list[Any], list[list[Any]]]:
    """Header and rows of one ranking as exported (XLSX and CSV): plain values, rates as fractions."""
    rows = assessment.units if kind == "units" else assessment.liaisons
    columns = ASSESSMENT_COLUMNS + (LIAISON_COLUMNS if kind == "liaisons" else [])
    header = [
        _("Rank"),
        _("Handling unit") if kind == "units" else _("Liaison"),
        _("Composite score"),
        _("Last month"),
        _("Change from last month"),
        *[label for _key, label in columns],
    ]
    body = []
    for row in rows:
        values = []
        for key, _label in columns:
            value = row.figures.get(key)
            if key == "community_rating":
                value = row.extra.get("rating")
            values.append(round(float(value), 4) if isinstance(value, float) else value)
        if kind == "liaisons" and values[-1] is not None:
            values[-1] = round(float(values[-1]), 2)
        body.append([row.rank, row.name, row.score, row.previous_score, row.change, *values])
    return header, body


# --- public statistics --------------------------------------------------------

PUBLIC_DAYS = 30


def public_community_stats(*, days: int = PUBLIC_DAYS) -> list[dict[str, Any]]:
    """Per active community, the last `days` days: reported, closed, on-time and satisfaction rates.

    The same figures as the community page (cases.selectors.community_public_stats),
    for all communities in one aggregate; conduct complaints are left out.
    """
    now = clock.now()
    figures = indicators_by(
        Case.objects.filter(subject_officer__isnull=True),
        Period(now - timedelta(days=days), now),
        "community",
        now=now,
    )
    communities = (
        Community.objects.filter(is_active=True)
        .select_related("street", "street__district")
        .only("pk", "code", "name", "street__name", "street__district__name")
        .order_by("street__district__code", "street__code", "code")
    )
    return [{"community": community, **figures.get(community.pk, {})} for community in communities]
