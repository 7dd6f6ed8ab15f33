"""Co-reporters, the reporter's rating, nearby cases, tracking look-ups and
messages to reporters."""

from datetime import timedelta

import pytest

from cases import services
from cases.choices import CaseAction, CaseStatus, RejectReason, Satisfaction
from cases.models import CaseEvent
from cases.selectors import case_for_tracking, community_public_stats, open_cases_near
from chengguan import clock
from chengguan.errors import InvalidInput, TransitionNotAllowed
from chengguan.messaging import ConsoleSMSBackend
from chengguan.models import OutboundMessage
from tests.factories import leaf_category


def test_a_co_reporter_raises_the_report_count_once_per_phone(make_case):
    # Given an open case
    case = make_case(reporter_phone="13700001234")
    # When another resident says "me too"
    services.case_add_co_reporter(case=case, name="李四", phone="13900001111")
    # Then the case counts two reports and records a public event
    case.refresh_from_db()
    assert case.report_count == 2
    event = CaseEvent.objects.get(case=case, action=CaseAction.CO_REPORTER_ADDED)
    assert event.is_public
    # And the same phone cannot count twice, nor can the original reporter
    with pytest.raises(InvalidInput) as error:
        services.case_add_co_reporter(case=case, phone="13900001111")
    assert error.value.code == "invalid.already_reported"
    with pytest.raises(InvalidInput):
        services.case_add_co_reporter(case=case, phone="13700001234")


def test_a_replayed_co_report_is_counted_once(make_case):
    case = make_case()
    first = services.case_add_co_reporter(case=case, idempotency_key="k-1")
    again = services.case_add_co_reporter(case=case, idempotency_key="k-1")
    assert first.pk == again.pk
    case.refresh_from_db()
    assert case.report_count == 2


def test_closed_cases_take_no_co_reporters(make_case):
    case = make_case(CaseStatus.CLOSED)
    with pytest.raises(InvalidInput) as error:
        services.case_add_co_reporter(case=case, phone="13900002222")
    assert error.value.code == "invalid.case_closed"


def test_the_reporter_rates_a_closed_case_once(make_case):
    case = make_case(CaseStatus.CLOSED)
    feedback = services.case_rate(case=case, satisfaction=Satisfaction.BASICALLY, comment="处理及时")
    assert feedback.satisfaction == Satisfaction.BASICALLY
    assert CaseEvent.objects.filter(case=case, action=CaseAction.RATED, is_public=True).count() == 1
    with pytest.raises(InvalidInput) as error:
        services.case_rate(case=case, satisfaction=Satisfaction.SATISFIED)
    assert error.value.code == "invalid.already_rated"


def test_open_cases_cannot_be_rated(make_case):
    case = make_case(CaseStatus.IN_PROGRESS)
    with pytest.raises(TransitionNotAllowed):
        services.case_rate(case=case, satisfaction=Satisfaction.SATISFIED)


def test_nearby_lists_open_same_category_cases_within_200_m_and_7_days(make_case):
    # Given cases around (30.005, 120.005)
    here = make_case(lat=30.005, lng=120.005)
    close_by = make_case(lat=30.0062, lng=120.005)  # ~133 m north
    far = make_case(lat=30.0075, lng=120.005)  # ~278 m
    other_category = make_case(lat=30.005, lng=120.005, category=leaf_category("0401"))
    closed = make_case(CaseStatus.CLOSED, lat=30.005, lng=120.005)
    with clock.frozen_at(clock.now() - timedelta(days=8)):
        old = make_case(lat=30.005, lng=120.005)
    # When looking near the first one
    found = open_cases_near(category=here.category, lat=30.005, lng=120.005)
    # Then only the open, recent, same-category, close cases come back, nearest first
    assert [c.pk for c in found] == [here.pk, close_by.pk]
    assert found[1].distance_m == pytest.approx(133, abs=3)
    assert {far.pk, other_category.pk, closed.pk, old.pk}.isdisjoint(c.pk for c in found)
    assert open_cases_near(category=None, lat=30.005, lng=120.005) == []


def test_tracking_by_code_and_by_phone(make_case):
    case = make_case(reporter_phone="13700001234")
    services.case_add_co_reporter(case=case, phone="13900009999")
    assert case_for_tracking(case.tracking_code.lower()) == case
    assert case_for_tracking(case.tracking_code, "13700001234") == case
    assert case_for_tracking(case.tracking_code, "13900009999") == case
    assert case_for_tracking(case.tracking_code, "13000000000") is None
    assert case_for_tracking("NOPE1234") is None


def test_community_public_stats(make_case, community):
    on_time = make_case(CaseStatus.CLOSED)
    late = make_case(CaseStatus.CLOSED)
    late.due_at = late.closed_at - timedelta(hours=1)
    late.save(update_fields=["due_at"])
    make_case(CaseStatus.DISPATCHED)
    services.case_rate(case=on_time, satisfaction=Satisfaction.SATISFIED)
    services.case_rate(case=late, satisfaction=Satisfaction.UNSATISFIED)

    stats = community_public_stats(community)

    assert stats["open"] == 1
    assert stats["closed"] == 2
    assert stats["closed_on_time"] == 1
    assert stats["on_time_rate"] == 0.5
    assert stats["satisfaction_rate"] == 0.5


def test_reporters_and_co_reporters_get_one_sms_on_registration(
    make_case, superuser, django_capture_on_commit_callbacks
):
    ConsoleSMSBackend.sent.clear()
    case = make_case(reporter_phone="13700001234")
    services.case_add_co_reporter(case=case, phone="13900009999")
    # When the case is registered (messages go out only after commit)
    with django_capture_on_commit_callbacks(execute=False) as pending:
        services.case_register(case=case, actor=superuser)
    assert ConsoleSMSBackend.sent == []
    for callback in pending:
        callback()
    # Then each phone got exactly one SMS naming the tracking code
    sent = OutboundMessage.objects.filter(status=OutboundMessage.Status.SENT)
    assert sorted(m.recipient for m in sent) == ["13700001234", "13900009999"]
    assert all(case.tracking_code in m.body for m in sent)
    assert len(ConsoleSMSBackend.sent) == 2
    # And re-running the notification task sends nothing more
    from cases.tasks import notify_case_event

    event = CaseEvent.objects.get(case=case, action=CaseAction.REGISTER)
    notify_case_event(event.pk)
    assert len(ConsoleSMSBackend.sent) == 2


def test_a_failing_sms_gateway_is_recorded_and_nothing_is_lost(
    make_case, superuser, settings, django_capture_on_commit_callbacks
):
    settings.SMS_BACKEND = "tests.cases.test_resident_services.BrokenGateway"
    case = make_case(reporter_phone="13700001234")
    with django_capture_on_commit_callbacks(execute=True):
        services.case_reject(case=case, actor=superuser, reason=RejectReason.INVALID, note="不属于城管职责")
    message = OutboundMessage.objects.get(recipient="13700001234")
    assert message.status == OutboundMessage.Status.FAILED
    assert "gateway down" in message.error
    case.refresh_from_db()
    assert case.status == CaseStatus.REJECTED


class BrokenGateway:
    def send(self, phone: str, text: str) -> None:
        raise ConnectionError("gateway down")
