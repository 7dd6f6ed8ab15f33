"""PostgreSQL going away under load: requests fail cleanly and recover by themselves.

Simulated, not a real restart: the test database stops accepting connections
(ALTER DATABASE … ALLOW_CONNECTIONS false) and every backend on it is
terminated (pg_terminate_backend), which is what the app sees of a restart
(its connections die, new ones are refused) without stopping the PostgreSQL
server the other test runs share. While it lasts, pages answer 503 with a
page of their own and the API a JSON 503, never a traceback; afterwards the
same gunicorn process answers 200 again: CONN_HEALTH_CHECKS drops the dead
connections and the next query reconnects. (Django's test client switches
the connection checks off, hence a real server.)
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper

from cases import services
from cases.choices import CaseSource
from chengguan.roles import Role
from tests.factories import leaf_category, staff
from tests.faults.conftest import ROOT, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
WEB_PORT = int(os.environ.get("FAULT_WEB_PORT", "8391"))
BASE = f"http://127.0.0.1:{WEB_PORT}"


def admin_connection() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


def take_database_away(admin: psycopg.Connection, name: str) -> None:
    admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        [name],
    )


def bring_database_back(admin: psycopg.Connection, name: str) -> None:
    admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


@pytest.fixture
def web(tmp_path):  # type: ignore[no-untyped-def]
    """gunicorn serving the test database with persistent connections, as in production."""
    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{host}:{port}/{db['NAME']}",
        "CONN_MAX_AGE": "600",
        "DEBUG": "false",
        "GUNICORN_BIND": f"127.0.0.1:{WEB_PORT}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "4",
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "CHENGGUAN_VAR_DIR": str(tmp_path),
    }
    env.pop("REDIS_URL", None)
    log = tmp_path / "gunicorn.log"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "chengguan.wsgi:application",
            "-c",
            "gunicorn.conf.py",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until(lambda: get(f"{BASE}/livez")[0] == 200 or process.poll() is not None, 60, "gunicorn")
        assert process.poll() is None, log.read_text()
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def get(url: str, cookie: str = "") -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Cookie": cookie, "Accept-Language": "zh-hans"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def signed_in_cookie(user: Any) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return f"sessionid={store.session_key}"


def test_requests_fail_with_503_while_the_database_is_away_and_recover_without_a_restart(
    community, district, web
):
    name = connection.settings_dict["NAME"]
    case = services.case_report(
        source=CaseSource.WEB,
        category=leaf_category(),
        description="夜间施工噪声扰民",
        lat=30.005,
        lng=120.005,
    )
    cookie = signed_in_cookie(staff(Role.OPERATOR, scope=district))
    pages = [f"/track/{case.tracking_code}/", "/api/v1/cases/", f"/cases/{case.number}/"]
    statuses: dict[str, Counter[int]] = {page: Counter() for page in pages}
    bodies: list[bytes] = []
    stop = threading.Event()

    def load(page: str) -> None:
        # given a steady stream of requests to the running server
        while not stop.is_set():
            status, body = get(BASE + page, cookie)
            statuses[page][status] += 1
            if status != 200:
                bodies.append(body)
            time.sleep(0.05)

    threads = [threading.Thread(target=load, args=(page,)) for page in pages]
    for thread in threads:
        thread.start()
    admin = admin_connection()
    try:
        wait_until(lambda: all(statuses[page][200] for page in pages), 60, "the pages to be served")
        # when the database goes away for a while
        take_database_away(admin, name)
        wait_until(lambda: all(statuses[page][503] >= 3 for page in pages), 60, "503s")
        outage = {page: Counter(counts) for page, counts in statuses.items()}
        # and comes back
        bring_database_back(admin, name)
        wait_until(lambda: all(statuses[page][200] > outage[page][200] + 3 for page in pages), 60, "recovery")
    finally:
        bring_database_back(admin, name)
        stop.set()
        for thread in threads:
            thread.join(30)
        admin.close()
        connection.close()

    # then nothing but 200 and 503 was answered, the 503s without a traceback,
    # and the same server process serves again
    assert web.poll() is None
    for page in pages:
        assert set(statuses[page]) == {200, 503}, (page, statuses[page])
    assert not any(b"Traceback" in body for body in bodies)
    api = [body for body in bodies if body.startswith(b"{")]
    assert api and all(json.loads(body)["code"] == "service_unavailable" for body in api)
    pages_503 = [body for body in bodies if not body.startswith(b"{")]
    assert pages_503 and all(b"<html" in body for body in pages_503)


def test_the_503_page_needs_no_database(rf):
    from chengguan.api_errors import service_unavailable

    # given the database is away (no connection may be made)
    # when the 503 page is rendered for a page and for the API
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            BaseDatabaseWrapper,
            "ensure_connection",
            lambda self: pytest.fail("the 503 page used the database"),
        )
        page = service_unavailable(rf.get("/track/"))
        api = service_unavailable(rf.get("/api/v1/cases/"))

    # then both say so, with a retry hint
    assert page.status_code == api.status_code == 503
    assert page["Retry-After"] == "30"
    assert b"<html" in page.content
    assert json.loads(api.content)["code"] == "service_unavailable"
