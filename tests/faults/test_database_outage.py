"""PostgreSQL going away under load: requests fail cleanly and recover by themselves.

The cheap, simulated variant of test_postgres_restart.py (which restarts a
real PostgreSQL server of its own): the test database stops accepting
connections (ALTER DATABASE … ALLOW_CONNECTIONS false) and every backend on
it is terminated (pg_terminate_backend), which is what the app sees of a
restart (its connections die, new ones are refused) without stopping the
PostgreSQL server the other test runs share, and without the PostgreSQL
server binaries that the real restart needs. While it lasts, pages answer 503
with a page of their own and the API a JSON 503, never a traceback;
afterwards the same gunicorn process answers 200 again: CONN_HEALTH_CHECKS
drops the dead connections and the next query reconnects.
"""

import json

import psycopg
import pytest
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper

from cases import services
from cases.choices import CaseSource
from chengguan.roles import Role
from tests.factories import leaf_category, staff
from tests.faults.conftest import Load, gunicorn, gunicorn_workers, signed_in_cookie, url_of_test_database

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
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        [name],
    )


def bring_database_back(admin: psycopg.Connection, name: str) -> None:
    admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


@pytest.fixture
def web(tmp_path):  # type: ignore[no-untyped-def]
    """gunicorn serving the test database."""
    with gunicorn(tmp_path, url_of_test_database()) as process:
        yield process


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
    workers = gunicorn_workers(web)
    admin = admin_connection()
    try:
        # given a steady stream of requests to the running server
        with Load(pages, cookie) as load:
            load.wait_for(200, times=1)
            # when the database goes away for a while
            take_database_away(admin, name)
            load.wait_for(503, times=3)
            # and comes back
            bring_database_back(admin, name)
            load.wait_for(200, times=3)
    finally:
        bring_database_back(admin, name)
        admin.close()
        connection.close()

    # then nothing but 200 and 503 was answered, the 503s without a traceback,
    # and the same server process serves again
    load.assert_failed_cleanly()
    assert web.poll() is None
    assert gunicorn_workers(web) == workers


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
