"""Who hears about a case event, and what they are told."""

from typing import Any

from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from cases.choices import CaseAction
from cases.models import CaseEvent, ExtensionRequest
from cases.selectors import unit_members, users_overseeing
from chengguan.notifications import notify
from chengguan.roles import Role
from communities.models import HandlingUnit

User = get_user_model()


def _handlers(event: CaseEvent) -> list[Any]:
    """The case's handler when the event happened (the task may run later)."""
    snapshot = event.data.get("handler", event.data) if event.data else {}
    if "assignee" in snapshot or "handling_unit" in snapshot:
        assignee_id, unit_id = snapshot.get("assignee"), snapshot.get("handling_unit")
    else:
        assignee_id, unit_id = event.case.assignee_id, event.case.handling_unit_id
    if assignee_id:
        return list(User.objects.filter(pk=assignee_id, is_active=True))
    if unit_id:
        unit = HandlingUnit.objects.filter(pk=unit_id).first()
        return list(unit_members(unit)) if unit else []
    return []


def recipients_for(event: CaseEvent) -> list[Any]:
    case = event.case
    action = CaseAction(event.action)
    if action in (CaseAction.DISPATCH, CaseAction.REWORK, CaseAction.REOPEN):
        return _handlers(event)
    if action == CaseAction.RETURN:
        return list(users_overseeing(case.district, Role.DISPATCHER))
    if action in (CaseAction.SUBMIT_RESULT, CaseAction.EXTENSION_REQUESTED, CaseAction.ESCALATE):
        people = list(users_overseeing(case.district, Role.SUPERVISOR))
        if action == CaseAction.ESCALATE:
            people += _handlers(event)
        return people
    if action in (CaseAction.EXTENSION_APPROVED, CaseAction.EXTENSION_REFUSED):
        request = (
            ExtensionRequest.objects.filter(pk=event.data.get("request"))
            .select_related("requested_by")
            .first()
        )
        return [request.requested_by] if request else []
    if action in (CaseAction.REGISTER, CaseAction.REJECT, CaseAction.MERGE, CaseAction.CLOSE):
        return [case.reporter] if case.reporter_id else []
    return []


def notify_for_event(event: CaseEvent) -> int:
    people = [p for p in recipients_for(event) if p is not None and p.pk != event.actor_id]
    if not people:
        return 0
    case = event.case
    try:
        url = reverse("cases:detail", args=[case.number])
    except NoReverseMatch:
        url = ""
    return notify(
        recipients=people,
        key=f"case-event:{event.pk}",
        title=_("%(number)s: %(action)s") % {"number": case.number, "action": event.get_action_display()},
        body=event.note,
        url=url,
    )
