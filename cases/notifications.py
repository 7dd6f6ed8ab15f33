"""Who hears about a case event, and what they are told."""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.choices import CaseAction
from cases.models import CaseEvent, ExtensionRequest, ParkingRequest
from cases.selectors import unit_members, users_overseeing
from chengguan.models import NotificationKind
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


def _verifying_liaisons(case: Any) -> list[Any]:
    """The community's responsible liaison, where the community has them verify results."""
    from cases.models import CommunityCaseSettings
    from liaisons.selectors import current_liaison

    if case.community_id is None or case.community is None:
        return []
    if not CommunityCaseSettings.objects.filter(
        community_id=case.community_id, liaison_verifies=True
    ).exists():
        return []
    posting = current_liaison(case.community)
    if posting is None or not posting.liaison.is_active or posting.liaison_id == case.assignee_id:
        return []
    return [posting.liaison]


# The actions whose events staff hear about (recipients_for answers nobody for the rest).
STAFF_NOTIFIED_ACTIONS = frozenset(
    {
        CaseAction.DISPATCH,
        CaseAction.REWORK,
        CaseAction.REOPEN,
        CaseAction.RETURN,
        CaseAction.PARKING_REQUESTED,
        CaseAction.PARKING_REFUSED,
        CaseAction.PARK,
        CaseAction.SUBMIT_RESULT,
        CaseAction.EXTENSION_REQUESTED,
        CaseAction.ESCALATE,
        CaseAction.EXTENSION_APPROVED,
        CaseAction.EXTENSION_REFUSED,
        CaseAction.REGISTER,
        CaseAction.REJECT,
        CaseAction.MERGE,
        CaseAction.CLOSE,
    }
)


def notifies(action: str) -> bool:
    """Whether an event of this action may tell anyone (staff or reporters) anything.

    For the others (a report filed, a note, a photo hidden…) no notification
    task is queued at all: it would find nobody to tell.
    """
    return action in STAFF_NOTIFIED_ACTIONS or action in REPORTER_ACTIONS


def recipients_for(event: CaseEvent) -> list[Any]:
    case = event.case
    action = CaseAction(event.action)
    if action not in STAFF_NOTIFIED_ACTIONS:
        return []
    if action in (CaseAction.DISPATCH, CaseAction.REWORK, CaseAction.REOPEN):
        return _handlers(event)
    if action == CaseAction.RETURN:
        return list(users_overseeing(case.district, Role.DISPATCHER))
    if action == CaseAction.PARKING_REQUESTED:
        return list(users_overseeing(case.district, Role.SUPERVISOR))
    if action == CaseAction.PARKING_REFUSED or (action == CaseAction.PARK and event.data.get("request")):
        parking = (
            ParkingRequest.objects.filter(pk=event.data.get("request")).select_related("requested_by").first()
        )
        return [parking.requested_by] if parking else []
    if action in (CaseAction.SUBMIT_RESULT, CaseAction.EXTENSION_REQUESTED, CaseAction.ESCALATE):
        people = list(users_overseeing(case.district, Role.SUPERVISOR))
        if action == CaseAction.ESCALATE:
            people += _handlers(event)
        if action == CaseAction.SUBMIT_RESULT:
            people += _verifying_liaisons(case)
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
        kind=notification_kind(event.action),
    )


def notification_kind(action: str) -> str:
    """The kind (for staff email/SMS choices) of the notification an event sends."""
    if action in (CaseAction.DISPATCH, CaseAction.REWORK, CaseAction.REOPEN):
        return NotificationKind.CASE_ASSIGNED
    if action == CaseAction.ESCALATE:
        return NotificationKind.CASE_ESCALATED
    if action in (CaseAction.RETURN, CaseAction.SUBMIT_RESULT, CaseAction.EXTENSION_REQUESTED):
        return NotificationKind.APPROVAL
    if action in (CaseAction.EXTENSION_APPROVED, CaseAction.EXTENSION_REFUSED):
        return NotificationKind.DECISION
    return NotificationKind.OTHER


# Reporters (and co-reporters) hear about these, by SMS to the phone they gave
# and by email when they reported from an account with an address. Lazy:
# message_reporters renders them in the site's language, not in the one
# active when this module was imported.
REPORTER_ACTIONS = {
    CaseAction.REGISTER: gettext_lazy(
        "Your report %(number)s has been accepted and registered. Track it with code %(code)s."
    ),
    CaseAction.REJECT: gettext_lazy("Your report %(number)s was not accepted: %(note)s"),
    CaseAction.MERGE: gettext_lazy("Your report %(number)s is being handled together with case %(master)s."),
    CaseAction.CLOSE: gettext_lazy(
        "Your report %(number)s has been resolved and closed. Please rate it with code %(code)s."
    ),
}


def message_reporters(event: CaseEvent) -> list[int]:
    """Queue SMS/email to the case's reporters for an event; returns the new message ids.

    The messages are in the site's language (settings.LANGUAGE_CODE), whatever
    the language of the staff member whose action caused them.
    """
    from chengguan.messaging import queue_message
    from chengguan.models import OutboundMessage

    template = REPORTER_ACTIONS.get(CaseAction(event.action))
    if template is None:
        return []
    case = event.case
    if case.subject_officer_id is not None and event.action != CaseAction.CLOSE:
        return []
    with translation.override(settings.LANGUAGE_CODE):
        text = str(template) % {
            "number": case.number,
            "code": case.tracking_code,
            "note": event.note or case.get_reject_reason_display(),
            "master": case.merged_into.number if case.merged_into_id and case.merged_into else "",
        }
        subject = _("City management report %(number)s") % {"number": case.number}
    phones = [case.reporter_phone, *case.co_reporters.exclude(phone="").values_list("phone", flat=True)]
    queued = [
        queue_message(
            channel=OutboundMessage.Channel.SMS,
            recipient=phone,
            body=text,
            key=f"event:{event.pk}:sms:{phone}",
        )
        for phone in dict.fromkeys(p for p in phones if p)
    ]
    if case.reporter_id and case.reporter and case.reporter.email:
        queued.append(
            queue_message(
                channel=OutboundMessage.Channel.EMAIL,
                recipient=case.reporter.email,
                subject=subject,
                body=text,
                key=f"event:{event.pk}:email",
            )
        )
    return [m.pk for m in queued if m is not None]
