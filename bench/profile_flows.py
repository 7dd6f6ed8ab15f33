"""Single-request profile of the load benchmark's flows: time, queries and the slowest of them.

    .venv/bin/python bench/profile_flows.py \
        --database-url postgres://postgres@127.0.0.1:5432/chengguan_bench_load \
        [--redis-url redis://127.0.0.1:6379/11] [--repeat 3] [--flows ...] [--explain]

The locust percentiles of bench/load.py mean little on a machine other work
loads; this times each flow's request in-process (Django's test client, the
same middleware and database, no gunicorn), after one warm-up request, and
prints the request's time, its query count and time, and its slowest
queries (with `--explain`, their EXPLAIN ANALYZE). It uses bench/load.py's
users and samples and writes what those flows write (complaints; dispatched
cases are put back).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load

FLOWS = [
    "ComplaintSubmission",
    "TrackingPage",
    "OperatorInbox",
    "CaseDetail",
    "DispatchAction",
    "ApiCaseList",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--flows", nargs="*", default=FLOWS)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest queries")
    parser.add_argument("--min-cases", type=int, default=1_000_000)
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--cprofile", action="store_true", help="print the measured requests' Python profile")
    return parser.parse_args()


def requests_of(flow: str, fixtures: dict[str, Any], dispatchable: list[tuple[str, int]]) -> Any:
    """(method, path, data, session role, expected status) of the flow's next request."""
    import random

    if flow == "ComplaintSubmission":
        data = {
            "category": fixtures["category"],
            "description": "人行道上有流动摊贩占道经营，早上七点到九点最严重",
            "address": "基准路1号",
            "reporter_name": "基准",
            "reporter_phone": f"139{random.randrange(10**8):08d}",
            "consent": "on",
            "idempotency_key": str(uuid.uuid4()),
            "lat": fixtures["point"][0],
            "lng": fixtures["point"][1],
        }
        return "post", "/report/", data, None, 302
    if flow == "TrackingPage":
        return "get", f"/track/{random.choice(fixtures['tracking_codes'])}/", None, None, 200
    if flow == "OperatorInbox":
        return "get", "/desk/intake/inbox/", None, "operator", 200
    if flow == "CaseDetail":
        return "get", f"/cases/{random.choice(fixtures['case_numbers'])}/", None, "supervisor", 200
    if flow == "DispatchAction":
        number, version = dispatchable.pop()
        data = {"handling_unit": fixtures["handling_unit"], "note": "", "expected_version": version}
        return "post", f"/desk/cases/{number}/dispatch/", data, "dispatcher", 302
    if flow == "ApiCaseList":
        return "get", "/api/v1/cases/", None, "supervisor", 200
    raise SystemExit(f"unknown flow {flow}")


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        try:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("ROLLBACK")


def main() -> None:
    args = parse_args()
    args.redis_url = args.redis_url or ""
    import os

    # As bench/load.py's server: no rate limits or CAPTCHA on the complaint form.
    os.environ["ABUSE_LIMITS_ENABLED"] = "false"
    if args.redis_url:
        load.setup_django(args)
    else:
        os.environ.update(DATABASE_URL=args.database_url, DEBUG="false")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chengguan.settings")
        sys.path.insert(0, str(load.ROOT))
        import django

        django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.ALLOWED_HOSTS = ["*"]
    fixtures = load.prepare(args)
    dispatchable = list(fixtures["dispatchable"])
    if "DispatchAction" in args.flows:
        load.snapshot_dispatchable([number for number, _ in dispatchable])
    try:
        for flow in args.flows:
            timings = []
            cpu_times = []
            captured: CaptureQueriesContext | None = None
            # One profile over every measured request (not the warm-up): a single request is too
            # short for a profile to say much.
            flow_profile = cProfile.Profile() if args.cprofile else None
            for attempt in range(args.repeat + 1):
                method, path, data, role, expected = requests_of(flow, fixtures, dispatchable)
                client = Client()
                if role:
                    client.cookies["sessionid"] = fixtures["sessions"][role]
                profiler = flow_profile if attempt else None
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    cpu_started = time.process_time()
                    if profiler is not None:
                        profiler.enable()
                    response = getattr(client, method)(path, data) if data else getattr(client, method)(path)
                    if profiler is not None:
                        profiler.disable()
                    elapsed = time.perf_counter() - started
                    cpu = time.process_time() - cpu_started
                if response.status_code != expected:
                    raise SystemExit(f"{flow}: {path} answered {response.status_code}, expected {expected}")
                if attempt:  # the first one warms up
                    timings.append(elapsed)
                    cpu_times.append(cpu)
                    captured = queries
            if flow_profile is not None:
                stats = pstats.Stats(flow_profile).sort_stats(os.environ.get("PROFILE_SORT", "cumulative"))
                # PROFILE_FILTER: a regular expression of the file names to show, e.g. "cases/".
                stats.print_stats(
                    os.environ.get("PROFILE_FILTER", ""), int(os.environ.get("PROFILE_LINES", 40))
                )
                if os.environ.get("PROFILE_DUMP"):
                    stats.dump_stats(os.environ["PROFILE_DUMP"])
            assert captured is not None
            db_time = sum(float(q["time"]) for q in captured.captured_queries)
            print(
                f"\n== {flow}: {min(timings) * 1000:.0f} ms best, {max(timings) * 1000:.0f} ms worst "
                f"of {len(timings)} (this process's CPU: {min(cpu_times) * 1000:.0f} ms best); "
                f"last: {len(captured)} queries, {db_time * 1000:.0f} ms in the database"
            )
            slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[: args.top]
            for query in slowest:
                print(f"  {float(query['time']) * 1000:7.1f} ms  {query['sql'][:300]}")
                if args.explain and query["sql"].lstrip().upper().startswith("SELECT"):
                    print("    " + explain(query["sql"]).replace("\n", "\n    "))
    finally:
        if "DispatchAction" in args.flows:
            load.restore_dispatchable()


if __name__ == "__main__":
    main()
