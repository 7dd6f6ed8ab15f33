"""Writes to cases: one service per workflow verb.

Every service here is keyword-only, runs in one transaction, locks the case
row and checks the actor through the permission gate in the same query,
validates, changes the status only through the transition table
(cases.choices.TRANSITIONS), appends CaseEvents and defers notifications
until the transaction commits.

Errors are chengguan.errors.DomainError subclasses with stable codes:
`permission_denied` (actor out of role or scope), `case.transition_not_allowed`
(wrong status), `stale_object` (the caller's version is out of date) and
`invalid`-family codes for bad input.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import events
from cases.attachments import MAX_PHOTOS_PER_UPLOAD, normalise_image
from cases.choices import (
    ESCALATABLE_STATUSES,
    EXTENSION_STATUSES,
    HANDLING_STATUSES,
    OPEN_STATUSES,
    PARKING_STATUSES,
    PUBLIC_SOURCES,
    TRANSITIONS,
    AttachmentKind,
    CaseAction,
    CaseSource,
    CaseStatus,
    ExtensionStatus,
    ParkingRequestStatus,
    RejectReason,
    Satisfaction,
    Urgency,
    VisitChannel,
    VisitStatus,
)
from cases.deadlines import apply_stage_deadline, handling_due_at, recompute_deadlines
from cases.models import (
    Case,
    CaseAttachment,
    CaseEvent,
    CaseFeedback,
    CaseNumberSequence,
    Category,
    CoReporter,
    ExtensionRequest,
    ParkingRequest,
    ReturnVisit,
)
from chengguan import clock
from chengguan.audit import audit
from chengguan.errors import ActionNotPermitted, InvalidInput, StaleObject, TransitionNotAllowed
from chengguan.permissions import can, has_role_permission, restrict
from chengguan.roles import Role
from chengguan.worktime import get_calendar
from communities.models import Community, District, Facility, HandlingUnit
from communities.selectors import locate_point

TRACKING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TRACKING_CODE_ATTEMPTS = 3
PHONE_RE = re.compile(r"^\+?[0-9]{7,20}$")


def normalise_phone(value: str | None) -> str:
    """Digits (and a leading +) only, so the same number always matches."""
    return re.sub(r"[\s\-()（）]", "", value or "")


MAX_DESCRIPTION = 2000
MAX_NOTE = 1000


# --- helpers -----------------------------------------------------------------


def _lock(case: Case, actor: Any, action: str, expected_version: int | None = None) -> Case:
    """Re-read the case under a row lock, through the gate, in one query."""
    queryset = Case.objects.select_for_update(of=("self",)).select_related("category")
    locked = restrict(queryset, actor, action).filter(pk=case.pk).first()
    if locked is None:
        raise ActionNotPermitted()
    if expected_version is not None and locked.version != expected_version:
        raise StaleObject()
    return locked


def _transition(
    case: Case,
    action: CaseAction,
    *,
    actor: Any,
    now: datetime,
    note: str = "",
    data: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
) -> CaseEvent:
    """Move a locked case along the transition table and record the event.

    Raises TransitionNotAllowed (changing nothing) when the table has no
    `action` from the case's status.
    """
    source = CaseStatus(case.status)
    target = TRANSITIONS[source].get(action)
    if target is None:
        raise TransitionNotAllowed(
            _("“%(action)s” is not possible while the case is “%(status)s”.")
            % {"status": source.label, "action": CaseAction(action).label},
            status=source.value,
            action=action,
        )
    changed = dict(fields or {})
    for name, value in changed.items():
        setattr(case, name, value)
    case.status = target
    case.version += 1
    case.updated_at = now
    apply_stage_deadline(case, now)
    case.save(update_fields=[*changed, "status", "version", "deadline", "updated_at"])
    if target not in EXTENSION_STATUSES:
        _cancel_pending_extensions(case, now)
    if target not in PARKING_STATUSES:
        _cancel_pending_parking(case, now)
    event = events.status_changed(case, action, actor=actor, from_status=source, note=note, data=data)
    _notify_on_commit(event)
    # The actor's desk menu counts again on their next page, not in up to 30 s.
    from cases.worklists import forget_worklist_counts

    transaction.on_commit(partial(forget_worklist_counts, getattr(actor, "pk", None)))
    if case.open311_client_id is not None:
        # Posted by a 12345 platform: queue the change for it in this transaction.
        from cases.hotline import hotline_push_record

        hotline_push_record(case=case, event=event)
    return event


def _cancel_pending_extensions(case: Case, now: datetime) -> None:
    """A request for more time lapses once the case leaves its handler."""
    case.extension_requests.filter(status=ExtensionStatus.PENDING).update(
        status=ExtensionStatus.CANCELLED,
        decided_at=now,
        decision_note=_("Lapsed: the case left its handler."),
    )


def _cancel_pending_parking(case: Case, now: datetime) -> None:
    """A request to park lapses once the case is parked, resolved or closed."""
    case.parking_requests.filter(status=ParkingRequestStatus.PENDING).update(
        status=ParkingRequestStatus.CANCELLED,
        decided_at=now,
        decision_note=_("Lapsed: the case moved on."),
    )


def _touch(case: Case, *fields: str) -> None:
    """Save a non-status change to a locked case, bumping its version."""
    case.version += 1
    case.updated_at = clock.now()
    case.save(update_fields=[*fields, "version", "updated_at"])


def _notify_on_commit(event: CaseEvent) -> None:
    from cases.notifications import notifies
    from cases.tasks import notify_case_event
    from chengguan.messaging import enqueue_on_commit

    if not notifies(event.action):
        return

    # With the broker down the fan-out runs here: it only writes notification
    # and outbox rows, which the deliver-pending-messages sweep sends later.
    enqueue_on_commit(notify_case_event, event.pk, fallback=partial(notify_case_event.run, event.pk))


def _clean_text(value: str | None, *, field: str, required: bool, max_length: int = MAX_NOTE) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(
            _("Please fill in the %(field)s.") % {"field": field}, code="invalid.required", field=field
        )
    if len(text) > max_length:
        raise InvalidInput(
            _("The %(field)s must be at most %(max)d characters.") % {"field": field, "max": max_length},
            code="invalid.too_long",
            field=field,
        )
    return text


# Relations case_report receives as loaded instances (forms, locate_point).
REPORT_LOADED_RELATIONS = [
    "category",
    "district",
    "community",
    "grid_cell",
    "facility",
    "reporter",
    "subject_officer",
]


def next_case_number(moment: datetime) -> str:
    """CG-YYYYMMDD-NNNNNN, counted per local day; the counter row lock makes it safe.

    Called outside a transaction, the one statement commits on its own and the
    day's counter row is locked only while it runs: numbering inside the
    report's transaction kept the row locked until that commit, and
    concurrent reports queued behind it (measured: half the complaint form's
    throughput lost to the wait). The price: a report that fails after it was
    numbered (a replayed form losing to the first, a database error) leaves a
    gap in the day's numbers, as a database sequence would. Numbers stay
    unique and increasing.
    """
    from django.conf import settings

    day = timezone.localtime(moment).date()
    # One statement (PostgreSQL, SQLite ≥ 3.35) instead of get_or_create, lock and save.
    table = CaseNumberSequence._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (day, last) VALUES (%s, 1) "
            f"ON CONFLICT (day) DO UPDATE SET last = {table}.last + 1 RETURNING last",
            [day],
        )
        last = cursor.fetchone()[0]  # type: ignore[index]
    return f"{settings.CASE_NUMBER_PREFIX}-{day:%Y%m%d}-{last:06d}"


def new_tracking_code() -> str:
    # 32^8 ≈ 10^12 codes: a clash is left to the unique index (case_report draws again).
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(8))


def _store_photos(
    case: Case, photos: Sequence[UploadedFile], *, kind: str, actor: Any, now: datetime
) -> list[CaseAttachment]:
    stored = []
    for upload in photos:
        content = normalise_image(upload)
        attachment = CaseAttachment(
            case=case,
            kind=kind,
            size=content.size,
            uploaded_by=actor if actor is not None and actor.is_authenticated else None,
            created_at=now,
        )
        attachment.file.save(content.name or "photo", content, save=False)
        attachment.save()
        stored.append(attachment)
    return stored


def _check_photo_count(photos: Sequence[UploadedFile]) -> None:
    if len(photos) > MAX_PHOTOS_PER_UPLOAD:
        raise InvalidInput(
            _("At most %(max)d photos can be uploaded at once.") % {"max": MAX_PHOTOS_PER_UPLOAD},
            code="attachment.too_many",
        )


def _handler_snapshot(case: Case) -> dict[str, Any]:
    unit, assignee = case.handling_unit, case.assignee
    return {
        "handling_unit": unit.pk if unit else None,
        "handling_unit_name": str(unit) if unit else "",
        "assignee": assignee.pk if assignee else None,
        "assignee_name": assignee.display_name if assignee else "",
    }


# --- intake ------------------------------------------------------------------

# Who a complaint about an officer's conduct may name: the bureau's officers,
# not residents' committee staff or system administrators.
OFFICER_ROLES = (Role.OPERATOR, Role.DISPATCHER, Role.LIAISON, Role.HANDLING_UNIT, Role.SUPERVISOR)


def _check_subject_officer(officer: Any) -> None:
    """A conduct complaint names an active officer (a user in one of OFFICER_ROLES)."""
    if officer is not None and not (
        officer.is_active and officer.groups.filter(name__in=OFFICER_ROLES).exists()
    ):
        raise InvalidInput(
            _("The person complained about must be an active officer."),
            code="invalid.subject_officer",
            field="subject_officer",
        )


def case_report(
    *,
    source: CaseSource | str,
    description: str,
    actor: Any = None,
    category: Category | None = None,
    urgency: Urgency | str | None = None,
    title: str = "",
    lat: float | None = None,
    lng: float | None = None,
    address: str = "",
    community: Community | None = None,
    reporter_name: str = "",
    reporter_phone: str = "",
    reporter: Any = None,
    is_anonymous: bool = False,
    subject_officer: Any = None,
    photos: Sequence[UploadedFile] = (),
    idempotency_key: str | None = None,
    facility: Facility | None = None,
) -> Case:
    """File a new report (status `reported`).

    Preconditions: public sources (web form, QR code) are open to anyone;
    every other source, and naming an officer complained about
    (`subject_officer`, an active user in OFFICER_ROLES), needs the
    `cases.add_case` role permission.
    Side effects: routes the point to its community and grid cell, numbers
    the case, stores the photos, writes the `report` event. With an
    idempotency key already used, returns that case and does nothing else
    (the unique index finds the repeat: no look-up before the insert).
    A facility (QR service code) supplies the place when none is given.
    """
    try:
        source = CaseSource(source)
    except ValueError:
        raise InvalidInput(_("Unknown source."), code="invalid.source") from None
    if (source not in PUBLIC_SOURCES or subject_officer is not None) and not has_role_permission(
        actor, Case, "report"
    ):
        raise ActionNotPermitted()
    _check_subject_officer(subject_officer)

    description = _clean_text(description, field=_("description"), required=True, max_length=MAX_DESCRIPTION)
    title = _clean_text(title, field=_("title"), required=False, max_length=100)
    address = _clean_text(address, field=_("address"), required=False, max_length=200)
    reporter_name = _clean_text(reporter_name, field=_("name"), required=False, max_length=64)
    reporter_phone = normalise_phone(reporter_phone)
    if reporter_phone and not PHONE_RE.match(reporter_phone):
        raise InvalidInput(
            _("Please enter a valid phone number."), code="invalid.phone", field="reporter_phone"
        )
    if (lat is None) != (lng is None):
        raise InvalidInput(_("A location needs both latitude and longitude."), code="invalid.location")
    if lat is not None and lng is not None and not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise InvalidInput(_("The location is not a valid coordinate."), code="invalid.location")
    if category is not None and not category.is_active:
        raise InvalidInput(_("This category is no longer in use."), code="invalid.category")
    if facility is not None:
        if not facility.is_active:
            raise InvalidInput(_("This facility is no longer in service."), code="invalid.facility")
        # A scanned facility is where the problem is, unless the resident moved the pin.
        if lat is None:
            lat, lng = facility.lat, facility.lng
        address = address or facility.address
        community = community or facility.community
    _check_photo_count(photos)
    if urgency is None:
        urgency = category.default_urgency if category else Urgency.NORMAL
    try:
        urgency = Urgency(urgency)
    except ValueError:
        raise InvalidInput(_("Unknown urgency."), code="invalid.urgency") from None

    place = locate_point(lat, lng) if lat is not None and lng is not None else None
    grid_cell = place.grid_cell if place else None
    if place and place.community:
        community = place.community
    district: District | None = place.district if place else None
    if community is not None:
        district = community.street.district
    if district is None:
        only = list(District.objects.filter(is_active=True)[:2])
        district = only[0] if len(only) == 1 else None

    now = clock.now()
    case = Case(
        source=source,
        category=category,
        urgency=urgency,
        title=title,
        description=description,
        address=address,
        lat=lat,
        lng=lng,
        district=district,
        community=community,
        grid_cell=grid_cell,
        facility=facility,
        reporter=reporter if reporter is not None and reporter.is_authenticated else None,
        reporter_name=reporter_name,
        reporter_phone=reporter_phone,
        is_anonymous=is_anonymous,
        subject_officer=subject_officer,
        reported_at=now,
        idempotency_key=idempotency_key or None,
    )
    apply_stage_deadline(case, now)
    # Checked before it takes a number, so bad input leaves no gap. The related rows were
    # just loaded or validated by the caller: no query each to check they exist (the
    # foreign keys still do).
    case.number = case.tracking_code = "-"
    try:
        case.full_clean(exclude=REPORT_LOADED_RELATIONS, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise InvalidInput(
            _("The report is not valid: %(errors)s") % {"errors": "; ".join(exc.messages)}
        ) from exc
    case.number = next_case_number(now)
    for attempt in range(TRACKING_CODE_ATTEMPTS):
        try:
            with transaction.atomic():
                _file_report(case, photos, actor=actor, now=now)
        except IntegrityError:
            # The same idempotency key filed by another request (a replay or a double
            # click that won the race), else a tracking code just taken: draw again.
            if idempotency_key:
                existing = Case.objects.filter(idempotency_key=idempotency_key).first()
                if existing is not None:
                    return existing
            if attempt == TRACKING_CODE_ATTEMPTS - 1:
                raise
            case.pk = None
            case._state.adding = True
        else:
            return case
    raise AssertionError("unreachable")


def _file_report(case: Case, photos: Sequence[UploadedFile], *, actor: Any, now: datetime) -> None:
    case.tracking_code = new_tracking_code()
    case.save(force_insert=True)
    stored = _store_photos(case, photos, kind=AttachmentKind.BEFORE, actor=actor, now=now)
    event = events.reported(case, actor=actor)
    # Like result photos, report photos belong to their event on the timeline.
    if stored:
        CaseAttachment.objects.filter(pk__in=[a.pk for a in stored]).update(event=event)
    _notify_on_commit(event)


@transaction.atomic
def case_register(
    *,
    case: Case,
    actor: Any,
    category: Category | None = None,
    urgency: Urgency | str | None = None,
    community: Community | None = None,
    subject_officer: Any = None,
    note: str = "",
    expected_version: int | None = None,
) -> Case:
    """Accept a report as a case (立案), fixing category, urgency and place if needed.

    A `subject_officer` (the intake desk's correction) marks it as a
    complaint about that officer's conduct: from then on only supervisors
    (`cases.view_conduct_complaint`) other than that officer see it, so an
    operator without that permission no longer does.
    Preconditions: operator role in scope; status `reported`; a category;
    an officer named is an active user in OFFICER_ROLES.
    Side effects: `register` event (the corrections in its data); the
    dispatch deadline starts.
    """
    case = _lock(case, actor, "register", expected_version)
    note = _clean_text(note, field=_("note"), required=False)
    fields: dict[str, Any] = {"registered_at": clock.now()}
    if category is not None:
        if not category.is_active:
            raise InvalidInput(_("This category is no longer in use."), code="invalid.category")
        fields["category"] = category
    if urgency is not None:
        fields["urgency"] = Urgency(urgency)
    if community is not None:
        fields["community"] = community
        fields["district"] = community.street.district
        if case.grid_cell_id and case.grid_cell and case.grid_cell.community_id != community.pk:
            fields["grid_cell"] = None
    if subject_officer is not None and subject_officer.pk != case.subject_officer_id:
        _check_subject_officer(subject_officer)
        fields["subject_officer"] = subject_officer
    if category is None and case.category_id is None and CaseStatus(case.status) == CaseStatus.REPORTED:
        raise InvalidInput(_("Choose a category before registering the case."), code="invalid.category")
    # The operator's corrections stay in the history: old → new.
    corrections = {}
    for name in ("category", "urgency", "community"):
        old, new = getattr(case, name), fields.get(name)
        if name in fields and old != new:
            corrections[name] = [str(old or ""), str(new or "")]
    if "subject_officer" in fields:
        old_officer = case.subject_officer
        corrections["subject_officer"] = [
            old_officer.display_name if old_officer else "",
            subject_officer.display_name,
        ]
    _transition(
        case,
        CaseAction.REGISTER,
        actor=actor,
        now=fields["registered_at"],
        note=note,
        data={"corrections": corrections} if corrections else None,
        fields=fields,
    )
    return case


@transaction.atomic
def case_reject(
    *,
    case: Case,
    actor: Any,
    reason: RejectReason | str,
    note: str = "",
    expected_version: int | None = None,
) -> Case:
    """Refuse a report (不予受理) with a reason the reporter will see.

    Preconditions: operator role in scope; status `reported`.
    Side effects: `reject` event; the reporter is notified.
    """
    case = _lock(case, actor, "register", expected_version)
    try:
        reason = RejectReason(reason)
    except ValueError:
        raise InvalidInput(_("Choose a reason for rejecting the report."), code="invalid.reason") from None
    note = _clean_text(note, field=_("note"), required=reason != RejectReason.DUPLICATE)
    now = clock.now()
    _transition(
        case,
        CaseAction.REJECT,
        actor=actor,
        now=now,
        note=note,
        data={"reason": reason.value},
        fields={"reject_reason": reason, "rejected_at": now},
    )
    return case


@transaction.atomic
def case_merge_duplicate(
    *,
    case: Case,
    master: Case,
    actor: Any,
    note: str = "",
    expected_version: int | None = None,
) -> Case:
    """Merge a report into an open case it duplicates.

    Preconditions: operator role with both cases in scope; `case` is
    `reported`; `master` is open and not the same case.
    Side effects: `case` is rejected as a duplicate pointing at `master`;
    `master` counts the extra reports and records a `duplicate_added` event;
    the duplicate's reporter is notified with the master case.
    """
    if master.pk == case.pk:
        raise InvalidInput(_("A case cannot be merged into itself."), code="invalid.merge_self")
    # Lock in id order so two merges in opposite directions cannot deadlock.
    first, second = sorted([case, master], key=lambda c: c.pk)
    locked = {c.pk: _lock(c, actor, "register" if c.pk == case.pk else "view") for c in (first, second)}
    case, master = locked[case.pk], locked[master.pk]
    if expected_version is not None and case.version != expected_version:
        raise StaleObject()
    if master.status not in OPEN_STATUSES or master.merged_into_id:
        raise InvalidInput(_("Reports can only be merged into an open case."), code="invalid.merge_target")
    note = _clean_text(note, field=_("note"), required=False)
    now = clock.now()
    _transition(
        case,
        CaseAction.MERGE,
        actor=actor,
        now=now,
        note=note,
        data={"master": master.number},
        fields={"merged_into": master, "reject_reason": RejectReason.DUPLICATE, "rejected_at": now},
    )
    master.report_count += case.report_count
    _touch(master, "report_count")
    events.duplicate_added(master, duplicate=case, actor=actor)
    return case


# --- dispatch and handling ---------------------------------------------------


@transaction.atomic
def case_dispatch(
    *,
    case: Case,
    actor: Any,
    handling_unit: HandlingUnit | None = None,
    assignee: Any = None,
    note: str = "",
    expected_version: int | None = None,
) -> Case:
    """Send a registered case to a handling unit or a liaison (派遣).

    Preconditions: dispatcher role in scope; status `registered`; a handling
    unit or an officer who can handle cases, never the officer a conduct
    complaint is about.
    Side effects: the handling deadline is set on the first dispatch (later
    dispatches keep it); `dispatch` event; the handler is notified.
    """
    case = _lock(case, actor, "dispatch", expected_version)
    if handling_unit is None and assignee is None:
        raise InvalidInput(_("Choose a handling unit or an officer."), code="invalid.handler")
    if handling_unit is not None and not handling_unit.is_active:
        raise InvalidInput(_("This handling unit is no longer active."), code="invalid.handler")
    if assignee is not None and not (assignee.is_active and assignee.has_perm("cases.handle_case")):
        raise InvalidInput(_("This person cannot handle cases."), code="invalid.handler")
    if assignee is not None and assignee.pk == case.subject_officer_id:
        raise InvalidInput(
            _("This case is a complaint about this officer's conduct: dispatch it to someone else."),
            code="invalid.subject_officer",
            field="assignee",
        )
    note = _clean_text(note, field=_("note"), required=False)
    now = clock.now()
    fields: dict[str, Any] = {
        "handling_unit": handling_unit,
        "assignee": assignee,
        "dispatched_at": now,
        "signed_at": None,
    }
    if case.due_at is None:
        fields["due_at"] = handling_due_at(case, now)
    data = {
        "handling_unit": handling_unit.pk if handling_unit else None,
        "handling_unit_name": str(handling_unit) if handling_unit else "",
        "assignee": assignee.pk if assignee else None,
        "assignee_name": assignee.display_name if assignee else "",
    }
    _transition(case, CaseAction.DISPATCH, actor=actor, now=now, note=note, data=data, fields=fields)
    return case


@transaction.atomic
def case_return(*, case: Case, actor: Any, reason: str, expected_version: int | None = None) -> Case:
    """Hand a case back to the dispatcher (回退): not ours, or wrongly dispatched.

    Preconditions: the case's handler; status `dispatched` or `in_progress`;
    a reason.
    Side effects: the handler is cleared; `return` event; dispatchers notified.
    """
    case = _lock(case, actor, "handle", expected_version)
    reason = _clean_text(reason, field=_("reason"), required=True)
    previous = _handler_snapshot(case)
    _transition(
        case,
        CaseAction.RETURN,
        actor=actor,
        now=clock.now(),
        note=reason,
        data={"previous_handler": previous},
        fields={
            "handling_unit": None,
            "assignee": None,
            "signed_at": None,
            "return_count": case.return_count + 1,
        },
    )
    return case


@transaction.atomic
def case_sign_for(*, case: Case, actor: Any, note: str = "", expected_version: int | None = None) -> Case:
    """Acknowledge a dispatched case and start work on it (签收).

    Preconditions: the case's handler; status `dispatched`.
    Side effects: `sign_for` event.
    """
    case = _lock(case, actor, "handle", expected_version)
    note = _clean_text(note, field=_("note"), required=False)
    now = clock.now()
    _transition(case, CaseAction.SIGN_FOR, actor=actor, now=now, note=note, fields={"signed_at": now})
    return case


@transaction.atomic
def case_submit_result(
    *,
    case: Case,
    actor: Any,
    result: str,
    photos: Sequence[UploadedFile] = (),
    expected_version: int | None = None,
) -> Case:
    """Report the work done, with after-photos (处置反馈).

    Preconditions: the case's handler; status `in_progress`; a result text.
    Side effects: photos stored as `after`; `submit_result` event; the
    verification deadline starts; supervisors notified.
    """
    case = _lock(case, actor, "handle", expected_version)
    result = _clean_text(result, field=_("result"), required=True, max_length=MAX_DESCRIPTION)
    _check_photo_count(photos)
    now = clock.now()
    if CaseAction.SUBMIT_RESULT not in TRANSITIONS[CaseStatus(case.status)]:
        # Fail before storing any photo.
        _transition(case, CaseAction.SUBMIT_RESULT, actor=actor, now=now)
    stored = _store_photos(case, photos, kind=AttachmentKind.AFTER, actor=actor, now=now)
    handled = get_calendar().hours_between(case.dispatched_at, now) if case.dispatched_at else 0
    event = _transition(
        case,
        CaseAction.SUBMIT_RESULT,
        actor=actor,
        now=now,
        note=result,
        data={"attachments": [a.pk for a in stored]},
        fields={"result": result, "resolved_at": now, "handling_hours": Decimal(f"{handled:.2f}")},
    )
    CaseAttachment.objects.filter(pk__in=[a.pk for a in stored]).update(event=event)
    return case


@transaction.atomic
def case_request_extension(
    *,
    case: Case,
    actor: Any,
    requested_due_at: datetime,
    reason: str,
    expected_version: int | None = None,
) -> ExtensionRequest:
    """Ask a supervisor for a later handling deadline (延期申请).

    Preconditions: the case's handler; status `dispatched` or `in_progress`;
    no other pending request; a date later than the current deadline; a reason.
    Side effects: a pending ExtensionRequest; `extension_requested` event.
    """
    case = _lock(case, actor, "handle", expected_version)
    if case.status not in EXTENSION_STATUSES:
        raise TransitionNotAllowed(
            _("An extension can only be requested while the case is being handled."),
            code="case.extension_not_allowed",
        )
    reason = _clean_text(reason, field=_("reason"), required=True)
    if timezone.is_naive(requested_due_at):
        requested_due_at = timezone.make_aware(requested_due_at)
    if case.due_at and requested_due_at <= case.due_at:
        raise InvalidInput(
            _("The new deadline must be later than the current one."), code="invalid.extension_date"
        )
    if case.extension_requests.filter(status=ExtensionStatus.PENDING).exists():
        raise InvalidInput(
            _("An extension request for this case is already waiting."), code="invalid.extension_pending"
        )
    request = ExtensionRequest.objects.create(
        case=case,
        requested_by=actor,
        requested_due_at=requested_due_at,
        reason=reason,
        created_at=clock.now(),
    )
    _notify_on_commit(events.extension_requested(case, request=request, actor=actor))
    return request


def _record_decision(
    request: ExtensionRequest | ParkingRequest, *, status: str, actor: Any, at: datetime, note: str
) -> None:
    """Write a supervisor's decision on an extension or parking request (row already locked)."""
    request.status = status
    request.decided_by = actor
    request.decided_at = at
    request.decision_note = note
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])


@transaction.atomic
def case_decide_extension(
    *,
    request: ExtensionRequest,
    actor: Any,
    approve: bool,
    note: str = "",
    expected_version: int | None = None,
) -> ExtensionRequest:
    """Approve or refuse an extension request.

    Preconditions: supervisor role in scope; the request is pending; a note
    when refusing.
    Side effects: on approval the handling deadline moves and the case counts
    as extended; `extension_approved`/`extension_refused` event; the
    requester is notified. A case from the 12345 platform whose handling
    deadline moved queues a push of it (cases.hotline, sent on commit).
    """
    case = _lock(request.case, actor, "supervise", expected_version)
    request = ExtensionRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != ExtensionStatus.PENDING:
        raise TransitionNotAllowed(
            _("This request has already been decided."), code="extension.already_decided"
        )
    if case.status not in EXTENSION_STATUSES:
        raise TransitionNotAllowed(
            _("The case is no longer being handled, so the extension cannot be decided."),
            code="case.extension_not_allowed",
        )
    note = _clean_text(note, field=_("note"), required=not approve)
    old_due_at = case.due_at
    status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REFUSED
    _record_decision(request, status=status, actor=actor, at=clock.now(), note=note)
    if approve:
        case.due_at = request.requested_due_at
        case.extension_count += 1
        if case.status in HANDLING_STATUSES:
            case.deadline = case.due_at
        _touch(case, "due_at", "extension_count", "deadline")
    event = events.extension_decided(case, request=request, actor=actor, old_due_at=old_due_at)
    _notify_on_commit(event)
    if approve and case.open311_client_id is not None and case.due_at != old_due_at:
        # The platform's copy shows the handling deadline: queue the new one in
        # this transaction, as _transition does for a status change.
        from cases.hotline import hotline_push_record

        hotline_push_record(case=case, event=event)
    return request


# --- parking, verification, escalation, reopening -----------------------------


@transaction.atomic
def case_park(*, case: Case, actor: Any, reason: str, expected_version: int | None = None) -> Case:
    """Park a case that cannot be handled for now (挂账); its clock stops.

    The desk and the API route parking through a request
    (case_request_parking) that a supervisor decides (case_decide_parking,
    DESIGN §1); neither offers this direct move, which stays for demo data
    and tests that need a parked case.
    Preconditions: supervisor role in scope; status `registered`,
    `dispatched` or `in_progress`; a reason.
    Side effects: `park` event; no deadline while parked; a pending parking
    request lapses.
    """
    case = _lock(case, actor, "supervise", expected_version)
    reason = _clean_text(reason, field=_("reason"), required=True)
    now = clock.now()
    _transition(case, CaseAction.PARK, actor=actor, now=now, note=reason, fields={"parked_at": now})
    return case


def parking_gate(status: str) -> str:
    """Who may ask to park a case in `status`: its dispatcher before dispatch, its handler after."""
    return "dispatch" if status == CaseStatus.REGISTERED else "handle"


@transaction.atomic
def case_request_parking(
    *,
    case: Case,
    actor: Any,
    reason: str,
    resume_on: date | None = None,
    expected_version: int | None = None,
) -> ParkingRequest:
    """Ask a supervisor to park a case (挂账申请).

    Preconditions: a dispatcher in scope for a `registered` case, the case's
    handler for a `dispatched` or `in_progress` one; no other pending
    request; a reason; an expected resume date, if given, after today.
    Side effects: a pending ParkingRequest; `parking_requested` event;
    the district's supervisors are notified. The case's clock keeps running
    until a supervisor approves.
    """
    gate = parking_gate(case.status)
    case = _lock(case, actor, gate, expected_version)
    if case.status not in PARKING_STATUSES:
        raise TransitionNotAllowed(
            _("Parking can only be requested for a registered case or one being handled."),
            code="case.parking_not_allowed",
        )
    # Locked through the gate of the status the caller saw; if the case has
    # moved on since, the gate of its status now must let the actor in too.
    if parking_gate(case.status) != gate and not can(actor, parking_gate(case.status), case):
        raise ActionNotPermitted()
    reason = _clean_text(reason, field=_("reason"), required=True)
    if resume_on is not None and resume_on <= timezone.localdate(clock.now()):
        raise InvalidInput(
            _("The expected resume date must be after today."), code="invalid.resume_on", field="resume_on"
        )
    if case.parking_requests.filter(status=ParkingRequestStatus.PENDING).exists():
        raise InvalidInput(
            _("A parking request for this case is already waiting."), code="invalid.parking_pending"
        )
    request = ParkingRequest(
        case=case, requested_by=actor, reason=reason, resume_on=resume_on, created_at=clock.now()
    )
    request.full_clean(validate_constraints=False)
    request.save()
    _notify_on_commit(events.parking_requested(case, request=request, actor=actor))
    return request


@transaction.atomic
def case_decide_parking(
    *,
    request: ParkingRequest,
    actor: Any,
    approve: bool,
    note: str = "",
    expected_version: int | None = None,
) -> ParkingRequest:
    """Approve or refuse a parking request.

    Preconditions: supervisor role in scope; the request is pending; the case
    can still be parked; a note when refusing.
    Side effects: approval parks the case (`park` event naming the request,
    clock stopped as with case_park); refusal writes `parking_refused`; the
    requester is notified either way.
    """
    case = _lock(request.case, actor, "supervise", expected_version)
    request = ParkingRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != ParkingRequestStatus.PENDING or request.case_id != case.pk:
        raise TransitionNotAllowed(
            _("This request has already been decided."), code="parking.already_decided"
        )
    note = _clean_text(note, field=_("note"), required=not approve)
    now = clock.now()
    status = ParkingRequestStatus.APPROVED if approve else ParkingRequestStatus.REFUSED
    _record_decision(request, status=status, actor=actor, at=now, note=note)
    if approve:
        _transition(
            case,
            CaseAction.PARK,
            actor=actor,
            now=now,
            note=request.reason,
            data={
                "request": request.pk,
                "requested_by": request.requested_by.display_name,
                "resume_on": request.resume_on.isoformat() if request.resume_on else None,
                "decision_note": note,
            },
            fields={"parked_at": now},
        )
    else:
        _notify_on_commit(events.parking_refused(case, request=request, actor=actor))
    return request


@transaction.atomic
def case_unpark(*, case: Case, actor: Any, note: str = "", expected_version: int | None = None) -> Case:
    """Take a case off the parked list; it goes back to the dispatcher.

    Preconditions: supervisor role in scope; status `parked`.
    Side effects: the working time spent parked is added to the handling
    deadline and to `parked_hours`; `unpark` event.
    """
    case = _lock(case, actor, "supervise", expected_version)
    note = _clean_text(note, field=_("note"), required=False)
    now = clock.now()
    fields: dict[str, Any] = {"parked_at": None}
    if case.status == CaseStatus.PARKED and case.parked_at:
        calendar = get_calendar()
        parked = calendar.between(case.parked_at, now)
        fields["parked_hours"] = case.parked_hours + Decimal(parked.total_seconds() / 3600).quantize(
            Decimal("0.01")
        )
        if case.due_at:
            fields["due_at"] = calendar.add(case.due_at, parked)
    _transition(case, CaseAction.UNPARK, actor=actor, now=now, note=note, fields=fields)
    return case


@transaction.atomic
def case_close_on_spot(
    *,
    case: Case,
    actor: Any,
    result: str,
    photos: Sequence[UploadedFile] = (),
    expected_version: int | None = None,
) -> Case:
    """Close a problem the liaison fixed where they found it (当场处置/快速结案).

    Preconditions: handler role working in the case's community; a
    patrol-sourced report still `reported`; what was done.
    Side effects: after-photos stored; the case is closed at once with the
    actor as its handler and counted apart (`closed_on_spot`); the return
    visit follows as for any closure.
    """
    case = _lock(case, actor, "close_on_spot", expected_version)
    result = _clean_text(result, field=_("result"), required=True, max_length=MAX_DESCRIPTION)
    _check_photo_count(photos)
    now = clock.now()
    if CaseAction.CLOSE_ON_SPOT not in TRANSITIONS[CaseStatus(case.status)]:
        _transition(case, CaseAction.CLOSE_ON_SPOT, actor=actor, now=now)
    stored = _store_photos(case, photos, kind=AttachmentKind.AFTER, actor=actor, now=now)
    event = _transition(
        case,
        CaseAction.CLOSE_ON_SPOT,
        actor=actor,
        now=now,
        note=result,
        data={"attachments": [a.pk for a in stored]},
        fields={
            "result": result,
            "assignee": actor,
            "closed_on_spot": True,
            "registered_at": now,
            "dispatched_at": now,
            "signed_at": now,
            "resolved_at": now,
            "closed_at": now,
            "handling_hours": Decimal("0"),
        },
    )
    CaseAttachment.objects.filter(pk__in=[a.pk for a in stored]).update(event=event)
    return case


@transaction.atomic
def case_verify(
    *, case: Case, actor: Any, passed: bool, note: str = "", expected_version: int | None = None
) -> Case:
    """Check the handler's result (核查): pass closes the case, fail sends it back.

    Preconditions: supervisor (verify) role in scope; status `resolved`; a
    reason when failing.
    Side effects: `close` or `rework` event; rework counts against the
    handler and keeps the original handling deadline.
    """
    case = _lock(case, actor, "verify", expected_version)
    now = clock.now()
    if passed:
        note = _clean_text(note, field=_("note"), required=False)
        _transition(case, CaseAction.CLOSE, actor=actor, now=now, note=note, fields={"closed_at": now})
    else:
        note = _clean_text(note, field=_("reason"), required=True)
        _transition(
            case,
            CaseAction.REWORK,
            actor=actor,
            now=now,
            note=note,
            data={"handler": _handler_snapshot(case)},
            fields={"rework_count": case.rework_count + 1, "signed_at": None, "resolved_at": None},
        )
    return case


@transaction.atomic
def case_reopen(*, case: Case, actor: Any, reason: str, expected_version: int | None = None) -> Case:
    """Reopen a closed case, e.g. after an unsatisfied return visit.

    Preconditions: supervisor or liaison (reopen) role in scope; status
    `closed`; a reason.
    Side effects: back to its handler with a fresh handling deadline;
    counted as reopened; `reopen` event.
    """
    case = _lock(case, actor, "reopen", expected_version)
    reason = _clean_text(reason, field=_("reason"), required=True)
    now = clock.now()
    _transition(
        case,
        CaseAction.REOPEN,
        actor=actor,
        now=now,
        note=reason,
        data={"handler": _handler_snapshot(case)},
        fields={
            "reopen_count": case.reopen_count + 1,
            "closed_at": None,
            "resolved_at": None,
            "signed_at": None,
            "dispatched_at": now,
            "due_at": handling_due_at(case, now),
        },
    )
    return case


@transaction.atomic
def case_escalate(
    *,
    case: Case,
    actor: Any = None,
    note: str = "",
    automatic: bool = False,
    expected_version: int | None = None,
) -> Case | None:
    """Flag a case for supervision (督办) and notify up the chain.

    Preconditions: by hand, supervisor role in scope and a note; status
    open and not parked. Automatic escalation (actor None) happens once
    per deadline: it returns None and does nothing when the case is no
    longer overdue or was already escalated for its current deadline.
    Side effects: escalation level +1; `escalate` event; supervisors notified.
    """
    if automatic:
        case = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        now = clock.now()
        if (
            case.status not in ESCALATABLE_STATUSES
            or case.deadline is None
            or case.deadline >= now
            or case.escalated_deadline == case.deadline
        ):
            return None
        note = note or _("Deadline passed without action.")
    else:
        case = _lock(case, actor, "supervise", expected_version)
        note = _clean_text(note, field=_("note"), required=True)
        now = clock.now()
        if case.status not in ESCALATABLE_STATUSES:
            raise TransitionNotAllowed(
                _("Only open cases that are not parked can be escalated."), code="case.escalate_not_allowed"
            )
    case.escalation_level += 1
    case.escalated_at = now
    # A supervisor's escalation before the deadline must not stand in for the
    # automatic one when that deadline passes.
    if automatic or (case.deadline is not None and case.deadline < now):
        case.escalated_deadline = case.deadline
    _touch(case, "escalation_level", "escalated_at", "escalated_deadline")
    _notify_on_commit(events.escalated(case, actor=actor, note=note, automatic=automatic))
    return case


def escalate_overdue(*, batch_size: int = 1000) -> int:
    """Escalate every open case past its deadline that was not yet escalated for it.

    Idempotent: running it twice escalates each overdue case once. Works in
    batches, one transaction each (cases.jobs.escalate_overdue), so a crash
    mid-run loses nothing and a rerun finishes the rest.
    """
    from cases import jobs

    return jobs.escalate_overdue(batch_size=batch_size)


@transaction.atomic
def case_add_photos(
    *,
    case: Case,
    actor: Any,
    photos: Sequence[UploadedFile],
    kind: AttachmentKind | str = AttachmentKind.OTHER,
) -> list[CaseAttachment]:
    """Attach more photos to a case the actor can see.

    Side effects: `attachment_added` event.
    """
    case = _lock(case, actor, "view")
    _check_photo_count(photos)
    if not photos:
        raise InvalidInput(_("Choose at least one photo."), code="attachment.none")
    stored = _store_photos(case, photos, kind=AttachmentKind(kind), actor=actor, now=clock.now())
    event = events.attachment_added(case, actor=actor, attachment_ids=[a.pk for a in stored], kind=str(kind))
    CaseAttachment.objects.filter(pk__in=[a.pk for a in stored]).update(event=event)
    return stored


# --- moderation ---------------------------------------------------------------
#
# Operators and supervisors correct what the public sees of a report: the
# resident's wording, a photo showing faces or number plates, a wrong
# category or place. The case holds the corrected version; the event keeps
# the original (old and new) for staff, and is never shown to the public.


def _moderation_reason(reason: str) -> str:
    return _clean_text(reason, field=_("reason"), required=True)


@transaction.atomic
def case_moderate_text(
    *,
    case: Case,
    actor: Any,
    description: str,
    reason: str,
    title: str | None = None,
    expected_version: int | None = None,
) -> Case:
    """Correct the wording of a report (e.g. insults, personal data in the text).

    Preconditions: operator or supervisor (moderate) in scope; a reason; a
    non-empty description; something actually changes.
    Side effects: the case's description (and title) replaced; a
    `text_moderated` event with the original and corrected texts; audited.
    """
    case = _lock(case, actor, "moderate", expected_version)
    reason = _moderation_reason(reason)
    description = _clean_text(description, field=_("description"), required=True, max_length=MAX_DESCRIPTION)
    changes: dict[str, list[str]] = {}
    if description != case.description:
        changes["description"] = [case.description, description]
    if title is not None:
        title = _clean_text(title, field=_("title"), required=False, max_length=100)
        if title != case.title:
            changes["title"] = [case.title, title]
    if not changes:
        raise InvalidInput(_("Nothing was changed."), code="invalid.unchanged")
    for name, (_old, new) in changes.items():
        setattr(case, name, new)
    _touch(case, *changes)
    events.text_moderated(case, actor=actor, reason=reason, changes=changes)
    audit(actor=actor, action="case.text_moderated", target=case, fields=sorted(changes), reason=reason)
    return case


@transaction.atomic
def case_attachment_hide(*, attachment: CaseAttachment, actor: Any, reason: str) -> CaseAttachment:
    """Hide a photo from the public (faces, number plates, private places).

    Preconditions: operator or supervisor (moderate) with the case in scope;
    the photo is not hidden yet; a reason.
    Side effects: the photo is marked hidden with who, when and why; its file
    is copied to private storage now and the public copy deleted once the
    transaction commits, so its old media URL stops working; staff still see
    it through the case page (cases.views.staff.photo). An
    `attachment_hidden` event; audited.
    """
    from cases.attachments import move_to_private

    case = _lock(attachment.case, actor, "moderate")
    attachment = CaseAttachment.objects.select_for_update().get(pk=attachment.pk, case=case)
    if attachment.is_hidden:
        raise InvalidInput(_("This photo is already hidden."), code="invalid.already_hidden")
    reason = _moderation_reason(reason)
    attachment.is_hidden = True
    attachment.hidden_reason = reason
    attachment.hidden_at = clock.now()
    attachment.hidden_by = actor
    attachment.save(update_fields=["is_hidden", "hidden_reason", "hidden_at", "hidden_by"])
    move_to_private(attachment)
    _touch(case)
    events.attachment_hidden(case, actor=actor, attachment=attachment)
    audit(actor=actor, action="case.attachment_hidden", target=case, attachment=attachment.pk, reason=reason)
    return attachment


@transaction.atomic
def case_attachment_unhide(
    *, case: Case, attachment: CaseAttachment, actor: Any, reason: str
) -> CaseAttachment:
    """Show a hidden photo to the public again (hidden by mistake, or no longer sensitive).

    Preconditions: operator or supervisor (moderate) with the case in scope
    (the same roles that hide photos); the photo is one of the case's and is
    hidden; a reason.
    Side effects: the photo is marked shown (who hid it, when and why are
    cleared here and stay in its `attachment_hidden` event); once the
    transaction commits its file moves back from private to public storage,
    so the public pages and its media URL serve it again. An
    `attachment_unhidden` event with the reason; audited.
    """
    from cases.attachments import move_to_public

    case = _lock(case, actor, "moderate")
    locked = CaseAttachment.objects.select_for_update().filter(pk=attachment.pk, case=case).first()
    if locked is None:
        raise InvalidInput(_("This case has no such photo."), code="invalid.attachment", field="attachment")
    attachment = locked
    if not attachment.is_hidden:
        raise InvalidInput(_("This photo is not hidden."), code="invalid.not_hidden", field="attachment")
    reason = _moderation_reason(reason)
    attachment.is_hidden = False
    attachment.hidden_reason = ""
    attachment.hidden_at = None
    attachment.hidden_by = None
    attachment.save(update_fields=["is_hidden", "hidden_reason", "hidden_at", "hidden_by"])
    move_to_public(attachment)
    _touch(case)
    events.attachment_unhidden(case, actor=actor, attachment=attachment, reason=reason)
    audit(
        actor=actor, action="case.attachment_unhidden", target=case, attachment=attachment.pk, reason=reason
    )
    return attachment


@transaction.atomic
def case_recategorise(
    *,
    case: Case,
    actor: Any,
    reason: str,
    category: Category | None = None,
    urgency: Urgency | str | None = None,
    community: Community | None = None,
    address: str | None = None,
    expected_version: int | None = None,
) -> Case:
    """Correct a case's category, urgency, community or address after intake.

    Preconditions: operator or supervisor (moderate) in scope; a reason; an
    active category; a known urgency; a community inside the actor's scope;
    something actually changes.
    Side effects: the fields corrected (a new community also sets its
    district and drops a grid cell of another community). A new category or
    urgency recounts the open case's deadlines with the new time limits
    (cases.deadlines.recompute_deadlines: the current stage's from its
    start, the handling deadline from its start, parked time and extensions
    kept). A `recategorised` event with the old and new values, deadlines
    included; audited. A case from the 12345 platform whose handling
    deadline moved queues a push of it (cases.hotline, sent on commit).
    """
    case = _lock(case, actor, "moderate", expected_version)
    reason = _moderation_reason(reason)
    fields: dict[str, Any] = {}
    changes: dict[str, list[str]] = {}
    old_category, old_urgency = case.category, case.urgency
    if category is not None and category.pk != case.category_id:
        if not category.is_active:
            raise InvalidInput(
                _("This category is no longer in use."), code="invalid.category", field="category"
            )
        changes["category"] = [str(case.category or ""), str(category)]
        fields["category"] = category
    if urgency is not None and urgency != "":
        try:
            urgency = Urgency(urgency)
        except ValueError:
            raise InvalidInput(_("Unknown urgency."), code="invalid.urgency", field="urgency") from None
        if urgency != case.urgency:
            changes["urgency"] = [str(Urgency(case.urgency).label), str(urgency.label)]
            fields["urgency"] = urgency
    if community is not None and community.pk != case.community_id:
        if not restrict(Community.objects.filter(pk=community.pk), actor).exists():
            raise InvalidInput(
                _("Choose a community in your area."), code="invalid.community", field="community"
            )
        changes["community"] = [str(case.community or ""), str(community)]
        fields["community"] = community
        fields["district"] = community.street.district
        if case.grid_cell_id and case.grid_cell and case.grid_cell.community_id != community.pk:
            fields["grid_cell"] = None
    if address is not None:
        address = _clean_text(address, field=_("address"), required=False, max_length=200)
        if address != case.address:
            changes["address"] = [case.address, address]
            fields["address"] = address
    if not changes:
        raise InvalidInput(_("Nothing was changed."), code="invalid.unchanged")
    for name, value in fields.items():
        setattr(case, name, value)
    deadlines: dict[str, list[str | None]] = {}
    if "category" in fields or "urgency" in fields:
        before = {"deadline": case.deadline, "due_at": case.due_at}
        for name in recompute_deadlines(case, old_category=old_category, old_urgency=old_urgency):
            old, new = before[name], getattr(case, name)
            deadlines[name] = [_iso(old), _iso(new)]
            fields[name] = new
        # Shown in the timeline with the other corrections; while the case is
        # with its handler the stage deadline is the handling deadline.
        shown = ["deadline"] if case.status in HANDLING_STATUSES else ["deadline", "due_at"]
        for name in shown:
            if name in deadlines:
                changes[name] = [_local_minute(before[name]), _local_minute(getattr(case, name))]
    _touch(case, *fields)
    event = events.recategorised(case, actor=actor, reason=reason, changes=changes, deadlines=deadlines)
    moved = deadlines.get("due_at")
    if case.open311_client_id is not None and moved and moved[0] != moved[1]:
        # The platform's copy shows the handling deadline: queue the new one in
        # this transaction, as _transition does for a status change.
        from cases.hotline import hotline_push_record

        hotline_push_record(case=case, event=event)
    audit(actor=actor, action="case.recategorised", target=case, fields=sorted(changes), reason=reason)
    return case


def _iso(moment: datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat() if moment else None


def _local_minute(moment: datetime | None) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}" if moment else ""


# --- residents ----------------------------------------------------------------


def case_add_co_reporter(
    *,
    case: Case,
    name: str = "",
    phone: str = "",
    user: Any = None,
    idempotency_key: str | None = None,
) -> CoReporter:
    """Add a resident who reports the same open problem (我也遇到了).

    Open to anyone (the public form offers it). Preconditions: the case is
    open and public-facing; a phone number reports once per case.
    Side effects: report count +1; `co_reporter_added` event; the
    co-reporter hears about registration, rejection and closure like the
    original reporter.
    """
    if idempotency_key:
        existing = CoReporter.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    name = _clean_text(name, field=_("name"), required=False, max_length=64)
    phone = normalise_phone(phone)
    if phone and not PHONE_RE.match(phone):
        raise InvalidInput(_("Please enter a valid phone number."), code="invalid.phone", field="phone")
    with transaction.atomic():
        case = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        if case.status not in OPEN_STATUSES or case.subject_officer_id is not None:
            raise InvalidInput(
                _("This case is no longer open; please file a new report."), code="invalid.case_closed"
            )
        if phone and (case.reporter_phone == phone or case.co_reporters.filter(phone=phone).exists()):
            raise InvalidInput(
                _("You have already reported this problem."), code="invalid.already_reported", field="phone"
            )
        co_reporter = CoReporter.objects.create(
            case=case,
            name=name,
            phone=phone,
            user=user if user is not None and user.is_authenticated else None,
            idempotency_key=idempotency_key or None,
            created_at=clock.now(),
        )
        case.report_count += 1
        _touch(case, "report_count")
        _notify_on_commit(events.co_reporter_added(case, co_reporter=co_reporter, actor=user))
    return co_reporter


@transaction.atomic
def case_rate(
    *, case: Case, satisfaction: Satisfaction | str, comment: str = "", actor: Any = None
) -> CaseFeedback:
    """Record the reporter's satisfaction with a closed case; only once.

    The caller has verified that the rater is the reporter (signed in as the
    reporting account, or tracking code plus phone number).
    Side effects: `rated` event; an unsatisfied rating is listed for the
    return-visit and reopening work of supervisors and liaisons.
    """
    case = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
    if case.status != CaseStatus.CLOSED:
        raise TransitionNotAllowed(_("A case can be rated once it is closed."), code="case.rate_not_allowed")
    try:
        satisfaction = Satisfaction(satisfaction)
    except ValueError:
        raise InvalidInput(_("Choose how satisfied you are."), code="invalid.satisfaction") from None
    comment = _clean_text(comment, field=_("comment"), required=False)
    if CaseFeedback.objects.filter(case=case).exists():
        raise InvalidInput(_("This case has already been rated."), code="invalid.already_rated")
    now = clock.now()
    feedback = CaseFeedback.objects.create(
        case=case, satisfaction=satisfaction, comment=comment, created_at=now
    )
    _notify_on_commit(events.rated(case, feedback=feedback, actor=actor))
    # The reporter's own rating is this closure's return visit.
    ReturnVisit.objects.update_or_create(
        case=case,
        round=case.reopen_count,
        defaults={
            "status": VisitStatus.DONE,
            "channel": VisitChannel.WEB,
            "satisfaction": satisfaction,
            "comment": comment,
            "visited_at": now,
        },
        create_defaults={
            "due_at": now,
            "status": VisitStatus.DONE,
            "channel": VisitChannel.WEB,
            "satisfaction": satisfaction,
            "comment": comment,
            "visited_at": now,
        },
    )
    case_sync_last_visit(case=case)
    return feedback


@transaction.atomic
def case_mark_false(*, case: Case, actor: Any, reason: str) -> Case:
    """Mark a closed or rejected case as a false or malicious report (不实/恶意投诉).

    Preconditions: supervisor role in scope; the case is closed or rejected
    and not yet marked; a reason.
    Side effects: the case leaves its unit's and liaison's assessment
    figures and is counted on its own (cases.indicators); `marked_false`
    event and an audit entry.
    """
    case = _lock(case, actor, "supervise")
    if case.status not in (CaseStatus.CLOSED, CaseStatus.REJECTED):
        raise TransitionNotAllowed(
            _("Only closed or rejected cases can be marked false."), code="case.mark_false_not_allowed"
        )
    if case.false_report:
        raise InvalidInput(_("This case is already marked false."), code="invalid.already_false")
    case.false_report_reason = _clean_text(reason, field=_("reason"), required=True)
    case.false_report = True
    case.false_report_at = clock.now()
    case.false_report_by = actor
    _touch(case, "false_report", "false_report_reason", "false_report_at", "false_report_by")
    events.marked_false(case, actor=actor)
    audit(actor=actor, action="case.marked_false", target=case, reason=case.false_report_reason)
    return case


# --- return visits (回访) ---------------------------------------------------------


def case_sync_last_visit(*, case: Case) -> None:
    """Copy the case's latest done return visit (highest round) onto the case.

    Preconditions: called in the transaction that recorded the visit, the
    case row locked by the caller. The indicators read `last_visit_*`
    instead of joining the visits (cases.indicators, DESIGN §6): a case
    counts as visited when the round copied is its current closure round.
    Side effects: one UPDATE of the three derived fields, without bumping
    the case's version (no one edits them); `case` is updated in place.
    """
    last = (
        ReturnVisit.objects.filter(case_id=case.pk, status=VisitStatus.DONE)
        .order_by("-round")
        .values("round", "satisfaction", "visited_at")
        .first()
    )
    fields = {
        "last_visit_round": last["round"] if last else None,
        "last_visit_satisfaction": last["satisfaction"] if last else "",
        "last_visit_at": last["visited_at"] if last else None,
    }
    Case.objects.filter(pk=case.pk).update(**fields)
    for name, value in fields.items():
        setattr(case, name, value)


def return_visit_schedule(*, case: Case) -> ReturnVisit | None:
    """Schedule the return visit for a closed case's current closure, once.

    The visit goes to the community's responsible liaison and is due
    settings.RETURN_VISIT_DAYS working days after closure. Returns None when
    the case is not closed or has no reporter to call back.
    Idempotent: a second call returns the existing visit.
    """
    from django.conf import settings

    from liaisons.selectors import current_liaison

    if case.status != CaseStatus.CLOSED or case.closed_at is None:
        return None
    if not case.reporter_phone and not case.reporter_id:
        return None
    posting = current_liaison(case.community) if case.community_id and case.community else None
    visit, _created = ReturnVisit.objects.get_or_create(
        case=case,
        round=case.reopen_count,
        defaults={
            "liaison": posting.liaison if posting else None,
            "due_at": get_calendar().add_days(case.closed_at, settings.RETURN_VISIT_DAYS),
            "created_at": clock.now(),
        },
    )
    return visit


@transaction.atomic
def return_visit_record(
    *,
    visit: ReturnVisit,
    actor: Any,
    reached: bool,
    channel: VisitChannel | str = VisitChannel.PHONE,
    satisfaction: Satisfaction | str = "",
    comment: str = "",
    reopen: bool = False,
) -> ReturnVisit:
    """Record the outcome of a return visit (回访).

    Preconditions: a liaison or supervisor (reopen role) with the case in
    scope; the visit is still scheduled; a satisfaction when the reporter
    was reached; `reopen` only with an unsatisfied reporter.
    Side effects: `return_visited` event; with `reopen`, the case is
    reopened (case_reopen) in the same transaction.
    """
    case = _lock(visit.case, actor, "reopen")
    visit = ReturnVisit.objects.select_for_update().get(pk=visit.pk)
    if visit.status != VisitStatus.SCHEDULED:
        raise TransitionNotAllowed(
            _("This return visit has already been recorded."), code="visit.already_recorded"
        )
    comment = _clean_text(comment, field=_("comment"), required=False)
    try:
        channel = VisitChannel(channel)
    except ValueError:
        raise InvalidInput(_("Choose how the reporter was contacted."), code="invalid.channel") from None
    if reached:
        try:
            satisfaction = Satisfaction(satisfaction)
        except ValueError:
            raise InvalidInput(
                _("Choose how satisfied the reporter is."), code="invalid.satisfaction"
            ) from None
    else:
        satisfaction = ""
    if reopen and satisfaction != Satisfaction.UNSATISFIED:
        raise InvalidInput(_("Only an unsatisfied reporter's case is reopened."), code="invalid.reopen")
    visit.status = VisitStatus.DONE if reached else VisitStatus.UNREACHABLE
    visit.channel = channel
    visit.satisfaction = satisfaction
    visit.comment = comment
    visit.visited_at = clock.now()
    visit.visited_by = actor
    visit.reopened = reopen
    visit.save(
        update_fields=["status", "channel", "satisfaction", "comment", "visited_at", "visited_by", "reopened"]
    )
    events.return_visited(case, visit=visit, actor=actor)
    case_sync_last_visit(case=case)
    if reopen:
        case_reopen(
            case=case, actor=actor, reason=comment or _("The reporter was not satisfied on the return visit.")
        )
    return visit
