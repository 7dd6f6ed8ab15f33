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
from chengguan.notifications import Draft, notify_many
from chengguan.permissions import can
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
    # The officer a conduct complaint is about never hears of it, whatever their role.
    left_out = {event.actor_id, event.case.subject_officer_id} - {None}
    people = [p for p in recipients_for(event) if p is not None and p.pk not in left_out]
    if not people:
        return 0
    case = event.case
    key = f"case-event:{event.pk}"
    title = _("%(number)s: %(action)s") % {"number": case.number, "action": event.get_action_display()}
    kind = notification_kind(event.action)
    return notify_many(
        [
            Draft(recipient_id=p.pk, key=key, title=title, body=event.note, url=_link_for(p, case), kind=kind)
            for p in people
        ]
    )


def _link_for(person: Any, case: Any) -> str:
    """Where a notification about `case` takes `person`.

    Staff go to the case's page. A reporter who may not see it there (a
    resident: /cases/<number>/ is a 404 for them) goes to the case's public
    tracking page: its code is the reporter's own key. Anyone else gets no link.
    """
    try:
        if can(person, "view", case):
            return reverse("cases:detail", args=[case.number])
        if person.pk == case.reporter_id:
            return reverse("public:track_detail", args=[case.tracking_code])
    except NoReverseMatch:
        pass
    return ""


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

# What the reporters of the reports merged into a case (Case.merged_into) are
# told when that case reaches the same milestones: the master's number, their
# own report's number and tracking code (its page follows the master), never
# the master's code, which is the key of the master's reporter. A rejection
# gives the reason's label only: the operator's note was written to the
# master's reporter.
MERGED_REPORTER_ACTIONS = {
    CaseAction.REGISTER: gettext_lazy(
        "Case %(master)s, into which your report %(number)s was merged, has been accepted and "
        "registered. Follow it with code %(code)s."
    ),
    CaseAction.REJECT: gettext_lazy(
        "Case %(master)s, into which your report %(number)s was merged, was not accepted: %(reason)s"
    ),
    # The master itself merged into another case: that one now handles their report.
    CaseAction.MERGE: REPORTER_ACTIONS[CaseAction.MERGE],
    CaseAction.CLOSE: gettext_lazy(
        "Case %(master)s, into which your report %(number)s was merged, has been resolved and "
        "closed. See the result with code %(code)s."
    ),
}

# A guard against a (corrupt) cycle of merges; real chains are one or two long.
MAX_MERGE_DEPTH = 10


def message_reporters(event: CaseEvent) -> list[int]:
    """Queue SMS/email to the case's reporters for an event; returns the new message ids.

    The reporters (and co-reporters) of the reports merged into the case, at
    any depth, are told too (MERGED_REPORTER_ACTIONS), each phone number and
    email address once: whoever reported the case itself gets its own text.
    The messages are in the site's language (settings.LANGUAGE_CODE), whatever
    the language of the staff member whose action caused them. Outbox keys:
    `event:<id>:sms:<phone>`, `event:<id>:email` (the case's reporter) and
    `event:<id>:email:<case id>` (a merged report's reporter).
    """
    from chengguan.messaging import queue_message
    from chengguan.models import OutboundMessage

    action = CaseAction(event.action)
    template = REPORTER_ACTIONS.get(action)
    if template is None:
        return []
    case = event.case
    if case.subject_officer_id is not None and event.action != CaseAction.CLOSE:
        return []
    master = case.merged_into.number if case.merged_into_id and case.merged_into else ""
    sms: dict[str, str] = {}
    emails: dict[str, tuple[str, str, str]] = {}  # address: (key suffix, subject, text)
    with translation.override(settings.LANGUAGE_CODE):
        text = str(template) % {
            "number": case.number,
            "code": case.tracking_code,
            "note": event.note or case.get_reject_reason_display(),
            "master": master,
        }
        subject = _("City management report %(number)s") % {"number": case.number}
        phones = [case.reporter_phone, *case.co_reporters.exclude(phone="").values_list("phone", flat=True)]
        for phone in phones:
            if phone:
                sms.setdefault(phone, text)
        if case.reporter_id and case.reporter and case.reporter.email:
            emails[case.reporter.email] = ("", subject, text)
        for merged, merged_phones, email in _merged_reporters(case):
            merged_text = str(MERGED_REPORTER_ACTIONS[action]) % {
                "number": merged.number,
                "code": merged.tracking_code,
                "reason": case.get_reject_reason_display(),
                # On a merge the master's new master handles their report; otherwise the master.
                "master": master if action == CaseAction.MERGE else case.number,
            }
            for phone in merged_phones:
                sms.setdefault(phone, merged_text)
            if email and email not in emails:
                merged_subject = _("City management report %(number)s") % {"number": merged.number}
                emails[email] = (f":{merged.pk}", merged_subject, merged_text)
    queued = [
        queue_message(
            channel=OutboundMessage.Channel.SMS,
            recipient=phone,
            body=body,
            key=f"event:{event.pk}:sms:{phone}",
        )
        for phone, body in sms.items()
    ]
    queued += [
        queue_message(
            channel=OutboundMessage.Channel.EMAIL,
            recipient=address,
            subject=mail_subject,
            body=body,
            key=f"event:{event.pk}:email{suffix}",
        )
        for address, (suffix, mail_subject, body) in emails.items()
    ]
    return [m.pk for m in queued if m is not None]


def _merged_reporters(case: Any) -> list[tuple[Any, list[str], str]]:
    """The reports merged into `case`, directly or through a report merged into one of them,
    each with its reporters' phone numbers and its reporter's email address ("" if none).

    One query per level of merging (one or two in practice), one for the co-reporters:
    never a query per merged report.
    """
    from cases.models import Case, CoReporter

    merged: list[Any] = []
    seen = {case.pk}
    level = [case.pk]
    for _depth in range(MAX_MERGE_DEPTH):
        found = [
            m
            for m in Case.objects.filter(merged_into_id__in=level)
            .select_related("reporter")
            .only("pk", "number", "tracking_code", "reporter_phone", "merged_into_id", "reporter__email")
            .order_by("pk")
            if m.pk not in seen
        ]
        if not found:
            break
        merged += found
        seen.update(m.pk for m in found)
        level = [m.pk for m in found]
    if not merged:
        return []
    co_phones: dict[int, list[str]] = {}
    for case_id, phone in (
        CoReporter.objects.filter(case_id__in=[m.pk for m in merged])
        .exclude(phone="")
        .order_by("pk")
        .values_list("case_id", "phone")
    ):
        co_phones.setdefault(case_id, []).append(phone)
    return [
        (
            m,
            [p for p in (m.reporter_phone, *co_phones.get(m.pk, [])) if p],
            m.reporter.email if m.reporter_id and m.reporter else "",
        )
        for m in merged
    ]
