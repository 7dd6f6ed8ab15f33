from cases import services
from cases.choices import CaseSource, CaseStatus
from chengguan.roles import Role
from tests.factories import CaseFactory, leaf_category, staff


def test_report_register_dispatch(community, unit, django_capture_on_commit_callbacks):
    operator = staff(Role.OPERATOR, scope=community.street.district)
    dispatcher = staff(Role.DISPATCHER, scope=community.street.district)
    with django_capture_on_commit_callbacks(execute=True):
        case = services.case_report(
            source=CaseSource.WEB, description="门口有人摆摊", lat=30.005, lng=120.005, category=leaf_category()
        )
    assert case.community == community
    assert case.status == CaseStatus.REPORTED
    case = services.case_register(case=case, actor=operator)
    case = services.case_dispatch(case=case, actor=dispatcher, handling_unit=unit)
    assert case.status == CaseStatus.DISPATCHED
    assert case.events.count() == 3
    assert CaseFactory  # factory importable
