"""The latest return visit kept on the case (Case.last_visit_*), which the indicators count from.

The return-visit services keep the copy in the visit's transaction; the
visited and satisfied figures read it instead of joining the visits and
must count exactly what the join counted (DESIGN §6: the done visit of the
case's last closure round, or the reporter's own rating).
"""

from datetime import timedelta

import pytest
from django.db.models import F, Q

from cases import services
from cases.choices import CaseStatus, Satisfaction, VisitStatus
from cases.indicators import SATISFIED, Period, cases_matching, indicators
from cases.models import Case, ReturnVisit
from chengguan import clock
from chengguan.roles import Role
from liaisons.services import liaison_assign
from tests.cases.test_indicators import NOVEMBER, NOW, november
from tests.factories import staff


@pytest.fixture
def liaison(community, superuser):  # type: ignore[no-untyped-def]
    person = staff(Role.LIAISON)
    liaison_assign(community=community, liaison=person, actor=superuser)
    return type(person).objects.get(pk=person.pk)


def _schedule(case: Case) -> ReturnVisit:
    visit = services.return_visit_schedule(case=case)
    assert visit is not None
    return visit


def _fields(case: Case) -> tuple[object, str, object]:
    case.refresh_from_db()
    return case.last_visit_round, case.last_visit_satisfaction, case.last_visit_at


def _joined(key: str, period: Period) -> set[int]:
    """The cases the join of the visits counted (the definition before the copy on the case)."""
    closed = Q(status=CaseStatus.CLOSED) & period.q("closed_at")
    extra = {"return_visits__satisfaction__in": SATISFIED} if key == "satisfied" else {}
    visit = Q(return_visits__status=VisitStatus.DONE, return_visits__round=F("reopen_count"), **extra)
    return set(Case.objects.filter(closed & visit).values_list("pk", flat=True))


def test_recording_a_visit_copies_it_onto_the_case(make_case, liaison):
    # Given a closed case with its visit scheduled
    case = make_case(CaseStatus.CLOSED, reporter_phone="13700001234")
    visit = _schedule(case)
    assert _fields(case) == (None, "", None)

    # When the liaison reaches the reporter
    services.return_visit_record(
        visit=visit, actor=liaison, reached=True, satisfaction=Satisfaction.BASICALLY
    )

    # Then the case carries the visit
    visit.refresh_from_db()
    assert _fields(case) == (0, Satisfaction.BASICALLY, visit.visited_at)


def test_an_unreachable_reporter_leaves_the_case_unvisited(make_case, liaison):
    case = make_case(CaseStatus.CLOSED, reporter_phone="13700001234")
    visit = _schedule(case)

    services.return_visit_record(visit=visit, actor=liaison, reached=False)

    assert _fields(case) == (None, "", None)


def test_the_reporters_rating_is_copied_too(make_case, liaison):
    case = make_case(CaseStatus.CLOSED, reporter_phone="13700001234")
    services.return_visit_schedule(case=case)

    services.case_rate(case=case, satisfaction=Satisfaction.UNSATISFIED)

    round_, satisfaction, visited_at = _fields(case)
    assert (round_, satisfaction) == (0, Satisfaction.UNSATISFIED)
    assert visited_at is not None


def test_a_reopened_case_counts_only_the_visit_of_its_new_closure(make_case, liaison):
    # Given a case reopened after an unsatisfied visit
    case = make_case(CaseStatus.CLOSED, reporter_phone="13700001234")
    first = _schedule(case)
    services.return_visit_record(
        visit=first, actor=liaison, reached=True, satisfaction=Satisfaction.UNSATISFIED, reopen=True
    )
    assert _fields(case)[:2] == (0, Satisfaction.UNSATISFIED)
    # and closed again (round 1), its new visit not yet made
    now = clock.now()
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.CLOSED, closed_at=now)
    case.refresh_from_db()
    period = Period(now - timedelta(days=1), now + timedelta(days=1))
    assert case.reopen_count == 1
    assert not cases_matching(Case.objects.all(), "visited", period).exists()

    # When the second closure's visit is made
    second = services.return_visit_schedule(case=case)
    assert second is not None and second.round == 1
    services.return_visit_record(
        visit=second, actor=liaison, reached=True, satisfaction=Satisfaction.SATISFIED
    )

    # Then the case counts as visited and satisfied, as the join of the visits counted it
    assert _fields(case)[:2] == (1, Satisfaction.SATISFIED)
    for key in ("visited", "satisfied"):
        counted = set(cases_matching(Case.objects.all(), key, period).values_list("pk", flat=True))
        assert counted == _joined(key, period) == {case.pk}


def test_the_copy_counts_what_the_join_of_the_visits_counted(community):
    # Given the hand-computed month, with visits of every kind
    month = november(community)
    cases = month["cases"]
    # and a reopened case whose old round's visit must no longer count
    Case.objects.filter(pk=cases["C1"].pk).update(reopen_count=1)

    # When counted from the copy and from the join
    for for_assessment in (False, True):
        figures = indicators(Case.objects.all(), NOVEMBER, for_assessment=for_assessment, now=NOW)
        for key in ("visited", "satisfied"):
            joined = _joined(key, NOVEMBER)
            if for_assessment:
                joined -= set(Case.objects.filter(false_report=True).values_list("pk", flat=True))
            # Then the figures and the drill-down lists agree with the join
            listed = cases_matching(Case.objects.all(), key, NOVEMBER, for_assessment=for_assessment, now=NOW)
            assert figures[key] == len(joined), key
            assert set(listed.values_list("pk", flat=True)) == joined, key
    assert indicators(Case.objects.all(), NOVEMBER, now=NOW)["visited"] == 2  # C2, C3


def test_a_visit_recorded_late_for_an_older_round_changes_nothing(make_case, liaison):
    # Given a case on its second closure with that closure's visit done
    case = make_case(CaseStatus.CLOSED, reporter_phone="13700001234")
    old = services.return_visit_schedule(case=case)
    Case.objects.filter(pk=case.pk).update(reopen_count=1)
    case.refresh_from_db()
    current = services.return_visit_schedule(case=case)
    assert current is not None and old is not None
    services.return_visit_record(
        visit=current, actor=liaison, reached=True, satisfaction=Satisfaction.SATISFIED
    )

    # When the first closure's visit is recorded afterwards
    services.return_visit_record(
        visit=old, actor=liaison, reached=True, satisfaction=Satisfaction.UNSATISFIED
    )

    # Then the case still carries its current closure's visit
    assert _fields(case)[:2] == (1, Satisfaction.SATISFIED)
    assert ReturnVisit.objects.filter(case=case, status=VisitStatus.DONE).count() == 2
