"""Stage deadlines from the category's time limits on the working-time calendar."""

from datetime import datetime, timedelta

from cases.choices import HANDLING_STATUSES, OPEN_STATUSES, CaseAction, CaseStatus
from cases.models import Case, CaseEvent, Category, TimeLimit
from chengguan import refdata
from chengguan.worktime import WorkCalendar, get_calendar

STAGE_FOR_STATUS = {
    CaseStatus.REPORTED: "register",
    CaseStatus.REGISTERED: "dispatch",
    CaseStatus.RESOLVED: "verify",
}


def _load_time_limits() -> dict[tuple[int, str], TimeLimit]:
    return {(tl.category_id, tl.urgency): tl for tl in TimeLimit.objects.all()}


# Every deadline reads them; kept per process (chengguan.refdata).
TIME_LIMITS = refdata.Snapshot("time limits", _load_time_limits)


def stage_limit(category: Category | None, urgency: str, stage: str) -> timedelta:
    """Working time allowed for a stage: the category's, else its parent's, else the default."""
    if category is not None:
        limits = TIME_LIMITS.get()
        for category_id in (category.pk, category.parent_id):
            limit = limits.get((category_id, urgency)) if category_id else None
            if limit is not None:
                return limit.for_stage(stage)
    return timedelta(hours=TimeLimit.DEFAULT_HOURS[stage])


def handling_due_at(case: Case, start: datetime, calendar: WorkCalendar | None = None) -> datetime:
    calendar = calendar or get_calendar()
    return calendar.add(start, stage_limit(case.category, case.urgency, "handle"))


def apply_stage_deadline(case: Case, now: datetime, calendar: WorkCalendar | None = None) -> None:
    """Set `case.deadline` for the status the case has just entered."""
    status = CaseStatus(case.status)
    if status in HANDLING_STATUSES:
        case.deadline = case.due_at
    elif status in STAGE_FOR_STATUS:
        calendar = calendar or get_calendar()
        case.deadline = calendar.add(now, stage_limit(case.category, case.urgency, STAGE_FOR_STATUS[status]))
    else:
        case.deadline = None


def stage_started_at(case: Case) -> datetime | None:
    """When the case entered its current status: the latest event that moved it there."""
    moved = (
        CaseEvent.objects.filter(case_id=case.pk, to_status=case.status)
        .order_by("-created_at", "-pk")
        .values_list("created_at", flat=True)
        .first()
    )
    if moved is not None:
        return moved
    # Cases written without their history (demo data, imports).
    return {
        CaseStatus.REPORTED: case.reported_at,
        CaseStatus.REGISTERED: case.registered_at,
        CaseStatus.RESOLVED: case.resolved_at,
    }.get(CaseStatus(case.status))


def handling_started_at(case: Case) -> datetime | None:
    """When the handling clock (`due_at`) started: the last reopening, else the first dispatch."""
    events = CaseEvent.objects.filter(case_id=case.pk)
    reopened = (
        events.filter(action=CaseAction.REOPEN)
        .order_by("-created_at", "-pk")
        .values_list("created_at", flat=True)
    ).first()
    if reopened is not None:
        return reopened
    first = (
        events.filter(action=CaseAction.DISPATCH)
        .order_by("created_at", "pk")
        .values_list("created_at", flat=True)
    ).first()
    return first if first is not None else case.dispatched_at


def recompute_deadlines(
    case: Case, *, old_category: Category | None, old_urgency: str, calendar: WorkCalendar | None = None
) -> list[str]:
    """Re-derive an open case's deadlines after its category or urgency changed.

    A deadline whose limit is different under the new category and urgency
    is counted again: the current stage's from the stage's start, the
    handling deadline (`due_at`, once set) from the handling clock's start
    with the new "handle" limit plus whatever working time the old deadline
    had beyond the old limit (parked time, an approved extension), so
    neither is lost. Deadlines whose limit is the same stay as they are;
    closed and rejected cases keep theirs. Sets the fields on `case` (not
    saved) and returns the names of those that changed.
    """
    if case.status not in OPEN_STATUSES:
        return []
    calendar = calendar or get_calendar()
    changed = []

    def limits(stage: str) -> tuple[timedelta, timedelta]:
        return stage_limit(old_category, old_urgency, stage), stage_limit(case.category, case.urgency, stage)

    old_handle, new_handle = limits("handle")
    handling_start = handling_started_at(case) if case.due_at is not None else None
    if case.due_at is not None and handling_start is not None and new_handle != old_handle:
        granted = calendar.between(calendar.add(handling_start, old_handle), case.due_at)
        case.due_at = calendar.add(handling_start, new_handle + granted)
        changed.append("due_at")
    status = CaseStatus(case.status)
    deadline = case.deadline
    if status in HANDLING_STATUSES:
        deadline = case.due_at
    elif status in STAGE_FOR_STATUS:
        old_limit, new_limit = limits(STAGE_FOR_STATUS[status])
        start = stage_started_at(case) if new_limit != old_limit else None
        if start is not None:
            deadline = calendar.add(start, new_limit)
    if deadline != case.deadline:
        case.deadline = deadline
        changed.append("deadline")
    return changed
