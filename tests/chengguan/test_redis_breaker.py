"""The Redis circuit breaker (chengguan.redis_breaker), on a fake Redis: no network.

After a cache call gets no answer the process treats that Redis as down for
CACHE_BREAKER_SECONDS: cache calls answer at once without touching it, and
`enqueue` takes its fallback without publishing. Then one call tries again;
an answer closes the breaker. A hung Redis for real is
tests/faults/test_redis_hung.py.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django_redis.cache import RedisCache
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chengguan import redis_breaker
from chengguan.logging import CacheOutageFilter
from chengguan.messaging import enqueue
from chengguan.redis_breaker import address_of, breaker_for

INTERVAL = 5.0


class FakeServer:
    """A Redis that answers from a dict, or fails every command with `error`."""

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self.delay = 0.0
        self.commands = 0
        self.data: dict[bytes | str, Any] = {}
        self._lock = threading.Lock()

    def command(self, answer: Callable[[], Any]) -> Any:
        with self._lock:
            self.commands += 1
        if self.delay:
            time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return answer()


SERVERS: dict[str, FakeServer] = {}


class FakeRedis:
    """The commands DefaultClient sends for the Django cache API."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server

    def get(self, key: str) -> Any:
        return self.server.command(lambda: self.server.data.get(key))

    def mget(self, *keys: str) -> list[Any]:
        return self.server.command(lambda: [self.server.data.get(key) for key in keys])  # type: ignore[no-any-return]

    def set(self, key: str, value: Any, nx: bool = False, px: Any = None, xx: bool = False) -> bool:
        def answer() -> bool:
            if nx and key in self.server.data:
                return False
            self.server.data[key] = value
            return True

        return self.server.command(answer)  # type: ignore[no-any-return]

    def delete(self, *keys: str) -> int:
        return self.server.command(lambda: sum(self.server.data.pop(key, None) is not None for key in keys))  # type: ignore[no-any-return]

    def exists(self, key: str) -> int:
        return self.server.command(lambda: int(key in self.server.data))  # type: ignore[no-any-return]

    def eval(self, script: str, numkeys: int, key: str, delta: int) -> Any:
        def answer() -> Any:
            if key not in self.server.data:
                return None
            self.server.data[key] = int(self.server.data[key]) + delta
            return self.server.data[key]

        return self.server.command(answer)

    def ttl(self, key: str) -> int:
        return self.server.command(lambda: -1 if key in self.server.data else -2)  # type: ignore[no-any-return]

    def expire(self, key: str, timeout: int) -> bool:
        return self.server.command(lambda: key in self.server.data)  # type: ignore[no-any-return]

    def persist(self, key: str) -> bool:
        return self.server.command(lambda: key in self.server.data)  # type: ignore[no-any-return]

    def flushdb(self) -> bool:
        def answer() -> bool:
            self.server.data.clear()
            return True

        return self.server.command(answer)  # type: ignore[no-any-return]


class FakeConnectionFactory:
    """django-redis's CONNECTION_FACTORY, handing out FakeRedis clients by URL."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    def connect(self, url: str) -> FakeRedis:
        return FakeRedis(SERVERS[url])

    def disconnect(self, connection: FakeRedis) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch, settings) -> Clock:  # type: ignore[no-untyped-def]
    settings.CACHE_BREAKER_SECONDS = INTERVAL
    fake = Clock()
    monkeypatch.setattr(redis_breaker, "monotonic", fake)
    return fake


@pytest.fixture
def url() -> Iterator[str]:
    """A Redis of its own (its own address, so its own breaker) for each test."""
    location = f"redis://fake-{uuid.uuid4().hex[:12]}:6379/0"
    SERVERS[location] = FakeServer()
    yield location
    del SERVERS[location]


@pytest.fixture
def server(url) -> FakeServer:  # type: ignore[no-untyped-def]
    return SERVERS[url]


@pytest.fixture
def cache(url, clock) -> RedisCache:  # type: ignore[no-untyped-def]
    """The cache as settings configure it with REDIS_URL, on the fake Redis."""
    return RedisCache(
        url,
        {
            "OPTIONS": {
                "CLIENT_CLASS": "chengguan.redis_breaker.BreakerClient",
                "CONNECTION_FACTORY": "tests.chengguan.test_redis_breaker.FakeConnectionFactory",
                "IGNORE_EXCEPTIONS": True,
            }
        },
    )


def test_settings_put_the_cache_behind_the_breaker(settings):
    assert settings.CACHE_BREAKER_SECONDS > 0
    if settings.CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache":
        client = settings.CACHES["default"]["OPTIONS"]["CLIENT_CLASS"]
        assert client == "chengguan.redis_breaker.BreakerClient"


def test_calls_go_to_redis_while_it_answers(cache, server):
    cache.set("key", "value")
    assert cache.get("key") == "value"
    assert cache.get_many(["key", "other"]) == {"key": "value"}
    assert server.commands == 3
    assert cache.client.breaker.is_closed


@pytest.mark.parametrize(
    "error",
    [
        RedisTimeoutError("Timeout reading from socket"),
        RedisConnectionError("Error 111 connecting to redis:6379. Connection refused."),
        TimeoutError("timed out"),
    ],
    ids=["timeout", "refused", "socket-timeout"],
)
def test_the_first_unanswered_call_opens_the_breaker(cache, server, error):
    # Given Redis not answering
    server.error = error
    # When a cache call waits in vain
    assert cache.get("key", "default") == "default"
    # Then it went to Redis once, and the breaker is open
    assert server.commands == 1
    assert not cache.client.breaker.is_closed


# Each call of the Django cache API and what it answers while Redis is treated as down.
CALLS: list[tuple[str, Callable[[RedisCache], Any], Any]] = [
    ("get", lambda cache: cache.get("key", "default"), "default"),
    ("get_many", lambda cache: cache.get_many(["key", "other"]), {}),
    ("get_or_set", lambda cache: cache.get_or_set("key", 7), 7),
    ("has_key", lambda cache: cache.has_key("key"), None),
    ("set", lambda cache: cache.set("key", 1), None),
    ("set_many", lambda cache: cache.set_many({"key": 1}), None),
    ("add", lambda cache: cache.add("key", 1), None),
    ("incr", lambda cache: cache.incr("key"), None),
    ("decr", lambda cache: cache.decr("key"), None),
    ("delete", lambda cache: cache.delete("key"), None),
    ("delete_many", lambda cache: cache.delete_many(["key", "other"]), None),
    ("touch", lambda cache: cache.touch("key", 60), None),
    ("ttl", lambda cache: cache.ttl("key"), None),
    ("expire", lambda cache: cache.expire("key", 60), None),
    ("persist", lambda cache: cache.persist("key"), None),
    ("incr_version", lambda cache: cache.incr_version("key"), None),
    ("clear", lambda cache: cache.clear(), None),
]


@pytest.mark.parametrize(
    "call, answer", [(call, answer) for _, call, answer in CALLS], ids=[c[0] for c in CALLS]
)
def test_calls_while_open_answer_at_once_without_touching_redis(cache, server, call, answer):
    # Given the breaker opened by a call Redis did not answer
    server.error = RedisTimeoutError("Timeout reading from socket")
    cache.get("key")
    assert server.commands == 1
    # When the app makes another call
    # Then it gets a miss (or nothing happens), and Redis is not asked
    assert call(cache) == answer
    assert server.commands == 1


def test_after_the_interval_one_call_probes_and_a_failed_probe_opens_it_again(cache, server, clock):
    # Given the breaker opened by a timeout
    server.error = RedisTimeoutError("Timeout reading from socket")
    cache.get("key")
    # When calls come just before the interval is over
    clock.advance(INTERVAL - 0.1)
    cache.get("key")
    # Then none reaches Redis
    assert server.commands == 1
    # When the interval is over
    clock.advance(0.1)
    # Then the next call goes to Redis, and the ones after it do not
    assert cache.get("key", "default") == "default"
    assert server.commands == 2
    cache.set("key", 1)
    assert cache.get("key") is None
    assert server.commands == 2
    # And since the probe got no answer either, the next interval starts from it
    clock.advance(INTERVAL - 0.1)
    cache.get("key")
    assert server.commands == 2
    clock.advance(0.1)
    cache.get("key")
    assert server.commands == 3


def test_an_answered_probe_closes_the_breaker(cache, server, clock):
    # Given the breaker opened by a timeout
    server.error = RedisTimeoutError("Timeout reading from socket")
    cache.set("key", "lost")
    # When Redis is back and the interval is over
    server.error = None
    clock.advance(INTERVAL)
    # Then the probe goes through and every call after it reaches Redis again
    assert cache.add("key", "first")
    assert cache.client.breaker.is_closed
    assert cache.get("key") == "first"
    cache.set("n", 1)
    assert cache.incr("n") == 2
    assert server.commands == 5


def test_while_half_open_only_one_of_many_threads_asks_redis(cache, server, clock):
    # Given the breaker open, Redis still hung (each command waits before failing)
    server.error = RedisTimeoutError("Timeout reading from socket")
    cache.get("key")
    server.delay = 0.3
    clock.advance(INTERVAL)
    # When eight threads ask at once
    start = threading.Barrier(8)
    answers: list[Any] = []

    def ask() -> None:
        start.wait()
        answers.append(cache.get("key", "default"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    # Then one of them asked Redis (the probe), the others answered at once
    assert server.commands == 2
    assert answers == ["default"] * 8


def test_an_error_reply_is_an_answer(cache, server):
    # Given Redis answering, with an error
    server.error = ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")
    # When a call gets the error back
    assert cache.get("key", "default") == "default"
    # Then Redis is not treated as down: the next call asks it again
    assert cache.client.breaker.is_closed
    cache.get("key")
    assert server.commands == 2


def test_zero_seconds_switches_the_breaker_off(cache, server, settings):
    settings.CACHE_BREAKER_SECONDS = 0
    server.error = RedisTimeoutError("Timeout reading from socket")
    cache.get("key")
    cache.get("key")
    assert server.commands == 2
    assert cache.client.breaker.is_closed


def test_the_outage_is_logged_as_before_one_warning_a_minute(cache, server, caplog, monkeypatch):
    # Given django-redis's logger with a fresh outage filter, as LOGGING configures it
    monkeypatch.setattr(logging.getLogger("django_redis.cache"), "filters", [CacheOutageFilter(interval=60)])
    server.error = RedisTimeoutError("Timeout reading from socket")
    # When twenty cache calls are answered as misses, one by Redis failing, the rest by the breaker
    with caplog.at_level(logging.INFO):
        for _ in range(20):
            cache.get("key")
    # Then the cache's outage is one warning naming Redis's error
    outage = [record for record in caplog.records if record.name == "django_redis.cache"]
    assert len(outage) == 1
    assert outage[0].levelno == logging.WARNING and outage[0].exc_info is None
    assert "Timeout reading from socket" in outage[0].getMessage()
    # And the breaker said once that it stopped asking
    opened = [record for record in caplog.records if record.name == "chengguan.redis_breaker"]
    assert len(opened) == 1
    assert "did not answer" in opened[0].getMessage() and "fake-" in opened[0].getMessage()


def test_the_breaker_is_per_redis_address():
    assert address_of("redis://:secret@cache.internal:6379/0") == "cache.internal:6379"
    assert breaker_for("redis://cache.internal/0") is breaker_for("redis://:secret@cache.internal:6379/13")
    assert breaker_for("redis://cache.internal:6379/0") is not breaker_for("redis://cache.internal:6380/0")
    assert address_of("unix:///run/redis.sock?db=1") == "unix:///run/redis.sock"


# --- the broker: chengguan.messaging.enqueue ------------------------------------------


class FakeTask:
    """A Celery task as `enqueue` sees it, publishing to a broker that may be down."""

    name = "tests.fake_task"

    def __init__(self, broker_url: str, eager: bool = False) -> None:
        self.app = SimpleNamespace(
            conf=SimpleNamespace(broker_url=broker_url, broker_write_url=None, task_always_eager=eager)
        )
        self.down = False
        self.publishes = 0

    def apply_async(self, **options: Any) -> None:
        self.publishes += 1
        if self.down:
            raise BrokerOperationalError("Timeout reading from socket")


def test_a_publish_without_answer_opens_the_breaker_and_the_next_take_the_fallback_at_once(url, clock):
    # Given a broker not answering
    task = FakeTask(url)
    task.down = True
    fallbacks: list[int] = []
    # When a task is enqueued
    # Then the publish is tried once, fails, and the fallback runs
    assert not enqueue(task, 1, fallback=lambda: fallbacks.append(1))
    assert task.publishes == 1 and fallbacks == [1]
    # When more are enqueued while the breaker is open
    assert not enqueue(task, 2, fallback=lambda: fallbacks.append(2))
    assert not enqueue(task, 3)
    # Then none is published; each fallback runs at once
    assert task.publishes == 1 and fallbacks == [1, 2]
    # When the broker is back and the interval is over
    task.down = False
    clock.advance(INTERVAL)
    # Then the next publish goes through and closes the breaker
    assert enqueue(task, 4, fallback=lambda: fallbacks.append(4))
    assert enqueue(task, 5)
    assert task.publishes == 3 and fallbacks == [1, 2]
    assert breaker_for(url).is_closed


def test_a_cache_call_without_answer_stops_publishing_to_the_same_redis(cache, server, url):
    # Given the cache's Redis hung, and a broker on the same Redis (another database)
    server.error = RedisTimeoutError("Timeout reading from socket")
    same_redis = FakeTask(url.replace("/0", "/1"))
    elsewhere = FakeTask(f"redis://broker-{uuid.uuid4().hex[:8]}:6379/0")
    # When a cache call gets no answer and then tasks are enqueued
    cache.get("key")
    fallbacks: list[str] = []
    assert not enqueue(same_redis, 1, fallback=lambda: fallbacks.append("same"))
    assert enqueue(elsewhere, 1, fallback=lambda: fallbacks.append("elsewhere"))
    # Then the one for the same Redis is not published and takes its fallback at once
    assert same_redis.publishes == 0 and fallbacks == ["same"]
    # And a broker elsewhere is not affected
    assert elsewhere.publishes == 1


def test_the_sweeps_publish_even_while_the_breaker_is_open(url, clock):
    # Given the breaker opened by a publish without answer
    task = FakeTask(url)
    task.down = True
    enqueue(task, 1)
    # When the broker is back and a sweep enqueues before the interval is over
    task.down = False
    assert enqueue(task, 1, always_try=True)
    # Then it is published, and the breaker closes
    assert task.publishes == 2
    assert breaker_for(url).is_closed


def test_eager_tasks_are_not_held_back(url, clock, server, cache):
    # Given the breaker open for this Redis
    server.error = RedisTimeoutError("Timeout reading from socket")
    cache.get("key")
    # When a task runs eagerly (no broker involved)
    task = FakeTask(url, eager=True)
    # Then it runs
    assert enqueue(task, 1)
    assert task.publishes == 1
