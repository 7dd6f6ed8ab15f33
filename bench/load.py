"""Load benchmark: gunicorn + PostgreSQL + Redis on this machine, driven by locust.

    .venv/bin/python bench/load.py \
        --database-url postgres://postgres@127.0.0.1:5432/chengguan_bench_load \
        --redis-url redis://127.0.0.1:6379/11 [--users 20] [--duration 30] [--flows ...] \
        [--keep-complaints]

The database must hold the benchmark district of `manage.py bench_dashboard`
(1M cases: `manage.py bench_dashboard --cases 1000000 --requests 0`, or a
copy of a database it filled: CREATE DATABASE x TEMPLATE chengguan_bench).
The script writes to it: the complaints it files, the cases it dispatches
(put back afterwards) and its own users and sessions, so give it a database
of its own. The Redis database given is flushed at the end (queued tasks).
The complaints are deleted at the end, also after a failed or interrupted
run (--keep-complaints keeps them): the cases the complaint flow and its
floor filed (source web, reporter name BENCH_REPORTER_NAME, an id above the
highest one noted before the first flow), with their events and photos' rows, so each
run starts from the same database. The day's case-number counter stays
advanced: the next numbers filed that day leave a gap, as after a report
that failed once numbered.

It starts gunicorn (gunicorn.conf.py; GUNICORN_* from the environment) with
ABUSE_LIMITS_ENABLED=false (no rate limits or CAPTCHA on the complaint form)
and BENCH_CEILING_ENABLED=true (mounts /bench/ceiling/, one INSERT into the
`bench_ceiling` table made here, and /bench/complaint-floor/, the least a
complaint can cost: chengguan.bench_views), signs staff in by writing their sessions
(supervisors get a confirmed TOTP device marked verified in the session), and
runs each flow of bench/locustfile.py headless with `--users` concurrent
users: the ceiling and the resident flows without a pause (throughput), the
staff flows pausing 1-3 s between a user's requests (response times under a
brisk working load; bench/locustfile.py says why). It prints requests per second, p50/p95/p99 and each
flow's throughput as a share of the ceiling's, against the targets: complaint
submission ≥ 60 % of the ceiling and p95 < 200 ms, every other flow p95 < 300 ms.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import signal
import string
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

# (locust user class, name in the stats, p95 target in ms, pause between a user's requests)
NO_PAUSE, STAFF_PAUSE = "none", "1-3 s"
FLOWS = [
    ("Ceiling", "ceiling", None, NO_PAUSE),
    ("ComplaintSubmission", "complaint submission", 200, NO_PAUSE),
    # No target: the least a complaint can cost (chengguan.bench_views.complaint_floor),
    # the complaint form's reference besides the ceiling.
    ("ComplaintFloor", "complaint floor", None, NO_PAUSE),
    ("TrackingPage", "tracking page", 300, NO_PAUSE),
    ("OperatorInbox", "operator inbox", 300, STAFF_PAUSE),
    ("CaseDetail", "case detail", 300, STAFF_PAUSE),
    ("DispatchAction", "dispatch action", 300, STAFF_PAUSE),
    ("Dashboard", "dashboard", 300, STAFF_PAUSE),
    ("ApiCaseList", "API case list", 300, STAFF_PAUSE),
]
COMPLAINT_SHARE_TARGET = 0.60
WARM_UP_SECONDS = 10
BENCH_USERS = {"operator": "bench-load-operator", "dispatcher": "bench-load-dispatcher"}
# Who the complaint flows file as (bench/locustfile.py, ComplaintSubmission and its floor: the
# public form without `via`), which tells its complaints from any other case above the mark.
BENCH_COMPLAINT_SOURCE = "web"
BENCH_REPORTER_NAME = "基准"
# The rows a report writes beside its case (cases.services.case_report: the report
# event, the photos), dependants first: a photo references its event, and the
# database's foreign keys do not cascade.
FILED_CASE_DEPENDANTS = ("cases_caseattachment", "cases_caseevent")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database of the benchmark's own")
    parser.add_argument("--redis-url", required=True, help="a Redis database of the benchmark's own")
    parser.add_argument("--users", type=int, default=20, help="concurrent users per flow (default 20)")
    parser.add_argument("--duration", type=int, default=30, help="seconds per flow (default 30)")
    parser.add_argument("--port", type=int, default=8123)
    # gunicorn.conf.py's defaults: four sync workers per core.
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("GUNICORN_WORKERS", 4 * (os.cpu_count() or 1)))
    )
    parser.add_argument("--threads", type=int, default=int(os.environ.get("GUNICORN_THREADS", 1)))
    parser.add_argument("--min-cases", type=int, default=1_000_000)
    parser.add_argument(
        "--keep-complaints",
        action="store_true",
        help="leave the complaints the run files in the database (default: deleted at the end)",
    )
    parser.add_argument(
        "--flows",
        nargs="*",
        default=[name for name, *_ in FLOWS],
        help="locust classes to run (default all)",
    )
    return parser.parse_args()


def server_env(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "DJANGO_ENV": "development",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "ABUSE_LIMITS_ENABLED": "false",
        "BENCH_CEILING_ENABLED": "true",
        "API_THROTTLE_USER": "1000000/minute",
        "API_THROTTLE_ANON": "1000000/minute",
        # Plain HTTP on loopback: the cookies must travel without TLS.
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "GUNICORN_BIND": f"127.0.0.1:{args.port}",
        "GUNICORN_WORKERS": str(args.workers),
        "GUNICORN_THREADS": str(args.threads),
        "GUNICORN_MAX_REQUESTS": "0",
    }


def setup_django(args: argparse.Namespace) -> None:
    os.environ.update(DATABASE_URL=args.database_url, REDIS_URL=args.redis_url, DEBUG="false")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chengguan.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def session_for(user: Any, *, otp: bool) -> str:
    """A signed-in session as django.contrib.auth.login (and django_otp.login) leave it."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    if otp:
        from django_otp import DEVICE_ID_SESSION_KEY
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device, _ = TOTPDevice.objects.get_or_create(user=user, name="bench", defaults={"confirmed": True})
        store[DEVICE_ID_SESSION_KEY] = device.persistent_id
    store.set_expiry(6 * 3600)
    store.create()
    return str(store.session_key)


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """Users, sessions, the ceiling table and the sample of cases each flow uses."""
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    # A database filled by an earlier version gets this one's tables first.
    call_command("migrate", verbosity=0)
    from django.db import connection
    from guardian.shortcuts import assign_perm

    from cases.management.commands.bench_dashboard import DISTRICT_CODE, PREFIX, SUPERVISOR
    from cases.models import Case, Category
    from chengguan.bench_views import CEILING_TABLE
    from chengguan.models import User
    from communities.models import Community, District, HandlingUnit

    district = District.objects.filter(code=DISTRICT_CODE).first()
    cases = Case.objects.filter(number__startswith=PREFIX)
    count = cases.count()
    if district is None or count < args.min_cases:
        sys.exit(
            f"{args.database_url} holds {count} benchmark cases, fewer than {args.min_cases}: "
            "fill it with `manage.py bench_dashboard --cases 1000000 --requests 0` first."
        )
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {CEILING_TABLE} (id bigserial PRIMARY KEY, note text)")
        cursor.execute(f"TRUNCATE {CEILING_TABLE}")
    sessions = {}
    for role, username in BENCH_USERS.items():
        user, _ = User.objects.get_or_create(username=username, defaults={"name": username, "password": "!"})
        user.groups.add(Group.objects.get(name=role))
        assign_perm("communities.oversee_district", user, district)
        sessions[role] = session_for(user, otp=False)
    supervisor = User.objects.get(username=SUPERVISOR)
    sessions["supervisor"] = session_for(supervisor, otp=True)

    community = Community.objects.filter(street__district=district, centroid_lat__isnull=False).first()
    assert community is not None
    in_district = cases.filter(district=district)
    dispatchable = list(
        in_district.filter(status="registered").order_by("?").values_list("number", "version")[:5000]
    )
    unit = HandlingUnit.objects.filter(district=district).first() or HandlingUnit.objects.first()
    assert unit is not None, "no handling unit"
    category = Category.objects.filter(is_active=True, parent__isnull=False).order_by("code").first()
    assert category is not None
    sample = list(in_district.order_by("?").values_list("number", "tracking_code")[:2000])
    return {
        "csrf": "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32)),
        "sessions": sessions,
        "point": [community.centroid_lat, community.centroid_lng],
        "category": str(category.pk),
        "handling_unit": str(unit.pk),
        "case_numbers": [number for number, _ in sample],
        "tracking_codes": [code for _, code in sample if code],
        "dispatchable": dispatchable,
        "cases": count,
    }


def snapshot_dispatchable(numbers: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_dispatch_snapshot")
        cursor.execute(
            "CREATE TABLE bench_dispatch_snapshot AS SELECT * FROM cases_case WHERE number = ANY(%s)",
            [numbers],
        )
        cursor.execute("SELECT now()")
        started = cursor.fetchone()[0]  # type: ignore[index]
    snapshot_dispatchable.started = started  # type: ignore[attr-defined]


def restore_dispatchable() -> tuple[int, int]:
    """Put the dispatched cases back as they were; (moved, total) for the report."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE c.status = 'dispatched'), count(*) "
            "FROM cases_case c JOIN bench_dispatch_snapshot s ON s.id = c.id"
        )
        moved, total = cursor.fetchone()  # type: ignore[misc]
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'cases_case' AND column_name <> 'id'"
        )
        columns = [row[0] for row in cursor.fetchall()]
        assignments = ", ".join(f'"{c}" = s."{c}"' for c in columns)
        cursor.execute(
            f"UPDATE cases_case c SET {assignments} FROM bench_dispatch_snapshot s WHERE s.id = c.id"
        )
        cursor.execute(
            "DELETE FROM cases_caseevent WHERE case_id IN (SELECT id FROM bench_dispatch_snapshot) "
            "AND created_at >= %s",
            [snapshot_dispatchable.started],  # type: ignore[attr-defined]
        )
        cursor.execute("DROP TABLE bench_dispatch_snapshot")
    return moved, total


def filed_cases_mark() -> int:
    """The highest case id now: every case filed after this comes above it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM cases_case")
        return int(cursor.fetchone()[0])  # type: ignore[index]


def remove_filed_complaints(mark: int) -> int:
    """Delete the complaints the benchmark filed above `mark`; how many.

    Only cases above the mark with the complaint flow's source and reporter
    name go, with the rows that reference them (FILED_CASE_DEPENDANTS), in
    one transaction. Photo files, if a report had any, stay in storage (the
    complaint flow posts none); the day's case-number counter stays advanced.
    """
    from django.db import connection, transaction

    filed = "SELECT id FROM cases_case WHERE id > %s AND source = %s AND reporter_name = %s"
    params: list[int | str] = [mark, BENCH_COMPLAINT_SOURCE, BENCH_REPORTER_NAME]
    with transaction.atomic(), connection.cursor() as cursor:
        for table in FILED_CASE_DEPENDANTS:
            cursor.execute(f"DELETE FROM {table} WHERE case_id IN ({filed})", params)
        cursor.execute(f"DELETE FROM cases_case WHERE id IN ({filed})", params)
        return cursor.rowcount


def start_gunicorn(args: argparse.Namespace, log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "chengguan.wsgi:application", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env=server_env(args),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{args.port}/livez", timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            sys.exit(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def run_flow(
    args: argparse.Namespace, flow: str, fixtures_path: Path, workdir: Path, *, warm_up: bool = False
) -> dict[str, float]:
    """One headless locust run of `flow`; a warm-up run (imports, connections, caches) is not kept."""
    prefix = workdir / (f"warm-up-{flow}" if warm_up else flow)
    command = [
        str(VENV_BIN / "locust"),
        "-f",
        str(ROOT / "bench" / "locustfile.py"),
        "--headless",
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.users),
        "--run-time",
        f"{WARM_UP_SECONDS if warm_up else args.duration}s",
        "--host",
        f"http://127.0.0.1:{args.port}",
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        flow,
    ]
    env = {**os.environ, "BENCH_FIXTURES": str(fixtures_path)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    with open(f"{prefix}_stats.csv", encoding="utf-8") as stats:
        row = next((r for r in csv.DictReader(stats) if r["Name"] != "Aggregated"), None)
    if warm_up:
        return {}
    if row is None:
        sys.exit(f"locust made no request for {flow}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return {
        "requests": float(row["Request Count"]),
        "failures": float(row["Failure Count"]),
        "rps": float(row["Requests/s"]),
        "p50": float(row["50%"]),
        "p95": float(row["95%"]),
        "p99": float(row["99%"]),
    }


def main() -> None:
    args = parse_args()
    setup_django(args)
    fixtures = prepare(args)
    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    fixtures_path = workdir / "fixtures.json"
    fixtures_path.write_text(json.dumps(fixtures), encoding="utf-8")
    print(
        f"{fixtures['cases']:,} benchmark cases; {args.users} users per flow, {args.duration} s each; "
        f"gunicorn {args.workers}×{args.threads} on 127.0.0.1:{args.port}; output in {workdir}",
        flush=True,
    )
    mark = filed_cases_mark()
    server = start_gunicorn(args, workdir / "gunicorn.log")
    results: dict[str, dict[str, float]] = {}
    dispatch_moved: tuple[int, int] | None = None
    try:
        for flow, *_ in FLOWS:
            if flow not in args.flows:
                continue
            if flow == "DispatchAction":
                snapshot_dispatchable([number for number, _version in fixtures["dispatchable"]])
            else:
                run_flow(args, flow, fixtures_path, workdir, warm_up=True)
            try:
                results[flow] = run_flow(args, flow, fixtures_path, workdir)
            finally:
                if flow == "DispatchAction":
                    dispatch_moved = restore_dispatchable()
            print(f"  {flow}: done", flush=True)
    finally:
        stop(server)
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()
        # After the server stopped, so that no complaint is still being filed.
        if args.keep_complaints:
            print("complaints filed by this run kept (--keep-complaints)", flush=True)
        else:
            removed = remove_filed_complaints(mark)
            print(f"complaints filed by this run removed: {removed:,}", flush=True)
    report(results, dispatch_moved)


def report(results: dict[str, dict[str, float]], dispatch_moved: tuple[int, int] | None) -> None:
    ceiling = results.get("Ceiling", {}).get("rps") or 0.0
    print()
    print(
        f"{'flow':<22}{'pause':>7}{'req':>8}{'fail':>6}{'req/s':>9}{'p50':>7}{'p95':>7}{'p99':>7}"
        f"{'of ceiling':>12}  target"
    )
    failed = False
    for flow, name, target, pause in FLOWS:
        if flow not in results:
            continue
        r = results[flow]
        share = r["rps"] / ceiling if ceiling else float("nan")
        verdict = ""
        if target is not None:
            ok = r["p95"] < target and r["failures"] == 0
            if flow == "ComplaintSubmission":
                ok = ok and share >= COMPLAINT_SHARE_TARGET
                verdict = f"p95<{target}ms, ≥{COMPLAINT_SHARE_TARGET:.0%}: {'ok' if ok else 'MISSED'}"
            else:
                verdict = f"p95<{target}ms: {'ok' if ok else 'MISSED'}"
            failed |= not ok
        print(
            f"{name:<22}{pause:>7}{r['requests']:>8.0f}{r['failures']:>6.0f}{r['rps']:>9.1f}"
            f"{r['p50']:>7.0f}{r['p95']:>7.0f}{r['p99']:>7.0f}{share:>11.0%}  {verdict}"
        )
    if dispatch_moved is not None:
        print(
            f"dispatch: {dispatch_moved[0]} of {dispatch_moved[1]} prepared cases moved (put back afterwards)"
        )
    if "ComplaintFloor" in results:
        print(
            "complaint floor: CSRF, the case's number, its row and event in one statement, the "
            "receipt cookie and redirect; no form, validation, routing or deadline"
        )
    print(
        "(milliseconds; pause: each user's wait between its requests, see bench/locustfile.py; "
        "locust, gunicorn, PostgreSQL and Redis share this machine's cores)"
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
