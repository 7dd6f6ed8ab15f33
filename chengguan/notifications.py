"""In-app notifications, and their fan-out to each staff member's email/SMS channels.

A notification is one row per recipient and key. `notify` writes the rows
and, in the same transaction, one OutboundMessage per channel the recipient
chose for the notification's kind (chengguan.models.NotificationChannel),
keyed by the notification, so a retried job neither notifies nor messages
anyone twice. The messages are handed to the delivery task after commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext as _

from chengguan.models import Notification, NotificationChannel, NotificationKind, OutboundMessage, User

KEY_LENGTH = Notification._meta.get_field("key").max_length or 120


@dataclass(frozen=True)
class Draft:
    """One notification to write: to whom, under which key, saying what."""

    recipient_id: int
    key: str
    title: str
    body: str = ""
    url: str = ""
    kind: str = NotificationKind.OTHER


def notify(
    *,
    recipients: Iterable[Any],
    key: str,
    title: str,
    body: str = "",
    url: str = "",
    kind: str = NotificationKind.OTHER,
) -> int:
    """Create one notification per recipient; a repeated key for a recipient is ignored.

    Idempotent, so a retried task never notifies anyone twice. Side effects:
    email/SMS to the recipients who chose them for `kind`, queued in the
    same transaction and sent after commit.
    """
    wanted = {u.pk for u in recipients if u is not None}
    return notify_many(
        [Draft(recipient_id=pk, key=key, title=title, body=body, url=url, kind=kind) for pk in sorted(wanted)]
    )


@transaction.atomic
def notify_many(drafts: Sequence[Draft]) -> int:
    """Write many notifications (each its own key and recipient) in a constant number of queries.

    Preconditions: none; pairs (recipient, key) that exist already are skipped.
    Side effects: Notification rows; OutboundMessage rows for the channels the
    recipients chose for each draft's kind; their delivery enqueued on commit.
    Returns how many notifications were new.
    """
    unique: dict[tuple[int, str], Draft] = {}
    for draft in drafts:
        unique.setdefault((draft.recipient_id, draft.key[:KEY_LENGTH]), draft)
    if not unique:
        return 0
    if connection.vendor == "postgresql":
        inserted = _insert_returning_new(unique)
        new = [(pair, draft) for pair, draft in unique.items() if pair in inserted]
        _fan_out(new)
        return len(new)
    keys = {key for _, key in unique}
    recipient_ids = {pk for pk, _ in unique}
    already = set(
        Notification.objects.filter(key__in=keys, recipient_id__in=recipient_ids).values_list(
            "recipient_id", "key"
        )
    )
    new = [(pair, draft) for pair, draft in unique.items() if pair not in already]
    if not new:
        return 0
    # ignore_conflicts covers a concurrent run that inserted in between.
    Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=pk,
                key=key,
                kind=draft.kind,
                title=draft.title[:200],
                body=draft.body,
                url=draft.url[:300],
            )
            for (pk, key), draft in new
        ],
        ignore_conflicts=True,
    )
    _fan_out(new)
    return len(new)


# The columns `_insert_returning_new` writes: every column of the table but the id
# (tests/cases/test_escalation_batch.py fails when a field is added without it).
NOTIFICATION_INSERT_COLUMNS = ("recipient_id", "key", "kind", "title", "body", "url", "created_at", "read_at")


def _insert_returning_new(unique: dict[tuple[int, str], Draft]) -> set[tuple[int, str]]:
    """PostgreSQL: insert the drafts in one statement (arrays unnested); the pairs that were new.

    ON CONFLICT skips pairs written before or by a concurrent run, and
    RETURNING says which were new, without reading first or building a
    model instance per row: the overdue job writes over 100,000 at once.
    """
    from chengguan import clock

    drafts = list(unique.items())
    sql = (
        f"INSERT INTO {Notification._meta.db_table} ({', '.join(NOTIFICATION_INSERT_COLUMNS)}) "
        "SELECT d.*, %s, NULL FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], "
        "%s::text[]) AS d ON CONFLICT (recipient_id, key) DO NOTHING RETURNING recipient_id, key"
    )
    params: list[Any] = [
        clock.now(),
        [pk for (pk, _key), _draft in drafts],
        [key for (_pk, key), _draft in drafts],
        [draft.kind for _pair, draft in drafts],
        [draft.title[:200] for _pair, draft in drafts],
        [draft.body for _pair, draft in drafts],
        [draft.url[:300] for _pair, draft in drafts],
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {(pk, key) for pk, key in cursor.fetchall()}


# Channels a kind reaches when the user has not chosen: supervisors get their
# daily digest by email unless they turn it off.
DEFAULT_CHANNELS: dict[str, tuple[bool, bool]] = {NotificationKind.DIGEST: (True, False)}


def _fan_out(new: list[tuple[tuple[int, str], Draft]]) -> None:
    """Queue email/SMS for the new notifications whose recipient takes the kind on that channel."""
    kinds = {draft.kind for _, draft in new}
    recipient_ids = {pk for (pk, _), _draft in new}
    chosen = {
        (user_id, kind): (email, sms)
        for user_id, kind, email, sms in NotificationChannel.objects.filter(
            user_id__in=recipient_ids, kind__in=kinds
        ).values_list("user_id", "kind", "by_email", "by_sms")
    }
    if not chosen and not kinds & DEFAULT_CHANNELS.keys():
        return
    addresses = {
        pk: (email, phone)
        for pk, email, phone in User.objects.filter(pk__in=recipient_ids, is_active=True).values_list(
            "pk", "email", "phone"
        )
    }
    messages: list[OutboundMessage] = []
    for (pk, key), draft in new:
        by_email, by_sms = chosen.get((pk, draft.kind), DEFAULT_CHANNELS.get(draft.kind, (False, False)))
        email, phone = addresses.get(pk, ("", ""))
        text = "\n\n".join(part for part in (draft.title, draft.body, absolute_url(draft.url)) if part)
        if by_email and email:
            messages.append(
                OutboundMessage(
                    channel=OutboundMessage.Channel.EMAIL,
                    recipient=email,
                    subject=draft.title[:200],
                    body=text,
                    key=message_key(pk, key, OutboundMessage.Channel.EMAIL),
                )
            )
        if by_sms and phone:
            messages.append(
                OutboundMessage(
                    channel=OutboundMessage.Channel.SMS,
                    recipient=phone,
                    body=text,
                    key=message_key(pk, key, OutboundMessage.Channel.SMS),
                )
            )
    if messages:
        OutboundMessage.objects.bulk_create(messages, ignore_conflicts=True)
        transaction.on_commit(partial(_enqueue_delivery, [m.key for m in messages]))


def channels_for(user: User) -> dict[str, tuple[bool, bool]]:
    """(email, SMS) per kind for the user: their choice, else the kind's default."""
    chosen = {
        kind: (email, sms)
        for kind, email, sms in NotificationChannel.objects.filter(user_id=user.pk).values_list(
            "kind", "by_email", "by_sms"
        )
    }
    return {
        kind: chosen.get(kind, DEFAULT_CHANNELS.get(kind, (False, False))) for kind in NotificationKind.values
    }


def message_key(recipient_id: int, notification_key: str, channel: str) -> str:
    """The outbox key of one notification's message on one channel: one message per notification."""
    return f"n:{recipient_id}:{channel}:{notification_key}"[:160]


def absolute_url(url: str) -> str:
    """A site path as a link to put in an email or SMS (settings.SITE_URL in front)."""
    base = getattr(settings, "SITE_URL", "").rstrip("/")
    return f"{base}{url}" if url and base and url.startswith("/") else url


def _enqueue_delivery(keys: list[str]) -> None:
    from cases.tasks import deliver_message
    from chengguan.messaging import enqueue

    pending = OutboundMessage.objects.filter(key__in=keys, status=OutboundMessage.Status.PENDING)
    for message_id in pending.values_list("pk", flat=True).iterator():
        # A broker outage leaves the row pending for the sweep (chengguan.messaging).
        if not enqueue(deliver_message, message_id):
            break


@transaction.atomic
def notification_channels_save(
    *, user: User, choices: dict[str, tuple[bool, bool]]
) -> list[NotificationChannel]:
    """Store which kinds of notification also reach `user` by (email, SMS).

    Preconditions: an active signed-in user; every key of `choices` is a
    NotificationKind (others raise InvalidInput); a channel needs an address
    on the account (email for email, phone for SMS), else InvalidInput.
    Side effects: one NotificationChannel row per kind given (kinds left
    out keep their previous choice or default); one audit entry.
    """
    from chengguan.audit import audit
    from chengguan.errors import InvalidInput

    unknown = set(choices) - set(NotificationKind.values)
    if unknown:
        raise InvalidInput(code="invalid.choice", field="kind")
    if any(email for email, _ in choices.values()) and not user.email:
        raise InvalidInput(
            _("Add an email address to your account before choosing email."),
            code="invalid.no_email",
            field="email",
        )
    if any(sms for _, sms in choices.values()) and not user.phone:
        raise InvalidInput(
            _("Add a mobile phone number to your account before choosing SMS."),
            code="invalid.no_phone",
            field="sms",
        )
    NotificationChannel.objects.filter(user_id=user.pk, kind__in=list(choices)).delete()
    rows = [
        NotificationChannel(user_id=user.pk, kind=kind, by_email=email, by_sms=sms)
        for kind, (email, sms) in sorted(choices.items())
    ]
    for row in rows:
        row.full_clean(exclude=["user"])
    NotificationChannel.objects.bulk_create(rows)
    audit(
        actor=user,
        action="notification_channels.saved",
        target=user,
        email=[row.kind for row in rows if row.by_email],
        sms=[row.kind for row in rows if row.by_sms],
    )
    return rows


def notifications_mark_read(*, recipient: Any, pks: Iterable[int] | None = None) -> int:
    """Mark the recipient's unread notifications read (all of them, or those in `pks`).

    Only the recipient's own rows are touched, so a forged id changes nothing.
    """
    from chengguan import clock

    unread = Notification.objects.filter(recipient_id=recipient.pk, read_at__isnull=True)
    if pks is not None:
        unread = unread.filter(pk__in=list(pks))
    return unread.update(read_at=clock.now())
