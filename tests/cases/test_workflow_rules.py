"""Workflow rules beyond the transition table: conduct complaints, lapsing extensions,
notifications addressed as of the event."""

from datetime import timedelta

import pytest

from cases import services
from cases.choices import CaseAction, CaseSource, CaseStatus, ExtensionStatus
from cases.models import CaseEvent
from cases.tasks import notify_case_event
from chengguan.errors import ActionNotPermitted, TransitionNotAllowed
from chengguan.models import Notification
from chengguan.roles import Role
from tests.factories import HandlingUnitFactory, leaf_category, staff


def test_a_conduct_complaint_is_processed_by_supervisors_only(district, community, unit):
    # Given a complaint about a liaison's conduct
    liaison = staff(Role.LIAISON, scope=community)
    operator = staff(Role.OPERATOR, scope=district)
    supervisor = staff(Role.SUPERVISOR, scope=district)
    case = services.case_report(
        source=CaseSource.HOTLINE_12345,
        actor=operator,
        description="联络员态度恶劣",
        category=leaf_category(),
        community=community,
        subject_officer=liaison,
    )
    # Then the operator cannot register it, the supervisor can, and dispatches it
    with pytest.raises(ActionNotPermitted):
        services.case_register(case=case, actor=operator)
    services.case_register(case=case, actor=supervisor)
    case = services.case_dispatch(case=case, actor=supervisor, handling_unit=unit)
    assert case.status == CaseStatus.DISPATCHED
    # And the officer complained about never gets to act on it
    with pytest.raises(ActionNotPermitted):
        services.case_sign_for(case=case, actor=liaison)


def test_a_pending_extension_lapses_when_the_case_is_returned(
    make_case, unit, unit_member, supervisor, superuser
):
    # Given a dispatched case with a pending extension request
    case = make_case(CaseStatus.DISPATCHED)
    request = services.case_request_extension(
        case=case,
        actor=unit_member,
        requested_due_at=case.due_at + timedelta(days=5),
        reason="需协调产权单位",
    )
    # When the handler returns the case
    services.case_return(case=case, actor=unit_member, reason="不属于本单位职责")
    # Then the request lapsed and cannot be decided any more
    request.refresh_from_db()
    assert request.status == ExtensionStatus.CANCELLED
    with pytest.raises(TransitionNotAllowed):
        services.case_decide_extension(request=request, actor=supervisor, approve=True)
    # And the next handler may ask for time again
    case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
    services.case_request_extension(
        case=case, actor=unit_member, requested_due_at=case.due_at + timedelta(days=3), reason="材料未齐"
    )


def test_dispatch_notification_reaches_the_handler_of_that_moment(
    make_case, superuser, unit, unit_member, django_capture_on_commit_callbacks
):
    # Given a case dispatched to a unit and, before any worker ran, returned and
    # dispatched elsewhere
    case = make_case(CaseStatus.REGISTERED)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
    services.case_return(case=case, actor=unit_member, reason="非本单位")
    elsewhere = HandlingUnitFactory()
    services.case_dispatch(case=case, actor=superuser, handling_unit=elsewhere)
    # When the first dispatch's notification finally runs
    assert len([c for c in queued if "notify_case_event" in repr(c)]) == 1
    first = CaseEvent.objects.filter(case=case, action=CaseAction.DISPATCH).order_by("id").first()
    notify_case_event(first.pk)
    # Then it went to the unit the case was dispatched to at that moment
    assert Notification.objects.filter(recipient=unit_member, key=f"case-event:{first.pk}").exists()


def test_a_supervisor_marks_a_closed_case_false_once(make_case, supervisor):
    from cases.choices import CaseAction
    from chengguan.errors import InvalidInput

    case = make_case(CaseStatus.CLOSED)
    services.case_mark_false(case=case, actor=supervisor, reason="举报人多次恶意重复投诉")
    case.refresh_from_db()
    assert case.false_report and case.false_report_by == supervisor
    assert CaseEvent.objects.filter(case=case, action=CaseAction.MARKED_FALSE, is_public=False).count() == 1
    with pytest.raises(InvalidInput):
        services.case_mark_false(case=case, actor=supervisor, reason="再次标记")


def test_open_cases_cannot_be_marked_false(make_case, supervisor):
    case = make_case(CaseStatus.IN_PROGRESS)
    with pytest.raises(TransitionNotAllowed):
        services.case_mark_false(case=case, actor=supervisor, reason="不实")


def test_only_supervisors_mark_cases_false(make_case, unit_member):
    case = make_case(CaseStatus.CLOSED)
    with pytest.raises(ActionNotPermitted):
        services.case_mark_false(case=case, actor=unit_member, reason="不实")


def test_registration_records_the_operators_corrections(make_case, superuser):
    from cases.choices import CaseAction
    from tests.factories import leaf_category

    case = make_case(category=None)
    services.case_register(case=case, actor=superuser, category=leaf_category("0401"), urgency="urgent")
    event = CaseEvent.objects.get(case=case, action=CaseAction.REGISTER)
    assert event.data["corrections"]["category"][1].endswith("餐饮油烟")
    assert event.data["corrections"]["urgency"] == ["normal", "urgent"]
    assert "community" not in event.data["corrections"]
