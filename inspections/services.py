"""Writes for 门前三包: inspections, rectification notices and their re-inspection."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import services as case_services
from cases.choices import CaseSource
from cases.models import Case
from chengguan import clock
from chengguan.audit import audit
from chengguan.errors import ActionNotPermitted, InvalidInput, TransitionNotAllowed
from chengguan.permissions import scope_for
from chengguan.worktime import get_calendar
from communities.models import Community, GridCell
from inspections.choices import NoticeStatus, UnitKind
from inspections.models import (
    ChecklistItem,
    Inspection,
    InspectionResult,
    RectificationNotice,
    ResponsibilityUnit,
)


@transaction.atomic
def responsibility_unit_create(
    *,
    actor: Any,
    community: Community,
    name: str,
    address: str,
    kind: UnitKind | str = UnitKind.SHOP,
    grid_cell: GridCell | None = None,
    lat: float | None = None,
    lng: float | None = None,
    contact_name: str = "",
    contact_phone: str = "",
    licence_number: str = "",
) -> ResponsibilityUnit:
    """Register a shop or unit (门前三包责任单位) along a street of a community.

    Preconditions: the role may add units and the actor works in the
    community (or city-wide); the grid cell, if any, lies in the community;
    a location has both coordinates or neither.
    Side effects: audited.
    """
    scope = scope_for(actor)
    if not actor.has_perm("inspections.add_responsibilityunit") or not (
        scope.city_wide or community.pk in scope.community_ids
    ):
        raise ActionNotPermitted()
    if grid_cell is not None and grid_cell.community_id != community.pk:
        raise InvalidInput(_("Choose grid cells of this community."), code="invalid.grid_cells")
    if (lat is None) != (lng is None):
        raise InvalidInput(_("A location needs both latitude and longitude."), code="invalid.location")
    unit = ResponsibilityUnit(
        community=community,
        name=name.strip(),
        kind=UnitKind(kind),
        address=address.strip(),
        grid_cell=grid_cell,
        lat=lat,
        lng=lng,
        contact_name=contact_name.strip(),
        contact_phone=contact_phone.strip(),
        licence_number=licence_number.strip(),
        created_at=clock.now(),
    )
    unit.full_clean()
    unit.save()
    audit(actor=actor, action="unit.created", target=unit)
    return unit


@dataclass(frozen=True)
class ItemOutcome:
    item: ChecklistItem
    passed: bool
    note: str = ""


def _require_inspector(actor: Any, unit: ResponsibilityUnit) -> None:
    """Inspections are field work: the liaisons working in the unit's community do them."""
    scope = scope_for(actor)
    if not actor.has_perm("inspections.add_inspection") or not (
        scope.city_wide or unit.community_id in scope.community_ids
    ):
        raise ActionNotPermitted()


@transaction.atomic
def inspection_record(
    *,
    unit: ResponsibilityUnit,
    inspector: Any,
    outcomes: Sequence[ItemOutcome],
    notes: str = "",
    requirements: str = "",
    client_uuid: str | None = None,
) -> Inspection:
    """Record an inspection of a unit against the checklist.

    Preconditions: an inspector (liaison) working in the unit's community;
    an outcome for at least one checklist item, each item once.
    Side effects: when an item fails, a rectification notice (整改通知书) is
    issued with a deadline of the longest rectify time among the failed
    items, in working days; its re-inspection reminder comes from the
    `remind_reinspections` beat job. Audited.
    """
    if client_uuid:
        existing = Inspection.objects.filter(client_uuid=client_uuid).first()
        if existing is not None:
            if existing.inspector_id != inspector.pk:
                raise InvalidInput(_("This draft belongs to someone else."), code="invalid.client_uuid")
            return existing
    _require_inspector(inspector, unit)
    if not outcomes:
        raise InvalidInput(_("Check at least one item."), code="invalid.no_items")
    if len({o.item.pk for o in outcomes}) != len(outcomes):
        raise InvalidInput(_("Each checklist item can be checked once."), code="invalid.duplicate_items")
    now = clock.now()
    inspection = Inspection.objects.create(
        unit=unit,
        inspector=inspector,
        inspected_at=now,
        passed=all(o.passed for o in outcomes),
        notes=notes.strip(),
        client_uuid=client_uuid or None,
    )
    InspectionResult.objects.bulk_create(
        InspectionResult(inspection=inspection, item=o.item, passed=o.passed, note=o.note.strip()[:200])
        for o in outcomes
    )
    failed = [o.item for o in outcomes if not o.passed]
    if failed:
        _issue_notice(inspection, failed, requirements, now)
    audit(
        actor=inspector,
        action="inspection.recorded",
        target=unit,
        inspection=inspection.pk,
        passed=inspection.passed,
    )
    return inspection


def _issue_notice(
    inspection: Inspection, failed: list[ChecklistItem], requirements: str, now: Any
) -> RectificationNotice:
    days = max(item.rectify_days for item in failed)
    text = requirements.strip() or "\n".join(
        f"{index}. {item.name}：{item.requirement}" for index, item in enumerate(failed, start=1)
    )
    notice = RectificationNotice.objects.create(
        number=f"ZG-{now:%Y%m%d}-{inspection.pk:06d}",
        inspection=inspection,
        unit=inspection.unit,
        requirements=text,
        issued_at=now,
        deadline=get_calendar().add_days(now, days),
    )
    notice.failed_items.set(failed)
    return notice


@transaction.atomic
def notice_reinspect(
    *,
    notice: RectificationNotice,
    inspector: Any,
    rectified: bool,
    notes: str = "",
    client_uuid: str | None = None,
) -> RectificationNotice:
    """Re-inspect (复查) a unit after its rectification notice.

    Preconditions: an inspector working in the unit's community; the notice
    is still awaiting re-inspection.
    Side effects: a re-inspection record; rectified → the notice is settled;
    not rectified → a case (source = inspection follow-up) is reported with
    the notice's history and linked to it.
    """
    notice = RectificationNotice.objects.select_for_update().select_related("unit").get(pk=notice.pk)
    _require_inspector(inspector, notice.unit)
    if client_uuid and notice.reinspections.filter(client_uuid=client_uuid).exists():
        return notice  # a retried submission of the re-inspection already recorded
    if notice.status != NoticeStatus.ISSUED:
        raise TransitionNotAllowed(
            _("This notice has already been re-inspected."), code="notice.already_settled"
        )
    now = clock.now()
    failed_items = list(notice.failed_items.all())
    reinspection = Inspection.objects.create(
        unit=notice.unit,
        inspector=inspector,
        inspected_at=now,
        passed=rectified,
        notes=notes.strip(),
        rechecks=notice,
        client_uuid=client_uuid or None,
    )
    InspectionResult.objects.bulk_create(
        InspectionResult(inspection=reinspection, item=item, passed=rectified) for item in failed_items
    )
    notice.closed_at = now
    if rectified:
        notice.status = NoticeStatus.RECTIFIED
    else:
        notice.status = NoticeStatus.NOT_RECTIFIED
        notice.case = _report_unrectified(notice, failed_items, inspector, notes)
    notice.save(update_fields=["status", "closed_at", "case"])
    audit(actor=inspector, action="notice.reinspected", target=notice, rectified=rectified)
    return notice


def _report_unrectified(
    notice: RectificationNotice, failed_items: list[ChecklistItem], inspector: Any, notes: str
) -> Case:
    unit = notice.unit
    items = "、".join(item.name for item in failed_items)
    description = _(
        "%(unit)s (%(address)s) did not rectify by %(deadline)s as required by notice %(number)s: %(items)s."
    ) % {
        "unit": unit.name,
        "address": unit.address,
        # Local time, as the notice gave it to the unit (stored in UTC).
        "deadline": f"{timezone.localtime(notice.deadline):%Y-%m-%d %H:%M}",
        "number": notice.number,
        "items": items,
    }
    if notes.strip():
        description += " " + notes.strip()
    category = next((item.category for item in failed_items if item.category_id), None)
    return case_services.case_report(
        source=CaseSource.INSPECTION,
        actor=inspector,
        description=description,
        category=category,
        lat=unit.lat,
        lng=unit.lng,
        address=unit.address,
        community=unit.community,
        reporter_name=unit.contact_name,
    )
