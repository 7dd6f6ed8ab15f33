"""In-app notifications, the channel every other channel (SMS, email) reads from."""

from collections.abc import Iterable
from typing import Any

from chengguan.models import Notification


def notify(*, recipients: Iterable[Any], key: str, title: str, body: str = "", url: str = "") -> int:
    """Create one notification per recipient; a repeated key for a recipient is ignored.

    Idempotent, so a retried task never notifies anyone twice.
    """
    key = key[:120]
    wanted = {u.pk for u in recipients if u is not None}
    already = set(
        Notification.objects.filter(key=key, recipient_id__in=wanted).values_list("recipient_id", flat=True)
    )
    rows = [
        Notification(recipient_id=pk, key=key, title=title[:200], body=body, url=url[:300])
        for pk in wanted - already
    ]
    # ignore_conflicts covers a concurrent run that inserted in between.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def notifications_mark_read(*, recipient: Any, pks: Iterable[int] | None = None) -> int:
    """Mark the recipient's unread notifications read (all of them, or those in `pks`).

    Only the recipient's own rows are touched, so a forged id changes nothing.
    """
    from chengguan import clock

    unread = Notification.objects.filter(recipient_id=recipient.pk, read_at__isnull=True)
    if pks is not None:
        unread = unread.filter(pk__in=list(pks))
    return unread.update(read_at=clock.now())
