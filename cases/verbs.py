"""The workflow verbs of a case, described once for every surface that offers them.

A verb is one service of cases.services that acts on one case (DESIGN §3:
each transition is one service that checks the permission, validates and
writes the event). Its row in `VERBS` says everything about it that does not
depend on the surface:

* `name`: the desk's action slug and the API's path (`sign-for`);
* `service` and `gate`: the permission action of cases.scopes.CASE_PERMISSIONS
  the actor needs on the case (or a function of its status, where who may act
  depends on it), the same rule the service applies when it locks the row;
* when it applies: its `moves` in `cases.choices.TRANSITIONS` (it applies in
  the statuses they start from), or, for verbs that leave the status as it
  is, the `statuses` where the service allows them; and the requests that
  must (or must not) be pending, and any further `guard`;
* how its service is called: `perform` takes the verb's input, the
  service's keyword arguments as the API names them, and adds the case (or,
  per `acts_on`, the pending request it decides), the actor and the version
  the caller saw.

Each surface adds only what is its own: the casework desk (cases.actions)
a form, a label and a button style; the intake desk
(cases.views.intake.INBOX_ACTIONS) its inbox forms and messages for
registering, rejecting and merging; the API (cases.api.verbs) an input
serializer and a summary. Closing on the spot is the API's (a liaison's patrol
finding calls its service from liaisons.services).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from django.utils.translation import gettext as _

from cases import services
from cases.choices import (
    ESCALATABLE_STATUSES,
    EXTENSION_STATUSES,
    PARKING_STATUSES,
    TRANSITIONS,
    CaseAction,
    CaseStatus,
)
from cases.models import Case, ExtensionRequest, ParkingRequest
from cases.selectors import pending_extension, pending_parking
from chengguan.errors import StaleObject, TransitionNotAllowed
from chengguan.permissions import can

# --- what the guards read, once per case object ------------------------------------


def pending_extension_of(case: Case) -> ExtensionRequest | None:
    """The case's pending extension request (with who asked), read once per case object."""
    if not hasattr(case, "_pending_extension"):
        case._pending_extension = pending_extension(case)  # type: ignore[attr-defined]
    return cast(ExtensionRequest | None, case._pending_extension)  # type: ignore[attr-defined]


def pending_parking_of(case: Case) -> ParkingRequest | None:
    """The case's pending parking request (with who asked), read once per case object."""
    if not hasattr(case, "_pending_parking"):
        case._pending_parking = pending_parking(case)  # type: ignore[attr-defined]
    return cast(ParkingRequest | None, case._pending_parking)  # type: ignore[attr-defined]


def _photos_hidden(case: Case) -> frozenset[bool]:
    """`is_hidden` of the case's photos, both values at most: one query for hiding and showing."""
    if not hasattr(case, "_photos_hidden"):
        hidden = case.attachments.order_by().values_list("is_hidden", flat=True).distinct()
        case._photos_hidden = frozenset(hidden)  # type: ignore[attr-defined]
    return cast(frozenset[bool], case._photos_hidden)  # type: ignore[attr-defined]


# --- what a service acts on besides the actor ---------------------------------------


def _the_case(case: Case) -> dict[str, Any]:
    return {"case": case}


def _the_pending_extension(case: Case) -> dict[str, Any]:
    pending = pending_extension_of(case)
    if pending is None:
        raise TransitionNotAllowed(
            _("No extension request of this case is waiting for a decision."),
            code="extension.none_pending",
        )
    return {"request": pending}


def _the_pending_parking(case: Case) -> dict[str, Any]:
    pending = pending_parking_of(case)
    if pending is None:
        raise TransitionNotAllowed(
            _("No parking request of this case is waiting for a decision."),
            code="parking.none_pending",
        )
    return {"request": pending}


def _the_photo_given(case: Case) -> dict[str, Any]:
    # The photo is in the input, which accepts only one of this case's.
    return {}


@cache
def _takes_version(service: Callable[..., Any]) -> bool:
    return "expected_version" in inspect.signature(service).parameters


@dataclass(frozen=True)
class Verb:
    name: str
    service: Callable[..., Any]
    gate: str | Callable[[str], str]
    # The verb's moves in the transition table; empty for verbs that leave the status as it is.
    moves: tuple[CaseAction, ...] = ()
    # For verbs without moves: the statuses in which the service allows them.
    statuses: frozenset[str] = frozenset()
    # True: only while such a request is pending; False: only while none is.
    extension_pending: bool | None = None
    parking_pending: bool | None = None
    # Any further condition on the case, e.g. it still has a photo shown.
    guard: Callable[[Case], bool] | None = None
    # The keyword arguments naming what the service acts on.
    acts_on: Callable[[Case], dict[str, Any]] = _the_case

    def gate_for(self, status: str) -> str:
        return self.gate if isinstance(self.gate, str) else self.gate(status)

    def applies_in(self, status: str) -> bool:
        if self.moves:
            moves = TRANSITIONS.get(CaseStatus(status), {})
            return any(move in moves for move in self.moves)
        return status in self.statuses

    def is_available(self, user: Any, case: Case) -> bool:
        """Whether `user` may take this verb on `case` now (what the desk offers)."""
        if not self.applies_in(case.status):
            return False
        if self.extension_pending is not None and self.extension_pending != (
            pending_extension_of(case) is not None
        ):
            return False
        if not can(user, self.gate_for(case.status), case):
            return False
        if self.parking_pending is not None and self.parking_pending != (
            pending_parking_of(case) is not None
        ):
            return False
        return self.guard is None or self.guard(case)

    def perform(self, case: Case, actor: Any, data: Mapping[str, Any], version: int | None) -> Any:
        """Run the service on `case` (found in the actor's scope) with the verb's input.

        `version` is the case's version the caller saw; None (the API client
        left it out) skips the check.
        """
        # The services that take no expected_version still must not act on a
        # case changed since the caller read it.
        if version is not None and version != case.version:
            raise StaleObject()
        kwargs = {**self.acts_on(case), "actor": actor, **data}
        if _takes_version(self.service):
            kwargs["expected_version"] = version
        return self.service(**kwargs)


ALL_STATUSES = frozenset(CaseStatus)


def _has_visible_photo(case: Case) -> bool:
    return False in _photos_hidden(case)


def _has_hidden_photo(case: Case) -> bool:
    return True in _photos_hidden(case)


def _not_marked_false(case: Case) -> bool:
    return not case.false_report


VERBS: dict[str, Verb] = {
    verb.name: verb
    for verb in [
        # --- intake
        Verb("register", services.case_register, "register", moves=(CaseAction.REGISTER,)),
        Verb("reject", services.case_reject, "register", moves=(CaseAction.REJECT,)),
        Verb("merge", services.case_merge_duplicate, "register", moves=(CaseAction.MERGE,)),
        # --- dispatch and handling
        Verb("dispatch", services.case_dispatch, "dispatch", moves=(CaseAction.DISPATCH,)),
        Verb("return", services.case_return, "handle", moves=(CaseAction.RETURN,)),
        Verb("sign-for", services.case_sign_for, "handle", moves=(CaseAction.SIGN_FOR,)),
        Verb("submit-result", services.case_submit_result, "handle", moves=(CaseAction.SUBMIT_RESULT,)),
        Verb(
            "request-extension",
            services.case_request_extension,
            "handle",
            statuses=EXTENSION_STATUSES,
            extension_pending=False,
        ),
        Verb(
            "decide-extension",
            services.case_decide_extension,
            "supervise",
            statuses=EXTENSION_STATUSES,
            extension_pending=True,
            acts_on=_the_pending_extension,
        ),
        # --- parking (挂账): asked for by the dispatcher or the handler, decided
        # by a supervisor (DESIGN §1); services.case_park, the direct move, stays
        # for demo data and tests.
        Verb(
            "request-park",
            services.case_request_parking,
            services.parking_gate,
            statuses=PARKING_STATUSES,
            parking_pending=False,
        ),
        Verb(
            "decide-parking",
            services.case_decide_parking,
            "supervise",
            statuses=PARKING_STATUSES,
            parking_pending=True,
            acts_on=_the_pending_parking,
        ),
        Verb("unpark", services.case_unpark, "supervise", moves=(CaseAction.UNPARK,)),
        # --- verification and supervision
        Verb("verify", services.case_verify, "verify", moves=(CaseAction.CLOSE, CaseAction.REWORK)),
        Verb("escalate", services.case_escalate, "supervise", statuses=ESCALATABLE_STATUSES),
        Verb("reopen", services.case_reopen, "reopen", moves=(CaseAction.REOPEN,)),
        Verb(
            "close-on-spot", services.case_close_on_spot, "close_on_spot", moves=(CaseAction.CLOSE_ON_SPOT,)
        ),
        Verb(
            "mark-false",
            services.case_mark_false,
            "supervise",
            statuses=frozenset({CaseStatus.CLOSED, CaseStatus.REJECTED}),
            guard=_not_marked_false,
        ),
        # --- moderation: the intake role's (operators and supervisors)
        Verb("moderate-text", services.case_moderate_text, "moderate", statuses=ALL_STATUSES),
        Verb("recategorise", services.case_recategorise, "moderate", statuses=ALL_STATUSES),
        Verb(
            "hide-photo",
            services.case_attachment_hide,
            "moderate",
            statuses=ALL_STATUSES,
            guard=_has_visible_photo,
            acts_on=_the_photo_given,
        ),
        Verb(
            "unhide-photo",
            services.case_attachment_unhide,
            "moderate",
            statuses=ALL_STATUSES,
            guard=_has_hidden_photo,
        ),
    ]
}
