import importlib

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from cases import notifications, services
from cases.choices import CaseAction, CaseStatus, RejectReason
from cases.models import CaseEvent
from cases.tasks import notify_case_event
from chengguan.models import Notification, OutboundMessage
from chengguan.roles import Role
from tests.factories import CaseFactory, UserFactory, staff


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


# --- what reporters are told, and in which language ---------------------------------------


def test_an_english_speaking_operators_rejection_texts_the_resident_in_chinese(
    community, django_capture_on_commit_callbacks
):
    # Given a report from a resident with an account and an email address
    operator = staff(Role.OPERATOR, scope=community.street.district)
    resident = UserFactory(email="resident@example.cn")
    case = CaseFactory(community=community, status=CaseStatus.REPORTED, reporter=resident)

    # When an operator using the site in English rejects it as a duplicate (no note: the reason is sent)
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        services.case_reject(case=case, actor=operator, reason=RejectReason.DUPLICATE)

    # Then the resident is texted and mailed in Chinese, the site's language
    sms = OutboundMessage.objects.get(channel=OutboundMessage.Channel.SMS, recipient=case.reporter_phone)
    email = OutboundMessage.objects.get(channel=OutboundMessage.Channel.EMAIL, recipient=resident.email)
    with translation.override(settings.LANGUAGE_CODE):
        expected = gettext("Your report %(number)s was not accepted: %(note)s") % {
            "number": case.number,
            "note": RejectReason.DUPLICATE.label,
        }
        subject = gettext("City management report %(number)s") % {"number": case.number}
    assert sms.body == email.body == expected == f"您反映的问题（{case.number}）不予受理：重复反映"
    assert email.subject == subject == f"城管问题反映 {case.number}"


def test_the_texts_do_not_keep_the_language_active_when_they_were_loaded(
    community, django_capture_on_commit_callbacks
):
    # Given the texts to reporters loaded while English was active (a worker or shell started so)
    try:
        with translation.override("en"):
            importlib.reload(notifications)
        case = CaseFactory(community=community, status=CaseStatus.REPORTED)
        operator = staff(Role.OPERATOR, scope=community.street.district)

        # When a case is registered
        with django_capture_on_commit_callbacks(execute=True):
            services.case_register(case=case, actor=operator)
    finally:
        importlib.reload(notifications)

    # Then the resident's text is in Chinese all the same
    sms = OutboundMessage.objects.get(channel=OutboundMessage.Channel.SMS, recipient=case.reporter_phone)
    assert sms.body.startswith(f"您反映的问题（{case.number}）已受理立案")
