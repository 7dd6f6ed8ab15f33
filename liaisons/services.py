"""Writes on liaison work: postings (一区一员), patrols, findings and meetings.

Postings move the guardian scope in the same transaction.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, remove_perm

from cases import services as case_services
from cases.attachments import MAX_PHOTOS_PER_UPLOAD, normalise_image
from cases.choices import OPEN_STATUSES, CaseSource
from cases.models import Case, Category
from chengguan import clock
from chengguan.audit import audit
from chengguan.errors import ActionNotPermitted, InvalidInput
from chengguan.permissions import can, forget_scope, scope_for
from chengguan.roles import Role
from communities.models import Community, GridCell
from liaisons.choices import AssignmentRole, PatrolFrequency, ScheduledPatrolStatus
from liaisons.models import (
    CoverPeriod,
    LiaisonAssignment,
    Meeting,
    PatrolFinding,
    PatrolLog,
    PatrolPhoto,
    PatrolPlan,
    ScheduledPatrol,
)

COMMUNITY_PERM = "communities.work_in_community"


def _still_responsible(liaison: Any, community: Community, *, except_cover: int | None = None) -> bool:
    """True while the liaison still works in the community: posted there, or covering it now."""
    if LiaisonAssignment.objects.filter(
        community=community, liaison=liaison, role=AssignmentRole.RESPONSIBLE, ends_at__isnull=True
    ).exists():
        return True
    covers = CoverPeriod.objects.filter(
        community=community, backup=liaison, granted_at__isnull=False, withdrawn_at__isnull=True
    )
    if except_cover is not None:
        covers = covers.exclude(pk=except_cover)
    return covers.exists()


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


# The plan's fields that decide which patrols it schedules.
PLAN_SCHEDULE_FIELDS = frozenset(
    {"community", "frequency", "times_per_month", "preferred_weekday", "is_active"}
)


@transaction.atomic
def patrol_plan_save(*, plan: PatrolPlan, actor: Any, changed: Sequence[str] = ()) -> PatrolPlan:
    """Create or change a patrol plan (巡查计划), keeping its scheduled patrols in step.

    Preconditions: the caller checked the actor may plan patrols in the
    plan's community (the admin form does, through the gate); `changed` names
    the fields this edit changed. Side effects, in one transaction: the plan
    saved; when it is inactive or its schedule changed, its patrols still due
    whose window has not ended are withdrawn (deleted: they were never
    missed, so neither reminders nor the missed-patrol sweep should see
    them; done and missed ones stay, as the completion rate's history); an
    active plan whose schedule is new or changed is scheduled afresh at
    once (the daily job would otherwise leave a gap until it runs); one
    audit entry.
    """
    created = plan.pk is None
    plan.full_clean()
    plan.save()
    reschedule = created or bool(PLAN_SCHEDULE_FIELDS.intersection(changed))
    today = timezone.localtime(clock.now()).date()
    withdrawn = 0
    if not created and (reschedule or not plan.is_active):
        withdrawn, _deleted = ScheduledPatrol.objects.filter(
            plan=plan, status=ScheduledPatrolStatus.DUE, patrol__isnull=True, window_end__gte=today
        ).delete()
    scheduled = patrol_plan_schedule(plan=plan, start=today) if reschedule else 0
    audit(
        actor=actor,
        action="patrol_plan.created" if created else "patrol_plan.changed",
        target=plan,
        frequency=plan.frequency,
        times_per_month=plan.times_per_month,
        preferred_weekday=plan.preferred_weekday,
        is_active=plan.is_active,
        changed=sorted(changed),
        withdrawn=withdrawn,
        scheduled=scheduled,
    )
    return plan


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


# --- cover periods (AB角) -----------------------------------------------------------


def cover_check(
    *, community: Community, backup: Any, starts_at: datetime, ends_at: datetime, reason: str, actor: Any
) -> str:
    if not can(actor, "change", CoverPeriod(community=community)):
        raise ActionNotPermitted()
    if not backup.is_active or not backup.groups.filter(name=Role.LIAISON).exists():
        raise InvalidInput(
            _("Only active liaison officers can cover a community."), code="invalid.liaison", field="backup"
        )
    if LiaisonAssignment.objects.filter(
        community=community, liaison=backup, role=AssignmentRole.RESPONSIBLE, ends_at__isnull=True
    ).exists():
        raise InvalidInput(
            _("The covering officer is already this community's liaison."),
            code="invalid.cover",
            field="backup",
        )
    if ends_at <= starts_at:
        raise InvalidInput(
            _("The cover must end after it starts."), code="invalid.cover_period", field="ends_at"
        )
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            _("Please give the reason for the cover."), code="invalid.required", field="reason"
        )
    return reason


@transaction.atomic
def cover_create(
    *,
    community: Community,
    backup: Any,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    actor: Any,
) -> CoverPeriod:
    """Let a backup liaison (B角) cover a community for a period.

    Preconditions: the actor may change cover periods in the community's
    district (supervisor); the backup is an active liaison who is not the
    community's responsible liaison; the period ends after it starts; a reason.
    Side effects: audited (cover.created); when the period is running now the
    backup gets the community's access at once (cover_sync), otherwise the
    beat job grants it at the start.
    """
    reason = cover_check(
        community=community, backup=backup, starts_at=starts_at, ends_at=ends_at, reason=reason, actor=actor
    )
    cover = CoverPeriod(
        community=community,
        backup=backup,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        created_by=actor,
    )
    cover.full_clean()
    cover.save()
    audit(
        actor=actor,
        action="cover.created",
        target=community,
        cover=cover.pk,
        backup=backup.pk,
        starts_at=starts_at.isoformat(),
        ends_at=ends_at.isoformat(),
    )
    return cover_sync(cover=cover)


@transaction.atomic
def cover_change(
    *, cover: CoverPeriod, starts_at: datetime, ends_at: datetime, reason: str, actor: Any
) -> CoverPeriod:
    """Move a cover period's dates or change its reason.

    Preconditions: as cover_create; the cover is not cancelled.
    Side effects: audited (cover.changed); access follows the new dates at once.
    """
    cover = CoverPeriod.objects.select_for_update().select_related("community", "backup").get(pk=cover.pk)
    if cover.cancelled_at is not None:
        raise InvalidInput(_("This cover was cancelled."), code="invalid.cover_cancelled")
    cover.reason = cover_check(
        community=cover.community,
        backup=cover.backup,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        actor=actor,
    )
    cover.starts_at, cover.ends_at = starts_at, ends_at
    cover.full_clean()
    cover.save(update_fields=["starts_at", "ends_at", "reason"])
    audit(
        actor=actor,
        action="cover.changed",
        target=cover.community,
        cover=cover.pk,
        starts_at=starts_at.isoformat(),
        ends_at=ends_at.isoformat(),
    )
    return cover_sync(cover=cover)


@transaction.atomic
def cover_cancel(*, cover: CoverPeriod, actor: Any) -> CoverPeriod:
    """Cancel a cover; the backup loses the access it gave at once.

    Preconditions: the actor may change cover periods in the community.
    Side effects: audited (cover.cancelled). Cancelling twice changes nothing.
    """
    cover = CoverPeriod.objects.select_for_update().select_related("community", "backup").get(pk=cover.pk)
    if not can(actor, "change", cover):
        raise ActionNotPermitted()
    if cover.cancelled_at is not None:
        return cover
    cover.cancelled_at = clock.now()
    cover.save(update_fields=["cancelled_at"])
    audit(actor=actor, action="cover.cancelled", target=cover.community, cover=cover.pk)
    return cover_sync(cover=cover)


@transaction.atomic
def cover_sync(*, cover: CoverPeriod, now: datetime | None = None) -> CoverPeriod:
    """Give or take back the backup's access so that it matches the period at `now`.

    Preconditions: none. Idempotent: a second call at the same moment changes
    nothing. Side effects: grants `work_in_community` (granted_at) while the
    period runs and withdraws it (withdrawn_at) when it is over, cancelled or
    not yet started, unless the backup works there for another reason; on
    grant, the backup is told which of the community's open cases fall due in
    the period. Each change is audited.
    """
    now = now or clock.now()
    cover = CoverPeriod.objects.select_for_update().select_related("community", "backup").get(pk=cover.pk)
    holds = cover.granted_at is not None and cover.withdrawn_at is None
    should = cover.is_running(now)
    if should and not holds:
        assign_perm(COMMUNITY_PERM, cover.backup, cover.community)
        forget_scope(cover.backup)
        cover.granted_at, cover.withdrawn_at = now, None
        cover.save(update_fields=["granted_at", "withdrawn_at"])
        audit(
            actor=None,
            action="cover.access_granted",
            target=cover.community,
            cover=cover.pk,
            backup=cover.backup_id,
        )
        pk = cover.pk
        transaction.on_commit(lambda: _notify_cover_started(pk))
    elif holds and not should:
        cover.withdrawn_at = now
        cover.save(update_fields=["withdrawn_at"])
        if not _still_responsible(cover.backup, cover.community, except_cover=cover.pk):
            remove_perm(COMMUNITY_PERM, cover.backup, cover.community)
            forget_scope(cover.backup)
        audit(
            actor=None,
            action="cover.access_withdrawn",
            target=cover.community,
            cover=cover.pk,
            backup=cover.backup_id,
        )
    return cover


def _notify_cover_started(cover_id: int) -> None:
    from chengguan.notifications import notify

    cover = CoverPeriod.objects.select_related("community", "backup").get(pk=cover_id)
    due = list(
        Case.objects.filter(
            community=cover.community,
            status__in=OPEN_STATUSES,
            due_at__gte=cover.starts_at,
            due_at__lt=cover.ends_at,
        )
        .order_by("due_at")
        .values_list("number", "due_at")
    )
    local = timezone.localtime
    body = _("From %(start)s to %(end)s. Cases due in the period: %(cases)s") % {
        "start": local(cover.starts_at).strftime("%Y-%m-%d %H:%M"),
        "end": local(cover.ends_at).strftime("%Y-%m-%d %H:%M"),
        "cases": "; ".join(f"{number} ({local(due_at):%m-%d %H:%M})" for number, due_at in due) or _("none"),
    }
    notify(
        recipients=[cover.backup],
        key=f"cover:{cover.pk}:{cover.granted_at:%Y%m%d%H%M%S}" if cover.granted_at else f"cover:{cover.pk}",
        title=_("You are covering %(community)s (%(count)d case(s) due)")
        % {"community": cover.community.name, "count": len(due)},
        body=body,
        url=f"{reverse('cases:list')}?{urlencode({'community': cover.community_id})}",
    )


def _require_patrol_author(patrol: PatrolLog, actor: Any) -> None:
    """Only field staff working in the patrol's community (its liaison, usually) add to it."""
    if (
        not actor.has_perm("liaisons.add_patrollog")
        or patrol.community_id not in scope_for(actor).community_ids
    ):
        raise ActionNotPermitted()


@transaction.atomic
def patrol_add_finding(*, patrol: PatrolLog, actor: Any, finding: FindingInput) -> PatrolFinding:
    """Add a finding (and its photos) to a patrol already logged.

    Preconditions: the actor may log patrols and works in the patrol's
    community; the finding is described; a location has both coordinates or
    neither; at most MAX_PHOTOS_PER_UPLOAD photos, each a real image.
    Side effects: the finding's photos are re-encoded and stored; audited.
    """
    patrol = PatrolLog.objects.select_for_update().get(pk=patrol.pk)
    _require_patrol_author(patrol, actor)
    if not finding.description.strip():
        raise InvalidInput(_("Describe each finding."), code="invalid.finding")
    if (finding.lat is None) != (finding.lng is None):
        raise InvalidInput(_("A location needs both latitude and longitude."), code="invalid.location")
    if len(finding.photos) > MAX_PHOTOS_PER_UPLOAD:
        raise InvalidInput(
            _("At most %(max)d photos can be uploaded at once.") % {"max": MAX_PHOTOS_PER_UPLOAD},
            code="attachment.too_many",
        )
    row = PatrolFinding.objects.create(
        patrol=patrol,
        category=finding.category,
        description=finding.description.strip(),
        address=finding.address.strip(),
        lat=finding.lat,
        lng=finding.lng,
        created_at=clock.now(),
    )
    for upload in finding.photos:
        content = normalise_image(upload)
        PatrolPhoto(patrol=patrol, finding=row).file.save(content.name or "photo.jpg", content, save=True)
    audit(
        actor=actor, action="patrol.finding_added", target=patrol.community, patrol=patrol.pk, finding=row.pk
    )
    return row


@transaction.atomic
def patrol_add_photos(
    *,
    patrol: PatrolLog,
    actor: Any,
    photos: Sequence[UploadedFile],
    finding: PatrolFinding | None = None,
) -> list[PatrolPhoto]:
    """Attach more photos to a patrol, or to one of its findings.

    Preconditions: the actor may log patrols and works in the patrol's
    community; the finding, if any, belongs to the patrol; one to
    MAX_PHOTOS_PER_UPLOAD photos, each a JPEG, PNG or WebP image within the
    size caps (cases.attachments).
    Side effects: the photos are re-encoded (EXIF orientation applied,
    metadata dropped) and stored; audited.
    """
    patrol = PatrolLog.objects.select_for_update().get(pk=patrol.pk)
    _require_patrol_author(patrol, actor)
    if finding is not None and finding.patrol_id != patrol.pk:
        raise InvalidInput(_("Choose a finding of this patrol."), code="invalid.finding", field="finding")
    if not photos:
        raise InvalidInput(_("Choose at least one photo."), code="attachment.none", field="photos")
    if len(photos) > MAX_PHOTOS_PER_UPLOAD:
        raise InvalidInput(
            _("At most %(max)d photos can be uploaded at once.") % {"max": MAX_PHOTOS_PER_UPLOAD},
            code="attachment.too_many",
            field="photos",
        )
    stored = []
    for upload in photos:
        content = normalise_image(upload)
        photo = PatrolPhoto(patrol=patrol, finding=finding, created_at=clock.now())
        photo.file.save(content.name or "photo.jpg", content, save=True)
        stored.append(photo)
    audit(
        actor=actor,
        action="patrol.photos_added",
        target=patrol.community,
        patrol=patrol.pk,
        count=len(stored),
    )
    return stored
