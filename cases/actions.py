"""The actions the casework desk offers on a case, and who sees which (DESIGN §3).

An action is shown to a user exactly when three things hold:

* the gate: `chengguan.permissions.can(user, action.gate, case)`, the same
  rule the service applies when it locks the row;
* the transition table: the case's status has the action's move in
  `cases.choices.TRANSITIONS` (or, for the actions that do not change the
  status, the status is one where the service allows them);
* the extra guard, e.g. an extension (or parking) can be decided only while
  a request is pending, a photo hidden only while one is still shown.

Parking (挂账) goes through a request: the dispatcher (registered cases) or
the handler asks, a supervisor approves or refuses (DESIGN §1: supervisors
approve parking). Moderation (correcting the wording, category or place,
hiding photos) is the intake role's, i.e. operators and supervisors.

Each action posts one small form and calls exactly one service. Registering,
rejecting and merging reports are the intake desk's (cases.views.intake).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from cases import services
from cases.choices import (
    ESCALATABLE_STATUSES,
    EXTENSION_STATUSES,
    PARKING_STATUSES,
    TRANSITIONS,
    CaseAction,
    CaseStatus,
    ExtensionStatus,
)
from cases.forms.desk import (
    CaseActionForm,
    DecideExtensionForm,
    DecideParkingForm,
    DispatchForm,
    HidePhotoForm,
    ModerateTextForm,
    OptionalNoteForm,
    PublicNoteForm,
    ReasonForm,
    RecategoriseForm,
    RequestExtensionForm,
    RequestParkingForm,
    RequiredNoteForm,
    SubmitResultForm,
    pending_parking_of,
    visible_photos,
)
from cases.models import Case, ExtensionRequest
from cases.selectors import cases_for
from chengguan.errors import ActionNotPermitted, DomainError, StaleObject
from chengguan.permissions import can

Perform = Callable[[Case, Any, Any], Any]


@dataclass(frozen=True)
class DeskAction:
    slug: str
    label: Promise
    # The permission action of the gate (cases.scopes.CASE_PERMISSIONS).
    gate: str
    form_class: type[CaseActionForm]
    # Calls the one service, given (case, actor, valid form).
    perform: Perform
    # "%(number)s" is the case number.
    done: Promise
    # The move in the transition table; None for actions that leave the status as it is.
    transition: CaseAction | None = None
    # For actions outside the table: the statuses in which the service allows them.
    statuses: frozenset[CaseStatus] = frozenset()
    # True: only while an extension request is pending; False: only while none is.
    needs_pending_extension: bool | None = None
    # True: only while a parking request is pending; False: only while none is.
    needs_pending_parking: bool | None = None
    # A gate per status, where who may act depends on it (e.g. asking to park).
    gate_by_status: dict[str, str] | None = field(default=None, compare=False)
    # Any further condition on the case, e.g. it still has a photo shown.
    guard: Callable[[Case], bool] | None = None
    style: str = "secondary"
    # One button, no fields to fill in.
    quick: bool = False
    hint: Promise | str = ""

    def allowed_in(self, status: str) -> bool:
        if self.transition is not None:
            return self.transition in TRANSITIONS.get(CaseStatus(status), {})
        return status in self.statuses

    def gate_for(self, status: str) -> str:
        if self.gate_by_status is not None:
            return self.gate_by_status.get(status, self.gate)
        return self.gate

    def is_available(self, user: Any, case: Case, pending: ExtensionRequest | None) -> bool:
        if not self.allowed_in(case.status):
            return False
        if self.needs_pending_extension is not None and self.needs_pending_extension != (pending is not None):
            return False
        if not can(user, self.gate_for(case.status), case):
            return False
        if self.needs_pending_parking is not None and self.needs_pending_parking != (
            pending_parking_of(case) is not None
        ):
            return False
        return self.guard is None or self.guard(case)

    def form(self, user: Any, case: Case, pending: ExtensionRequest | None, **kwargs: Any) -> CaseActionForm:
        return self.form_class(case=case, user=user, pending=pending, action=self.slug, **kwargs)


def _version(form: Any) -> int:
    return int(form.cleaned_data["expected_version"])


def _dispatch(case: Case, actor: Any, form: Any) -> Any:
    data = form.cleaned_data
    return services.case_dispatch(
        case=case,
        actor=actor,
        handling_unit=data["handling_unit"],
        assignee=data["assignee"],
        note=data["note"],
        expected_version=_version(form),
    )


def _decide_parking(case: Case, actor: Any, form: Any) -> Any:
    data = form.cleaned_data
    return services.case_decide_parking(
        request=form.parking,
        actor=actor,
        approve=data["decision"] == DecideParkingForm.APPROVE,
        note=data["note"],
        expected_version=_version(form),
    )


def _recategorise(case: Case, actor: Any, form: Any) -> Any:
    data = form.cleaned_data
    return services.case_recategorise(
        case=case,
        actor=actor,
        reason=data["reason"],
        category=data["category"],
        community=data["community"],
        address=data["address"],
        expected_version=_version(form),
    )


def _has_visible_photo(case: Case) -> bool:
    return visible_photos(case).exists()


ALL_STATUSES = frozenset(CaseStatus)


def _decide_extension(case: Case, actor: Any, form: Any) -> Any:
    data = form.cleaned_data
    return services.case_decide_extension(
        request=form.pending,
        actor=actor,
        approve=data["decision"] == DecideExtensionForm.APPROVE,
        note=data["note"],
    )


ACTIONS: dict[str, DeskAction] = {
    action.slug: action
    for action in [
        DeskAction(
            slug="sign-for",
            label=_("Sign for"),
            gate="handle",
            transition=CaseAction.SIGN_FOR,
            form_class=CaseActionForm,
            perform=lambda case, actor, form: services.case_sign_for(
                case=case, actor=actor, expected_version=_version(form)
            ),
            done=_("Case %(number)s signed for: it is now in progress."),
            style="primary",
            quick=True,
        ),
        DeskAction(
            slug="submit-result",
            label=_("Submit result"),
            gate="handle",
            transition=CaseAction.SUBMIT_RESULT,
            form_class=SubmitResultForm,
            perform=lambda case, actor, form: services.case_submit_result(
                case=case,
                actor=actor,
                result=form.cleaned_data["result"],
                photos=form.cleaned_data["photos"],
                expected_version=_version(form),
            ),
            done=_("Result of case %(number)s submitted for verification."),
            style="primary",
        ),
        DeskAction(
            slug="dispatch",
            label=_("Dispatch"),
            gate="dispatch",
            transition=CaseAction.DISPATCH,
            form_class=DispatchForm,
            perform=_dispatch,
            done=_("Case %(number)s dispatched."),
            style="primary",
        ),
        DeskAction(
            slug="verify",
            label=_("Pass and close"),
            gate="verify",
            transition=CaseAction.CLOSE,
            form_class=PublicNoteForm,
            perform=lambda case, actor, form: services.case_verify(
                case=case,
                actor=actor,
                passed=True,
                note=form.cleaned_data["note"],
                expected_version=_version(form),
            ),
            done=_("Case %(number)s verified and closed."),
            style="primary",
        ),
        DeskAction(
            slug="rework",
            label=_("Fail: send back for rework"),
            gate="verify",
            transition=CaseAction.REWORK,
            form_class=ReasonForm,
            perform=lambda case, actor, form: services.case_verify(
                case=case,
                actor=actor,
                passed=False,
                note=form.cleaned_data["reason"],
                expected_version=_version(form),
            ),
            done=_("Case %(number)s sent back to its handler for rework."),
            style="danger",
        ),
        DeskAction(
            slug="decide-extension",
            label=_("Decide the extension request"),
            gate="supervise",
            statuses=EXTENSION_STATUSES,
            needs_pending_extension=True,
            form_class=DecideExtensionForm,
            perform=_decide_extension,
            done=_("Extension request of case %(number)s decided."),
            style="primary",
        ),
        DeskAction(
            slug="unpark",
            label=_("Unpark"),
            gate="supervise",
            transition=CaseAction.UNPARK,
            form_class=OptionalNoteForm,
            perform=lambda case, actor, form: services.case_unpark(
                case=case, actor=actor, note=form.cleaned_data["note"], expected_version=_version(form)
            ),
            done=_("Case %(number)s unparked: it is back with the dispatchers."),
            style="primary",
        ),
        DeskAction(
            slug="request-extension",
            label=_("Request extension"),
            gate="handle",
            statuses=EXTENSION_STATUSES,
            needs_pending_extension=False,
            form_class=RequestExtensionForm,
            perform=lambda case, actor, form: services.case_request_extension(
                case=case,
                actor=actor,
                requested_due_at=form.requested_due_at(),
                reason=form.cleaned_data["reason"],
            ),
            done=_("Extension for case %(number)s requested; a supervisor will decide."),
        ),
        DeskAction(
            slug="return",
            label=_("Return to the dispatcher"),
            gate="handle",
            transition=CaseAction.RETURN,
            form_class=ReasonForm,
            perform=lambda case, actor, form: services.case_return(
                case=case, actor=actor, reason=form.cleaned_data["reason"], expected_version=_version(form)
            ),
            done=_("Case %(number)s returned to the dispatchers."),
            hint=_("When the case is not yours to handle or was dispatched wrongly."),
        ),
        DeskAction(
            slug="decide-parking",
            label=_("Decide the parking request"),
            gate="supervise",
            statuses=PARKING_STATUSES,
            needs_pending_parking=True,
            form_class=DecideParkingForm,
            perform=_decide_parking,
            done=_("Parking request of case %(number)s decided."),
            style="primary",
            hint=_("Approving parks the case (挂账) and stops its deadline until it is unparked."),
        ),
        DeskAction(
            slug="request-park",
            label=_("Request parking"),
            gate="handle",
            gate_by_status={CaseStatus.REGISTERED: "dispatch"},
            statuses=PARKING_STATUSES,
            needs_pending_parking=False,
            form_class=RequestParkingForm,
            perform=lambda case, actor, form: services.case_request_parking(
                case=case,
                actor=actor,
                reason=form.cleaned_data["reason"],
                resume_on=form.cleaned_data["resume_on"],
                expected_version=_version(form),
            ),
            done=_("Parking of case %(number)s requested; a supervisor will decide."),
            hint=_("For a case that cannot be handled for now (挂账); its deadline runs until approval."),
        ),
        DeskAction(
            slug="escalate",
            label=_("Escalate"),
            gate="supervise",
            statuses=ESCALATABLE_STATUSES,
            form_class=RequiredNoteForm,
            perform=lambda case, actor, form: services.case_escalate(
                case=case, actor=actor, note=form.cleaned_data["note"]
            ),
            done=_("Case %(number)s escalated."),
            style="danger",
            hint=_("Flags the case for supervision (督办) and notifies its handler."),
        ),
        DeskAction(
            slug="reopen",
            label=_("Reopen"),
            gate="reopen",
            transition=CaseAction.REOPEN,
            form_class=ReasonForm,
            perform=lambda case, actor, form: services.case_reopen(
                case=case, actor=actor, reason=form.cleaned_data["reason"], expected_version=_version(form)
            ),
            done=_("Case %(number)s reopened and sent back to its handler."),
            hint=_("E.g. after an unsatisfied return visit."),
        ),
        DeskAction(
            slug="mark-false",
            label=_("Mark as a false or malicious report"),
            gate="supervise",
            statuses=frozenset({CaseStatus.CLOSED, CaseStatus.REJECTED}),
            guard=lambda case: not case.false_report,
            form_class=ReasonForm,
            perform=lambda case, actor, form: services.case_mark_false(
                case=case, actor=actor, reason=form.cleaned_data["reason"]
            ),
            done=_("Case %(number)s marked as a false or malicious report; it leaves the assessment."),
            style="danger",
            hint=_("不实/恶意投诉: left out of its unit's and liaison's assessment and counted apart."),
        ),
        DeskAction(
            slug="moderate-text",
            label=_("Correct the wording"),
            gate="moderate",
            statuses=ALL_STATUSES,
            form_class=ModerateTextForm,
            perform=lambda case, actor, form: services.case_moderate_text(
                case=case,
                actor=actor,
                description=form.cleaned_data["description"],
                title=form.cleaned_data["title"],
                reason=form.cleaned_data["reason"],
                expected_version=_version(form),
            ),
            done=_("The wording of case %(number)s was corrected; the original stays in its history."),
            hint=_("The public pages show the corrected text; staff keep the original."),
        ),
        DeskAction(
            slug="recategorise",
            label=_("Correct category or place"),
            gate="moderate",
            statuses=ALL_STATUSES,
            form_class=RecategoriseForm,
            perform=_recategorise,
            done=_("Category or place of case %(number)s corrected."),
        ),
        DeskAction(
            slug="hide-photo",
            label=_("Hide a photo"),
            gate="moderate",
            statuses=ALL_STATUSES,
            guard=_has_visible_photo,
            form_class=HidePhotoForm,
            perform=lambda case, actor, form: services.case_attachment_hide(
                attachment=form.cleaned_data["attachment"], actor=actor, reason=form.cleaned_data["reason"]
            ),
            done=_("The photo of case %(number)s is hidden from the public."),
            style="danger",
            hint=_("For photos showing faces, number plates or private places. Staff still see it."),
        ),
    ]
}


def pending_extension(case: Case) -> ExtensionRequest | None:
    return (
        case.extension_requests.filter(status=ExtensionStatus.PENDING).select_related("requested_by").first()
    )


def available_actions(user: Any, case: Case, pending: ExtensionRequest | None) -> list[DeskAction]:
    """The actions `user` may take on `case` now, in the order the page shows them."""
    return [action for action in ACTIONS.values() if action.is_available(user, case, pending)]


def action_forms(
    user: Any,
    case: Case,
    pending: ExtensionRequest | None,
    bound: CaseActionForm | None = None,
    bound_slug: str = "",
) -> list[tuple[DeskAction, CaseActionForm]]:
    """Each available action with its form; the one just posted keeps the user's input and errors."""
    forms = []
    for action in available_actions(user, case, pending):
        keep = bound is not None and action.slug == bound_slug
        forms.append((action, bound if keep and bound is not None else action.form(user, case, pending)))
    return forms


def perform(action: DeskAction, *, case: Case, actor: Any, form: CaseActionForm) -> str:
    """Run the action's service; returns the message to show. Raises DomainError."""
    # The services that take no expected_version still must not act on a
    # page the user saw before someone else changed the case.
    if _version(form) != case.version:
        raise StaleObject()
    action.perform(case, actor, form)
    return str(action.done) % {"number": case.number}


@dataclass
class BulkOutcome:
    dispatched: list[str]
    failed: list[tuple[str, str]]


def dispatch_many(
    *, actor: Any, versions: dict[int, int], handling_unit: Any, assignee: Any, note: str = ""
) -> BulkOutcome:
    """Dispatch several cases to one handler, each in its own transaction.

    A case that cannot be dispatched (changed meanwhile, out of scope, no
    longer registered) is reported and does not stop the others.
    """
    outcome = BulkOutcome(dispatched=[], failed=[])
    found = {case.pk: case for case in cases_for(actor, "dispatch").filter(pk__in=list(versions))}
    for pk, version in versions.items():
        case = found.get(pk)
        if case is None:
            outcome.failed.append((f"#{pk}", str(ActionNotPermitted().message)))
            continue
        try:
            services.case_dispatch(
                case=case,
                actor=actor,
                handling_unit=handling_unit,
                assignee=assignee,
                note=note,
                expected_version=version,
            )
        except DomainError as error:
            outcome.failed.append((case.number, str(error.message)))
        else:
            outcome.dispatched.append(case.number)
    return outcome


def slugs(actions: Iterable[DeskAction]) -> list[str]:
    return [action.slug for action in actions]
