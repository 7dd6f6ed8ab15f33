"""`manage.py bench_escalation --cases 100000 [--reuse] [--trace-memory]`: escalation (督办) at scale.

Sets up the benchmark district of `bench_dashboard` (its `fill`, with no
cases of its own: streets, communities, grid cells, liaisons, handling units
and the district's supervisor), then writes `--cases` open cases whose
deadline has passed (numbers starting "BE", in batches with bulk_create),
and runs `cases.jobs.escalate_overdue` twice: the first run escalates them
all, the second finds nothing to do. For each run it prints the time, the
process's peak memory (max RSS, and how much it grew during the run) and, with
`--trace-memory`, the peak of Python memory (tracemalloc, which makes this
job several times slower: time it without), how many of the case rows'
updates were HOT (no index entries written), and checks the outcome: one
escalation, one event and the notifications per case.

`--reuse` keeps the cases of the previous run instead of writing them again
(minutes at 100,000): it resets their escalation, deletes what the run wrote
and rewrites the table in primary-key order (CLUSTER), which leaves its pages
as the bulk load does, filled up to the table's fillfactor.

Only on PostgreSQL, and only on a database whose name contains "bench" (or
with --force): the benchmark rows are deleted and written again.
"""

from __future__ import annotations

import random
import resource
import time
import tracemalloc
from datetime import timedelta
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import connection, transaction

from cases import jobs
from cases.choices import CaseAction, CaseSource, CaseStatus, Urgency
from cases.management.commands import bench_dashboard
from cases.models import Case, CaseEvent, Category
from chengguan import clock
from chengguan.models import Notification
from communities.models import Community, GridCell, HandlingUnit
from liaisons.models import LiaisonAssignment

PREFIX = "BE"
WRITE_BATCH = 5000
OPEN_STATUSES = [CaseStatus.REGISTERED, CaseStatus.DISPATCHED, CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED]


class Command(bench_dashboard.Command):
    help = "Fill PostgreSQL with overdue open cases and time one escalation run and a second (no-op) one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cases", type=int, default=100_000)
        parser.add_argument("--batch-size", type=int, default=jobs.BATCH_SIZE)
        parser.add_argument(
            "--reuse",
            action="store_true",
            help="Reset and reuse the previous run's cases (same --cases) instead of writing them again.",
        )
        parser.add_argument(
            "--trace-memory",
            action="store_true",
            help="Also trace the peak of Python memory (tracemalloc): exact, but several times slower.",
        )
        parser.add_argument(
            "--force", action="store_true", help="Run on a database whose name does not contain 'bench'."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                "bench_escalation measures PostgreSQL; set DATABASE_URL to a PostgreSQL database."
            )
        name = connection.settings_dict.get("NAME") or ""
        if "bench" not in name and not options["force"]:
            raise CommandError(
                f"Database {name!r} is not a benchmark database (no 'bench' in its name); see --force."
            )
        count = options["cases"]
        if options["reuse"]:
            self.reset(count)
        else:
            self.clear()
            self.fill(0)  # bench_dashboard's district, people and units, without its cases
            self.fill_overdue(count)
        trace = options["trace_memory"]
        first = self.run_once("first run", options["batch_size"], trace_memory=trace)
        second = self.run_once("second run", options["batch_size"], trace_memory=trace)
        self.verify(count, first, second)

    # --- data ---------------------------------------------------------------------

    def clear(self) -> None:
        """Remove an earlier run's cases; bench_dashboard's fill removes the rest."""
        started = time.perf_counter()
        like = f"{PREFIX}%"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM cases_caseevent WHERE case_id IN "
                "(SELECT id FROM cases_case WHERE number LIKE %s)",
                [like],
            )
            cursor.execute("DELETE FROM cases_case WHERE number LIKE %s", [like])
            cursor.execute("DELETE FROM chengguan_notification WHERE key LIKE 'case-event:%%'")
            cursor.execute("DELETE FROM chengguan_auditentry WHERE action = 'cases.escalated_overdue'")
        self.step("cleared earlier escalation benchmark cases", started)

    def reset(self, count: int) -> None:
        """Undo the previous run on its cases, then rewrite the table as a fresh load would leave it."""
        started = time.perf_counter()
        like = f"{PREFIX}%"
        if Case.objects.filter(number__startswith=PREFIX).count() != count:
            raise CommandError(f"--reuse needs the {count:,} cases of a previous run with the same --cases.")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM cases_caseevent WHERE action = %s AND case_id IN "
                "(SELECT id FROM cases_case WHERE number LIKE %s)",
                [CaseAction.ESCALATE.value, like],
            )
            cursor.execute(
                "UPDATE cases_case SET escalation_level = 0, escalated_at = NULL, escalated_deadline = NULL, "
                "version = 1 WHERE number LIKE %s",
                [like],
            )
            cursor.execute("DELETE FROM chengguan_notification WHERE key LIKE 'case-event:%%'")
            cursor.execute("DELETE FROM chengguan_auditentry WHERE action = 'cases.escalated_overdue'")
        with connection.cursor() as cursor:
            cursor.execute("CLUSTER cases_case USING cases_case_pkey")
            cursor.execute("VACUUM ANALYZE cases_case, cases_caseevent, chengguan_notification")
        self.step(f"reset the escalation of {count:,} cases and rewrote the table", started)

    def fill_overdue(self, count: int) -> None:
        """`count` open cases, all past their deadline and never escalated, written in batches."""
        started = time.perf_counter()
        district_code = bench_dashboard.DISTRICT_CODE
        communities = list(
            Community.objects.filter(street__district__code=district_code)
            .select_related("street")
            .order_by("code")
        )
        cells: dict[int, list[int]] = {}
        for cell_id, community_id in GridCell.objects.filter(community__in=communities).values_list(
            "pk", "community_id"
        ):
            cells.setdefault(community_id, []).append(cell_id)
        liaisons = dict(
            LiaisonAssignment.objects.filter(community__in=communities).values_list(
                "community_id", "liaison_id"
            )
        )
        units = list(
            HandlingUnit.objects.filter(code__startswith=bench_dashboard.PREFIX).values_list("pk", flat=True)
        )
        categories = list(
            Category.objects.filter(parent__isnull=False, is_active=True).values_list("pk", flat=True)
        )
        if not (communities and units and categories):
            raise CommandError("The benchmark district is missing; bench_dashboard's fill did not run.")
        now = clock.now()
        rng = random.Random(20260302)
        written = 0
        while written < count:
            rows = []
            for n in range(written, min(count, written + WRITE_BATCH)):
                community = communities[n % len(communities)]
                status = OPEN_STATUSES[n % len(OPEN_STATUSES)]
                reported = now - timedelta(days=rng.uniform(2, 40), hours=rng.uniform(0, 10))
                handled = status in (CaseStatus.DISPATCHED, CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED)
                by_liaison = handled and rng.random() < 0.3
                deadline = now - timedelta(hours=rng.uniform(1, 24 * 20))
                rows.append(
                    Case(
                        number=f"{PREFIX}{n + 1:010d}",
                        tracking_code=f"E{n + 1:010d}",
                        status=status,
                        source=CaseSource.HOTLINE_12345,
                        category_id=categories[n % len(categories)],
                        urgency=Urgency.NORMAL,
                        description="人行道上有流动摊贩占道经营，多次反映未处理",
                        district_id=community.street.district_id,
                        community_id=community.pk,
                        grid_cell_id=rng.choice(cells[community.pk]),
                        reporter_phone="13800138000",
                        assignee_id=liaisons.get(community.pk) if by_liaison else None,
                        handling_unit_id=rng.choice(units) if handled and not by_liaison else None,
                        reported_at=reported,
                        registered_at=reported + timedelta(hours=1),
                        dispatched_at=reported + timedelta(hours=2) if handled else None,
                        deadline=deadline,
                        due_at=deadline if handled else None,
                        updated_at=reported + timedelta(hours=2),
                    )
                )
            Case.objects.bulk_create(rows)
            written += len(rows)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE cases_case")
        self.step(f"{count:,} overdue open cases", started)

    # --- timing -------------------------------------------------------------------

    def run_once(self, label: str, batch_size: int, *, trace_memory: bool) -> int:
        updates_before = self.case_updates()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if trace_memory:
            tracemalloc.start()
        started = time.perf_counter()
        escalated = jobs.escalate_overdue(batch_size=batch_size)
        took = time.perf_counter() - started
        max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        memory = f"process max RSS {max_rss:7.1f} MiB (+{max_rss - rss_before:.1f} during the run)"
        if trace_memory:
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            memory = f"peak Python memory {peak / 2**20:7.1f} MiB   {memory}"
        updates, hot = (
            after - before for after, before in zip(self.case_updates(), updates_before, strict=True)
        )
        self.stdout.write(
            f"{label:<11} escalated {escalated:>8,} case(s) in {took:7.1f} s   "
            f"{memory}   case rows updated {updates:,}, HOT {hot:,}"
        )
        return escalated

    def case_updates(self) -> tuple[int, int]:
        """Rows of cases_case updated so far, and how many of those updates were HOT."""
        with connection.cursor() as cursor:
            # This session's counts reach the statistics view at its next idle moment.
            cursor.execute("SELECT pg_stat_force_next_flush()")
            cursor.execute(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                "WHERE relid = 'cases_case'::regclass"
            )
            updated, hot = cursor.fetchone()
        return updated, hot

    def verify(self, count: int, first: int, second: int) -> None:
        cases = Case.objects.filter(number__startswith=PREFIX)
        once = cases.filter(escalation_level=1).count()
        escalations = CaseEvent.objects.filter(
            case__number__startswith=PREFIX, action=CaseAction.ESCALATE
        ).count()
        notifications = Notification.objects.filter(key__startswith="case-event:").count()
        self.stdout.write(
            f"cases escalated once: {once:,} of {count:,}; escalate events: {escalations:,}; "
            f"notifications: {notifications:,}"
        )
        if (first, second, once, escalations) != (count, 0, count, count):
            raise CommandError("Escalation did not escalate every overdue case exactly once.")
