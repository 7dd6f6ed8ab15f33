"""The case workflow: every (status, action) pair of the transition table, allowed and forbidden."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from cases import services
from cases.choices import (
    TRANSITION_ACTIONS,
    TRANSITIONS,
    CaseAction,
    CaseStatus,
    ExtensionStatus,
    RejectReason,
)
from cases.models import Case, CaseEvent
from chengguan.clock import frozen_at
from chengguan.errors import ActionNotPermitted, InvalidInput, StaleObject, TransitionNotAllowed
from chengguan.roles import Role
from tests.factories import aware, staff

Call = Callable[..., Case]


def _merge(*, case: Case, actor: Any, master: Case, unit: Any, **kwargs: Any) -> Case:
    return services.case_merge_duplicate(case=case, master=master, actor=actor, **kwargs)


# action -> the service call that performs it, with valid input.
CALLS: dict[CaseAction, Call] = {
    CaseAction.REGISTER: lambda *, case, actor, master, unit, **kw: services.case_register(
        case=case, actor=actor, **kw
    ),
    CaseAction.REJECT: lambda *, case, actor, master, unit, **kw: services.case_reject(
        case=case, actor=actor, reason=RejectReason.INVALID, note="不属于城管职责", **kw
    ),
    CaseAction.MERGE: _merge,
    CaseAction.DISPATCH: lambda *, case, actor, master, unit, **kw: services.case_dispatch(
        case=case, actor=actor, handling_unit=unit, **kw
    ),
    CaseAction.RETURN: lambda *, case, actor, master, unit, **kw: services.case_return(
        case=case, actor=actor, reason="不属于本单位职责", **kw
    ),
    CaseAction.SIGN_FOR: lambda *, case, actor, master, unit, **kw: services.case_sign_for(
        case=case, actor=actor, **kw
    ),
    CaseAction.SUBMIT_RESULT: lambda *, case, actor, master, unit, **kw: services.case_submit_result(
        case=case, actor=actor, result="已清理完毕", **kw
    ),
    CaseAction.CLOSE: lambda *, case, actor, master, unit, **kw: services.case_verify(
        case=case, actor=actor, passed=True, **kw
    ),
    CaseAction.CLOSE_ON_SPOT: lambda *, case, actor, master, unit, **kw: services.case_close_on_spot(
        case=case, actor=actor, result="已当场劝离摊贩", **kw
    ),
    CaseAction.REWORK: lambda *, case, actor, master, unit, **kw: services.case_verify(
        case=case, actor=actor, passed=False, note="现场仍有杂物", **kw
    ),
    CaseAction.PARK: lambda *, case, actor, master, unit, **kw: services.case_park(
        case=case, actor=actor, reason="待拆迁", **kw
    ),
    CaseAction.UNPARK: lambda *, case, actor, master, unit, **kw: services.case_unpark(
        case=case, actor=actor, **kw
    ),
    CaseAction.REOPEN: lambda *, case, actor, master, unit, **kw: services.case_reopen(
        case=case, actor=actor, reason="回访不满意", **kw
    ),
}

ALLOWED = [
    pytest.param(source, action, target, id=f"{source.value}-{action.value}")
    for source, moves in TRANSITIONS.items()
    for action, target in moves.items()
]
FORBIDDEN = [
    pytest.param(source, action, id=f"{source.value}-{action.value}")
    for source in CaseStatus
    for action in sorted(TRANSITION_ACTIONS)
    if action not in TRANSITIONS[source]
]


def snapshot(case: Case) -> dict[str, Any]:
    fresh = Case.objects.get(pk=case.pk)
    return {field.attname: getattr(fresh, field.attname) for field in Case._meta.concrete_fields}


def test_every_transition_verb_has_a_service_call():
    assert set(CALLS) == set(TRANSITION_ACTIONS)
    assert set(TRANSITIONS) == set(CaseStatus)


@pytest.mark.parametrize(("source", "action", "target"), ALLOWED)
def test_allowed_move(make_case, superuser, unit, source, action, target):
    # given a case in `source` (and, for a merge, an open case to merge into)
    master = make_case(CaseStatus.REGISTERED) if action == CaseAction.MERGE else None
    case = make_case(source)
    events_before = set(case.events.values_list("pk", flat=True))
    # when the matching service runs
    result = CALLS[action](case=case, actor=superuser, master=master, unit=unit)
    # then the case reaches `target`, one version later
    case.refresh_from_db()
    assert result.status == case.status == target
    assert case.version == result.version
    new_events = list(case.events.exclude(pk__in=events_before))
    # and exactly one event records the move
    assert len(new_events) == 1
    event = new_events[0]
    assert (event.action, event.from_status, event.to_status) == (action, source, target)
    assert event.actor == superuser


@pytest.mark.parametrize(("source", "action"), FORBIDDEN)
def test_forbidden_move(make_case, superuser, unit, source, action):
    # given a case in `source`
    master = make_case(CaseStatus.REGISTERED)
    case = make_case(source)
    before, master_before = snapshot(case), snapshot(master)
    events_before = CaseEvent.objects.count()
    # when a verb the table does not allow from `source` is attempted
    with pytest.raises(TransitionNotAllowed) as caught:
        CALLS[action](case=case, actor=superuser, master=master, unit=unit)
    # then it is refused with the stable code, and nothing changed
    assert caught.value.code == "case.transition_not_allowed"
    assert caught.value.http_status == 409
    assert caught.value.params == {"status": source.value, "action": action}
    assert snapshot(case) == before
    assert snapshot(master) == master_before
    assert CaseEvent.objects.count() == events_before


def test_version_increases_by_one_per_move(make_case, superuser, unit):
    case = make_case(CaseStatus.REPORTED)
    version = case.version
    for action in (CaseAction.REGISTER, CaseAction.DISPATCH, CaseAction.SIGN_FOR):
        case = CALLS[action](case=case, actor=superuser, master=None, unit=unit)
        assert case.version == version + 1
        version = case.version


def test_merge_counts_the_reports_on_the_master(make_case, superuser):
    master = make_case(CaseStatus.DISPATCHED)
    duplicate = make_case(CaseStatus.REPORTED)
    services.case_merge_duplicate(case=duplicate, master=master, actor=superuser)
    duplicate.refresh_from_db()
    master.refresh_from_db()
    assert duplicate.merged_into == master
    assert duplicate.reject_reason == RejectReason.DUPLICATE
    assert master.report_count == 2
    assert master.status == CaseStatus.DISPATCHED
    assert master.events.filter(action=CaseAction.DUPLICATE_ADDED).count() == 1


@pytest.mark.parametrize("master_status", [CaseStatus.CLOSED, CaseStatus.REJECTED])
def test_merge_needs_an_open_master(make_case, superuser, master_status):
    master = make_case(master_status)
    duplicate = make_case(CaseStatus.REPORTED)
    with pytest.raises(InvalidInput) as caught:
        services.case_merge_duplicate(case=duplicate, master=master, actor=superuser)
    assert caught.value.code == "invalid.merge_target"
    duplicate.refresh_from_db()
    assert duplicate.status == CaseStatus.REPORTED


def test_merge_into_itself_is_refused(make_case, superuser):
    case = make_case(CaseStatus.REPORTED)
    with pytest.raises(InvalidInput) as caught:
        services.case_merge_duplicate(case=case, master=case, actor=superuser)
    assert caught.value.code == "invalid.merge_self"


def test_return_clears_the_handler_and_counts(make_case, superuser):
    case = make_case(CaseStatus.IN_PROGRESS)
    services.case_return(case=case, actor=superuser, reason="不属于本单位")
    case.refresh_from_db()
    assert (case.handling_unit, case.assignee, case.signed_at) == (None, None, None)
    assert case.return_count == 1


def test_rework_and_reopen_are_counted(make_case, superuser):
    case = make_case(CaseStatus.RESOLVED)
    services.case_verify(case=case, actor=superuser, passed=False, note="未清理干净")
    case.refresh_from_db()
    assert case.rework_count == 1
    assert case.resolved_at is None
    closed = make_case(CaseStatus.CLOSED)
    services.case_reopen(case=closed, actor=superuser, reason="回访不满意")
    closed.refresh_from_db()
    assert closed.reopen_count == 1
    assert closed.closed_at is None


# --- scoped actors: the same moves by the roles that do them ---------------------------


def test_the_workflow_by_scoped_roles(make_case, district, community, unit):
    operator = staff(Role.OPERATOR, scope=district)
    dispatcher = staff(Role.DISPATCHER, scope=district)
    handler = staff(Role.HANDLING_UNIT, scope=unit)
    supervisor = staff(Role.SUPERVISOR, scope=district)
    liaison = staff(Role.LIAISON, scope=community)
    case = make_case(CaseStatus.REPORTED)

    case = services.case_register(case=case, actor=operator)
    case = services.case_dispatch(case=case, actor=dispatcher, handling_unit=unit)
    case = services.case_sign_for(case=case, actor=handler)
    case = services.case_submit_result(case=case, actor=handler, result="已整改")
    case = services.case_verify(case=case, actor=supervisor, passed=True)
    case = services.case_reopen(case=case, actor=liaison, reason="居民回访不满意")

    assert case.status == CaseStatus.DISPATCHED
    assert list(case.events.values_list("action", flat=True)) == [
        CaseAction.REPORT,
        CaseAction.REGISTER,
        CaseAction.DISPATCH,
        CaseAction.SIGN_FOR,
        CaseAction.SUBMIT_RESULT,
        CaseAction.CLOSE,
        CaseAction.REOPEN,
    ]


@pytest.mark.parametrize(
    ("role", "action", "source"),
    [
        (Role.LIAISON, CaseAction.REGISTER, CaseStatus.REPORTED),
        (Role.OPERATOR, CaseAction.DISPATCH, CaseStatus.REGISTERED),
        (Role.DISPATCHER, CaseAction.SIGN_FOR, CaseStatus.DISPATCHED),
        (Role.HANDLING_UNIT, CaseAction.CLOSE, CaseStatus.RESOLVED),
        (Role.COMMUNITY_STAFF, CaseAction.REOPEN, CaseStatus.CLOSED),
        (Role.OPERATOR, CaseAction.PARK, CaseStatus.REGISTERED),
    ],
)
def test_a_role_without_the_permission_is_refused(make_case, district, unit, role, action, source):
    actor = staff(role, scope=[district, unit])
    case = make_case(source)
    before = snapshot(case)
    with pytest.raises(ActionNotPermitted) as caught:
        CALLS[action](case=case, actor=actor, master=None, unit=unit)
    assert caught.value.code == "permission_denied"
    assert snapshot(case) == before


# --- versions and input ----------------------------------------------------------------


@pytest.mark.parametrize("offset", [-1, 1])
def test_stale_version_is_refused(make_case, superuser, unit, offset):
    # given a case someone else has moved on since the caller read it
    case = make_case(CaseStatus.REGISTERED)
    before = snapshot(case)
    # when the caller acts with the version it read
    with pytest.raises(StaleObject) as caught:
        services.case_dispatch(
            case=case, actor=superuser, handling_unit=unit, expected_version=case.version + offset
        )
    # then it is told to reload, and nothing changed
    assert caught.value.code == "stale_object"
    assert snapshot(case) == before


def test_current_version_is_accepted(make_case, superuser, unit):
    case = make_case(CaseStatus.REGISTERED)
    services.case_dispatch(case=case, actor=superuser, handling_unit=unit, expected_version=case.version)


def test_stale_version_on_merge(make_case, superuser):
    master = make_case(CaseStatus.REGISTERED)
    case = make_case(CaseStatus.REPORTED)
    with pytest.raises(StaleObject):
        services.case_merge_duplicate(case=case, master=master, actor=superuser, expected_version=99)
    assert snapshot(case)["status"] == CaseStatus.REPORTED


REASONLESS: list[Any] = [
    pytest.param(
        CaseStatus.REPORTED,
        lambda case, actor: services.case_reject(case=case, actor=actor, reason=RejectReason.INVALID),
        id="reject",
    ),
    pytest.param(
        CaseStatus.DISPATCHED,
        lambda case, actor: services.case_return(case=case, actor=actor, reason="  "),
        id="return",
    ),
    pytest.param(
        CaseStatus.IN_PROGRESS,
        lambda case, actor: services.case_submit_result(case=case, actor=actor, result=""),
        id="submit_result",
    ),
    pytest.param(
        CaseStatus.RESOLVED,
        lambda case, actor: services.case_verify(case=case, actor=actor, passed=False),
        id="rework",
    ),
    pytest.param(
        CaseStatus.REGISTERED,
        lambda case, actor: services.case_park(case=case, actor=actor, reason=""),
        id="park",
    ),
    pytest.param(
        CaseStatus.CLOSED,
        lambda case, actor: services.case_reopen(case=case, actor=actor, reason="\n"),
        id="reopen",
    ),
]


@pytest.mark.parametrize(("source", "call"), REASONLESS)
def test_missing_reason_is_refused(make_case, superuser, source, call):
    case = make_case(source)
    before = snapshot(case)
    with pytest.raises(InvalidInput) as caught:
        call(case, superuser)
    assert caught.value.code == "invalid.required"
    assert snapshot(case) == before


def test_duplicate_rejection_needs_no_note(make_case, superuser):
    case = make_case(CaseStatus.REPORTED)
    services.case_reject(case=case, actor=superuser, reason=RejectReason.DUPLICATE)
    assert snapshot(case)["status"] == CaseStatus.REJECTED


def test_unknown_reject_reason_is_refused(make_case, superuser):
    case = make_case(CaseStatus.REPORTED)
    with pytest.raises(InvalidInput) as caught:
        services.case_reject(case=case, actor=superuser, reason="because", note="x")
    assert caught.value.code == "invalid.reason"


def test_over_long_note_is_refused(make_case, superuser):
    case = make_case(CaseStatus.REGISTERED)
    with pytest.raises(InvalidInput) as caught:
        services.case_park(case=case, actor=superuser, reason="长" * (services.MAX_NOTE + 1))
    assert caught.value.code == "invalid.too_long"


def test_register_needs_a_category(make_case, superuser):
    case = make_case(CaseStatus.REPORTED, category=None)
    with pytest.raises(InvalidInput) as caught:
        services.case_register(case=case, actor=superuser)
    assert caught.value.code == "invalid.category"
    from tests.factories import leaf_category

    services.case_register(case=case, actor=superuser, category=leaf_category("0203"))
    assert snapshot(case)["category_id"] == leaf_category("0203").pk


def test_dispatch_needs_a_handler(make_case, superuser):
    case = make_case(CaseStatus.REGISTERED)
    with pytest.raises(InvalidInput) as caught:
        services.case_dispatch(case=case, actor=superuser)
    assert caught.value.code == "invalid.handler"


def test_dispatch_to_someone_who_cannot_handle_cases_is_refused(make_case, superuser, district):
    case = make_case(CaseStatus.REGISTERED)
    with pytest.raises(InvalidInput) as caught:
        services.case_dispatch(case=case, actor=superuser, assignee=staff(Role.OPERATOR, scope=district))
    assert caught.value.code == "invalid.handler"


# --- extensions ------------------------------------------------------------------------


@pytest.fixture
def handled_case(make_case):  # type: ignore[no-untyped-def]
    """A case dispatched to `unit` on Monday 2026-03-02 10:00 (due Tuesday 10:00)."""
    with frozen_at(aware(2026, 3, 2, 10)):
        case = make_case(CaseStatus.DISPATCHED)
    assert case.due_at == aware(2026, 3, 3, 10)
    return case


def test_extension_approved_moves_the_deadline(handled_case, unit_member, supervisor):
    # given the handler asks for two more days
    new_due = aware(2026, 3, 5, 10)
    with frozen_at(aware(2026, 3, 2, 15)):
        request = services.case_request_extension(
            case=handled_case, actor=unit_member, requested_due_at=new_due, reason="需协调物业"
        )
    assert request.status == ExtensionStatus.PENDING
    version = Case.objects.get(pk=handled_case.pk).version
    # when a supervisor approves
    with frozen_at(aware(2026, 3, 2, 16)):
        services.case_decide_extension(request=request, actor=supervisor, approve=True)
    # then the handling deadline moves and the case counts as extended
    case = Case.objects.get(pk=handled_case.pk)
    request.refresh_from_db()
    assert (request.status, request.decided_by) == (ExtensionStatus.APPROVED, supervisor)
    assert case.due_at == case.deadline == new_due
    assert case.extension_count == 1
    assert case.version == version + 1
    assert case.status == CaseStatus.DISPATCHED
    actions = list(case.events.values_list("action", flat=True))
    assert actions[-2:] == [CaseAction.EXTENSION_REQUESTED, CaseAction.EXTENSION_APPROVED]
    approved = case.events.get(action=CaseAction.EXTENSION_APPROVED)
    assert datetime.fromisoformat(approved.data["old_due_at"]) == aware(2026, 3, 3, 10)


def test_extension_refused_needs_a_note_and_keeps_the_deadline(handled_case, unit_member, supervisor):
    request = services.case_request_extension(
        case=handled_case, actor=unit_member, requested_due_at=aware(2026, 3, 5, 10), reason="需协调物业"
    )
    # a refusal without a note is refused
    with pytest.raises(InvalidInput) as caught:
        services.case_decide_extension(request=request, actor=supervisor, approve=False)
    assert caught.value.code == "invalid.required"
    request.refresh_from_db()
    assert request.status == ExtensionStatus.PENDING
    # with a note it stands
    services.case_decide_extension(request=request, actor=supervisor, approve=False, note="可当日处置")
    request.refresh_from_db()
    case = Case.objects.get(pk=handled_case.pk)
    assert request.status == ExtensionStatus.REFUSED
    assert case.due_at == aware(2026, 3, 3, 10)
    assert case.extension_count == 0
    assert case.events.filter(action=CaseAction.EXTENSION_REFUSED).count() == 1
    # and it cannot be decided again
    with pytest.raises(TransitionNotAllowed) as caught:
        services.case_decide_extension(request=request, actor=supervisor, approve=True)
    assert caught.value.code == "extension.already_decided"


def test_second_pending_extension_request_is_refused(handled_case, unit_member, supervisor):
    services.case_request_extension(
        case=handled_case, actor=unit_member, requested_due_at=aware(2026, 3, 5, 10), reason="需协调物业"
    )
    with pytest.raises(InvalidInput) as caught:
        services.case_request_extension(
            case=handled_case, actor=unit_member, requested_due_at=aware(2026, 3, 6, 10), reason="再延"
        )
    assert caught.value.code == "invalid.extension_pending"
    assert handled_case.extension_requests.count() == 1


def test_after_a_decision_a_new_request_may_be_made(handled_case, unit_member, supervisor):
    first = services.case_request_extension(
        case=handled_case, actor=unit_member, requested_due_at=aware(2026, 3, 5, 10), reason="需协调物业"
    )
    services.case_decide_extension(request=first, actor=supervisor, approve=True)
    # the new date must now be later than the extended one
    with pytest.raises(InvalidInput) as caught:
        services.case_request_extension(
            case=handled_case, actor=unit_member, requested_due_at=aware(2026, 3, 4, 10), reason="再延"
        )
    assert caught.value.code == "invalid.extension_date"
    second = services.case_request_extension(
        case=handled_case, actor=unit_member, requested_due_at=aware(2026, 3, 9, 10), reason="再延"
    )
    services.case_decide_extension(request=second, actor=supervisor, approve=True)
    case = Case.objects.get(pk=handled_case.pk)
    assert case.extension_count == 2
    assert case.due_at == aware(2026, 3, 9, 10)


def test_extension_only_while_handled(make_case, superuser):
    case = make_case(CaseStatus.RESOLVED)
    with pytest.raises(TransitionNotAllowed) as caught:
        services.case_request_extension(
            case=case, actor=superuser, requested_due_at=case.due_at + timedelta(days=3), reason="x"
        )
    assert caught.value.code == "case.extension_not_allowed"


def test_only_the_handler_may_ask_and_only_a_supervisor_may_decide(handled_case, unit_member, district):
    liaison_elsewhere = staff(Role.LIAISON, scope=district)
    with pytest.raises(ActionNotPermitted):
        services.case_request_extension(
            case=handled_case, actor=liaison_elsewhere, requested_due_at=aware(2026, 3, 5, 10), reason="x"
        )
    request = services.case_request_extension(
        case=handled_case, actor=unit_member, requested_due_at=aware(2026, 3, 5, 10), reason="需协调物业"
    )
    with pytest.raises(ActionNotPermitted):
        services.case_decide_extension(request=request, actor=unit_member, approve=True)


# --- escalation ------------------------------------------------------------------------


def test_escalate_by_hand(handled_case, supervisor):
    with frozen_at(aware(2026, 3, 2, 11)):
        case = services.case_escalate(case=handled_case, actor=supervisor, note="群众反映强烈，请尽快处置")
    assert case is not None
    case.refresh_from_db()
    assert case.escalation_level == 1
    assert case.escalated_at == aware(2026, 3, 2, 11)
    event = case.events.get(action=CaseAction.ESCALATE)
    assert (event.actor, event.data["automatic"]) == (supervisor, False)


def test_escalate_by_hand_needs_a_note_and_the_role(handled_case, supervisor, unit_member):
    with pytest.raises(InvalidInput):
        services.case_escalate(case=handled_case, actor=supervisor, note="")
    with pytest.raises(ActionNotPermitted):
        services.case_escalate(case=handled_case, actor=unit_member, note="催办")
    assert Case.objects.get(pk=handled_case.pk).escalation_level == 0


@pytest.mark.parametrize("status", [CaseStatus.PARKED, CaseStatus.CLOSED, CaseStatus.REJECTED])
def test_escalate_by_hand_only_open_unparked_cases(make_case, superuser, status):
    case = make_case(status)
    with pytest.raises(TransitionNotAllowed) as caught:
        services.case_escalate(case=case, actor=superuser, note="督办")
    assert caught.value.code == "case.escalate_not_allowed"


def test_escalate_overdue_escalates_each_case_once_per_deadline(
    make_case, superuser, supervisor, unit_member
):
    # given on Monday 2026-03-02 10:00: two dispatched cases (due Tuesday 10:00),
    # one parked one, and one reported on Tuesday 09:30 (to register by 11:30)
    with frozen_at(aware(2026, 3, 2, 10)):
        overdue = [make_case(CaseStatus.DISPATCHED), make_case(CaseStatus.DISPATCHED)]
        parked = make_case(CaseStatus.PARKED)
    with frozen_at(aware(2026, 3, 3, 9, 30)):
        fresh = make_case(CaseStatus.REPORTED)
    # when the job runs at Tuesday 11:00, twice
    with frozen_at(aware(2026, 3, 3, 11)):
        first = services.escalate_overdue()
        second = services.escalate_overdue(batch_size=1)
    # then each overdue case was escalated exactly once
    assert (first, second) == (2, 0)
    for case in overdue:
        case.refresh_from_db()
        assert case.escalation_level == 1
        assert case.escalated_deadline == case.deadline
        event = case.events.get(action=CaseAction.ESCALATE)
        assert (event.actor, event.data["automatic"]) == (None, True)
    for case in (parked, fresh):
        assert Case.objects.get(pk=case.pk).escalation_level == 0

    # when one of them gets a new deadline which also passes
    request = services.case_request_extension(
        case=overdue[0], actor=unit_member, requested_due_at=aware(2026, 3, 4, 10), reason="需协调"
    )
    services.case_decide_extension(request=request, actor=supervisor, approve=True)
    with frozen_at(aware(2026, 3, 4, 12)):
        third = services.escalate_overdue()
        fourth = services.escalate_overdue()
    # then it is escalated again, once, for that deadline (as is the report now overdue),
    # and the other case, still on its old deadline, is not escalated again
    assert (third, fourth) == (2, 0)
    assert Case.objects.get(pk=overdue[0].pk).escalation_level == 2
    assert Case.objects.get(pk=overdue[1].pk).escalation_level == 1
    assert Case.objects.get(pk=fresh.pk).escalation_level == 1


def test_escalation_by_hand_before_the_deadline_does_not_suppress_the_automatic_one(handled_case, supervisor):
    # given a supervisor escalated the case before its deadline (Tuesday 10:00)
    with frozen_at(aware(2026, 3, 2, 11)):
        services.case_escalate(case=handled_case, actor=supervisor, note="领导交办，优先处置")
    # when the deadline passes
    with frozen_at(aware(2026, 3, 3, 11)):
        escalated = services.escalate_overdue()
    # then the overdue escalation still happens
    assert escalated == 1
    assert Case.objects.get(pk=handled_case.pk).escalation_level == 2


def test_escalation_by_hand_after_the_deadline_counts_for_it(handled_case, supervisor):
    with frozen_at(aware(2026, 3, 3, 11)):
        services.case_escalate(case=handled_case, actor=supervisor, note="已超期，督办")
        assert services.escalate_overdue() == 0
    assert Case.objects.get(pk=handled_case.pk).escalation_level == 1


def test_automatic_escalation_of_a_case_no_longer_overdue_does_nothing(handled_case):
    with frozen_at(aware(2026, 3, 2, 11)):
        assert services.case_escalate(case=handled_case, automatic=True) is None
    assert not handled_case.events.filter(action=CaseAction.ESCALATE).exists()
