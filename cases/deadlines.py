"""Stage deadlines from the category's time limits on the working-time calendar."""

from datetime import datetime, timedelta

from cases.choices import HANDLING_STATUSES, CaseStatus
from cases.models import Case, Category, TimeLimit
from chengguan.worktime import WorkCalendar, get_calendar

STAGE_FOR_STATUS = {
    CaseStatus.REPORTED: "register",
    CaseStatus.REGISTERED: "dispatch",
    CaseStatus.RESOLVED: "verify",
}


def stage_limit(category: Category | None, urgency: str, stage: str) -> timedelta:
    """Working time allowed for a stage: the category's, else its parent's, else the default."""
    if category is not None:
        ids = [category.pk] + ([category.parent_id] if category.parent_id else [])
        limits = {tl.category_id: tl for tl in TimeLimit.objects.filter(category_id__in=ids, urgency=urgency)}
        for category_id in ids:
            if category_id in limits:
                return limits[category_id].for_stage(stage)
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
