"""SMS and email to reporters: an outbox table plus pluggable backends.

`queue_message` writes an OutboundMessage (call it after the change it
announces has committed, e.g. from a task) and `deliver` sends one through
the configured backend. SMS backends implement `send(phone, text)`; the
console backend logs the message, which is what development uses. A
provider's gateway is a class path in `SMS_BACKEND`.
"""

import logging
from typing import Protocol

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from chengguan import clock
from chengguan.models import OutboundMessage

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
