"""Servers the fault tests start and stop themselves.

They never touch the shared PostgreSQL (5432) or Redis (6379): a broker that
goes down is a redis-server of their own on FAULT_REDIS_PORT, and a worker
is a `celery worker` subprocess on the test database.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
FAULT_REDIS_PORT = int(os.environ.get("FAULT_REDIS_PORT", "6390"))


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


@pytest.fixture
def broker(own_redis, settings) -> Iterator[OwnRedis]:  # type: ignore[no-untyped-def]
    """The Celery app publishing for real (not eagerly) to the fault tests' own Redis."""
    from chengguan.celery import app

    app.close()  # forget connections made for another broker
    app.conf.update(broker_url=own_redis.url)
    app.conf.task_always_eager = False
    yield own_redis
    app.close()
    app.conf.update(broker_url=settings.CELERY_BROKER_URL)
    app.conf.task_always_eager = True


class Worker:
    """`celery worker` subprocesses on the test database and the fault tests' broker."""

    def __init__(self, workdir: Path, broker_url: str, extra_env: dict[str, str]) -> None:
        db = connection.settings_dict
        host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{host}:{port}/{db['NAME']}",
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
