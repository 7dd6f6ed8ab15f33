"""The workflow verbs as the cases API offers them: each verb of cases.verbs
with its input serializer and the summary of its operation.

Every row becomes one `POST /api/v1/cases/{number}/<verb name>/` action
(cases.api.views.with_workflow_verbs). An action runs the same steps for
every verb:

1. the case is found through the gate's `view` scope (404 outside it);
2. the gate is asked for the verb's own permission on the case (403);
3. the input serializer validates the body (400 naming the fields);
4. `version`, when given, must still be the case's (409 `stale_object`);
5. the verb's service runs (cases.verbs.Verb.perform, as on the desk),
   which checks the permission again under a row lock and raises the domain
   errors (409 `case.transition_not_allowed`…).

An input serializer's fields, `version` aside, are the service's keyword
arguments. Parking (挂账) has no direct verb: as on the desk, it is asked
for (`request-park`) and a supervisor approves or refuses
(`decide-parking`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from cases import verbs as workflow
from cases.api import serializers as s
from cases.models import Case

# Added to the documentation of the verbs that take photos.
PHOTOS = "Photos need a multipart request."


@dataclass(frozen=True)
class ApiVerb:
    verb: workflow.Verb
    summary: str
    input: type[s.VersionedActionSerializer]
    # Added to the documentation after the service's docstring.
    note: str = ""

    @property
    def path(self) -> str:
        return self.verb.name

    @property
    def method(self) -> str:
        """The viewset method, hence the route name (`case-<method with dashes>`);
        not `dispatch` or `return`, which the view and Python already use."""
        name = self.verb.name.replace("-", "_")
        return f"{name}_case" if name in ("dispatch", "return") else name

    def perform(self, case: Case, actor: Any, data: dict[str, Any]) -> Any:
        """Run the verb on `case` (already found in the actor's scope) with the validated input."""
        data = dict(data)
        version = data.pop("version", None)
        return self.verb.perform(case, actor, data, version)

    @property
    def description(self) -> str:
        text = inspect.cleandoc(self.verb.service.__doc__ or "")
        gate = self.verb.gate
        if not isinstance(gate, str):
            gate = "dispatch (registered) or handle (after dispatch)"
        text = f"{text}\n\nPermission: the `{gate}` action of the gate on the case."
        return f"{text}\n\n{self.note}" if self.note else text


def _api(name: str, summary: str, input: type[s.VersionedActionSerializer], note: str = "") -> ApiVerb:
    return ApiVerb(workflow.VERBS[name], summary, input, note)


VERBS: list[ApiVerb] = [
    # --- intake
    _api("register", "Register a report (立案)", s.RegisterSerializer),
    _api("reject", "Reject a report (不予受理)", s.RejectSerializer),
    _api("merge", "Merge a report into the open case it duplicates", s.MergeSerializer),
    # --- dispatch and handling
    _api("dispatch", "Dispatch a case to a handling unit or an officer (派遣)", s.DispatchSerializer),
    _api("return", "Return a case to the dispatchers (回退)", s.ReasonSerializer),
    _api("sign-for", "Sign for a dispatched case (签收)", s.NoteSerializer),
    _api("submit-result", "Submit the result of the work (处置反馈)", s.SubmitResultSerializer, PHOTOS),
    _api("request-extension", "Request more time (延期申请)", s.RequestExtensionSerializer),
    _api("decide-extension", "Approve or refuse the pending extension", s.DecideExtensionSerializer),
    # --- parking: asked for, then decided by a supervisor
    _api("request-park", "Ask a supervisor to park a case (挂账申请)", s.RequestParkingSerializer),
    _api(
        "decide-parking",
        "Approve (the case is parked, its clock stops) or refuse the pending parking request",
        s.DecideParkingSerializer,
    ),
    _api("unpark", "Unpark a case", s.NoteSerializer),
    # --- verification and supervision
    _api(
        "verify",
        "Verify a result (核查): close or send back for rework",
        s.VerifySerializer,
        "Supervisors verify in their area; where the community has its liaison verify "
        "(CommunityCaseSettings.liaison_verifies), its responsible liaison does, except their own work.",
    ),
    _api("escalate", "Escalate a case for supervision (督办)", s.RequiredNoteSerializer),
    _api("reopen", "Reopen a closed case", s.ReasonSerializer),
    _api(
        "close-on-spot",
        "Close a patrol finding fixed on the spot (当场处置)",
        s.SubmitResultSerializer,
        PHOTOS,
    ),
    _api("mark-false", "Mark a closed or rejected case false or malicious", s.ReasonSerializer),
    # --- moderation
    _api("moderate-text", "Correct the wording of a report", s.ModerateTextSerializer),
    _api("recategorise", "Correct a case's category, community or address", s.RecategoriseSerializer),
    _api("hide-photo", "Hide a photo from the public", s.HidePhotoSerializer),
    _api("unhide-photo", "Show a hidden photo to the public again", s.UnhidePhotoSerializer),
]
