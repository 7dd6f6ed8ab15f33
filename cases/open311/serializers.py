"""GeoReport v2 shapes: services, service definitions, service requests, and the POST input.

Field lists follow the specification; `status_internal` is this server's
extension, the richer internal status behind `open`/`closed`. Times are
ISO 8601 with the offset of the local time zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import serializers

from cases.choices import OPEN_STATUSES, CaseStatus
from cases.models import Case, Category


def iso(moment: datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else None


def open311_status(status: str) -> str:
    return "open" if status in OPEN_STATUSES else "closed"


def statuses_for(open311: str) -> list[str]:
    """The internal statuses behind `open` or `closed`."""
    wanted = [s for s in CaseStatus if open311_status(s) == open311]
    return [s.value for s in wanted]


def attributes(category: Category) -> list[dict[str, Any]]:
    """The questions a service asks beyond the standard fields, and its notice."""
    found: list[dict[str, Any]] = []
    if category.notice:
        found.append(
            {
                "variable": False,
                "code": "notice",
                "datatype": "text",
                "required": False,
                "datatype_description": "",
                "order": len(found) + 1,
                "description": category.notice,
            }
        )
    if category.contact_required:
        found.append(
            {
                "variable": True,
                "code": "contact_phone",
                "datatype": "string",
                "required": True,
                "datatype_description": _("A phone number; the standard phone field is accepted too."),
                "order": len(found) + 1,
                "description": _("The reporter's phone number"),
            }
        )
    if category.photo_required:
        found.append(
            {
                "variable": True,
                "code": "photo_url",
                "datatype": "string",
                "required": True,
                "datatype_description": _(
                    "The URL of a photo; the standard media_url field is accepted too."
                ),
                "order": len(found) + 1,
                "description": _("A photo of the problem"),
            }
        )
    return found


def service(category: Category) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.local_name,
        "description": category.description or category.description_hint,
        "metadata": bool(attributes(category)),
        "type": "realtime",
        "keywords": ",".join(word for word in (category.name, category.name_en) if word),
        "group": category.parent.local_name if category.parent_id and category.parent else "",
    }


def service_definition(category: Category) -> dict[str, Any]:
    return {"service_code": category.code, "attributes": attributes(category)}


def status_notes(case: Case) -> str:
    if case.status == CaseStatus.CLOSED:
        return case.result
    if case.status == CaseStatus.REJECTED:
        if case.merged_into_id and case.merged_into:
            return _("Merged into %(number)s, which reports the same problem.") % {
                "number": case.merged_into.number
            }
        return str(case.get_reject_reason_display())
    return str(case.get_status_display())


def service_request(case: Case, request: Any) -> dict[str, Any]:
    category = case.category
    photos = getattr(case, "public_photos", None)
    if photos is None:
        photos = list(case.attachments.filter(is_hidden=False).order_by("created_at", "id"))
    agency = case.handling_unit or case.district
    return {
        "service_request_id": case.number,
        "status": open311_status(case.status),
        "status_internal": case.status,
        "status_notes": status_notes(case),
        "service_name": category.local_name if category else "",
        "service_code": category.code if category else "",
        "description": case.description,
        "agency_responsible": agency.name if agency else "",
        "service_notice": category.notice if category else "",
        "requested_datetime": iso(case.reported_at),
        "updated_datetime": iso(case.updated_at),
        "expected_datetime": iso(case.due_at),
        "address": case.address,
        "address_id": "",
        "zipcode": "",
        "lat": case.lat,
        "long": case.lng,
        "media_url": request.build_absolute_uri(photos[0].file.url) if photos else "",
    }


class ServiceRequestInput(serializers.Serializer):
    """POST requests: the standard fields (attribute[…] are read apart)."""

    jurisdiction_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    service_code = serializers.CharField(max_length=16)
    lat = serializers.FloatField(required=False, allow_null=True, min_value=-90, max_value=90)
    long = serializers.FloatField(required=False, allow_null=True, min_value=-180, max_value=180)
    address_string = serializers.CharField(required=False, allow_blank=True, max_length=200)
    address_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    email = serializers.CharField(required=False, allow_blank=True, max_length=254)
    device_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    account_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=32)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=32)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    description = serializers.CharField(max_length=2000)
    media_url = serializers.URLField(required=False, allow_blank=True, max_length=500)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        has_point = data.get("lat") is not None and data.get("long") is not None
        if (data.get("lat") is None) != (data.get("long") is None):
            raise serializers.ValidationError(_("A location needs both lat and long."))
        if not (has_point or data.get("address_string") or data.get("address_id")):
            raise serializers.ValidationError(_("A location is required: lat and long, or address_string."))
        return data


def reporter_name(first: str, last: str) -> str:
    """Family name first for Chinese names (姓 in last_name), "First Last" otherwise."""
    first, last = first.strip(), last.strip()
    if first and last and not (first + last).isascii():
        return f"{last}{first}"
    return " ".join(part for part in (first, last) if part)
