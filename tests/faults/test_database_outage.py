"""PostgreSQL going away under load: requests fail cleanly and recover by themselves.

Simulated, not a real restart: the test database stops accepting connections
(ALTER DATABASE … ALLOW_CONNECTIONS false) and every backend on it is
terminated (pg_terminate_backend), which is what the app sees of a restart
(its connections die, new ones are refused) without stopping the PostgreSQL
server the other test runs share. While it lasts, pages answer 503 with a
page of their own and the API a JSON 503, never a traceback; afterwards the
same process answers 200 again: CONN_HEALTH_CHECKS drops the dead
connections and the next query reconnects.
"""

import threading
import time
from collections import Counter

import psycopg
import pytest
from django.db import connection
from django.test import Client

from cases.choices import CaseSource
from cases import services
from chengguan.roles import Role
from tests.factories import leaf_category, staff

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


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
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        [name],
    )


def bring_database_back(admin: psycopg.Connection, name: str) -> None:
    admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def test_requests_fail_with_503_while_the_database_is_away_and_recover_without_a_restart(
    community, district, settings
):
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"]
    name = connection.settings_dict["NAME"]
    case = services.case_report(
        source=CaseSource.WEB, category=leaf_category(), description="夜间施工噪声扰民", lat=30.005, lng=120.005
    )
    supervisor = staff(Role.SUPERVISOR, scope=district)
    pages = ["/track/" + case.tracking_code + "/", "/api/v1/cases/", f"/cases/{case.number}/"]
    statuses: dict[str, Counter[int]] = {page: Counter() for page in pages}
    bodies: list[bytes] = []
    stop = threading.Event()

    def load(page: str) -> None:
        # given a steady stream of requests, each thread with its own connection
        client = Client(raise_request_exception=False)
        client.force_login(supervisor)
        try:
            while not stop.is_set():
                response = client.get(page, HTTP_ACCEPT_LANGUAGE="zh-hans")
                statuses[page][response.status_code] += 1
                if response.status_code != 200:
                    bodies.append(response.content)
                time.sleep(0.02)
        finally:
            connection.close()

    threads = [threading.Thread(target=load, args=(page,)) for page in pages]
    for thread in threads:
        thread.start()
    admin = admin_connection()
    try:
        time.sleep(1.5)
        # when the database goes away for a while
        take_database_away(admin, name)
        time.sleep(2)
        outage = {page: Counter(counts) for page, counts in statuses.items()}
        bring_database_back(admin, name)
        # and comes back
        time.sleep(2)
    finally:
        bring_database_back(admin, name)
        stop.set()
        for thread in threads:
            thread.join(30)
        admin.close()
        connection.close()

    for page in pages:
        # then every page was served before, answered 503 during, and is served again after
        assert outage[page][200] > 0, (page, statuses[page])
        assert outage[page][503] > 0, (page, statuses[page])
        assert statuses[page][200] > outage[page][200], (page, statuses[page])
        assert set(statuses[page]) == {200, 503}, (page, statuses[page])
    for body in bodies:
        assert b"Traceback" not in body
    api_errors = [body for body in bodies if body.startswith(b"{")]
    assert api_errors and all(b'"code": "service_unavailable"' in body or b'"code":"service_unavailable"' in body
                              for body in api_errors)


def test_the_503_page_needs_no_database(rf):
    from chengguan.api_errors import service_unavailable

    # given the database is away (no connection may be made)
    # when the 503 page is rendered for a page and for the API
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(connection, "ensure_connection", lambda: pytest.fail("the 503 page used the database"))
        page = service_unavailable(rf.get("/track/"))
        api = service_unavailable(rf.get("/api/v1/cases/"))

    # then both say so, with a retry hint
    assert page.status_code == api.status_code == 503
    assert page["Retry-After"] == "30"
    assert b"<html" in page.content
    assert api.json()["code"] == "service_unavailable"
