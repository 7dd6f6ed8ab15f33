"""Fixtures for case tests: actors and cases brought to a status through the services."""

from collections.abc import Callable
from typing import Any

import pytest

from cases import services
from cases.choices import CaseSource, CaseStatus, RejectReason
from cases.models import Case
from chengguan.roles import Role
from tests.factories import UserFactory, leaf_category, staff

# The services that lead from `reported` to each status, in order.
PATH: dict[CaseStatus, list[str]] = {
    CaseStatus.REPORTED: [],
    CaseStatus.REGISTERED: ["register"],
    CaseStatus.DISPATCHED: ["register", "dispatch"],
    CaseStatus.IN_PROGRESS: ["register", "dispatch", "sign_for"],
    CaseStatus.RESOLVED: ["register", "dispatch", "sign_for", "submit_result"],
    CaseStatus.CLOSED: ["register", "dispatch", "sign_for", "submit_result", "close"],
    CaseStatus.REJECTED: ["reject"],
    CaseStatus.PARKED: ["register", "park"],
}


@pytest.fixture
def superuser(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def make_case(superuser, community, unit) -> Callable[..., Case]:  # type: ignore[no-untyped-def]
    """`make_case(status)`: a case reported in `community` and moved to `status` by a superuser."""

    def step(case: Case, name: str) -> Case:
        actor = superuser
        if name == "register":
            return services.case_register(case=case, actor=actor)
        if name == "dispatch":
            return services.case_dispatch(case=case, actor=actor, handling_unit=unit)
        if name == "sign_for":
            return services.case_sign_for(case=case, actor=actor)
        if name == "submit_result":
            return services.case_submit_result(case=case, actor=actor, result="摊贩已劝离，现场已清理")
        if name == "close":
            return services.case_verify(case=case, actor=actor, passed=True)
        if name == "reject":
            return services.case_reject(
                case=case, actor=actor, reason=RejectReason.INVALID, note="不属于城管职责"
            )
        if name == "park":
            return services.case_park(case=case, actor=actor, reason="涉及拆迁，暂缓处置")
        raise AssertionError(name)

    def make(status: CaseStatus = CaseStatus.REPORTED, **report: Any) -> Case:
        report.setdefault("source", CaseSource.WEB)
        report.setdefault("description", "小区门口有流动摊贩占道经营")
        report.setdefault("category", leaf_category())
        report.setdefault("lat", 30.005)
        report.setdefault("lng", 120.005)
        case = services.case_report(actor=superuser, **report)
        for name in PATH[CaseStatus(status)]:
            case = step(case, name)
        assert case.status == status
        return Case.objects.get(pk=case.pk)

    return make


@pytest.fixture
def supervisor(district):  # type: ignore[no-untyped-def]
    return staff(Role.SUPERVISOR, scope=district)


@pytest.fixture
def operator(district):  # type: ignore[no-untyped-def]
    return staff(Role.OPERATOR, scope=district)


@pytest.fixture
def month(community):  # type: ignore[no-untyped-def]
    """The hand-computed November of test_indicators (indicators, dashboard, assessment)."""
    from tests.cases.test_indicators import november

    return november(community)


@pytest.fixture
def unit_member(unit):  # type: ignore[no-untyped-def]
    return staff(Role.HANDLING_UNIT, scope=unit)
