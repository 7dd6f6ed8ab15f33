"""DESIGN §6 indicators against a hand-computed month (November 2026).

The fixture month, all in one community (times local, 10:00 unless given):

| case | reported | registered | due | status / closed | notes |
| --- | --- | --- | --- | --- | --- |
| C1 | 11-02 | 11-02 | 11-09 | closed 11-06 | 10 h, visit 满意, unit U1 |
| C2 | 11-03 | 11-03 | 11-10 | closed 11-12 (late) | reworked once, 30 h, visit 不满意, U1 |
| C3 | 11-05 | 11-05 | 11-20 | closed 11-19 | extended once, 20 h, rated 基本满意 online, U1 |
| C4 | 11-10 | 11-10 | 11-17 | in progress, past deadline | overdue, U1 |
| C5 | 11-11 | – | – | rejected 11-11 | |
| C6 | 11-12 | – | – | merged into C4 | duplicate |
| C7 | 10-25 | 10-25 | 11-03 | closed 11-02 | 8 h, no visit, U2 |
| C8 | 11-20 | 11-20 | 12-04 | dispatched | U2 |
| C9 | 11-25 | 11-25 | – | closed on the spot 11-25 | 0 h |
| C10 | 11-14 | 11-14 | 11-21 | closed 11-20 | 5 h, marked false 11-22, U1 |
| C11 | 11-15 | 11-15 | 11-28 | parked | |

"now" is 2026-12-01 10:00.
"""

from datetime import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from cases.choices import CaseStatus, Satisfaction, VisitChannel, VisitStatus
from cases.indicators import Period, composite_score, indicators, indicators_by
from cases.models import Case, ReturnVisit
from cases.services import case_sync_last_visit
from tests.factories import CaseFactory, HandlingUnitFactory

NOW = timezone.make_aware(datetime(2026, 12, 1, 10, 0))
NOVEMBER = Period.month(2026, 11)


def at(month: int, day: int, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime(2026, month, day, hour, 0))


def november(community):  # type: ignore[no-untyped-def]
    """The fixture month in `community` (also used by the dashboard and assessment tests)."""
    u1, u2 = HandlingUnitFactory(), HandlingUnitFactory()

    def case(name: str, **fields):  # type: ignore[no-untyped-def]
        return CaseFactory(community=community, title=name, **fields)

    closed = {"status": CaseStatus.CLOSED}
    cases = {
        "C1": case(
            "C1",
            reported_at=at(11, 2),
            registered_at=at(11, 2),
            due_at=at(11, 9),
            closed_at=at(11, 6),
            handling_hours=Decimal(10),
            handling_unit=u1,
            **closed,
        ),
        "C2": case(
            "C2",
            reported_at=at(11, 3),
            registered_at=at(11, 3),
            due_at=at(11, 10),
            closed_at=at(11, 12),
            rework_count=1,
            handling_hours=Decimal(30),
            handling_unit=u1,
            **closed,
        ),
        "C3": case(
            "C3",
            reported_at=at(11, 5),
            registered_at=at(11, 5),
            due_at=at(11, 20),
            closed_at=at(11, 19),
            extension_count=1,
            handling_hours=Decimal(20),
            handling_unit=u1,
            **closed,
        ),
        "C4": case(
            "C4",
            reported_at=at(11, 10),
            registered_at=at(11, 10),
            due_at=at(11, 17),
            deadline=at(11, 17),
            status=CaseStatus.IN_PROGRESS,
            handling_unit=u1,
        ),
        "C5": case("C5", reported_at=at(11, 11), rejected_at=at(11, 11), status=CaseStatus.REJECTED),
        "C7": case(
            "C7",
            reported_at=at(10, 25),
            registered_at=at(10, 25),
            due_at=at(11, 3),
            closed_at=at(11, 2),
            handling_hours=Decimal(8),
            handling_unit=u2,
            **closed,
        ),
        "C8": case(
            "C8",
            reported_at=at(11, 20),
            registered_at=at(11, 20),
            due_at=at(12, 4),
            deadline=at(12, 4),
            status=CaseStatus.DISPATCHED,
            handling_unit=u2,
        ),
        "C9": case(
            "C9",
            reported_at=at(11, 25),
            registered_at=at(11, 25),
            closed_at=at(11, 25),
            closed_on_spot=True,
            handling_hours=Decimal(0),
            **closed,
        ),
        "C10": case(
            "C10",
            reported_at=at(11, 14),
            registered_at=at(11, 14),
            due_at=at(11, 21),
            closed_at=at(11, 20),
            handling_hours=Decimal(5),
            handling_unit=u1,
            false_report=True,
            false_report_at=at(11, 22),
            false_report_reason="恶意举报",
            **closed,
        ),
        "C11": case(
            "C11",
            reported_at=at(11, 15),
            registered_at=at(11, 15),
            due_at=at(11, 28),
            status=CaseStatus.PARKED,
        ),
    }
    cases["C6"] = case(
        "C6",
        reported_at=at(11, 12),
        rejected_at=at(11, 12),
        status=CaseStatus.REJECTED,
        merged_into=cases["C4"],
    )
    for name, satisfaction, channel in [
        ("C1", Satisfaction.SATISFIED, VisitChannel.PHONE),
        ("C2", Satisfaction.UNSATISFIED, VisitChannel.PHONE),
        ("C3", Satisfaction.BASICALLY, VisitChannel.WEB),
    ]:
        ReturnVisit.objects.create(
            case=cases[name],
            round=0,
            due_at=at(11, 28),
            status=VisitStatus.DONE,
            channel=channel,
            satisfaction=satisfaction,
            visited_at=at(11, 27),
        )
        # What the return-visit services do in the visit's transaction.
        case_sync_last_visit(case=cases[name])
    # A visit still to do does not count.
    ReturnVisit.objects.create(case=cases["C7"], round=0, due_at=at(11, 6))
    case_sync_last_visit(case=cases["C7"])
    return {"cases": cases, "u1": u1, "u2": u2}


def test_every_indicator_for_the_whole_scope(month):
    figures = indicators(Case.objects.all(), NOVEMBER, now=NOW)

    assert figures["reported"] == 10
    assert figures["registered"] == 8
    assert figures["registration_rate"] == pytest.approx(8 / 9)
    assert figures["due"] == 8
    assert figures["closed"] == 6
    assert figures["closure_rate"] == pytest.approx(6 / 8)
    assert figures["closed_on_time"] == 5
    assert figures["on_time_rate"] == pytest.approx(5 / 8)
    assert figures["rework_rate"] == pytest.approx(1 / 6)
    assert figures["extension_rate"] == pytest.approx(1 / 8)
    assert figures["overdue"] == 1
    assert figures["visit_rate"] == pytest.approx(3 / 6)
    assert figures["satisfaction_rate"] == pytest.approx(2 / 3)
    assert figures["avg_handling_hours"] == pytest.approx(73 / 6)
    assert figures["closed_on_spot"] == 1
    assert figures["false_reports"] == 1


def test_assessment_figures_leave_false_reports_out(month):
    figures = indicators(Case.objects.all(), NOVEMBER, for_assessment=True, now=NOW)

    assert figures["reported"] == 9
    assert figures["registration_rate"] == pytest.approx(7 / 8)
    assert figures["due"] == 7
    assert figures["closure_rate"] == pytest.approx(5 / 7)
    assert figures["on_time_rate"] == pytest.approx(4 / 7)
    assert figures["rework_rate"] == pytest.approx(1 / 5)
    assert figures["extension_rate"] == pytest.approx(1 / 7)
    assert figures["visit_rate"] == pytest.approx(3 / 5)
    assert figures["avg_handling_hours"] == pytest.approx(68 / 5)
    assert figures["false_reports"] == 1
    # 60·4/7 + 20·5/7 + 10·(1 − 1/5) + 10·2/3
    assert composite_score(figures) == pytest.approx(63.24, abs=0.005)


def test_per_unit_figures_and_the_effect_of_a_false_report_on_the_score(month):
    u1 = month["u1"].pk
    # Before C10 is marked false it counts for U1: on time 3/5, closure 4/5,
    # rework 1/4, satisfaction 2/3 → 36 + 16 + 7.5 + 6.67
    Case.objects.filter(pk=month["cases"]["C10"].pk).update(false_report=False)
    before = indicators_by(Case.objects.all(), NOVEMBER, "handling_unit", for_assessment=True, now=NOW)[u1]
    assert (before["due"], before["closed"], before["closed_on_time"]) == (5, 4, 3)
    assert composite_score(before) == pytest.approx(66.17, abs=0.005)
    # After: on time 2/4, closure 3/4, rework 1/3, satisfaction 2/3 → 30 + 15 + 6.67 + 6.67
    Case.objects.filter(pk=month["cases"]["C10"].pk).update(false_report=True)
    after = indicators_by(Case.objects.all(), NOVEMBER, "handling_unit", for_assessment=True, now=NOW)[u1]
    assert (after["due"], after["closed"], after["closed_on_time"]) == (4, 3, 2)
    assert after["false_reports"] == 1
    assert composite_score(after) == pytest.approx(58.33, abs=0.005)


def test_the_query_count_does_not_grow_with_the_data(month, django_assert_num_queries):
    # Every figure, the return visits included, in one pass over the cases.
    with django_assert_num_queries(1):
        indicators(Case.objects.all(), NOVEMBER, for_assessment=True, now=NOW)
    with django_assert_num_queries(1):
        indicators_by(Case.objects.all(), NOVEMBER, "handling_unit", for_assessment=True, now=NOW)


def test_grouped_rows_add_up_to_the_totals(month):
    from cases.indicators import combine, indicator_rows

    for for_assessment in (False, True):
        rows = indicator_rows(
            Case.objects.all(),
            NOVEMBER,
            ("handling_unit", "community"),
            for_assessment=for_assessment,
            now=NOW,
        )
        totals = indicators(Case.objects.all(), NOVEMBER, for_assessment=for_assessment, now=NOW)
        assert combine(rows) == pytest.approx(totals)


def test_the_list_behind_every_figure_counts_as_many(month):
    from cases.indicators import COUNTS, cases_matching

    for for_assessment in (False, True):
        figures = indicators(Case.objects.all(), NOVEMBER, for_assessment=for_assessment, now=NOW)
        for key in (*COUNTS, "false_reports"):
            listed = cases_matching(Case.objects.all(), key, NOVEMBER, for_assessment=for_assessment, now=NOW)
            assert listed.count() == figures[key], key


def test_periods():
    assert NOVEMBER.start == timezone.make_aware(datetime(2026, 11, 1))
    assert NOVEMBER.end == timezone.make_aware(datetime(2026, 12, 1))
    assert NOVEMBER.previous().start == timezone.make_aware(datetime(2026, 10, 2))
    assert Period.month(2026, 12).end == timezone.make_aware(datetime(2027, 1, 1))
