"""The one Redis hung: it takes connections and never answers (a partition, a stuck server).

A Redis that refuses connections fails every call at once (test_redis_down.py);
a hung one makes every call wait for its socket timeout, so each request
would wait seconds and, under load, every web worker would. The breaker
(chengguan.redis_breaker) lets the first call that waits in vain open it;
then cache calls answer as misses and tasks take their fallback at once,
without touching the network, so only the first request is slow.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from django.test import Client

from cases import services
from cases.models import Case
from chengguan.models import OutboundMessage
from chengguan.redis_breaker import breaker_for
from chengguan.roles import Role
from tests.factories import staff
from tests.faults.conftest import celery_publishing_to, complaint

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PHONES = [f"139000001{index:02d}" for index in range(10)]


class Blackhole:
    """A local port that accepts TCP connections and never answers: a hung Redis, without root."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.05)
        self.url = f"redis://127.0.0.1:{self._listener.getsockname()[1]}/0"
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.accepted.append(connection)  # held open, never read, never answered

    def connections(self) -> int:
        """Connections made to it so far (once the accepting thread has caught up)."""
        time.sleep(0.2)
        return len(self.accepted)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for connection in self.accepted:
            connection.close()
        self._listener.close()


@pytest.fixture
def hung_redis(settings) -> Iterator[Blackhole]:  # type: ignore[no-untyped-def]
    """As in production, one Redis for the cache and the broker, and it hangs."""
    assert settings.CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache"
    blackhole = Blackhole()
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": blackhole.url}}
    try:
        with celery_publishing_to(blackhole.url):
            yield blackhole
    finally:
        blackhole.close()


def test_a_burst_of_complaints_is_answered_at_once_after_the_first_while_redis_hangs(
    community, district, hung_redis, settings
):
    # Given the breaker's interval longer than the burst, so no probe falls inside it
    settings.CACHE_BREAKER_SECONDS = 60
    socket_timeout = settings.CACHES["default"]["OPTIONS"]["SOCKET_TIMEOUT"]
    operator = staff(Role.OPERATOR, scope=district)

    # When ten residents file complaints one after another
    seconds = []
    for phone in PHONES:
        started = time.monotonic()
        response = Client().post("/report/", complaint(phone, str(uuid.uuid4())))
        seconds.append(time.monotonic() - started)
        # Then each is saved and the resident sent to the confirmation
        assert response.status_code == 302, response.content.decode()[:500]
        assert response["Location"].startswith("/report/done/")
        if len(seconds) == 1:
            connections_after_first = hung_redis.connections()

    # And the first waited once for Redis (a timeout, not several), the others not at all
    assert seconds[0] < 3 * socket_timeout, seconds
    assert all(second < 0.5 for second in seconds[1:]), seconds
    # And after the first nobody even connected to Redis: the breaker answered
    assert connections_after_first >= 1
    assert hung_redis.connections() == connections_after_first
    assert not breaker_for(hung_redis.url).is_closed
    assert Case.objects.filter(reporter_phone__in=PHONES).count() == len(PHONES)

    # When the operator registers one, which queues the resident's SMS through the broker
    case = Case.objects.get(reporter_phone=PHONES[0])
    started = time.monotonic()
    services.case_register(case=case, actor=operator)
    # Then the publish is skipped at once and the SMS waits in the outbox for the sweep
    assert time.monotonic() - started < 0.5
    waiting = OutboundMessage.objects.filter(recipient=PHONES[0])
    assert list(waiting.values_list("status", flat=True)) == [OutboundMessage.Status.PENDING]
    assert hung_redis.connections() == connections_after_first
