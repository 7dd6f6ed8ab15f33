"""Writes on liaison work: postings (一区一员), patrols, findings and meetings.

Postings move the guardian scope in the same transaction.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, remove_perm

from cases import services as case_services
from cases.attachments import MAX_PHOTOS_PER_UPLOAD, normalise_image
from cases.choices import CaseSource
from cases.models import Case, Category
from chengguan import clock
from chengguan.audit import audit
from chengguan.errors import ActionNotPermitted, InvalidInput
from chengguan.permissions import forget_scope, scope_for
from chengguan.roles import Role
from communities.models import Community, GridCell
from liaisons.choices import AssignmentRole, PatrolFrequency, ScheduledPatrolStatus
from liaisons.models import (
    LiaisonAssignment,
    Meeting,
    PatrolFinding,
    PatrolLog,
    PatrolPhoto,
    PatrolPlan,
    ScheduledPatrol,
)

COMMUNITY_PERM = "communities.work_in_community"


def _still_responsible(liaison: Any, community: Community) -> bool:
    return LiaisonAssignment.objects.filter(
        community=community, liaison=liaison, role=AssignmentRole.RESPONSIBLE, ends_at__isnull=True
    ).exists()


@transaction.atomic
def liaison_assign(
    *,
    community: Community,
    liaison: Any,
    actor: Any = None,
    role: AssignmentRole | str = AssignmentRole.RESPONSIBLE,
    duties: str = "",
) -> LiaisonAssignment:
    """Post a liaison to a community, ending whoever held that role there.

    Preconditions: the liaison is active and in the liaison role.
    Side effects: for the responsible role (A角), the previous holder loses
    `work_in_community` on the community and the new one gets it. A backup
    posting (B角) grants no access by itself: the backup works in the
    community only while covering a leave period. Both changes are audited.
    """
    if not liaison.is_active or not liaison.groups.filter(name=Role.LIAISON).exists():
        raise InvalidInput(
            _("Only active liaison officers can be assigned to a community."), code="invalid.liaison"
        )
    role = AssignmentRole(role)
    now = clock.now()
    current = (
        LiaisonAssignment.objects.select_for_update()
        .filter(community=community, role=role, ends_at__isnull=True)
        .first()
    )
    if current is not None:
        if current.liaison_id == liaison.pk:
            if duties and duties != current.duties:
                current.duties = duties
                current.save(update_fields=["duties"])
            return current
        current.ends_at = now
        current.save(update_fields=["ends_at"])
        if not _still_responsible(current.liaison, community):
            remove_perm(COMMUNITY_PERM, current.liaison, community)
            forget_scope(current.liaison)
        audit(
            actor=actor,
            action="liaison.unassigned",
            target=community,
            liaison=current.liaison_id,
            role=role.value,
        )
    assignment = LiaisonAssignment.objects.create(
        community=community, liaison=liaison, role=role, duties=duties, starts_at=now, assigned_by=actor
    )
    if role == AssignmentRole.RESPONSIBLE:
        assign_perm(COMMUNITY_PERM, liaison, community)
        forget_scope(liaison)
    audit(actor=actor, action="liaison.assigned", target=community, liaison=liaison.pk, role=role.value)
    return assignment


@transaction.atomic
def liaison_unassign(*, assignment: LiaisonAssignment, actor: Any = None) -> LiaisonAssignment:
    """End a posting now and withdraw the community access it gave."""
    assignment = LiaisonAssignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.ends_at is not None:
        return assignment
    assignment.ends_at = clock.now()
    assignment.save(update_fields=["ends_at"])
    if not _still_responsible(assignment.liaison, assignment.community):
        remove_perm(COMMUNITY_PERM, assignment.liaison, assignment.community)
        forget_scope(assignment.liaison)
    audit(
        actor=actor, action="liaison.unassigned", target=assignment.community, liaison=assignment.liaison_id
    )
    return assignment


# --- patrols (巡查) ----------------------------------------------------------------


def patrol_slots(plan: PatrolPlan, start: date, end: date) -> list[tuple[date, date, date, int]]:
    """The (window_start, window_end, due_date, slot) a plan expects between two dates.

    twice daily: two slots a day; daily: one; weekly: one per Monday-to-Sunday
    week, due on the preferred weekday; monthly: `times_per_month` windows
    splitting the month evenly, each due on its last day.
    """
    slots: list[tuple[date, date, date, int]] = []
    frequency = PatrolFrequency(plan.frequency)
    day = start
    if frequency in (PatrolFrequency.TWICE_DAILY, PatrolFrequency.DAILY):
        per_day = 2 if frequency == PatrolFrequency.TWICE_DAILY else 1
        while day < end:
            slots.extend((day, day, day, slot) for slot in range(per_day))
            day += timedelta(days=1)
    elif frequency == PatrolFrequency.WEEKLY:
        monday = start - timedelta(days=start.weekday())
        while monday < end:
            slots.append(
                (monday, monday + timedelta(days=6), monday + timedelta(days=plan.preferred_weekday), 0)
            )
            monday += timedelta(days=7)
    else:
        month = start.replace(day=1)
        while month < end:
            following = (month + timedelta(days=32)).replace(day=1)
            length = (following - month).days
            count = max(1, min(plan.times_per_month, length))
            for index in range(count):
                window_start = month + timedelta(days=index * length // count)
                window_end = month + timedelta(days=(index + 1) * length // count - 1)
                slots.append((window_start, window_end, window_end, index))
            month = following
    return [s for s in slots if s[1] >= start and s[0] < end]


def patrol_plan_schedule(*, plan: PatrolPlan, start: date, days: int = 14) -> int:
    """Create the scheduled patrols of the next `days` days; idempotent."""
    if not plan.is_active:
        return 0
    existing = set(
        ScheduledPatrol.objects.filter(plan=plan, window_start__gte=start - timedelta(days=31)).values_list(
            "window_start", "slot"
        )
    )
    rows = [
        ScheduledPatrol(
            plan=plan,
            community_id=plan.community_id,
            window_start=window_start,
            window_end=window_end,
            due_date=due_date,
            slot=slot,
        )
        for window_start, window_end, due_date, slot in patrol_slots(
            plan, start, start + timedelta(days=days)
        )
        if (window_start, slot) not in existing
    ]
    # ignore_conflicts covers a concurrent run that inserted in between.
    ScheduledPatrol.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


@dataclass(frozen=True)
class FindingInput:
    description: str
    category: Category | None = None
    address: str = ""
    lat: float | None = None
    lng: float | None = None
    photos: Sequence[UploadedFile] = ()


@transaction.atomic
def patrol_log(
    *,
    liaison: Any,
    community: Community,
    started_at: datetime,
    ended_at: datetime,
    grid_cells: Sequence[GridCell] = (),
    notes: str = "",
    photos: Sequence[UploadedFile] = (),
    findings: Sequence[FindingInput] = (),
    client_uuid: str | None = None,
) -> PatrolLog:
    """Log a patrol (巡查台账) with its photos and findings.

    Preconditions: a liaison working in the community; the patrol ends after
    it starts and not in the future; grid cells belong to the community.
    Side effects: the earliest due scheduled patrol whose window holds the
    patrol's day is marked done. Resubmitting the same `client_uuid` (an
    offline retry) returns the first log.
    """
    if client_uuid:
        existing = PatrolLog.objects.filter(client_uuid=client_uuid).first()
        if existing is not None:
            if existing.liaison_id != liaison.pk:
                raise InvalidInput(_("This draft belongs to someone else."), code="invalid.client_uuid")
            return existing
    if not liaison.has_perm("liaisons.add_patrollog") or community.pk not in scope_for(liaison).community_ids:
        raise ActionNotPermitted()
    now = clock.now()
    if ended_at <= started_at:
        raise InvalidInput(_("The patrol must end after it starts."), code="invalid.patrol_times")
    if ended_at > now + timedelta(minutes=5):
        raise InvalidInput(_("A patrol cannot end in the future."), code="invalid.patrol_times")
    if any(cell.community_id != community.pk for cell in grid_cells):
        raise InvalidInput(_("Choose grid cells of this community."), code="invalid.grid_cells")
    if len(photos) > MAX_PHOTOS_PER_UPLOAD:
        raise InvalidInput(
            _("At most %(max)d photos can be uploaded at once.") % {"max": MAX_PHOTOS_PER_UPLOAD},
            code="attachment.too_many",
        )
    for finding in findings:
        if not finding.description.strip():
            raise InvalidInput(_("Describe each finding."), code="invalid.finding")
    log = PatrolLog.objects.create(
        liaison=liaison,
        community=community,
        started_at=started_at,
        ended_at=ended_at,
        notes=notes.strip(),
        client_uuid=client_uuid or None,
        created_at=now,
    )
    log.grid_cells.set(grid_cells)
    for upload in photos:
        content = normalise_image(upload)
        PatrolPhoto(patrol=log).file.save(content.name or "photo.jpg", content, save=True)
    for finding in findings:
        row = PatrolFinding.objects.create(
            patrol=log,
            category=finding.category,
            description=finding.description.strip(),
            address=finding.address.strip(),
            lat=finding.lat,
            lng=finding.lng,
            created_at=now,
        )
        for upload in finding.photos:
            content = normalise_image(upload)
            PatrolPhoto(patrol=log, finding=row).file.save(content.name or "photo.jpg", content, save=True)
    day = timezone.localtime(started_at).date()
    slot = (
        ScheduledPatrol.objects.select_for_update()
        .filter(
            community=community,
            status=ScheduledPatrolStatus.DUE,
            window_start__lte=day,
            window_end__gte=day,
        )
        .order_by("due_date", "slot")
        .first()
    )
    if slot is not None:
        slot.status = ScheduledPatrolStatus.DONE
        slot.patrol = log
        slot.save(update_fields=["status", "patrol"])
    audit(actor=liaison, action="patrol.logged", target=community, patrol=log.pk, findings=len(findings))
    return log


@transaction.atomic
def patrol_finding_to_case(
    *, finding: PatrolFinding, actor: Any, fixed_on_spot: bool = False, result: str = ""
) -> Case:
    """Turn a patrol finding into a case (source = patrol) in one step.

    Preconditions: the liaison who logged the patrol (or one working in its
    community); the finding has no case yet.
    Side effects: the case carries the finding's place, description and
    photos; with `fixed_on_spot` it is closed at once as 当场处置 with
    `result`.
    """
    finding = PatrolFinding.objects.select_for_update().select_related("patrol").get(pk=finding.pk)
    patrol = finding.patrol
    if patrol.liaison_id != actor.pk and patrol.community_id not in scope_for(actor).community_ids:
        raise ActionNotPermitted()
    if finding.case_id:
        raise InvalidInput(_("This finding is already a case."), code="invalid.finding_has_case")
    photos = [
        File(photo.file.open("rb"), name=photo.file.name.rsplit("/", 1)[-1]) for photo in finding.photos.all()
    ]
    case = case_services.case_report(
        source=CaseSource.PATROL,
        actor=actor,
        description=finding.description,
        category=finding.category,
        lat=finding.lat,
        lng=finding.lng,
        address=finding.address,
        community=patrol.community,
        reporter_name=actor.display_name,
        photos=photos,  # type: ignore[arg-type]
    )
    if fixed_on_spot:
        case = case_services.case_close_on_spot(case=case, actor=actor, result=result)
    finding.case = case
    finding.fixed_on_spot = fixed_on_spot
    finding.save(update_fields=["case", "fixed_on_spot"])
    return case


@transaction.atomic
def meeting_record(
    *,
    community: Community,
    actor: Any,
    held_at: datetime,
    title: str,
    attendees: str,
    issues: str,
    resolutions: str = "",
    location: str = "",
    cases: Sequence[Case] = (),
) -> Meeting:
    """Record a coordination meeting (协调会) and link the cases it discussed.

    Preconditions: a liaison or community staff member working in the
    community (or anyone overseeing its district); linked cases in scope.
    """
    scope = scope_for(actor)
    in_scope = (
        scope.city_wide
        or community.pk in scope.community_ids
        or community.street.district_id in scope.district_ids
    )
    if not actor.has_perm("liaisons.add_meeting") or not in_scope:
        raise ActionNotPermitted()
    if not title.strip() or not attendees.strip() or not issues.strip():
        raise InvalidInput(_("Fill in the title, attendees and issues."), code="invalid.meeting")
    visible = set(
        Case.objects.restrict(actor, "view").filter(pk__in=[c.pk for c in cases]).values_list("pk", flat=True)
    )
    if len(visible) != len({c.pk for c in cases}):
        raise ActionNotPermitted()
    meeting = Meeting.objects.create(
        community=community,
        held_at=held_at,
        title=title.strip(),
        location=location.strip(),
        attendees=attendees.strip(),
        issues=issues.strip(),
        resolutions=resolutions.strip(),
        recorded_by=actor,
        created_at=clock.now(),
    )
    meeting.cases.set(cases)
    audit(actor=actor, action="meeting.recorded", target=community, meeting=meeting.pk)
    return meeting
