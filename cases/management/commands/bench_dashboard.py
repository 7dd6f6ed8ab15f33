"""`manage.py bench_dashboard --cases 1000000 [--requests 50] [--reuse] [--search]`: latency at scale.

Fills PostgreSQL with a benchmark district (8 street offices, 80 communities
with 4 grid cells each, 15 handling units, 80 liaisons with their patrol
plans and five years of scheduled patrols) and `--cases` cases reported over
five years, with the status, deadline, rework, extension, return-visit and
false-report shares of a working bureau. The cases are written by SQL on the
server (INSERT … SELECT over generate_series), so a million takes minutes.
Then VACUUM ANALYZE, and `--requests` requests each of the dashboard (this month),
each chart the dashboard's script loads after it (dashboard:chart_data: trend,
categories, sources), and the monthly assessment (last month) through Django's
test client as the district's supervisor; it prints p50/p95/max and the number
of queries per request of each, and the slowest queries of one request of each. The desk menu's
worklist counts, which every staff page loads after itself (desk:nav_counts),
are timed apart: warm (from the cache) and cold (counted).

With `--search`, the staff case list (cases:list) instead, for searches
taken from the benchmark cases: a case number and its last digits, a
tracking code, a phone number and its last four digits, Chinese text
fragments, and category + community + status + date range with and without
text; p50/p95/max, the query count, the cases found and the slowest query.
The benchmark cases carry varied descriptions, addresses and phone numbers
for that.

Only on PostgreSQL, and only on a database whose name contains "bench"
(or with --force): the benchmark rows (numbers starting "BN") are deleted
and written again unless --reuse finds as many as asked for.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.test import Client
from django.test.utils import override_settings, setup_test_environment
from django.urls import reverse

from cases.choices import CaseSource
from cases.dashboard import ASYNC_CHARTS
from cases.models import Case, Category
from chengguan import clock, refdata
from chengguan.models import User
from chengguan.roles import Role
from communities.models import Community, District, GridCell, HandlingUnit, Street

PREFIX = "BN"
DISTRICT_CODE = "BENCH"
STREETS = 8
COMMUNITIES_PER_STREET = 10
CELLS_PER_COMMUNITY = 4
UNITS = 15
YEARS = 5
SUPERVISOR = "bench-supervisor"

# Shares of each source among reports (the rest of the cumulative range is the last).
SOURCES = [
    (CaseSource.HOTLINE_12345, 0.34),
    (CaseSource.PATROL, 0.20),
    (CaseSource.WEB, 0.14),
    (CaseSource.HOTLINE_12319, 0.10),
    (CaseSource.QR_CODE, 0.08),
    (CaseSource.COMMUNITY, 0.05),
    (CaseSource.WALK_IN, 0.03),
    (CaseSource.LEADERSHIP, 0.02),
    (CaseSource.MEDIA, 0.01),
    (CaseSource.VOLUNTEER, 0.02),
    (CaseSource.INSPECTION, 0.01),
]

# What residents write, and where: the searchable text of the benchmark cases.
TEXTS = [
    "人行道上有流动摊贩占道经营",
    "小区门口早点摊占道经营，行人无法通行",
    "沿街商铺跨门经营，货物堆到人行道",
    "楼道和绿化带里乱堆乱放杂物",
    "有人在河边乱倒建筑垃圾",
    "垃圾分类投放点满溢无人清运",
    "餐馆油烟直排，熏到楼上住户",
    "夜间施工噪声扰民，影响休息",
    "工地渣土车撒漏，道路扬尘严重",
    "电线杆和墙上贴满非法小广告",
    "小区内私搭乱建，违法加盖阳台",
    "共享单车乱停乱放堵住盲道",
    "井盖破损缺失，存在安全隐患",
    "路灯不亮，晚上出行不便",
    "毁绿种菜，公共绿地被破坏",
    "户外广告牌松动，大风天有坠落危险",
    "污水直接倒入雨水井",
    "无照经营的烧烤摊深夜营业",
    "物业不作为，垃圾桶长期破损",
    "垃圾箱满溢，周边异味明显",
]
ROADS = ["人民路", "解放路", "中山路", "建设路", "和平街", "幸福里", "光明路", "长江路", "黄河路", "新华街"]


def square(lng: float, lat: float, size: float) -> dict[str, Any]:
    ring = [[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def _case_when(column: str, choices: list[tuple[str, float]]) -> str:
    """A CASE over a uniform random column picking each value with its share."""
    parts, edge = [], 0.0
    for value, share in choices[:-1]:
        edge += share
        parts.append(f"WHEN {column} < {edge:.4f} THEN '{value}'")
    return f"CASE {' '.join(parts)} ELSE '{choices[-1][0]}' END"


# One row per case: draws first, then the moments, then the columns, written
# in reporting order with numbers in that order. The status depends on age:
# nearly everything older than two months is closed or rejected, recent cases
# are spread over the open statuses.
CASES_SQL = """
WITH draws AS (
    SELECT g AS n,
           random() AS r_age, random() AS r_hour, random() AS r_fate, random() AS r_open,
           random() AS r_src, random() AS r_cat, random() AS r_comm, random() AS r_cell,
           random() AS r_unit, random() AS r_late, random() AS r_rework, random() AS r_ext,
           random() AS r_false, random() AS r_days, random() AS r_spot, random() AS r_esc,
           random() AS r_text, random() AS r_road, random() AS r_num, random() AS r_phone
    FROM generate_series(1, %(n)s) AS g
), timed AS (
    SELECT d.*,
           %(now)s::timestamptz - (power(r_age, 1.15) * %(days)s) * interval '1 day'
               - r_hour * interval '10 hours' - interval '6 hours' AS reported,
           power(r_age, 1.15) * %(days)s AS age,
           1 + floor(r_comm * %(communities)s)::int AS ci
    FROM draws d
), fated AS (
    SELECT t.*,
           CASE
               WHEN r_fate < 0.05 THEN 'rejected'
               WHEN r_fate < 0.08 THEN 'duplicate'
               WHEN r_open < CASE WHEN age < 2 THEN 0.75 WHEN age < 14 THEN 0.35
                                  WHEN age < 60 THEN 0.06 ELSE 0.002 END THEN 'open'
               WHEN r_spot < 0.04 THEN 'spot'
               ELSE 'closed'
           END AS planned_fate,
           reported + interval '1 hour' * (0.2 + r_hour * 3) AS registered,
           reported + interval '1 hour' * (1 + r_hour * 5) AS dispatched
    FROM timed t
), shaped AS (
    SELECT f.*,
           CASE WHEN planned_fate = 'open' THEN
               CASE WHEN r_cell < 0.12 THEN 'reported' WHEN r_cell < 0.25 THEN 'registered'
                    WHEN r_cell < 0.50 THEN 'dispatched' WHEN r_cell < 0.82 THEN 'in_progress'
                    WHEN r_cell < 0.95 THEN 'resolved' ELSE 'parked' END
           END AS open_status,
           dispatched + interval '1 day' * (3 + floor(r_days * 8))
                + interval '1 day' * (r_ext < 0.05)::int * 7
               AS due,
           dispatched + interval '1 day' * (CASE WHEN r_late < 0.86 THEN r_days * (3 + floor(r_days * 8))
                                                 ELSE (3 + floor(r_days * 8)) + 0.5 + r_late * 10 END)
               AS closed
    FROM fated f
), settled AS (
    -- A case whose closure would lie in the future is still being handled.
    SELECT s.*,
           CASE WHEN planned_fate = 'closed' AND closed > %(now)s::timestamptz
                THEN 'open' ELSE planned_fate END
               AS fate,
           CASE WHEN planned_fate = 'closed' AND closed > %(now)s::timestamptz THEN 'in_progress'
                ELSE open_status END AS status_if_open
    FROM shaped s
)
INSERT INTO cases_case (
    number, tracking_code, version, status, source, category_id, urgency, title, description, address,
    district_id, community_id, grid_cell_id, reporter_name, reporter_phone, is_anonymous, report_count,
    handling_unit_id, assignee_id, reject_reason, result, handling_hours, false_report, false_report_reason,
    false_report_at, closed_on_spot, deadline, due_at, reported_at, registered_at, dispatched_at, signed_at,
    resolved_at, closed_at, rejected_at, parked_at, parked_hours, updated_at, return_count, rework_count,
    extension_count, reopen_count, escalation_level, escalated_at
)
SELECT
    %(prefix)s || lpad((row_number() OVER (ORDER BY reported))::text, 10, '0'),
    'B' || lpad(n::text, 10, '0'),
    1,
    CASE fate WHEN 'rejected' THEN 'rejected' WHEN 'duplicate' THEN 'rejected'
              WHEN 'open' THEN status_if_open ELSE 'closed' END,
    CASE WHEN fate = 'spot' THEN 'patrol' ELSE {source} END,
    (%(categories)s::bigint[])[1 + floor(r_cat * %(category_count)s)::int],
    CASE WHEN r_esc < 0.9 THEN 'normal' WHEN r_esc < 0.98 THEN 'urgent' ELSE 'critical' END,
    '',
    (%(texts)s::text[])[1 + floor(r_text * %(text_count)s)::int]
        || '（' || (%(roads)s::text[])[1 + floor(r_road * %(road_count)s)::int]
        || (1 + floor(r_num * 300))::int || '号附近）',
    (%(roads)s::text[])[1 + floor(r_road * %(road_count)s)::int] || (1 + floor(r_num * 300))::int || '号',
    %(district)s,
    (%(community_ids)s::bigint[])[ci],
    (%(cell_ids)s::bigint[])[(ci - 1) * {cells} + 1 + floor(r_cell * {cells})::int],
    '',
    -- Mobile numbers: 1, then 3-9, then nine digits.
    '1' || (3 + floor(r_phone * 7))::int || lpad(floor(random() * 1e9)::bigint::text, 9, '0'),
    false, 1,
    CASE WHEN fate IN ('closed') OR status_if_open IN ('dispatched', 'in_progress', 'resolved')
         THEN CASE WHEN r_unit < 0.7
              THEN (%(unit_ids)s::bigint[])[1 + floor(r_unit / 0.7 * %(unit_count)s)::int] END
    END,
    CASE WHEN fate = 'spot' THEN (%(liaison_ids)s::bigint[])[ci]
         WHEN fate IN ('closed') OR status_if_open IN ('dispatched', 'in_progress', 'resolved')
         THEN CASE WHEN r_unit >= 0.7 THEN (%(liaison_ids)s::bigint[])[ci] END
    END,
    CASE fate WHEN 'rejected' THEN 'invalid' WHEN 'duplicate' THEN 'duplicate' ELSE '' END,
    CASE WHEN fate IN ('closed', 'spot') THEN '已处理' ELSE '' END,
    CASE WHEN fate = 'closed' THEN round((extract(epoch FROM closed - dispatched) / 3600 * 0.35)::numeric, 2)
         WHEN fate = 'spot' THEN 0 END,
    fate IN ('closed', 'rejected') AND r_false < 0.006,
    CASE WHEN fate IN ('closed', 'rejected') AND r_false < 0.006 THEN '经核实为不实举报' ELSE '' END,
    CASE WHEN fate = 'closed' AND r_false < 0.006 THEN closed + interval '1 day'
         WHEN fate = 'rejected' AND r_false < 0.006 THEN registered END,
    fate = 'spot',
    CASE WHEN fate = 'open' THEN
        CASE WHEN status_if_open = 'reported' THEN reported + interval '8 hours'
             WHEN status_if_open = 'registered' THEN registered + interval '4 hours'
             WHEN status_if_open IN ('dispatched', 'in_progress') THEN due
             WHEN status_if_open = 'resolved' THEN due + interval '2 days' END
    END,
    CASE WHEN fate = 'closed' OR status_if_open IN ('dispatched', 'in_progress', 'resolved', 'parked')
         THEN due END,
    reported,
    CASE WHEN fate IN ('closed', 'spot') OR status_if_open <> 'reported' THEN registered END,
    CASE WHEN fate = 'closed' OR status_if_open IN ('dispatched', 'in_progress', 'resolved')
         THEN dispatched END,
    CASE WHEN fate = 'closed' OR status_if_open IN ('in_progress', 'resolved')
         THEN dispatched + interval '1 hour' END,
    CASE WHEN fate = 'closed' THEN closed - interval '6 hours' WHEN fate = 'spot' THEN registered
         WHEN status_if_open = 'resolved' THEN dispatched + interval '1 day' END,
    CASE WHEN fate = 'closed' THEN closed WHEN fate = 'spot' THEN registered END,
    CASE WHEN fate IN ('rejected', 'duplicate') THEN registered END,
    CASE WHEN status_if_open = 'parked' THEN registered + interval '1 day' END,
    0,
    CASE WHEN fate = 'closed' THEN closed ELSE reported END,
    0,
    CASE WHEN fate = 'closed' AND r_rework < 0.06 THEN 1 ELSE 0 END,
    CASE WHEN (fate = 'closed' OR status_if_open IN ('dispatched', 'in_progress', 'resolved'))
         AND r_ext < 0.05
         THEN 1 ELSE 0 END,
    0,
    CASE WHEN fate = 'open' AND r_esc < 0.3 AND age > 7 THEN 1 ELSE 0 END,
    CASE WHEN fate = 'open' AND r_esc < 0.3 AND age > 7 THEN due END
FROM settled
-- In reporting order, as a live system writes them (ids and disk pages follow time).
ORDER BY settled.reported
"""

VISITS_SQL = """
INSERT INTO cases_returnvisit (case_id, round, liaison_id, due_at, status, channel, satisfaction, comment,
                               visited_at, reopened, created_at)
SELECT c.id, 0, c.assignee_id, c.closed_at + interval '3 days',
       CASE WHEN r < 0.72 THEN 'done' WHEN r < 0.80 THEN 'unreachable' ELSE 'scheduled' END,
       CASE WHEN r < 0.72 THEN 'phone' ELSE '' END,
       CASE WHEN r < 0.72 THEN CASE WHEN s < 0.74 THEN 'satisfied' WHEN s < 0.92 THEN 'basically'
                                    ELSE 'unsatisfied' END ELSE '' END,
       '',
       CASE WHEN r < 0.80 THEN c.closed_at + interval '1 day' END,
       false,
       c.closed_at
FROM (SELECT id, assignee_id, closed_at, random() AS r, random() AS s
      FROM cases_case WHERE number LIKE %(like)s AND status = 'closed' AND NOT closed_on_spot) AS c
"""

# Each case carries its latest done visit (Case.last_visit_*), as the
# return-visit services keep it; the benchmark visits are all of round 0.
LAST_VISIT_SQL = """
UPDATE cases_case AS c
SET last_visit_round = v.round, last_visit_satisfaction = v.satisfaction, last_visit_at = v.visited_at
FROM cases_returnvisit AS v
WHERE v.case_id = c.id AND v.status = 'done' AND c.number LIKE %(like)s
"""

PATROLS_SQL = """
INSERT INTO liaisons_scheduledpatrol (plan_id, community_id, window_start, window_end, due_date, slot, status)
SELECT p.id, p.community_id, w::date, (w + interval '6 days')::date, (w + interval '2 days')::date, 0,
       CASE WHEN w + interval '6 days' >= %(today)s::date THEN 'due'
            WHEN random() < 0.9 THEN 'done' ELSE 'missed' END
FROM liaisons_patrolplan p
CROSS JOIN generate_series(%(start)s::date, %(end)s::date, interval '7 days') AS w
WHERE p.community_id = ANY(%(community_ids)s::bigint[])
"""


class QueryLog:
    """An execute wrapper that notes each query and how long it took."""

    def __init__(self) -> None:
        self.log: list[tuple[float, str]] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.log.append(((time.perf_counter() - started) * 1000, sql))

    def __len__(self) -> int:
        return len(self.log)


class Command(BaseCommand):
    help = "Fill PostgreSQL with benchmark cases and time the dashboard and assessment pages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cases", type=int, default=1_000_000)
        parser.add_argument("--requests", type=int, default=50)
        parser.add_argument(
            "--reuse",
            action="store_true",
            help="Keep the benchmark data if it has as many cases as asked for.",
        )
        parser.add_argument(
            "--force", action="store_true", help="Run on a database whose name does not contain 'bench'."
        )
        parser.add_argument(
            "--search",
            action="store_true",
            help="Time the case list's searches (number, phone, text, filters) instead of the dashboard.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                "bench_dashboard measures PostgreSQL; set DATABASE_URL to a PostgreSQL database."
            )
        name = connection.settings_dict.get("NAME") or ""
        if "bench" not in name and not options["force"]:
            raise CommandError(
                f"Database {name!r} is not a benchmark database (no 'bench' in its name); see --force."
            )
        wanted = options["cases"]
        existing = Case.objects.filter(number__startswith=PREFIX).count()
        if options["reuse"] and existing == wanted:
            self.stdout.write(f"Reusing {existing:,} benchmark cases.")
            supervisor = User.objects.get(username=SUPERVISOR)
        else:
            supervisor = self.fill(wanted)
        if options["requests"] <= 0:
            return  # filled only (bench/load.py's databases)
        if options["search"]:
            self.measure_search(supervisor, options["requests"])
        else:
            self.measure(supervisor, options["requests"])

    # --- data ---------------------------------------------------------------------

    def step(self, label: str, started: float) -> float:
        now = time.perf_counter()
        self.stdout.write(f"  {label}: {now - started:.1f} s")
        return now

    def fill(self, count: int) -> User:
        from guardian.shortcuts import assign_perm

        from liaisons.choices import AssignmentRole, PatrolFrequency
        from liaisons.models import LiaisonAssignment, PatrolPlan, ScheduledPatrol

        self.stdout.write(f"Filling {count:,} cases…")
        started = time.perf_counter()
        with transaction.atomic():
            with connection.cursor() as cursor:
                like = f"{PREFIX}%"
                cursor.execute(
                    "DELETE FROM cases_returnvisit WHERE case_id IN "
                    "(SELECT id FROM cases_case WHERE number LIKE %s)",
                    [like],
                )
                cursor.execute("DELETE FROM cases_case WHERE number LIKE %s", [like])
            district = District.objects.filter(code=DISTRICT_CODE).first()
            if district:
                communities = Community.objects.filter(street__district=district)
                ScheduledPatrol.objects.filter(community__in=communities).delete()
                PatrolPlan.objects.filter(community__in=communities).delete()
                LiaisonAssignment.objects.filter(community__in=communities).delete()
                GridCell.objects.filter(community__in=communities).delete()
                communities.delete()
                Street.objects.filter(district=district).delete()
                HandlingUnit.objects.filter(code__startswith=PREFIX).delete()
                district.delete()
            User.objects.filter(username__startswith="bench-").delete()
            started = self.step("cleared earlier benchmark data", started)

            now = clock.now()
            district = District.objects.create(code=DISTRICT_CODE, name="基准区", city="基准市")
            district.set_boundary(square(121.0, 31.0, 0.2 * STREETS))
            district.save()
            liaison_group = Group.objects.get(name=Role.LIAISON)
            communities_list: list[Community] = []
            cells: list[GridCell] = []
            liaisons: list[User] = []
            for s in range(STREETS):
                street = Street(code=f"{PREFIX}S{s:02d}", name=f"基准街道{s + 1}", district=district)
                street.set_boundary(square(121.0 + 0.2 * s, 31.0, 0.2))
                street.save()
                for c in range(COMMUNITIES_PER_STREET):
                    lng, lat = 121.0 + 0.2 * s + 0.02 * c, 31.0
                    community = Community(
                        code=f"{PREFIX}C{s:02d}{c:02d}", name=f"基准社区{s + 1}-{c + 1}", street=street
                    )
                    community.set_boundary(square(lng, lat, 0.02))
                    community.save()
                    communities_list.append(community)
                    for k in range(CELLS_PER_COMMUNITY):
                        cell = GridCell(
                            code=f"{PREFIX}G{s:02d}{c:02d}{k}",
                            name=f"网格{s + 1}-{c + 1}-{k + 1}",
                            community=community,
                        )
                        cell.set_boundary(square(lng + 0.01 * (k % 2), lat + 0.01 * (k // 2), 0.01))
                        cells.append(cell)
                    liaison = User(
                        username=f"bench-liaison-{s}-{c}", name=f"联络员{s + 1}-{c + 1}", password="!"
                    )
                    liaisons.append(liaison)
            GridCell.objects.bulk_create(cells)
            refdata.changed()  # bulk_create sends no signals
            User.objects.bulk_create(liaisons)
            liaisons = list(User.objects.filter(username__startswith="bench-liaison-").order_by("pk"))
            by_name = {u.username: u for u in liaisons}
            liaisons = [
                by_name[f"bench-liaison-{s}-{c}"]
                for s in range(STREETS)
                for c in range(COMMUNITIES_PER_STREET)
            ]
            liaison_group.user_set.add(*liaisons)
            LiaisonAssignment.objects.bulk_create(
                LiaisonAssignment(
                    community=community,
                    liaison=liaison,
                    role=AssignmentRole.RESPONSIBLE,
                    starts_at=now - timedelta(days=366 * YEARS),
                )
                for community, liaison in zip(communities_list, liaisons, strict=True)
            )
            PatrolPlan.objects.bulk_create(
                PatrolPlan(
                    community=community,
                    frequency=PatrolFrequency.WEEKLY,
                    created_at=now - timedelta(days=366 * YEARS),
                )
                for community in communities_list
            )
            units = HandlingUnit.objects.bulk_create(
                HandlingUnit(code=f"{PREFIX}U{u:02d}", name=f"基准处置单位{u + 1}", district=district)
                for u in range(UNITS)
            )
            supervisor = User.objects.create(username=SUPERVISOR, name="基准督查", password="!")
            supervisor.groups.add(Group.objects.get(name=Role.SUPERVISOR))
            assign_perm("communities.oversee_district", supervisor, district)
            started = self.step("reference data", started)

            community_ids = [c.pk for c in communities_list]
            cell_ids = list(
                GridCell.objects.filter(community__in=communities_list)
                .order_by("community__code", "code")
                .values_list("pk", flat=True)
            )
            categories = list(
                Category.objects.filter(parent__isnull=False, is_active=True).values_list("pk", flat=True)
            )
            if not categories:
                raise CommandError("No categories: run migrate first.")
            sql = CASES_SQL.format(
                source=_case_when("r_src", [(s.value, p) for s, p in SOURCES]), cells=CELLS_PER_COMMUNITY
            )
            params: dict[str, Any] = {
                "n": count,
                "now": now,
                "days": 365.25 * YEARS,
                "communities": len(community_ids),
                "prefix": PREFIX,
                "categories": categories,
                "category_count": len(categories),
                "district": district.pk,
                "community_ids": community_ids,
                "cell_ids": cell_ids,
                "unit_ids": [u.pk for u in units],
                "unit_count": len(units),
                "liaison_ids": [u.pk for u in liaisons],
                "texts": TEXTS,
                "text_count": len(TEXTS),
                "roads": ROADS,
                "road_count": len(ROADS),
            }
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                started = self.step(f"{count:,} cases", started)
                # A duplicate points at the case reported just before it.
                cursor.execute(
                    "UPDATE cases_case AS d SET merged_into_id = o.id FROM cases_case AS o "
                    "WHERE d.number LIKE %(like)s AND d.reject_reason = 'duplicate' "
                    "AND o.number = %(prefix)s || lpad((substr(d.number, 3)::bigint - 1)::text, 10, '0')",
                    {"like": f"{PREFIX}%", "prefix": PREFIX},
                )
                cursor.execute(VISITS_SQL, {"like": f"{PREFIX}%"})
                cursor.execute(LAST_VISIT_SQL, {"like": f"{PREFIX}%"})
                started = self.step("return visits", started)
                today = now.date()
                cursor.execute(
                    PATROLS_SQL,
                    {
                        "today": today,
                        "start": today - timedelta(days=365 * YEARS + today.weekday()),
                        "end": today + timedelta(days=28),
                        "community_ids": community_ids,
                    },
                )
                started = self.step("scheduled patrols", started)
        # As autovacuum leaves a table that has settled: statistics, and the
        # visibility map that lets index-only scans skip the table.
        tables = ("cases_case", "cases_returnvisit", "liaisons_scheduledpatrol", "liaisons_liaisonassignment")
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"VACUUM ANALYZE {table}")
        self.step("VACUUM ANALYZE", started)
        return supervisor

    # --- timing -------------------------------------------------------------------

    def measure(self, supervisor: User, requests: int) -> None:
        # A private cache: "cold" runs empty it before every request.
        with override_settings(
            CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
            OTP_REQUIRED_ROLES=[],  # force_login signs in without the second factor
        ):
            self._measure(supervisor, requests)

    def _measure(self, supervisor: User, requests: int) -> None:
        from django.core.cache import cache

        setup_test_environment()
        client = Client()
        client.force_login(supervisor)
        # The dashboard page renders its tiles, street chart, map and overdue table; its
        # script then loads the trend, category and source charts, each a request of its own.
        pages = [
            ("dashboard (this month)", reverse("dashboard:index")),
            *[
                (f"  chart JSON: {chart}", reverse("dashboard:chart_data", args=[chart]))
                for chart in ASYNC_CHARTS
            ],
            ("assessment (last month)", reverse("dashboard:assessment")),
            ("menu counts (nav-counts)", reverse("desk:nav_counts")),
        ]
        total = Case.objects.count()
        self.stdout.write(
            f"\n{total:,} cases in the database; {requests} requests per page as {supervisor.username}."
        )
        for label, url in pages:
            for _ in range(3):  # warm the connection and Django's own caches
                self.get(client, url)
            queries = QueryLog()
            with connection.execute_wrapper(queries):
                self.get(client, url)
            for kind in ("warm", "cold"):
                timings = []
                for _ in range(requests):
                    if kind == "cold":
                        cache.clear()  # the previous period's figures are computed again
                    started = time.perf_counter()
                    self.get(client, url)
                    timings.append((time.perf_counter() - started) * 1000)
                timings.sort()
                p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
                self.stdout.write(
                    f"{label:<26} {kind:<5} p50 {statistics.median(timings):7.1f} ms   p95 {p95:7.1f} ms   "
                    f"max {timings[-1]:7.1f} ms   {len(queries)} queries"
                )
            sql_ms = sum(took for took, _sql in queries.log)
            self.stdout.write(f"    {sql_ms:.1f} ms of SQL in one request; the slowest:")
            for took, sql in sorted(queries.log, reverse=True)[:8]:
                self.stdout.write(f"    {took:6.1f} ms  {sql[:150]}")

    def searches(self) -> list[tuple[str, str]]:
        """The case list searches timed: (label, query string), taken from the benchmark cases."""
        cases = Case.objects.filter(number__startswith=PREFIX)
        # A case from a year ago: far from the first page of the unfiltered list.
        year_ago = clock.now() - timedelta(days=365)
        case = cases.filter(reported_at__lt=year_ago).order_by("-reported_at").first()
        if case is None:
            raise CommandError("No benchmark case older than a year: fill with more cases.")
        community = Community.objects.filter(code__startswith=f"{PREFIX}C").order_by("code").first()
        assert community is not None and case.category is not None
        start = (year_ago - timedelta(days=90)).date()
        return [
            ("case number", urlencode({"q": case.number})),
            ("case number, last digits", urlencode({"q": case.number[-6:]})),
            ("tracking code", urlencode({"q": case.tracking_code})),
            ("phone number", urlencode({"q": case.reporter_phone})),
            ("phone, last 4 digits", urlencode({"q": case.reporter_phone[-4:]})),
            ("text (烧烤摊)", urlencode({"q": "烧烤摊"})),
            ("text (油烟直排)", urlencode({"q": "油烟直排"})),
            ("text + street (人民路12号)", urlencode({"q": "人民路12号"})),
            (
                "category+community+status+dates",
                urlencode(
                    {
                        "category": case.category.parent_id or case.category_id,
                        "community": community.pk,
                        "status": "closed",
                        "reported_at_after": start.isoformat(),
                        "reported_at_before": year_ago.date().isoformat(),
                    }
                ),
            ),
            (
                "text+community+status+dates",
                urlencode(
                    {
                        "q": "垃圾",
                        "community": community.pk,
                        "status": "closed",
                        "reported_at_after": start.isoformat(),
                        "reported_at_before": year_ago.date().isoformat(),
                    }
                ),
            ),
            ("no search, page 1", ""),
        ]

    def measure_search(self, supervisor: User, requests: int) -> None:
        with override_settings(OTP_REQUIRED_ROLES=[]):
            self._measure_search(supervisor, requests)

    def _measure_search(self, supervisor: User, requests: int) -> None:
        setup_test_environment()
        client = Client()
        client.force_login(supervisor)
        base = reverse("cases:list")
        total = Case.objects.count()
        self.stdout.write(
            f"\n{total:,} cases in the database; {requests} requests per search of {base} "
            f"as {supervisor.username}."
        )
        for label, query in self.searches():
            url = f"{base}?{query}" if query else base
            for _ in range(2):
                self.get(client, url)
            queries = QueryLog()
            with connection.execute_wrapper(queries):
                response = client.get(url)
            found = response.context["page_obj"].paginator.count
            timings = []
            for _ in range(requests):
                started = time.perf_counter()
                self.get(client, url)
                timings.append((time.perf_counter() - started) * 1000)
            timings.sort()
            p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
            self.stdout.write(
                f"{label:<32} p50 {statistics.median(timings):7.1f} ms   p95 {p95:7.1f} ms   "
                f"max {timings[-1]:7.1f} ms   {len(queries)} queries   {found:,} found"
            )
            slowest, sql = max(queries.log)
            self.stdout.write(f"    slowest query {slowest:6.1f} ms  {sql[:110]}")

    def get(self, client: Client, url: str) -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise CommandError(f"{url} answered {response.status_code}")
