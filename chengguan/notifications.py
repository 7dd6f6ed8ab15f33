"""In-app notifications, the channel every other channel (SMS, email) reads from."""

from collections.abc import Iterable
from typing import Any

from chengguan.models import Notification


def notify(*, recipients: Iterable[Any], key: str, title: str, body: str = "", url: str = "") -> int:
    """Create one notification per recipient; a repeated key for a recipient is ignored.

    Idempotent, so a retried task never notifies anyone twice.
    """
    rows = [
        Notification(recipient_id=user.pk, key=key[:120], title=title[:200], body=body, url=url[:300])
        for user in {u.pk: u for u in recipients if u is not None}.values()
    ]
    created = Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(created)
