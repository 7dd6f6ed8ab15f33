"""SMS and email to reporters: an outbox table plus pluggable backends.

`queue_message` writes an OutboundMessage (call it after the change it
announces has committed, e.g. from a task) and `deliver` sends one through
the configured backend. SMS backends implement `send(phone, text)`; the
console backend logs the message, which is what development uses. A
provider's gateway is a class path in `SMS_BACKEND`.

Tasks are handed to the broker with `enqueue` / `enqueue_on_commit`: when
the broker (Redis) is down the change that asked for the task has already
committed, so the request must not fail. The row the task would have worked
on stays pending in its outbox (OutboundMessage, HotlinePush) and a beat
sweep (`deliver_pending_messages`, `retry_hotline_pushes`) picks it up once
the broker is back.
"""

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any, Protocol

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.module_loading import import_string
from kombu.exceptions import OperationalError as BrokerOperationalError

from chengguan import clock
from chengguan.models import OutboundMessage
from chengguan.redis_breaker import broker_breaker

logger = logging.getLogger(__name__)


class SMSBackend(Protocol):
    def send(self, phone: str, text: str) -> None: ...


class ConsoleSMSBackend:
    """Writes messages to the log instead of sending them (development, tests)."""

    sent: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> None:
        logger.info("SMS to %s: %s", phone, text)
        self.sent.append((phone, text))


def sms_backend() -> SMSBackend:
    backend_class = import_string(settings.SMS_BACKEND)
    return backend_class()  # type: ignore[no-any-return]


def queue_message(
    *, channel: str, recipient: str, body: str, key: str, subject: str = ""
) -> OutboundMessage | None:
    """Record a message to send; None when one with this key already exists."""
    if not recipient:
        return None
    try:
        with transaction.atomic():
            return OutboundMessage.objects.create(
                channel=channel, recipient=recipient, body=body, key=key[:160], subject=subject[:200]
            )
    except IntegrityError:
        return None


def deliver(message_id: int) -> bool:
    """Send one queued message; True when it is (or already was) sent."""
    with transaction.atomic():
        message = OutboundMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.status == OutboundMessage.Status.SENT:
            return message is not None
        message.attempts += 1
        try:
            if message.channel == OutboundMessage.Channel.SMS:
                sms_backend().send(message.recipient, message.body)
            else:
                send_mail(message.subject, message.body, None, [message.recipient])
        except Exception as exc:  # the provider's error, whatever it is, is recorded
            message.status = OutboundMessage.Status.FAILED
            message.error = f"{type(exc).__name__}: {exc}"[:2000]
            message.save(update_fields=["status", "error", "attempts"])
            logger.warning("message %s to %s failed: %s", message.pk, message.recipient, exc)
            return False
        message.status = OutboundMessage.Status.SENT
        message.sent_at = clock.now()
        message.error = ""
        message.save(update_fields=["status", "sent_at", "error", "attempts"])
        return True


# A broker that does not answer is given two short retries, not Celery's
# default of three with growing waits: the caller is a web request.
ENQUEUE_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.2}
# What publishing raises when the broker is unreachable (kombu wraps most of
# it; a refused or reset socket can surface as the OSError itself).
BROKER_ERRORS: tuple[type[BaseException], ...] = (BrokerOperationalError, ConnectionError, OSError)


def enqueue(
    task: Any, *args: Any, fallback: Callable[[], object] | None = None, always_try: bool = False
) -> bool:
    """Hand `task(*args)` to the broker; False, logged, when the broker cannot take it.

    Never raises for a broker outage. `fallback`, when given, runs in its
    place (in this process) when the broker is down: for work that only
    writes outbox rows, so nothing is lost while the broker is away. An
    error of the fallback is logged, not raised: the caller's change has
    already committed.

    While the broker's Redis is treated as down (chengguan.redis_breaker,
    opened by a publish or a cache call that got no answer) nothing is
    published: the task is left for the sweep and the fallback runs at once.
    The sweeps pass `always_try`: they publish regardless, and are how a
    worker finds out the broker is back.
    """
    breaker = None if task.app.conf.task_always_eager else broker_breaker(task.app)
    if breaker is not None and not always_try and not breaker.allow():
        _left_for_sweep(task, args, fallback, breaker.open_error())
        return False
    try:
        task.apply_async(args=args, retry=True, retry_policy=ENQUEUE_RETRY_POLICY)
    except BROKER_ERRORS as exc:
        if breaker is not None:
            breaker.failed(exc)
        _left_for_sweep(task, args, fallback, exc)
        return False
    except BaseException:
        if breaker is not None:
            breaker.released()
        raise
    if breaker is not None:
        breaker.succeeded()
    return True


def _left_for_sweep(
    task: Any, args: tuple[Any, ...], fallback: Callable[[], object] | None, exc: BaseException
) -> None:
    logger.warning("broker unavailable, %s%r left for the sweep: %s", task.name, args, exc)
    if fallback is not None:
        try:
            fallback()
        except Exception:  # the change is committed; the sweep or a person takes over
            logger.exception("fallback for %s%r failed", task.name, args)


def enqueue_on_commit(task: Any, *args: Any, fallback: Callable[[], object] | None = None) -> None:
    """`enqueue` once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(enqueue, task, *args, fallback=fallback))


def deliver_pending_messages(*, older_than: timedelta = timedelta(minutes=2), batch_size: int = 500) -> int:
    """Beat sweep: enqueue delivery of messages still pending `older_than` after they were queued.

    Preconditions: none. Side effects: one `deliver_message` task per row,
    oldest first, at most `batch_size` per run (the next run takes the
    rest); stops at the first broker error. A row whose first task is still
    in the queue may get a second one: `deliver` locks the row and skips it
    once sent, so nobody gets a message twice. Returns how many were enqueued.
    """
    from cases.tasks import deliver_message

    pending = OutboundMessage.objects.filter(status=OutboundMessage.Status.PENDING)
    return enqueue_pending(deliver_message, pending, older_than=older_than, batch_size=batch_size)


def enqueue_pending(task: Any, pending: QuerySet, *, older_than: timedelta, batch_size: int) -> int:
    """The sweeps' shared step: `task(pk)` for the rows of `pending` made `older_than` ago or
    earlier, oldest first, at most `batch_size`; stops at the first broker error (the next
    sweep goes on). It publishes even while the broker is treated as down (`always_try`):
    one attempt per run is how a worker notices the broker is back. Returns how many
    were enqueued."""
    cutoff = clock.now() - older_than
    ids = list(
        pending.filter(created_at__lte=cutoff)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:batch_size]
    )
    enqueued = 0
    for pk in ids:
        if not enqueue(task, pk, always_try=True):
            break
        enqueued += 1
    return enqueued
