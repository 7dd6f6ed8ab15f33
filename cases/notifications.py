"""Who hears about a case event, and what they are told."""

from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from cases.choices import CaseAction
from cases.models import CaseEvent, ExtensionRequest
from cases.selectors import unit_members, users_overseeing
from chengguan.notifications import notify
from chengguan.roles import Role


def _handlers(event: CaseEvent) -> list[Any]:
    case = event.case
    if case.assignee_id:
        return [case.assignee]
    if case.handling_unit is not None:
        return list(unit_members(case.handling_unit))
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
