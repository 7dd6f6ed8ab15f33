"""The Redis cache unreachable: calls answer misses, the abuse limits fail open,
the health check still says the cache is down, and the outage is logged once a minute.

The full journey (broker and cache down while residents file complaints) is
tests/faults/test_redis_down.py.
"""

import logging
import time

import pytest
from django.core.cache import cache
from django.test import RequestFactory

from cases import abuse
from chengguan.logging import CacheOutageFilter
from chengguan.worktime import load_overrides

NOBODY_LISTENS = "redis://127.0.0.1:1/0"


@pytest.fixture
def dead_redis_cache(settings):  # type: ignore[no-untyped-def]
    """The cache as chengguan.settings configures it with REDIS_URL, on a port nobody listens on."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": NOBODY_LISTENS,
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 1.0},
        }
    }
    settings.RATELIMIT_ENABLE = True
    return settings.CACHES["default"]


def test_cache_calls_answer_misses_instead_of_raising(dead_redis_cache):
    # Given Redis unreachable
    # When the app stores, reads and counts
    cache.set("key", 1)
    # Then nothing raises: reads are misses, writes and counts do nothing
    assert cache.get("key") is None
    assert cache.get("key", "default") == "default"
    assert cache.get_many(["key"]) == {}
    assert not cache.add("key", 0)
    assert cache.incr("key") is None
    cache.delete("key")


def test_abuse_limits_fail_open_when_the_cache_cannot_count(dead_redis_cache, settings):
    # Given limits a single request would pass were the cache counting
    settings.PUBLIC_REPORT_RATE_PER_IP = "0/h"
    settings.PUBLIC_REPORT_RATE_PER_PHONE = "0/d"
    settings.PUBLIC_TRACK_MISSES_PER_IP = "1/h"  # blocked from the first miss on
    settings.PUBLIC_REPORT_CAPTCHA_AFTER = 1
    request = RequestFactory().post("/report/", REMOTE_ADDR="203.0.113.7")
    # When the public pages ask, with Redis unreachable
    # Then the resident is let through, without a CAPTCHA
    assert not abuse.report_rate_limited(request)
    assert not abuse.phone_rate_limited(request, "13900000001")
    assert not abuse.co_report_rate_limited(request)
    assert not abuse.nearby_rate_limited(request)
    abuse.count_tracking_miss(request)
    assert not abuse.tracking_blocked(request)
    abuse.count_report(request)
    assert not abuse.captcha_required(request)


@pytest.mark.django_db
def test_the_work_calendar_reads_its_overrides_from_the_database(dead_redis_cache):
    from chengguan.models import CalendarOverride

    CalendarOverride.objects.create(date="2031-01-04", is_workday=True)
    assert load_overrides() == {CalendarOverride.objects.get().date: True}


@pytest.mark.django_db
def test_healthz_is_not_fooled_by_ignored_cache_errors(client, dead_redis_cache):
    # Given a cache that answers misses instead of raising
    # When the probe asks
    response = client.get("/healthz")
    # Then it fails and names the cache
    assert response.status_code == 503
    assert response.json()["cache"] == "failed"
    assert response.json()["database"] == "ok"


def test_outage_is_logged_as_one_warning_per_interval(caplog):
    # Given django-redis's logger with the outage filter, as LOGGING configures it
    logger = logging.getLogger("tests.cache_outage")
    logger.addFilter(CacheOutageFilter(interval=0.2))
    try:
        error = ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")
        # When a hundred cache calls fail within the interval, and one more after it
        with caplog.at_level(logging.INFO, logger="tests.cache_outage"):
            for _ in range(100):
                try:
                    raise error
                except ConnectionError:
                    logger.exception("Exception ignored")
            time.sleep(0.25)
            try:
                raise error
            except ConnectionError:
                logger.exception("Exception ignored")
    finally:
        logger.filters.clear()
    # Then two lines are written: warnings without a traceback, naming the error
    # and how many calls were left out
    records = [record for record in caplog.records if record.name == "tests.cache_outage"]
    assert [record.levelno for record in records] == [logging.WARNING, logging.WARNING]
    assert all(record.exc_info is None for record in records)
    assert "Connection refused" in records[0].getMessage()
    assert "(0 more since the last warning)" in records[0].getMessage()
    assert "(99 more since the last warning)" in records[1].getMessage()


def test_django_redis_logs_through_the_outage_filter(settings):
    # The configured logger name is the one django-redis writes to, and it is filtered.
    assert settings.DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS is True
    assert any(isinstance(f, CacheOutageFilter) for f in logging.getLogger("django_redis.cache").filters)
