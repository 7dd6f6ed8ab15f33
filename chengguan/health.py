"""Liveness and readiness probes for load balancers and process supervisors.

`/livez` says the process answers; `/healthz` says it can do its work: the
database runs `SELECT 1`, the Celery broker accepts a connection and the cache
stores and returns a value (Redis, when it is the cache, is pinged first: the
cache itself answers misses while Redis is down). Neither needs a session, a
login or a host name in ALLOWED_HOSTS (HealthCheckMiddleware answers before
those run), and no rate limit applies to them.
"""

import logging
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache, caches
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe
from django_redis import get_redis_connection
from django_redis.cache import RedisCache

logger = logging.getLogger(__name__)

OK = "ok"
FAILED = "failed"
BROKER_TIMEOUT_SECONDS = 3


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        if cursor.fetchone() != (1,):
            raise RuntimeError("SELECT 1 returned something else")


def check_broker(url: str | None = None) -> None:
    from chengguan.celery import app

    with app.connection_for_write(url) as connection:
        connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)


def check_cache() -> None:
    if isinstance(caches["default"], RedisCache):
        # IGNORE_EXCEPTIONS turns every failed call into a miss; ask the server itself.
        get_redis_connection("default").ping()
        # It answers: the calls below need not wait for the breaker's next probe.
        from chengguan.redis_breaker import breaker_for

        breaker_for(settings.CACHES["default"]["LOCATION"]).succeeded()
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, OK, timeout=10)
    try:
        if cache.get(key) != OK:
            raise RuntimeError("the cache did not return what was stored")
    finally:
        cache.delete(key)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "cache": check_cache,
}


def _no_store(response: JsonResponse) -> JsonResponse:
    response["Cache-Control"] = "no-store"
    return response


@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """200 with every check "ok", or 503 naming the ones that failed."""
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception:
            # The probe's answer says which part failed; the log says why.
            logger.exception("health check %s failed", name)
            results[name] = FAILED
        else:
            results[name] = OK
    status = 200 if all(value == OK for value in results.values()) else 503
    return _no_store(JsonResponse(results, status=status))


@require_safe
def livez(request: HttpRequest) -> HttpResponse:
    """200 while the process can answer at all; touches nothing else."""
    return _no_store(JsonResponse({"status": OK}))
