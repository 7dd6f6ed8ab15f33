"""Servers the fault tests start and stop themselves.

They never touch the shared PostgreSQL (5432) or Redis (6379): a broker that
goes down is a redis-server of their own on FAULT_REDIS_PORT, a worker is a
`celery worker` subprocess on the test database, and a web server is
gunicorn on FAULT_WEB_PORT, hit by `Load` threads.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
FAULT_REDIS_PORT = int(os.environ.get("FAULT_REDIS_PORT", "6390"))
FAULT_WEB_PORT = int(os.environ.get("FAULT_WEB_PORT", "8391"))
WEB = f"http://127.0.0.1:{FAULT_WEB_PORT}"


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def url_of_test_database() -> str:
    """DATABASE_URL for a subprocess working on this run's test database."""
    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{host}:{port}/{db['NAME']}"


class OwnRedis:
    """A redis-server on FAULT_REDIS_PORT that a test can stop and start again."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{FAULT_REDIS_PORT}/0"

    def start(self) -> None:
        assert not port_open(FAULT_REDIS_PORT), f"port {FAULT_REDIS_PORT} is taken"
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(FAULT_REDIS_PORT),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: port_open(FAULT_REDIS_PORT), 10, "redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None
        wait_until(lambda: not port_open(FAULT_REDIS_PORT), 10, "redis-server to stop")


@pytest.fixture
def own_redis(tmp_path) -> Iterator[OwnRedis]:  # type: ignore[no-untyped-def]
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = OwnRedis(tmp_path)
    yield server
    server.stop()


def forget_broker_connections(app: Celery) -> None:
    """Drop the app's connection pool and producer pool: both keep the broker they
    were made for, whatever `broker_url` says later. The next publish makes new
    ones for the broker configured then.

    Not `app.close()`: it drops only the connection pool, and it takes the app
    out of Celery's set of live apps, so a `@shared_task` module imported after
    it is never registered on the app (NotRegistered in a later test). Celery
    has no public call for this; it resets the same two attributes after a fork
    (`Celery._after_fork`).
    """
    app._pool = None  # type: ignore[attr-defined]
    app.amqp._producer_pool = None  # type: ignore[attr-defined]


@contextmanager
def celery_publishing_to(broker_url: str) -> Iterator[None]:
    """The Celery app publishing for real (not eagerly) to `broker_url`, and
    afterwards as it was before: the same broker and eagerness, no connection
    to `broker_url` kept."""
    from chengguan.celery import app

    saved = {name: app.conf[name] for name in ("broker_url", "task_always_eager")}
    forget_broker_connections(app)
    app.conf.update(broker_url=broker_url, task_always_eager=False)
    try:
        yield
    finally:
        forget_broker_connections(app)
        app.conf.update(saved)


@pytest.fixture
def broker(own_redis) -> Iterator[OwnRedis]:  # type: ignore[no-untyped-def]
    """The Celery app publishing for real (not eagerly) to the fault tests' own Redis."""
    with celery_publishing_to(own_redis.url):
        yield own_redis


@pytest.fixture
def shared_redis(broker, settings) -> OwnRedis:  # type: ignore[no-untyped-def]
    """As in production, one Redis for the broker and the cache: the fault tests' own."""
    assert settings.CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache"
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": broker.url}}
    return broker


class Worker:
    """`celery worker` subprocesses on the test database and the fault tests' broker."""

    def __init__(self, workdir: Path, broker_url: str, extra_env: dict[str, str]) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": url_of_test_database(),
            "REDIS_URL": broker_url,
            "CELERY_BROKER_URL": broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "CHENGGUAN_VAR_DIR": str(workdir),
            "LOG_FORMAT": "plain",
            **extra_env,
        }
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log(self) -> Path:
        return self.workdir / f"worker-{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "chengguan",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--hostname=fault{self.starts}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(lambda: "ready" in self.log.read_text() or self.process.poll() is not None, 60, "worker")
        assert self.process.poll() is None, self.log.read_text()

    def kill(self) -> None:
        """SIGKILL the worker and its pool: nothing gets to acknowledge or reject anything."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def make_worker(tmp_path):  # type: ignore[no-untyped-def]
    workers: list[Worker] = []

    def make(broker_url: str, **extra_env: str) -> Worker:
        worker = Worker(tmp_path, broker_url, extra_env)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.stop()


def complaint(phone: str, key: str) -> dict[str, str]:
    """The public complaint form (/report/) as a resident fills it in."""
    from tests.factories import leaf_category

    return {
        "category": str(leaf_category().pk),
        "description": "小区东门有流动摊贩占道经营，早上七点到九点最严重",
        "address": "红星路12号东门",
        "reporter_name": "李四",
        "reporter_phone": phone,
        "consent": "on",
        "idempotency_key": key,
        "lat": "30.005",
        "lng": "120.005",
    }


def assert_delivered_once(
    broker: OwnRedis, make_worker: Callable[..., Worker], phones: list[str], sms_log: Path
) -> None:
    """Start the broker again with a worker and fire the outbox sweep: the message
    waiting for each of `phones` is sent, exactly once."""
    from chengguan.messaging import deliver_pending_messages
    from chengguan.models import OutboundMessage

    broker.start()
    worker = make_worker(
        broker.url, SMS_BACKEND="tests.faults.sms.FileSMSBackend", FAULT_SMS_LOG=str(sms_log)
    )
    worker.start()
    assert deliver_pending_messages(older_than=timedelta(0)) == len(phones)
    waiting = OutboundMessage.objects.filter(recipient__in=phones)
    wait_until(
        lambda: not waiting.exclude(status=OutboundMessage.Status.SENT).exists(), 60, "messages to be sent"
    )
    assert deliver_pending_messages(older_than=timedelta(0)) == 0
    sent = [line.split("\t")[0] for line in sms_log.read_text().splitlines()]
    assert sorted(sent) == sorted(phones)


@contextmanager
def gunicorn(workdir: Path, database_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn on FAULT_WEB_PORT with persistent connections, as in production:
    one worker of four threads that is never recycled, so it is the same
    process before and after a fault. (Django's test client switches the
    connection health checks off, hence a real server.)
    """
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CONN_MAX_AGE": "600",
        "DEBUG": "false",
        "GUNICORN_BIND": f"127.0.0.1:{FAULT_WEB_PORT}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "4",
        "GUNICORN_MAX_REQUESTS": "0",
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "CHENGGUAN_VAR_DIR": str(workdir),
    }
    env.pop("REDIS_URL", None)
    assert not port_open(FAULT_WEB_PORT), f"port {FAULT_WEB_PORT} is taken (set FAULT_WEB_PORT)"
    log = workdir / "gunicorn.log"
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
        wait_until(lambda: get(f"{WEB}/livez")[0] == 200 or process.poll() is not None, 60, "gunicorn")
        assert process.poll() is None, log.read_text()
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def gunicorn_workers(master: subprocess.Popen[bytes]) -> set[int]:
    return {int(pid) for pid in Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()}


def get(url: str, cookie: str = "") -> tuple[int, bytes]:
    """Status and body of a GET; status 0 when no HTTP answer came at all."""
    request = urllib.request.Request(url, headers={"Cookie": cookie, "Accept-Language": "zh-hans"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def signed_in_cookie(user: Any) -> str:
    """A session cookie for `user`, stored in the database of the calling process."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return f"sessionid={store.session_key}"


class Load:
    """A thread per page asking gunicorn for it over and over, counting the answers.

    Ten requests a second per page at most: under the API's user throttle.
    """

    def __init__(self, pages: list[str], cookie: str) -> None:
        self.pages = pages
        self.cookie = cookie
        self.statuses: dict[str, Counter[int]] = {page: Counter() for page in pages}
        self.bodies: list[bytes] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._ask, args=(page,), daemon=True) for page in pages]

    def _ask(self, page: str) -> None:
        while not self._stop.is_set():
            status, body = get(WEB + page, self.cookie)
            self.statuses[page][status] += 1
            if status != 200:
                self.bodies.append(body)
            time.sleep(0.1)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def wait_for(self, status: int, times: int, timeout: float = 60) -> None:
        """Wait until every page has been answered `status` `times` more times than so far."""
        before = {page: self.statuses[page][status] for page in self.pages}
        deadline = time.monotonic() + timeout
        while not all(self.statuses[page][status] >= before[page] + times for page in self.pages):
            if time.monotonic() > deadline:
                last = self.bodies[-1][:2000] if self.bodies else b""
                pytest.fail(
                    f"timed out waiting for {times} more answers {status} on every page; "
                    f"answers so far: {self.statuses}; last other body: {last!r}"
                )
            time.sleep(0.2)

    def assert_failed_cleanly(self) -> None:
        """Every page was answered 200 or 503, never anything else and never not
        at all; the 503s carry no traceback: a JSON error for the API, the 503
        page for pages."""
        for page in self.pages:
            assert set(self.statuses[page]) == {200, 503}, (page, self.statuses[page])
        assert not any(b"Traceback" in body for body in self.bodies)
        api = [body for body in self.bodies if body.startswith(b"{")]
        assert api and all(json.loads(body)["code"] == "service_unavailable" for body in api)
        pages = [body for body in self.bodies if not body.startswith(b"{")]
        assert pages and all(b"<html" in body for body in pages)
