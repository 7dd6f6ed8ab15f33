from typing import Any

from django.db import models

from chengguan.models import AuditEntry, User


def audit(*, actor: User | None, action: str, target: models.Model | None = None, **data: Any) -> AuditEntry:
    """Append one audit entry; call it inside the transaction of the write it records."""
    entry = AuditEntry(action=action, data=data)
    if actor is not None and actor.is_authenticated:
        entry.actor = actor
    if target is not None:
        entry.target_type = target._meta.label_lower
        entry.target_id = str(target.pk)
        entry.target_repr = str(target)[:200]
    entry.save()
    return entry
