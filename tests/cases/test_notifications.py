from cases import services
from cases.choices import CaseAction, CaseStatus
from cases.models import CaseEvent
from cases.tasks import notify_case_event
from chengguan.models import Notification
from chengguan.roles import Role
from tests.factories import CaseFactory, staff


def test_dispatch_notifies_unit_members_once_even_if_the_task_reruns(
    community, unit, django_capture_on_commit_callbacks
):
    # Given a registered case and two members of the handling unit
    district = community.street.district
    dispatcher = staff(Role.DISPATCHER, scope=district)
    members = [staff(Role.HANDLING_UNIT, scope=unit) for _ in range(2)]
    case = CaseFactory(community=community, status=CaseStatus.REGISTERED)

    # When it is dispatched to the unit (notifications run on commit)
    with django_capture_on_commit_callbacks(execute=True):
        services.case_dispatch(case=case, actor=dispatcher, handling_unit=unit)

    # Then each member has one notification, the dispatcher none
    assert Notification.objects.filter(recipient__in=members).count() == 2
    assert not Notification.objects.filter(recipient=dispatcher).exists()

    # And a retried task adds nothing
    event = CaseEvent.objects.get(case=case, action=CaseAction.DISPATCH)
    notify_case_event(event.pk)
    assert Notification.objects.filter(recipient__in=members).count() == 2


def test_result_submission_notifies_the_district_supervisors_only(
    community, other_community, django_capture_on_commit_callbacks
):
    district = community.street.district
    liaison = staff(Role.LIAISON, scope=community)
    supervisor = staff(Role.SUPERVISOR, scope=district)
    other_district_supervisor = staff(Role.SUPERVISOR, scope=None)
    case = CaseFactory(community=community, status=CaseStatus.IN_PROGRESS, assignee=liaison)

    with django_capture_on_commit_callbacks(execute=True):
        services.case_submit_result(case=case, actor=liaison, result="已劝离摊贩，现场恢复整洁")

    assert Notification.objects.filter(recipient=supervisor).count() == 1
    assert not Notification.objects.filter(recipient=other_district_supervisor).exists()
