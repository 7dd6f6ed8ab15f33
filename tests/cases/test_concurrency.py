"""Two people acting on one case at once never both succeed (PostgreSQL row locks).

These tests commit for real (transaction=True) and run each contender in its
own thread with its own connection. The flush after a transactional test
empties the seeded categories, so the tests that need one seed them again.
"""

import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from cases import services
from cases.choices import CaseAction, CaseSource, CaseStatus
from cases.models import Case, CaseEvent, CaseNumberSequence
from chengguan.clock import frozen_at
from chengguan.errors import StaleObject, TransitionNotAllowed
from chengguan.models import User
from chengguan.roles import Role
from tests.conftest import seed_categories
from tests.factories import UserFactory, aware, leaf_category, staff

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

MOMENT = aware(2026, 3, 2, 10)
TIMEOUT = 30


def race(contenders: list[Callable[[], Any]]) -> list[Any]:
    """Run the callables in threads released together; return their results or exceptions."""
    barrier = threading.Barrier(len(contenders), timeout=TIMEOUT)
    results: list[Any] = [None] * len(contenders)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            with frozen_at(MOMENT):
                results[index] = call()
        except Exception as exc:  # the outcome is the test's to judge
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a contender hung"
    return results


@pytest.fixture
def category():  # type: ignore[no-untyped-def]
    seed_categories()
    return leaf_category()


def report(**kwargs: Any) -> Case:
    return services.case_report(
        source=CaseSource.WEB, description="夜间施工噪声扰民", lat=30.005, lng=120.005, **kwargs
    )


def test_two_dispatchers_dispatch_the_same_case(district, community, unit, category):
    # given a registered case and two dispatchers of the district
    operator = staff(Role.OPERATOR, scope=district)
    dispatchers = [staff(Role.DISPATCHER, scope=district) for _ in range(2)]
    with frozen_at(MOMENT):
        case = services.case_register(case=report(category=category), actor=operator)

    def dispatch(dispatcher_id: int) -> Callable[[], Case]:
        # each thread loads its own objects, as a request would
        return lambda: services.case_dispatch(
            case=Case.objects.get(pk=case.pk),
            actor=User.objects.get(pk=dispatcher_id),
            handling_unit=unit,
            expected_version=case.version,
        )

    # when both dispatch it at the same moment
    results = race([dispatch(d.pk) for d in dispatchers])

    # then exactly one succeeds and the other is told it lost
    winners = [r for r in results if isinstance(r, Case)]
    losers = [r for r in results if not isinstance(r, Case)]
    assert len(winners) == 1, results
    assert len(losers) == 1 and isinstance(losers[0], TransitionNotAllowed | StaleObject), results
    case.refresh_from_db()
    assert case.status == CaseStatus.DISPATCHED
    assert case.version == winners[0].version
    assert CaseEvent.objects.filter(case=case, action=CaseAction.DISPATCH).count() == 1


def test_two_supervisors_verify_the_same_result_without_versions(district, community, unit, category):
    # given a resolved case and two supervisors, one passing and one failing it
    root = UserFactory(is_superuser=True)
    supervisors = [staff(Role.SUPERVISOR, scope=district) for _ in range(2)]
    with frozen_at(MOMENT):
        case = services.case_register(case=report(category=category), actor=root)
        case = services.case_dispatch(case=case, actor=root, handling_unit=unit)
        case = services.case_sign_for(case=case, actor=root)
        case = services.case_submit_result(case=case, actor=root, result="已停工")

    def verify(supervisor_id: int, passed: bool) -> Callable[[], Case]:
        return lambda: services.case_verify(
            case=Case(pk=case.pk), actor=User.objects.get(pk=supervisor_id), passed=passed, note="复核"
        )

    # when both decide at once, without passing the version they saw
    results = race([verify(supervisors[0].pk, True), verify(supervisors[1].pk, False)])

    # then the row lock lets one decide; the other finds the case moved on
    winners = [r for r in results if isinstance(r, Case)]
    assert len(winners) == 1, results
    assert sum(isinstance(r, TransitionNotAllowed) for r in results) == 1, results
    case.refresh_from_db()
    assert case.status == winners[0].status
    decisions = case.events.filter(action__in=[CaseAction.CLOSE, CaseAction.REWORK])
    assert decisions.count() == 1
    assert decisions.get().from_status == CaseStatus.RESOLVED


def test_concurrent_reports_get_distinct_sequential_numbers(community):
    # when eight residents report at the same moment
    results = race([report for _ in range(8)])
    # then each gets a case with its own number, counted from 1 on that day
    assert all(isinstance(r, Case) for r in results), results
    numbers = sorted(r.number for r in results)
    assert numbers == [f"CG-20260302-{n:06d}" for n in range(1, 9)]
    assert all(re.fullmatch(r"CG-\d{8}-\d{6}", n) for n in numbers)
    assert CaseNumberSequence.objects.get(day=MOMENT.date()).last == 8
    assert len({r.tracking_code for r in results}) == 8


def test_concurrent_reports_with_one_idempotency_key_create_one_case(community):
    # when a phone resubmits the same form while the first request is still running
    results = race([lambda: report(idempotency_key="form-7f3a") for _ in range(2)])
    # then there is one case and both requests answer with it
    assert all(isinstance(r, Case) for r in results), results
    assert Case.objects.count() == 1
    assert {r.pk for r in results} == {Case.objects.get().pk}
    # numbered before its transaction, the repeat that lost may have taken a number
    # of its own: the day's numbers may have a gap, never a duplicate
    assert Case.objects.get().number in {"CG-20260302-000001", "CG-20260302-000002"}
    assert CaseEvent.objects.filter(action=CaseAction.REPORT).count() == 1
