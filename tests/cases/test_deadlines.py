"""Stage deadlines and the handling deadline (due_at) from the categories' time limits."""

from contextlib import AbstractContextManager
from datetime import timedelta
from decimal import Decimal

import pytest

from cases import services
from cases.choices import CaseStatus, Urgency
from cases.deadlines import stage_limit
from cases.models import Case, Category, TimeLimit
from chengguan.clock import frozen_at
from tests.factories import aware, leaf_category

HOUR = timedelta(hours=1)

# Seeded limits (cases/migrations/0003): 街面秩序 "01" is FAST, 市容环境 "02" STANDARD,
# 违法建设 "03" SLOW; the subcategories carry no limits of their own.
STREET_VENDORS = "0102"  # under 01: handle 8 / 4 / 2 h
PILED_RUBBISH = "0202"  # under 02: handle 40 h
ILLEGAL_BUILDING = "0301"  # under 03: handle 80 h


class TestStageLimit:
    @pytest.mark.parametrize(
        ("code", "urgency", "stage", "hours"),
        [
            ("01", Urgency.NORMAL, "handle", 8),
            (STREET_VENDORS, Urgency.NORMAL, "handle", 8),
            (STREET_VENDORS, Urgency.URGENT, "handle", 4),
            (STREET_VENDORS, Urgency.CRITICAL, "handle", 2),
            (STREET_VENDORS, Urgency.CRITICAL, "register", 0.5),
            (PILED_RUBBISH, Urgency.NORMAL, "handle", 40),
            (PILED_RUBBISH, Urgency.NORMAL, "verify", 16),
            (ILLEGAL_BUILDING, Urgency.NORMAL, "handle", 80),
            (ILLEGAL_BUILDING, Urgency.URGENT, "dispatch", 2),
        ],
    )
    def test_subcategories_inherit_their_parents_limits(self, db, code, urgency, stage, hours):
        assert stage_limit(Category.objects.get(code=code), urgency, stage) == hours * HOUR

    def test_a_subcategorys_own_limit_wins(self, db):
        vendors = leaf_category(STREET_VENDORS)
        TimeLimit.objects.create(
            category=vendors,
            urgency=Urgency.NORMAL,
            register_hours=1,
            dispatch_hours=1,
            handle_hours=Decimal("3.5"),
            verify_hours=2,
        )
        assert stage_limit(vendors, Urgency.NORMAL, "handle") == 3.5 * HOUR
        # other urgencies still come from the parent
        assert stage_limit(vendors, Urgency.URGENT, "handle") == 4 * HOUR
        # and the sibling is untouched
        assert stage_limit(leaf_category("0101"), Urgency.NORMAL, "handle") == 8 * HOUR

    def test_without_any_limit_the_defaults_apply(self, db):
        orphan = Category.objects.create(code="77", name="新类别")
        child = Category.objects.create(code="7701", name="新小类", parent=orphan)
        for stage, hours in TimeLimit.DEFAULT_HOURS.items():
            assert stage_limit(child, Urgency.NORMAL, stage) == hours * HOUR
            assert stage_limit(None, Urgency.NORMAL, stage) == hours * HOUR


@pytest.fixture
def report(superuser, community):  # type: ignore[no-untyped-def]
    def make(code: str = STREET_VENDORS, urgency: Urgency | None = None) -> Case:
        return services.case_report(
            source="web",
            description="人行道上堆放杂物",
            category=leaf_category(code),
            urgency=urgency,
            lat=30.005,
            lng=120.005,
            actor=superuser,
        )

    return make


def at(*moment: int) -> AbstractContextManager[None]:
    return frozen_at(aware(*moment))


def test_deadline_of_each_stage(report, superuser, unit):
    # given a street-vendor report on Monday 2026-03-02 at 10:00 (register within 2 h)
    with at(2026, 3, 2, 10):
        case = report()
    assert case.deadline == aware(2026, 3, 2, 12)
    assert case.due_at is None
    # registered at 11:00: dispatch within 2 working hours, across lunch
    with at(2026, 3, 2, 11):
        case = services.case_register(case=case, actor=superuser)
    assert case.deadline == aware(2026, 3, 2, 14)
    assert case.due_at is None
    # dispatched at 15:00: handle within 8 working hours
    with at(2026, 3, 2, 15):
        case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
    assert case.due_at == case.deadline == aware(2026, 3, 3, 15)
    # signing for it keeps the handling deadline
    with at(2026, 3, 3, 9):
        case = services.case_sign_for(case=case, actor=superuser)
    assert case.deadline == aware(2026, 3, 3, 15)
    # result at 14:00: verify within 8 h
    with at(2026, 3, 3, 14):
        case = services.case_submit_result(case=case, actor=superuser, result="已劝离")
    assert case.deadline == aware(2026, 3, 4, 14)
    with at(2026, 3, 3, 16):
        case = services.case_verify(case=case, actor=superuser, passed=True)
    assert case.deadline is None
    assert case.due_at == aware(2026, 3, 3, 15)


def test_urgency_shortens_the_handling_deadline(report, superuser, unit):
    with at(2026, 3, 2, 9):
        case = report(urgency=Urgency.URGENT)
        case = services.case_register(case=case, actor=superuser)
        case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
    assert case.due_at == aware(2026, 3, 2, 14)


def test_due_at_is_set_at_the_first_dispatch_and_kept_on_redispatch(report, superuser, unit):
    with at(2026, 3, 2, 10):
        case = services.case_register(case=report(), actor=superuser)
        case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
    first_due = case.due_at
    assert first_due == aware(2026, 3, 3, 10)
    # returned by the unit the next morning: back to the dispatcher, handling deadline kept
    with at(2026, 3, 3, 9):
        case = services.case_return(case=case, actor=superuser, reason="非本单位职责")
    assert case.status == CaseStatus.REGISTERED
    assert case.due_at == first_due
    assert case.deadline == aware(2026, 3, 3, 11)
    # dispatched again: the clock was not reset
    with at(2026, 3, 3, 9, 30):
        case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
    assert case.due_at == case.deadline == first_due
    assert case.dispatched_at == aware(2026, 3, 3, 9, 30)


def test_rework_keeps_and_reopen_renews_the_handling_deadline(report, superuser, unit):
    with at(2026, 3, 2, 10):
        case = services.case_register(case=report(), actor=superuser)
        case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
        case = services.case_sign_for(case=case, actor=superuser)
        case = services.case_submit_result(case=case, actor=superuser, result="已处理")
    with at(2026, 3, 2, 11):
        case = services.case_verify(case=case, actor=superuser, passed=False, note="未处理完")
    assert case.deadline == case.due_at == aware(2026, 3, 3, 10)
    with at(2026, 3, 2, 12):
        case = services.case_sign_for(case=case, actor=superuser)
        case = services.case_submit_result(case=case, actor=superuser, result="已处理")
        case = services.case_verify(case=case, actor=superuser, passed=True)
    with at(2026, 3, 5, 16):
        case = services.case_reopen(case=case, actor=superuser, reason="回访不满意")
    assert case.due_at == case.deadline == aware(2026, 3, 6, 16)


def test_parked_working_days_are_added_to_the_handling_deadline(report, superuser, unit):
    # given an illegal-building case dispatched Monday 2026-03-02 10:00, due in 10 working days
    with at(2026, 3, 2, 10):
        case = services.case_register(case=report(ILLEGAL_BUILDING), actor=superuser)
        case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
    assert case.due_at == aware(2026, 3, 16, 10)
    # when it is parked from Friday 10:00 to Wednesday 10:00 (3 working days over a weekend)
    with at(2026, 3, 6, 10):
        case = services.case_park(case=case, actor=superuser, reason="等待规划部门认定")
    assert case.deadline is None
    with at(2026, 3, 11, 10):
        case = services.case_unpark(case=case, actor=superuser)
    # then its handling deadline moves by exactly 3 working days
    assert case.due_at == aware(2026, 3, 19, 10)
    assert case.parked_hours == Decimal("24.00")
    assert case.parked_at is None
    # back with the dispatcher, who dispatches it again under the moved deadline
    assert case.status == CaseStatus.REGISTERED
    with at(2026, 3, 11, 11):
        case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
    assert case.deadline == aware(2026, 3, 19, 10)


def test_parking_twice_adds_up(report, superuser, unit):
    with at(2026, 3, 2, 10):
        case = services.case_register(case=report(ILLEGAL_BUILDING), actor=superuser)
        case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
    for park, unpark in [((2026, 3, 3, 10), (2026, 3, 3, 14)), ((2026, 3, 4, 17), (2026, 3, 5, 11))]:
        with at(*park):
            case = services.case_park(case=case, actor=superuser, reason="暂缓")
        with at(*unpark):
            case = services.case_unpark(case=case, actor=superuser)
            case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
    # 3 h + 3 h of working time parked
    assert case.parked_hours == Decimal("6.00")
    assert case.due_at == aware(2026, 3, 16, 17)


def test_a_case_parked_before_dispatch_has_no_handling_deadline_to_move(report, superuser, unit):
    with at(2026, 3, 2, 10):
        case = services.case_register(case=report(), actor=superuser)
        case = services.case_park(case=case, actor=superuser, reason="暂缓")
    with at(2026, 3, 5, 10):
        case = services.case_unpark(case=case, actor=superuser)
        assert case.due_at is None
        case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
    assert case.parked_hours == Decimal("24.00")
    assert case.due_at == aware(2026, 3, 6, 10)


class TestSpringFestival2026:
    def test_handling_deadline_runs_over_the_make_up_saturday(self, report, superuser, unit):
        # dispatched Friday 2026-02-13 10:00, 8 h: due on the make-up Saturday
        with at(2026, 2, 13, 10):
            case = services.case_register(case=report(), actor=superuser)
            case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
        assert case.due_at == aware(2026, 2, 14, 10)

    def test_handling_deadline_skips_the_holiday(self, report, superuser, unit):
        # dispatched Friday 2026-02-13 10:00, 40 h: Sat 14, then Tue 24 .. Fri 27
        with at(2026, 2, 13, 10):
            case = services.case_register(case=report(PILED_RUBBISH), actor=superuser)
            case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
        assert case.due_at == aware(2026, 2, 27, 10)

    def test_a_report_filed_during_the_holiday_waits_for_the_first_working_day(self, report):
        with at(2026, 2, 18, 20):
            case = report()
        assert case.deadline == aware(2026, 2, 24, 11)

    def test_the_holiday_does_not_count_as_parked_time(self, report, superuser, unit):
        with at(2026, 2, 13, 10):
            case = services.case_register(case=report(ILLEGAL_BUILDING), actor=superuser)
            case = services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
        # 80 h from Fri 13 10:00: Sat 14 (1), Tue 24 .. Fri 27 (5), Sat 28 (6), Mon 2 .. Thu 5 Mar (10)
        assert case.due_at == aware(2026, 3, 5, 10)
        # parked from the make-up Saturday 17:00 until Tuesday 24 at 10:00: 2 working hours
        with at(2026, 2, 14, 17):
            case = services.case_park(case=case, actor=superuser, reason="节后处理")
        with at(2026, 2, 24, 10):
            case = services.case_unpark(case=case, actor=superuser)
        assert case.parked_hours == Decimal("2.00")
        assert case.due_at == aware(2026, 3, 5, 12)
