"""Writes from the Open311 endpoint: a posted service request becomes a case."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from cases import events
from cases.models import Case, Category, Open311Client
from cases.services import case_report
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
    and its account as the actor; the photo URL, which is never fetched, is
    kept as a note on the case's history.
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
    if photo_url:
        events.note_added(
            case, actor=client.account, note=_("Photo sent with the report: %(url)s") % {"url": photo_url}
        )
    return case
