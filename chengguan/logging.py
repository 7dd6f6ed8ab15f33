"""Request ids in logs: one id per web request, carried into the Celery tasks it queues.

The id comes from the X-Request-ID header (a proxy or client may set it) or is
generated; `RequestIdMiddleware` binds it for the request, `RequestIdFilter`
puts it on every log record, and the Celery signal handlers below copy it into
the headers of each task published during the request and bind it again while
the task runs in the worker.
"""

import logging
import re
import threading
import time
import uuid
from contextvars import ContextVar, Token
from typing import Any

# "-" outside any request or task, so log lines always carry the field.
NO_REQUEST = "-"
TASK_HEADER = "request_id"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

request_id: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)
# The current web request, for audit entries written by signal receivers that
# are not handed one (e.g. group changes saved in the admin name their actor).
current_request: ContextVar[Any] = ContextVar("current_request", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def clean_request_id(value: str | None) -> str:
    """The incoming id if it is a plausible id, else a fresh one (never trust a header into logs)."""
    if value and _VALID_ID.match(value):
        return value
    return new_request_id()


def get_request_id() -> str:
    return request_id.get()


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (a logging filter that never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id.get()
        return True


class CacheOutageFilter(logging.Filter):
    """One warning per `interval` seconds while the cache is unreachable.

    django-redis logs every cache call it answers as a miss because Redis is
    down (DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS), at ERROR and with a traceback:
    a busy site would write thousands a minute. This lets the first record of
    each interval through as a one-line warning naming the error and how many
    were left out since the last one, and drops the rest.
    """

    def __init__(self, interval: float = 60) -> None:
        super().__init__()
        self.interval = interval
        self._lock = threading.Lock()
        self._next_at = 0.0
        self._dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        with self._lock:
            if now < self._next_at:
                self._dropped += 1
                return False
            dropped, self._dropped = self._dropped, 0
            self._next_at = now + self.interval
        # ConnectionInterrupted reads "Redis ConnectionError: Error 111 connecting to ..."
        cause = str(record.exc_info[1]) if record.exc_info else record.getMessage()
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        record.msg = "cache unreachable, calls answered as misses: %s (%d more since the last warning)"
        record.args = (cause, dropped)
        record.exc_info, record.exc_text = None, None
        return True


# --- Celery: publish with the id, run with it --------------------------------------

_task_tokens: dict[str, Token[str]] = {}


def add_request_id_to_task(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """before_task_publish: the task inherits the id of the request (or task) queuing it."""
    current = request_id.get()
    if headers is not None and current != NO_REQUEST:
        headers.setdefault(TASK_HEADER, current)


def bind_task_request_id(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    """task_prerun: bind the id carried in the task's headers (or keep the eager caller's)."""
    context = getattr(task, "request", None)
    # A worker merges custom message headers into the request; apply() keeps them apart.
    carried = getattr(context, TASK_HEADER, None) or (getattr(context, "headers", None) or {}).get(
        TASK_HEADER
    )
    if not carried:
        # An eager task runs inside the request that called it and keeps its id;
        # a task queued by nobody in particular (beat) gets one of its own.
        carried = (
            request_id.get() if request_id.get() != NO_REQUEST else f"task-{task_id or new_request_id()}"
        )
    token = request_id.set(carried)
    if task_id:
        _task_tokens[task_id] = token


def unbind_task_request_id(task_id: str | None = None, **kwargs: Any) -> None:
    """task_postrun: restore what was bound before the task ran."""
    token = _task_tokens.pop(task_id or "", None)
    if token is not None:
        request_id.reset(token)


def connect_celery_signals() -> None:
    from celery.signals import before_task_publish, task_postrun, task_prerun

    before_task_publish.connect(add_request_id_to_task, dispatch_uid="chengguan.request_id.publish")
    task_prerun.connect(bind_task_request_id, dispatch_uid="chengguan.request_id.prerun")
    task_postrun.connect(unbind_task_request_id, dispatch_uid="chengguan.request_id.postrun")
