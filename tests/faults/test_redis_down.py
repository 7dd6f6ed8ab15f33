"""The one Redis down: the Celery broker and the Django cache both gone.

In production one Redis serves both. While it is down residents still file
complaints (the cache answers misses, so the abuse limits let them through
rather than refuse everyone), the pages staff use still render, the health
check says 503 and names both parts, and the cache's outage is logged as one
warning, not one line per cache call. When Redis is back the messages owed
reach the residents, each exactly once.
"""

import logging
from pathlib import Path

import pytest
from django.test import Client

from cases import services
from cases.models import Case
from chengguan.logging import CacheOutageFilter
from chengguan.models import OutboundMessage
from chengguan.roles import Role
from tests.factories import staff
from tests.faults.conftest import assert_delivered_once, complaint

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PHONES = ["13900000011", "13900000012", "13900000013"]


def test_residents_file_and_staff_work_while_redis_is_down_and_messages_follow_once_it_is_back(
    community, district, shared_redis, make_worker, settings, tmp_path, caplog, monkeypatch
):
    # given the abuse limits on, low enough that the three complaints from one
    # address would pass them were the cache counting
    settings.RATELIMIT_ENABLE = True
    settings.PUBLIC_REPORT_RATE_PER_IP = "2/h"
    settings.PUBLIC_REPORT_CAPTCHA_AFTER = 1
    # and a fresh outage filter, so no earlier warning holds this one back
    monkeypatch.setattr(logging.getLogger("django_redis.cache"), "filters", [CacheOutageFilter(interval=60)])
    operator = staff(Role.OPERATOR, scope=district)
    supervisor = staff(Role.SUPERVISOR, scope=district)
    # and Redis, broker and cache, down (nothing listens on its port)

    # when three residents file complaints from one address
    codes = []
    for index, phone in enumerate(PHONES):
        resident = Client()
        form = resident.get("/report/")
        assert form.status_code == 200
        assert b'name="captcha_1"' not in form.content
        response = resident.post("/report/", complaint(phone, f"7d2e4b1a-3c5f-4e6d-8a9b-0c1d2e3f4a5{index}"))
        # then each is saved and the resident sees the confirmation with the tracking code
        assert response.status_code == 302, response.content.decode()[:500]
        done = resident.get(response["Location"])
        assert done.status_code == 200
        code = response["Location"].rstrip("/").rsplit("/", 1)[-1]
        assert code.encode() in done.content
        assert resident.get(f"/track/{code}/").status_code == 200
        codes.append(code)
    cases = Case.objects.filter(reporter_phone__in=PHONES)
    assert sorted(cases.values_list("tracking_code", flat=True)) == sorted(codes)

    # when the operator registers them and staff open their pages
    for case in cases:
        services.case_register(case=case, actor=operator)
    desk = Client()
    desk.force_login(operator)
    boss = Client()
    boss.force_login(supervisor)
    # then the pages render, counting afresh what the cache would have kept
    assert desk.get("/desk/").status_code == 200
    assert desk.get("/cases/").status_code == 200
    assert desk.get(f"/cases/{cases[0].number}/").status_code == 200
    assert boss.get("/dashboard/").status_code == 200

    # and the health check fails, naming the broker and the cache
    health = Client().get("/healthz")
    assert health.status_code == 503
    assert health.json() == {"database": "ok", "broker": "failed", "cache": "failed"}

    # and the cache's outage was logged once, as a one-line warning
    outage = [record for record in caplog.records if record.name == "django_redis.cache"]
    assert len(outage) == 1, [record.getMessage() for record in outage]
    assert outage[0].levelno == logging.WARNING and outage[0].exc_info is None
    assert "Connection" in outage[0].getMessage()

    # and every resident's "registered" SMS waits in the outbox
    waiting = OutboundMessage.objects.filter(recipient__in=PHONES)
    assert sorted(waiting.values_list("recipient", flat=True)) == PHONES
    assert set(waiting.values_list("status", flat=True)) == {OutboundMessage.Status.PENDING}

    # when Redis is back, a worker runs and the sweep fires
    # then each message is sent, exactly once
    assert_delivered_once(shared_redis, make_worker, PHONES, Path(tmp_path) / "sms.log")
    # and the health check is satisfied again
    assert Client().get("/healthz").status_code == 200
