"""The workflow verbs of the cases API, as one table: verb → input, gate, service.

Every row becomes one `POST /api/v1/cases/{number}/<path>/` action
(cases.api.views.with_workflow_verbs). An action runs the same steps for
every verb:

1. the case is found through the gate's `view` scope (404 outside it);
2. the gate is asked for the verb's own permission on the case (403);
3. the input serializer validates the body (400 naming the fields);
4. `version`, when given, must still be the case's (409 `stale_object`);
5. exactly one service of cases.services runs, the one the desk calls
   (cases.actions), which checks the permission again under a row lock and
   raises the domain errors (409 `case.transition_not_allowed`…).

By default the validated fields are the service's keyword arguments, with
`expected_version` added for services that take one; a verb whose service
needs something else (the pending request it decides, the photo it hides)
says how with `call`.

Parking (挂账) has no direct verb: as on the desk, it is asked for
(`request-park`) and a supervisor approves or refuses (`decide-parking`);
DESIGN §1 gives supervisors the approval. (`services.case_park`, the direct
move, stays for demo data and tests.)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.utils.translation import gettext as _

from cases import services
from cases.api import serializers as s
from cases.choices import ExtensionStatus
from cases.models import Case, ExtensionRequest, ParkingRequest
from cases.selectors import pending_parking
from chengguan.errors import StaleObject, TransitionNotAllowed

# (case, actor, validated input without `version`, the version the client saw)
Call = Callable[[Case, Any, dict[str, Any], int | None], Any]


@dataclass(frozen=True)
class Verb:
    # The viewset method and the route name (`case-<name with dashes>`);
    # not `dispatch` or `return`, which Python and the view already use.
    name: str
    path: str
    summary: str
    input: type[s.VersionedActionSerializer]
    service: Callable[..., Any]
    # The gate's action (cases.scopes.CASE_PERMISSIONS), or a function of the
    # case's status when who may act depends on it.
    gate: str | Callable[[str], str]
    call: Call | None = None
    # Added to the documentation after the service's docstring.
    note: str = ""

    def gate_for(self, status: str) -> str:
        return self.gate if isinstance(self.gate, str) else self.gate(status)

    def perform(self, case: Case, actor: Any, data: dict[str, Any]) -> Any:
        """Run the verb's service on `case` (already found in the actor's scope)."""
        data = dict(data)
        version = data.pop("version", None)
        # The services without `expected_version` still must not act on a
        # case changed since the client read it.
        if version is not None and version != case.version:
            raise StaleObject()
        if self.call is not None:
            return self.call(case, actor, data, version)
        if _takes_version(self.service):
            data["expected_version"] = version
        return self.service(case=case, actor=actor, **data)

    @property
    def description(self) -> str:
        text = inspect.cleandoc(self.service.__doc__ or "")
        gate = self.gate if isinstance(self.gate, str) else "dispatch (registered) or handle (after dispatch)"
        text = f"{text}\n\nPermission: the `{gate}` action of the gate on the case."
        return f"{text}\n\n{self.note}" if self.note else text


@cache
def _takes_version(service: Callable[..., Any]) -> bool:
    return "expected_version" in inspect.signature(service).parameters


def _pending_extension(case: Case) -> ExtensionRequest:
    pending = case.extension_requests.filter(status=ExtensionStatus.PENDING).first()
    if pending is None:
        raise TransitionNotAllowed(
            _("No extension request of this case is waiting for a decision."),
            code="extension.none_pending",
        )
    return pending


def _pending_parking(case: Case) -> ParkingRequest:
    pending: ParkingRequest | None = pending_parking(case)
    if pending is None:
        raise TransitionNotAllowed(
            _("No parking request of this case is waiting for a decision."),
            code="parking.none_pending",
        )
    return pending


def _decide_extension(case: Case, actor: Any, data: dict[str, Any], version: int | None) -> Any:
    return services.case_decide_extension(
        request=_pending_extension(case), actor=actor, expected_version=version, **data
    )


def _decide_parking(case: Case, actor: Any, data: dict[str, Any], version: int | None) -> Any:
    return services.case_decide_parking(
        request=_pending_parking(case), actor=actor, expected_version=version, **data
    )


def _hide_photo(case: Case, actor: Any, data: dict[str, Any], version: int | None) -> Any:
    # The input only accepts a photo of this case (HidePhotoSerializer).
    return services.case_attachment_hide(actor=actor, **data)


PHOTOS = "Photos need a multipart request."

VERBS: list[Verb] = [
    # --- intake
    Verb(
        name="register",
        path="register",
        summary="Register a report (立案)",
        input=s.RegisterSerializer,
        service=services.case_register,
        gate="register",
    ),
    Verb(
        name="reject",
        path="reject",
        summary="Reject a report (不予受理)",
        input=s.RejectSerializer,
        service=services.case_reject,
        gate="register",
    ),
    Verb(
        name="merge",
        path="merge",
        summary="Merge a report into the open case it duplicates",
        input=s.MergeSerializer,
        service=services.case_merge_duplicate,
        gate="register",
    ),
    # --- dispatch and handling
    Verb(
        name="dispatch_case",
        path="dispatch",
        summary="Dispatch a case to a handling unit or an officer (派遣)",
        input=s.DispatchSerializer,
        service=services.case_dispatch,
        gate="dispatch",
    ),
    Verb(
        name="return_case",
        path="return",
        summary="Return a case to the dispatchers (回退)",
        input=s.ReasonSerializer,
        service=services.case_return,
        gate="handle",
    ),
    Verb(
        name="sign_for",
        path="sign-for",
        summary="Sign for a dispatched case (签收)",
        input=s.NoteSerializer,
        service=services.case_sign_for,
        gate="handle",
    ),
    Verb(
        name="submit_result",
        path="submit-result",
        summary="Submit the result of the work (处置反馈)",
        input=s.SubmitResultSerializer,
        service=services.case_submit_result,
        gate="handle",
        note=PHOTOS,
    ),
    Verb(
        name="request_extension",
        path="request-extension",
        summary="Request more time (延期申请)",
        input=s.RequestExtensionSerializer,
        service=services.case_request_extension,
        gate="handle",
    ),
    Verb(
        name="decide_extension",
        path="decide-extension",
        summary="Approve or refuse the pending extension",
        input=s.DecideExtensionSerializer,
        service=services.case_decide_extension,
        gate="supervise",
        call=_decide_extension,
    ),
    # --- parking: asked for, then decided by a supervisor
    Verb(
        name="request_park",
        path="request-park",
        summary="Ask a supervisor to park a case (挂账申请)",
        input=s.RequestParkingSerializer,
        service=services.case_request_parking,
        gate=services.parking_gate,
    ),
    Verb(
        name="decide_parking",
        path="decide-parking",
        summary="Approve (the case is parked, its clock stops) or refuse the pending parking request",
        input=s.DecideParkingSerializer,
        service=services.case_decide_parking,
        gate="supervise",
        call=_decide_parking,
    ),
    Verb(
        name="unpark",
        path="unpark",
        summary="Unpark a case",
        input=s.NoteSerializer,
        service=services.case_unpark,
        gate="supervise",
    ),
    # --- verification and supervision
    Verb(
        name="verify",
        path="verify",
        summary="Verify a result (核查): close or send back for rework",
        input=s.VerifySerializer,
        service=services.case_verify,
        gate="verify",
        note="Supervisors verify in their area; where the community has its liaison verify "
        "(CommunityCaseSettings.liaison_verifies), its responsible liaison does, except their own work.",
    ),
    Verb(
        name="escalate",
        path="escalate",
        summary="Escalate a case for supervision (督办)",
        input=s.RequiredNoteSerializer,
        service=services.case_escalate,
        gate="supervise",
    ),
    Verb(
        name="reopen",
        path="reopen",
        summary="Reopen a closed case",
        input=s.ReasonSerializer,
        service=services.case_reopen,
        gate="reopen",
    ),
    Verb(
        name="close_on_spot",
        path="close-on-spot",
        summary="Close a patrol finding fixed on the spot (当场处置)",
        input=s.SubmitResultSerializer,
        service=services.case_close_on_spot,
        gate="close_on_spot",
        note=PHOTOS,
    ),
    Verb(
        name="mark_false",
        path="mark-false",
        summary="Mark a closed or rejected case false or malicious",
        input=s.ReasonSerializer,
        service=services.case_mark_false,
        gate="supervise",
    ),
    # --- moderation
    Verb(
        name="moderate_text",
        path="moderate-text",
        summary="Correct the wording of a report",
        input=s.ModerateTextSerializer,
        service=services.case_moderate_text,
        gate="moderate",
    ),
    Verb(
        name="recategorise",
        path="recategorise",
        summary="Correct a case's category, community or address",
        input=s.RecategoriseSerializer,
        service=services.case_recategorise,
        gate="moderate",
    ),
    Verb(
        name="hide_photo",
        path="hide-photo",
        summary="Hide a photo from the public",
        input=s.HidePhotoSerializer,
        service=services.case_attachment_hide,
        gate="moderate",
        call=_hide_photo,
    ),
]
