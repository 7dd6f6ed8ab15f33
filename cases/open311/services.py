"""Writes from the Open311 endpoint: a posted service request becomes a case."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from cases import events
from cases.models import ApiCallLog, Case, Category, Open311Client
from cases.services import case_report
from chengguan import clock
from chengguan.errors import InvalidInput


@transaction.atomic
def open311_request_create(
    *,
    client: Open311Client,
    category: Category,
    description: str,
    lat: float | None = None,
    lng: float | None = None,
    address: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    media_url: str = "",
    attributes: dict[str, Any] | None = None,
) -> Case:
    """File a GeoReport v2 service request as a case (status `reported`).

    Preconditions: an active client whose account may report cases (the
    `cases.add_case` role permission, checked by case_report); the contact
    phone and photo its category requires (given as the standard `phone` and
    `media_url` or as the attributes `contact_phone` and `photo_url`).
    Side effects: the case, through case_report, with the client's source
    and its account as the actor, linked to the client (whose push settings
    then send the case's status changes back); the photo URL, which is never
    fetched, is kept as a note on the case's history.
    """
    attributes = attributes or {}
    phone = reporter_phone or str(attributes.get("contact_phone") or "")
    photo_url = media_url or str(attributes.get("photo_url") or "")
    if category.contact_required and not phone.strip():
        raise InvalidInput(
            _("This service needs the reporter's phone number."), code="invalid.phone", field="phone"
        )
    if category.photo_required and not photo_url.strip():
        raise InvalidInput(
            _("This service needs a photo (media_url)."), code="invalid.photo", field="media_url"
        )
    case = case_report(
        source=client.source,
        actor=client.account,
        category=category,
        description=description,
        lat=lat,
        lng=lng,
        address=address,
        reporter_name=reporter_name,
        reporter_phone=phone,
    )
    # Remember the platform: status changes are pushed back to it (cases.hotline).
    case.open311_client = client
    case.save(update_fields=["open311_client"])
    if photo_url:
        events.note_added(
            case, actor=client.account, note=_("Photo sent with the report: %(url)s") % {"url": photo_url}
        )
    return case


def api_call_logs_prune(*, older_than_days: int | None = None, batch_size: int = 5000) -> int:
    """Delete the API calls logged more than `older_than_days` ago (default: the setting).

    Preconditions: none; run by the `prune_api_call_logs` beat job.
    Side effects: deletes in batches of primary keys, so a large backlog
    neither holds one long lock nor loads the rows. Returns how many went.
    """
    days = settings.API_CALL_LOG_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = clock.now() - timedelta(days=days)
    removed = 0
    while True:
        batch = list(ApiCallLog.objects.filter(at__lt=cutoff).values_list("pk", flat=True)[:batch_size])
        if not batch:
            return removed
        removed += ApiCallLog.objects.filter(pk__in=batch).delete()[0]
