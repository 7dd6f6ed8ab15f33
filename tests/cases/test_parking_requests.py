"""Parking (挂账) through a request: the handler or dispatcher asks, a supervisor decides."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.choices import CaseAction, CaseStatus, ParkingRequestStatus
from cases.models import Case, CaseEvent, ParkingRequest
from chengguan import clock
from chengguan.errors import ActionNotPermitted, InvalidInput, TransitionNotAllowed
from chengguan.models import Notification
from chengguan.roles import Role
from tests.factories import DistrictFactory, staff

pytestmark = pytest.mark.django_db


def act_url(case: Case, action: str) -> str:
    return reverse("desk:act", args=[case.number, action])


def detail_url(case: Case) -> str:
    return reverse("cases:detail", args=[case.number])


@pytest.fixture
def dispatcher(district):  # type: ignore[no-untyped-def]
    return staff(Role.DISPATCHER, scope=district)


def ask(case: Case, actor, reason: str = "涉及拆迁，暂缓处置", **kwargs) -> ParkingRequest:  # type: ignore[no-untyped-def]
    return services.case_request_parking(case=case, actor=actor, reason=reason, **kwargs)


# --- services -------------------------------------------------------------------


def test_handler_requests_parking_and_supervisors_hear_of_it(
    make_case, unit_member, supervisor, django_capture_on_commit_callbacks
):
    # given a case with its handling unit
    case = make_case(CaseStatus.IN_PROGRESS)
    resume = timezone.localdate(clock.now()) + timedelta(days=30)

    # when the handler asks to park it
    with django_capture_on_commit_callbacks(execute=True):
        request = ask(case, unit_member, resume_on=resume)

    # then the request waits, the case is unchanged and supervisors are told
    assert request.status == ParkingRequestStatus.PENDING
    assert request.resume_on == resume
    assert Case.objects.get(pk=case.pk).status == CaseStatus.IN_PROGRESS
    event = CaseEvent.objects.get(case=case, action=CaseAction.PARKING_REQUESTED)
    assert event.note == "涉及拆迁，暂缓处置" and not event.is_public
    assert Notification.objects.filter(recipient=supervisor, key=f"case-event:{event.pk}").exists()


def test_dispatcher_requests_parking_of_a_registered_case(make_case, dispatcher):
    case = make_case(CaseStatus.REGISTERED)

    request = ask(case, dispatcher)

    assert request.requested_by == dispatcher


@pytest.mark.parametrize(
    ("status", "role"),
    [
        (CaseStatus.REGISTERED, Role.HANDLING_UNIT),  # not dispatched to them yet
        (CaseStatus.IN_PROGRESS, Role.DISPATCHER),  # with its handler now
        (CaseStatus.IN_PROGRESS, Role.COMMUNITY_STAFF),
    ],
)
def test_only_the_dispatcher_or_the_handler_may_ask(make_case, unit, district, community, status, role):
    case = make_case(status)
    scope = {Role.HANDLING_UNIT: unit, Role.DISPATCHER: district, Role.COMMUNITY_STAFF: community}[role]

    with pytest.raises(ActionNotPermitted):
        ask(case, staff(role, scope=scope))

    assert not ParkingRequest.objects.filter(case=case).exists()


def test_out_of_scope_dispatcher_is_refused(make_case):
    case = make_case(CaseStatus.REGISTERED)

    with pytest.raises(ActionNotPermitted):
        ask(case, staff(Role.DISPATCHER, scope=DistrictFactory()))


@pytest.mark.parametrize("status", [CaseStatus.RESOLVED, CaseStatus.CLOSED, CaseStatus.PARKED])
def test_no_request_outside_registered_and_handling(make_case, superuser, status):
    case = make_case(status)

    with pytest.raises(TransitionNotAllowed) as error:
        ask(case, superuser)

    assert error.value.code == "case.parking_not_allowed"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"reason": "  "}, "invalid.required"),
        ({"resume_on": "today"}, "invalid.resume_on"),
    ],
)
def test_bad_requests_are_refused_and_write_nothing(make_case, unit_member, kwargs, code):
    case = make_case(CaseStatus.DISPATCHED)
    if kwargs.get("resume_on") == "today":
        kwargs["resume_on"] = timezone.localdate(clock.now())

    with pytest.raises(InvalidInput) as error:
        ask(case, unit_member, **kwargs)

    assert error.value.code == code
    assert not ParkingRequest.objects.exists()
    assert not CaseEvent.objects.filter(case=case, action=CaseAction.PARKING_REQUESTED).exists()


def test_one_pending_request_at_a_time(make_case, unit_member):
    case = make_case(CaseStatus.DISPATCHED)
    ask(case, unit_member)

    with pytest.raises(InvalidInput) as error:
        ask(case, unit_member)

    assert error.value.code == "invalid.parking_pending"


def test_approval_parks_the_case_and_tells_the_requester(
    make_case, unit_member, supervisor, django_capture_on_commit_callbacks
):
    case = make_case(CaseStatus.IN_PROGRESS)
    request = ask(case, unit_member)

    with django_capture_on_commit_callbacks(execute=True):
        services.case_decide_parking(request=request, actor=supervisor, approve=True, note="同意挂账")

    case.refresh_from_db()
    request.refresh_from_db()
    assert case.status == CaseStatus.PARKED
    assert case.parked_at is not None and case.deadline is None  # the clock stops as with parking
    assert request.status == ParkingRequestStatus.APPROVED and request.decided_by == supervisor
    park = CaseEvent.objects.get(case=case, action=CaseAction.PARK)
    assert park.data["request"] == request.pk and park.actor == supervisor
    assert Notification.objects.filter(recipient=unit_member, key=f"case-event:{park.pk}").exists()


def test_refusal_needs_a_note_and_leaves_the_case(
    make_case, unit_member, supervisor, django_capture_on_commit_callbacks
):
    case = make_case(CaseStatus.IN_PROGRESS)
    request = ask(case, unit_member)

    with pytest.raises(InvalidInput):
        services.case_decide_parking(request=request, actor=supervisor, approve=False, note="")
    with django_capture_on_commit_callbacks(execute=True):
        services.case_decide_parking(request=request, actor=supervisor, approve=False, note="请继续协调处置")

    request.refresh_from_db()
    assert request.status == ParkingRequestStatus.REFUSED
    assert Case.objects.get(pk=case.pk).status == CaseStatus.IN_PROGRESS
    refused = CaseEvent.objects.get(case=case, action=CaseAction.PARKING_REFUSED)
    assert refused.note == "请继续协调处置"
    assert Notification.objects.filter(recipient=unit_member, key=f"case-event:{refused.pk}").exists()


def test_a_request_is_decided_once(make_case, unit_member, supervisor):
    case = make_case(CaseStatus.IN_PROGRESS)
    request = ask(case, unit_member)
    services.case_decide_parking(request=request, actor=supervisor, approve=False, note="不同意")

    with pytest.raises(TransitionNotAllowed) as error:
        services.case_decide_parking(request=request, actor=supervisor, approve=True)

    assert error.value.code == "parking.already_decided"


def test_handlers_cannot_decide(make_case, unit_member):
    case = make_case(CaseStatus.IN_PROGRESS)
    request = ask(case, unit_member)

    with pytest.raises(ActionNotPermitted):
        services.case_decide_parking(request=request, actor=unit_member, approve=True)

    assert ParkingRequest.objects.get(pk=request.pk).status == ParkingRequestStatus.PENDING


def test_a_pending_request_lapses_when_the_case_is_resolved(make_case, unit_member, superuser):
    case = make_case(CaseStatus.IN_PROGRESS)
    request = ask(case, unit_member)

    services.case_submit_result(case=case, actor=superuser, result="已处置完毕")

    assert ParkingRequest.objects.get(pk=request.pk).status == ParkingRequestStatus.CANCELLED


def test_unparking_after_approval_moves_the_handling_deadline(make_case, unit_member, supervisor):
    case = make_case(CaseStatus.IN_PROGRESS)
    due = case.due_at
    services.case_decide_parking(request=ask(case, unit_member), actor=supervisor, approve=True)

    services.case_unpark(case=Case.objects.get(pk=case.pk), actor=supervisor)

    case.refresh_from_db()
    assert case.status == CaseStatus.REGISTERED
    assert case.due_at is not None and due is not None and case.due_at >= due


# --- desk ------------------------------------------------------------------------


def test_handler_requests_on_the_page_and_the_supervisor_approves(client, make_case, unit_member, supervisor):
    case = make_case(CaseStatus.DISPATCHED)
    client.force_login(unit_member)

    posted = client.post(
        act_url(case, "request-park"), {"expected_version": case.version, "reason": "等待规划部门认定"}
    )

    assert posted.status_code == 302
    request = ParkingRequest.objects.get(case=case)
    client.force_login(supervisor)
    page = client.get(detail_url(case)).content.decode()
    assert 'data-desk-action="decide-parking"' in page and "等待规划部门认定" in page
    assert 'data-desk-action="park"' not in page  # parking goes through the request
    case.refresh_from_db()
    decided = client.post(
        act_url(case, "decide-parking"),
        {"expected_version": case.version, "request": request.pk, "decision": "approve", "note": ""},
    )
    assert decided.status_code == 302
    assert Case.objects.get(pk=case.pk).status == CaseStatus.PARKED


def test_refusing_on_the_page_without_a_note_shows_the_error(client, make_case, unit_member, supervisor):
    case = make_case(CaseStatus.DISPATCHED)
    request = ask(case, unit_member)
    client.force_login(supervisor)

    response = client.post(
        act_url(case, "decide-parking"),
        {"expected_version": case.version, "request": request.pk, "decision": "refuse", "note": ""},
    )

    assert response.status_code == 422
    assert ParkingRequest.objects.get(pk=request.pk).status == ParkingRequestStatus.PENDING


def test_the_request_form_refuses_a_past_resume_date(client, make_case, unit_member):
    case = make_case(CaseStatus.DISPATCHED)
    client.force_login(unit_member)

    response = client.post(
        act_url(case, "request-park"),
        {"expected_version": case.version, "reason": "暂缓", "resume_on": "2000-01-01"},
    )

    assert response.status_code == 422
    assert not ParkingRequest.objects.exists()


def test_anonymous_users_are_sent_to_log_in(client, make_case):
    case = make_case(CaseStatus.DISPATCHED)

    response = client.post(act_url(case, "request-park"), {"expected_version": case.version, "reason": "x"})

    assert response.status_code == 302 and "login" in response.url
    assert not ParkingRequest.objects.exists()


def test_requests_appear_in_the_supervisors_worklist(
    client, make_case, unit_member, supervisor, django_assert_max_num_queries
):
    cases = [make_case(CaseStatus.DISPATCHED) for _ in range(3)]
    for case in cases:
        ask(case, unit_member, reason="需等待拆迁")
    outsider = staff(Role.SUPERVISOR, scope=DistrictFactory())

    client.force_login(supervisor)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("desk:worklist", args=["extensions"]))

    assert sorted(c.number for c in response.context["page_obj"].object_list) == sorted(
        c.number for c in cases
    )
    assert "需等待拆迁" in response.content.decode()
    client.force_login(outsider)
    assert (
        list(client.get(reverse("desk:worklist", args=["extensions"])).context["page_obj"].object_list) == []
    )
