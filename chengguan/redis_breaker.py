"""A circuit breaker for Redis: once it has failed to answer, stop asking it for a few seconds.

With Redis refusing connections every call fails at once; with Redis
unreachable (a network partition dropping packets, a hung server) every call
waits for its socket timeout, so a page making several cache calls and one
publish would take seconds and, under load, hold every web worker. Here the
first call that gets no answer (a connection error or a timeout) opens this
process's breaker for that Redis for `CACHE_BREAKER_SECONDS`. While it is
open, cache calls answer at once as misses or do nothing, and
`chengguan.messaging.enqueue` skips the publish and takes its fallback, none
of them touching the network. After the interval one call goes through
(half-open) while the others still answer at once: an answer closes the
breaker, no answer opens it for another interval.

State is per process and per Redis address (host and port, or socket path),
so the cache and the broker share one breaker when they are one Redis, as in
production, and not when they are two. `BreakerClient` is the cache's
django-redis CLIENT_CLASS; the health check pings Redis on the raw connection
(`get_redis_connection`) and so always asks the server itself.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from time import monotonic
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# Errors that mean Redis did not answer (socket.timeout and the built-in
# ConnectionError are OSErrors). A ResponseError is an answer.
UNANSWERED: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)


class CircuitOpen(RedisConnectionError):
    """A call not made because its Redis is treated as down."""


class CircuitBreaker:
    """Closed, open until a moment, or half-open (one probe out at a time).

    `allow()` before touching the network, then exactly one of `succeeded()`
    (Redis answered), `failed(error)` (it did not) or `released()` (the call
    ended before a verdict, e.g. a value that would not serialize).
    """

    def __init__(self, address: str) -> None:
        self.address = address
        self._lock = threading.Lock()
        self._open_until: float | None = None  # None: closed
        self._probe_until = 0.0  # a half-open probe is out until then
        self._seconds = 0.0
        self._last_error = ""

    @property
    def is_closed(self) -> bool:
        return self._open_until is None

    def allow(self) -> bool:
        """May a call touch the network now? While half-open, yes for one caller."""
        if self._open_until is None:  # the common case, without the lock
            return True
        now = monotonic()
        with self._lock:
            if self._open_until is None:
                return True
            if now < self._open_until or now < self._probe_until:
                return False
            # A probe that never reports (its thread died) holds the slot one interval.
            self._probe_until = now + self._seconds
            return True

    def succeeded(self) -> None:
        if self._open_until is None:
            return
        with self._lock:
            if self._open_until is None:
                return
            self._open_until, self._probe_until = None, 0.0
        logger.info("Redis at %s answers again", self.address)

    def failed(self, error: BaseException) -> None:
        seconds = breaker_seconds()
        if seconds <= 0:
            return
        with self._lock:
            was_closed = self._open_until is None
            self._seconds = seconds
            self._open_until = monotonic() + seconds
            self._probe_until = 0.0
            self._last_error = f"{type(error).__name__}: {error}"
        if was_closed:
            # Once per outage: a failed probe reopens without a word.
            logger.warning(
                "Redis at %s did not answer (%s): treated as down, asked again every %g s",
                self.address,
                self._last_error,
                seconds,
            )

    def released(self) -> None:
        """A call that ended without a verdict: the next one may probe."""
        if self._open_until is None:
            return
        with self._lock:
            self._probe_until = 0.0

    def open_error(self) -> CircuitOpen:
        return CircuitOpen(f"{self.address} treated as down after {self._last_error}")


def breaker_seconds() -> float:
    """How long Redis is treated as down after it failed to answer; 0: never."""
    return float(settings.CACHE_BREAKER_SECONDS)


def address_of(url: str) -> str:
    """host:port, or the socket path, of a Redis (or broker) URL; the first of a list."""
    first = url.split(";")[0].split(",")[0].strip()
    parts = urlsplit(first)
    if parts.scheme in ("redis", "rediss", "valkey", "valkeys") and parts.hostname:
        return f"{parts.hostname}:{parts.port or 6379}"
    if parts.hostname:
        return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}"
    # unix:///path, redis+socket:///path, filesystem://, memory://
    return f"{parts.scheme}://{parts.path}"


_breakers: dict[str, CircuitBreaker] = {}  # by address
_by_url: dict[str, CircuitBreaker] = {}
_registry_lock = threading.Lock()


def breaker_for(url: str) -> CircuitBreaker:
    """This process's breaker for the Redis at `url` (one per address)."""
    breaker = _by_url.get(url)
    if breaker is None:
        address = address_of(url)
        with _registry_lock:
            breaker = _breakers.setdefault(address, CircuitBreaker(address))
            _by_url[url] = breaker
    return breaker


def broker_breaker(app: Any) -> CircuitBreaker:
    """The breaker of the Celery app's broker (the cache's, when they are one Redis)."""
    return breaker_for(app.conf.broker_write_url or app.conf.broker_url or "")


class BreakerClient(DefaultClient):
    """django-redis's client, each call asking the breaker of its server first.

    A call not allowed raises ConnectionInterrupted, which RedisCache with
    IGNORE_EXCEPTIONS turns into a miss or a no-op and logs through
    CacheOutageFilter, like any other outage. With several servers
    (replicas) the first one's breaker speaks for all.
    """

    def __init__(self, server: Any, params: dict[str, Any], backend: Any) -> None:
        super().__init__(server, params, backend)
        self.breaker = breaker_for(self._server[0])
        self._inside = threading.local()

    def _through_breaker(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # A call made by another (add -> set, set -> delete, incr_version ->
        # get): the outer call asked the breaker and answers for it.
        if getattr(self._inside, "call", False):
            return method(self, *args, **kwargs)
        if not self.breaker.allow():
            raise ConnectionInterrupted(connection=None) from self.breaker.open_error()
        self._inside.call = True
        try:
            result = method(self, *args, **kwargs)
        except ConnectionInterrupted as interrupted:
            self._verdict(interrupted.__cause__)
            raise
        except UNANSWERED as error:  # calls django-redis does not wrap
            self._verdict(error)
            raise
        except BaseException:
            self.breaker.released()
            raise
        finally:
            self._inside.call = False
        self.breaker.succeeded()
        return result

    def _verdict(self, error: BaseException | None) -> None:
        if isinstance(error, CircuitOpen):
            self.breaker.released()
        elif isinstance(error, UNANSWERED):
            self.breaker.failed(error)
        else:  # a ResponseError: Redis answered
            self.breaker.succeeded()


# The Django cache API and the key calls RedisCache hands to its client.
# Not lock and iter_keys: they return objects that talk to Redis later, when
# no breaker is asked. Redis's data-structure calls (sadd, hset, zadd...),
# which this project does not use, go straight through.
GUARDED = (
    "get",
    "get_many",
    "set",
    "set_many",
    "add",
    "delete",
    "delete_many",
    "delete_pattern",
    "clear",
    "incr",
    "decr",
    "incr_version",
    "has_key",
    "keys",
    "touch",
    "ttl",
    "pttl",
    "persist",
    "expire",
    "expire_at",
    "pexpire",
    "pexpire_at",
)


def _guarded(name: str) -> Callable[..., Any]:
    method = getattr(DefaultClient, name)

    @functools.wraps(method)
    def call(self: BreakerClient, *args: Any, **kwargs: Any) -> Any:
        return self._through_breaker(method, *args, **kwargs)

    return call


for _name in GUARDED:
    setattr(BreakerClient, _name, _guarded(_name))
