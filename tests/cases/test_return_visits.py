"""Return visits (回访) after closure: scheduling, reminders, recording, reopening."""

from datetime import timedelta

import pytest

from cases import jobs, services
from cases.choices import CaseStatus, Satisfaction, VisitChannel, VisitStatus
from cases.models import ReturnVisit
from chengguan import clock
from chengguan.errors import InvalidInput, TransitionNotAllowed
from chengguan.models import Notification
from chengguan.roles import Role
from liaisons.services import liaison_assign
from tests.factories import staff


@pytest.fixture
def liaison(community, superuser):  # type: ignore[no-untyped-def]
    person = staff(Role.LIAISON)
    liaison_assign(community=community, liaison=person, actor=superuser)
    return type(person).objects.get(pk=person.pk)


def test_closed_cases_get_one_visit_each_with_a_notice_to_the_liaison(make_case, liaison):
    case = make_case(CaseStatus.CLOSED, reporter_phone="13700001234")
    assert jobs.schedule_return_visits() == 1
    assert jobs.schedule_return_visits() == 0
    visit = ReturnVisit.objects.get(case=case)
    assert visit.liaison == liaison
    assert visit.due_at > case.closed_at
    assert Notification.objects.filter(recipient=liaison, key=f"visit:{visit.pk}:scheduled").count() == 1


def test_reminders_once_a_day(make_case, liaison):
    case = make_case(CaseStatus.CLOSED, reporter_phone="13700001234")
    visit = services.return_visit_schedule(case=case)
    with clock.frozen_at(visit.due_at - timedelta(hours=2)):
        assert jobs.remind_return_visits() == 1
        assert jobs.remind_return_visits() == 0


def test_an_unsatisfied_reporter_reopens_the_case(make_case, liaison):
    case = make_case(CaseStatus.CLOSED, reporter_phone="13700001234")
    visit = services.return_visit_schedule(case=case)
    with pytest.raises(InvalidInput):  # reopening needs an unsatisfied reporter
        services.return_visit_record(
            visit=visit, actor=liaison, reached=True, satisfaction=Satisfaction.SATISFIED, reopen=True
        )
    services.return_visit_record(
        visit=visit,
        actor=liaison,
        reached=True,
        channel=VisitChannel.PHONE,
        satisfaction=Satisfaction.UNSATISFIED,
        comment="摊贩晚上又回来了",
        reopen=True,
    )
    case.refresh_from_db()
    visit.refresh_from_db()
    assert case.status == CaseStatus.DISPATCHED
    assert case.reopen_count == 1
    assert visit.status == VisitStatus.DONE and visit.reopened
    with pytest.raises(TransitionNotAllowed):
        services.return_visit_record(visit=visit, actor=liaison, reached=False)


def test_the_reporters_own_rating_counts_as_the_visit(make_case, liaison):
    case = make_case(CaseStatus.CLOSED, reporter_phone="13700001234")
    visit = services.return_visit_schedule(case=case)
    services.case_rate(case=case, satisfaction=Satisfaction.BASICALLY)
    visit.refresh_from_db()
    assert visit.status == VisitStatus.DONE
    assert visit.channel == VisitChannel.WEB
    assert jobs.schedule_return_visits() == 0
