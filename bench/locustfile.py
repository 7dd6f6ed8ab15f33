"""The flows of the load benchmark, one locust user class each (run by bench/load.py).

bench/load.py writes the fixtures (sessions, case numbers, tracking codes) to
the JSON file named by BENCH_FIXTURES and runs one class at a time, headless:

    locust -f bench/locustfile.py --headless -u 20 -t 30s --host http://127.0.0.1:8123 ComplaintSubmission

Staff flows send the session cookie of a user the script signed in (no
login form, so two-factor sign-in and django-axes are not in the way); the
CSRF token is a fixed secret sent as cookie and as form field or header.

The load: the ceiling and the resident flows (complaints, tracking) run
without a pause, as fast as the server answers, to measure throughput; each
staff user (inbox, case detail, dispatch, dashboard, API) pauses 1–3 s
between requests, a brisk officer's pace (a real one reads for longer), and
starts after one such pause, so their percentiles are response times under
that load, not queueing behind a saturated machine or a synchronized start.
BENCH_PAUSE_SECONDS=x gives every flow a fixed pause.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from pathlib import Path
from typing import Any

from locust import HttpUser, between, constant, task

FIXTURES: dict[str, Any] = (
    json.loads(Path(os.environ["BENCH_FIXTURES"]).read_text(encoding="utf-8"))
    if os.environ.get("BENCH_FIXTURES")
    else {}
)
CSRF = FIXTURES.get("csrf", "")
PAUSE = os.environ.get("BENCH_PAUSE_SECONDS")
RESIDENT_PAUSE = constant(float(PAUSE)) if PAUSE else constant(0)
STAFF_PAUSE = constant(float(PAUSE)) if PAUSE else between(1, 3)
# Registered cases the dispatch flow takes, each once.
DISPATCHABLE: list[tuple[str, int]] = [tuple(pair) for pair in FIXTURES.get("dispatchable", [])]


class BenchUser(HttpUser):
    abstract = True
    wait_time = RESIDENT_PAUSE
    session_of: str = ""

    def on_start(self) -> None:
        self.client.cookies.set("csrftoken", CSRF)
        if self.session_of:
            self.client.cookies.set("sessionid", FIXTURES["sessions"][self.session_of])
        if type(self).wait_time is STAFF_PAUSE:
            # Officers do not all click in the same second: each starts after one pause,
            # else the run's first requests arrive as one burst of twenty (measured: that
            # burst alone was the slowest 5 % of a staff flow's 400 requests).
            self.wait()

    def expect(self, method: str, path: str, name: str, status: int, **kwargs: Any) -> None:
        with self.client.request(
            method, path, name=name, catch_response=True, allow_redirects=False, **kwargs
        ) as response:
            if response.status_code != status:
                response.failure(f"HTTP {response.status_code}, expected {status}")


class Ceiling(BenchUser):
    @task
    def insert(self) -> None:
        self.expect("POST", "/bench/ceiling/", "ceiling", 201, data={"note": "bench"})


class ComplaintSubmission(BenchUser):
    form_path = "/report/"
    flow_name = "complaint submission"

    @task
    def submit(self) -> None:
        data = {
            "category": FIXTURES["category"],
            "description": "人行道上有流动摊贩占道经营，早上七点到九点最严重",
            "address": "基准路1号",
            "reporter_name": "基准",
            "reporter_phone": f"139{random.randrange(10**8):08d}",
            "consent": "on",
            "idempotency_key": str(uuid.uuid4()),
            "lat": FIXTURES["point"][0],
            "lng": FIXTURES["point"][1],
            "csrfmiddlewaretoken": CSRF,
        }
        # 302 to the confirmation page: the report is filed.
        self.expect("POST", self.form_path, self.flow_name, 302, data=data)


class ComplaintFloor(ComplaintSubmission):
    """The same form to the least a complaint can do (chengguan.bench_views.complaint_floor)."""

    form_path = "/bench/complaint-floor/"
    flow_name = "complaint floor"


class TrackingPage(BenchUser):
    @task
    def track(self) -> None:
        code = random.choice(FIXTURES["tracking_codes"])
        self.expect("GET", f"/track/{code}/", "tracking page", 200)


class OperatorInbox(BenchUser):
    wait_time = STAFF_PAUSE
    session_of = "operator"

    @task
    def inbox(self) -> None:
        self.expect("GET", "/desk/intake/inbox/", "operator inbox", 200)


class CaseDetail(BenchUser):
    wait_time = STAFF_PAUSE
    session_of = "supervisor"

    @task
    def detail(self) -> None:
        number = random.choice(FIXTURES["case_numbers"])
        self.expect("GET", f"/cases/{number}/", "case detail", 200)


class DispatchAction(BenchUser):
    wait_time = STAFF_PAUSE
    session_of = "dispatcher"

    @task
    def dispatch(self) -> None:
        if not DISPATCHABLE:
            self.environment.runner.quit()  # type: ignore[union-attr]
            return
        number, version = DISPATCHABLE.pop()
        data = {
            "handling_unit": FIXTURES["handling_unit"],
            "note": "",
            "expected_version": version,
            "csrfmiddlewaretoken": CSRF,
        }
        # 302 back to the case; bench/load.py counts afterwards how many really moved.
        self.expect("POST", f"/desk/cases/{number}/dispatch/", "dispatch action", 302, data=data)


class Dashboard(BenchUser):
    wait_time = STAFF_PAUSE
    session_of = "supervisor"

    @task
    def dashboard(self) -> None:
        self.expect("GET", "/dashboard/", "dashboard", 200)


class ApiCaseList(BenchUser):
    wait_time = STAFF_PAUSE
    session_of = "supervisor"

    @task
    def case_list(self) -> None:
        self.expect("GET", "/api/v1/cases/", "API case list", 200)
