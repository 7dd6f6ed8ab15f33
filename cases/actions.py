"""The actions the casework desk offers on a case, and who sees which (DESIGN §3).

Each action is a verb of cases.verbs (the one table of the workflow, which
the API reads too) with what only the desk has: the form it posts, its
label, the message once it is done and its button's style. The verb says
when the action is shown: the gate allows the user, the case's status is one
where the verb applies (its move in `cases.choices.TRANSITIONS`, or the
statuses where the service allows it) and its guard holds, e.g. an
extension can be decided only while a request is pending.

One verb can be two buttons: verification passes ("verify") or fails
("rework"). Registering, rejecting and merging reports are the intake
desk's (cases.views.intake).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from cases import services
from cases.forms.desk import (
    CaseActionForm,
    DecideExtensionForm,
    DecideParkingForm,
    DispatchForm,
    HidePhotoForm,
    ModerateTextForm,
    OptionalNoteForm,
    PassForm,
    ReasonForm,
    RecategoriseForm,
    RequestExtensionForm,
    RequestParkingForm,
    RequiredNoteForm,
    ReworkForm,
    SubmitResultForm,
    UnhidePhotoForm,
)
from cases.models import Case
from cases.selectors import cases_for
from cases.verbs import VERBS, Verb
from chengguan.errors import ActionNotPermitted, DomainError


@dataclass(frozen=True)
class DeskAction:
    slug: str
    verb: Verb
    label: Promise
    form_class: type[CaseActionForm]
    # "%(number)s" is the case number.
    done: Promise
    style: str = "secondary"
    # One button, no fields to fill in.
    quick: bool = False
    hint: Promise | str = ""

    def is_available(self, user: Any, case: Case) -> bool:
        return self.verb.is_available(user, case)

    def form(self, user: Any, case: Case, **kwargs: Any) -> CaseActionForm:
        return self.form_class(case=case, user=user, action=self.slug, **kwargs)


def _action(verb: str, *, slug: str = "", **desk: Any) -> DeskAction:
    """The desk's action for a verb; its slug is the verb's name unless one verb makes two buttons."""
    return DeskAction(slug=slug or verb, verb=VERBS[verb], **desk)


# In the order the page shows them.
ACTIONS: dict[str, DeskAction] = {
    action.slug: action
    for action in [
        _action(
            "sign-for",
            label=_("Sign for"),
            form_class=CaseActionForm,
            done=_("Case %(number)s signed for: it is now in progress."),
            style="primary",
            quick=True,
        ),
        _action(
            "submit-result",
            label=_("Submit result"),
            form_class=SubmitResultForm,
            done=_("Result of case %(number)s submitted for verification."),
            style="primary",
        ),
        _action(
            "dispatch",
            label=_("Dispatch"),
            form_class=DispatchForm,
            done=_("Case %(number)s dispatched."),
            style="primary",
        ),
        _action(
            "verify",
            label=_("Pass and close"),
            form_class=PassForm,
            done=_("Case %(number)s verified and closed."),
            style="primary",
        ),
        _action(
            "verify",
            slug="rework",
            label=_("Fail: send back for rework"),
            form_class=ReworkForm,
            done=_("Case %(number)s sent back to its handler for rework."),
            style="danger",
        ),
        _action(
            "decide-extension",
            label=_("Decide the extension request"),
            form_class=DecideExtensionForm,
            done=_("Extension request of case %(number)s decided."),
            style="primary",
        ),
        _action(
            "unpark",
            label=_("Unpark"),
            form_class=OptionalNoteForm,
            done=_("Case %(number)s unparked: it is back with the dispatchers."),
            style="primary",
        ),
        _action(
            "request-extension",
            label=_("Request extension"),
            form_class=RequestExtensionForm,
            done=_("Extension for case %(number)s requested; a supervisor will decide."),
        ),
        _action(
            "return",
            label=_("Return to the dispatcher"),
            form_class=ReasonForm,
            done=_("Case %(number)s returned to the dispatchers."),
            hint=_("When the case is not yours to handle or was dispatched wrongly."),
        ),
        _action(
            "decide-parking",
            label=_("Decide the parking request"),
            form_class=DecideParkingForm,
            done=_("Parking request of case %(number)s decided."),
            style="primary",
            hint=_("Approving parks the case (挂账) and stops its deadline until it is unparked."),
        ),
        _action(
            "request-park",
            label=_("Request parking"),
            form_class=RequestParkingForm,
            done=_("Parking of case %(number)s requested; a supervisor will decide."),
            hint=_("For a case that cannot be handled for now (挂账); its deadline runs until approval."),
        ),
        _action(
            "escalate",
            label=_("Escalate"),
            form_class=RequiredNoteForm,
            done=_("Case %(number)s escalated."),
            style="danger",
            hint=_("Flags the case for supervision (督办) and notifies its handler."),
        ),
        _action(
            "reopen",
            label=_("Reopen"),
            form_class=ReasonForm,
            done=_("Case %(number)s reopened and sent back to its handler."),
            hint=_("E.g. after an unsatisfied return visit."),
        ),
        _action(
            "mark-false",
            label=_("Mark as a false or malicious report"),
            form_class=ReasonForm,
            done=_("Case %(number)s marked as a false or malicious report; it leaves the assessment."),
            style="danger",
            hint=_("不实/恶意投诉: left out of its unit's and liaison's assessment and counted apart."),
        ),
        _action(
            "moderate-text",
            label=_("Correct the wording"),
            form_class=ModerateTextForm,
            done=_("The wording of case %(number)s was corrected; the original stays in its history."),
            hint=_("The public pages show the corrected text; staff keep the original."),
        ),
        _action(
            "recategorise",
            label=_("Correct category or place"),
            form_class=RecategoriseForm,
            done=_("Category or place of case %(number)s corrected."),
        ),
        _action(
            "hide-photo",
            label=_("Hide a photo"),
            form_class=HidePhotoForm,
            done=_("The photo of case %(number)s is hidden from the public."),
            style="danger",
            hint=_("For photos showing faces, number plates or private places. Staff still see it."),
        ),
        _action(
            "unhide-photo",
            label=_("Show a hidden photo again"),
            form_class=UnhidePhotoForm,
            done=_("The photo of case %(number)s is shown to the public again."),
            hint=_("When a photo was hidden by mistake. The public pages show it again."),
        ),
    ]
}


def available_actions(user: Any, case: Case) -> list[DeskAction]:
    """The actions `user` may take on `case` now, in the order the page shows them."""
    return [action for action in ACTIONS.values() if action.is_available(user, case)]


def action_forms(
    user: Any, case: Case, bound: CaseActionForm | None = None, bound_slug: str = ""
) -> list[tuple[DeskAction, CaseActionForm]]:
    """Each available action with its form; the one just posted keeps the user's input and errors."""
    forms = []
    for action in available_actions(user, case):
        keep = bound is not None and action.slug == bound_slug
        forms.append((action, bound if keep and bound is not None else action.form(user, case)))
    return forms


def perform(action: DeskAction, *, case: Case, actor: Any, form: CaseActionForm) -> str:
    """Run the action's verb with the valid form; returns the message to show. Raises DomainError."""
    action.verb.perform(case, actor, form.verb_input(), version=form.cleaned_data["expected_version"])
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
