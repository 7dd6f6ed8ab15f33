"""Verification (核查) by the community's liaison where the community has them verify."""

import pytest
from django.urls import reverse

from cases import services
from cases.choices import CaseAction, CaseStatus
from cases.models import Case, CaseEvent, CommunityCaseSettings
from chengguan.errors import ActionNotPermitted
from chengguan.models import Notification
from chengguan.roles import Role
from liaisons.services import liaison_assign
from tests.factories import staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def liaison(community):  # type: ignore[no-untyped-def]
    """The community's responsible liaison (posting grants the community scope)."""
    user = staff(Role.LIAISON)
    liaison_assign(community=community, liaison=user)
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def verifies(community):  # type: ignore[no-untyped-def]
    return CommunityCaseSettings.objects.create(community=community, liaison_verifies=True)


def detail(client, case: Case) -> str:  # type: ignore[no-untyped-def]
    return client.get(reverse("cases:detail", args=[case.number])).content.decode()


def test_off_by_default_the_liaison_cannot_verify(make_case, liaison):
    case = make_case(CaseStatus.RESOLVED)

    with pytest.raises(ActionNotPermitted):
        services.case_verify(case=case, actor=liaison, passed=True)

    assert Case.objects.get(pk=case.pk).status == CaseStatus.RESOLVED


def test_when_on_the_liaison_passes_a_result_and_the_case_closes(make_case, liaison, verifies):
    case = make_case(CaseStatus.RESOLVED)

    services.case_verify(case=case, actor=liaison, passed=True, note="现场已恢复")

    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED
    assert CaseEvent.objects.get(case=case, action=CaseAction.CLOSE).actor == liaison


def test_when_on_a_failed_check_goes_back_for_rework_and_is_counted(make_case, liaison, verifies):
    case = make_case(CaseStatus.RESOLVED)

    services.case_verify(case=case, actor=liaison, passed=False, note="现场仍有杂物")

    case.refresh_from_db()
    assert case.status == CaseStatus.DISPATCHED and case.rework_count == 1


def test_a_liaison_of_another_community_cannot_verify(make_case, other_community, verifies):
    other = staff(Role.LIAISON)
    liaison_assign(community=other_community, liaison=other)
    CommunityCaseSettings.objects.create(community=other_community, liaison_verifies=True)
    case = make_case(CaseStatus.RESOLVED)

    with pytest.raises(ActionNotPermitted):
        services.case_verify(case=case, actor=type(other).objects.get(pk=other.pk), passed=True)


def test_the_liaison_never_verifies_their_own_work(make_case, liaison, verifies, superuser):
    case = make_case(CaseStatus.REGISTERED)
    services.case_dispatch(case=case, actor=superuser, assignee=liaison)
    services.case_sign_for(case=case, actor=liaison)
    services.case_submit_result(case=case, actor=liaison, result="已劝离")

    with pytest.raises(ActionNotPermitted):
        services.case_verify(case=case, actor=liaison, passed=True)


def test_community_staff_and_former_liaisons_cannot_verify(make_case, community, liaison, verifies):
    case = make_case(CaseStatus.RESOLVED)
    successor = staff(Role.LIAISON)
    liaison_assign(community=community, liaison=successor)  # ends the first posting
    former = type(liaison).objects.get(pk=liaison.pk)

    for actor in (staff(Role.COMMUNITY_STAFF, scope=community), former):
        with pytest.raises(ActionNotPermitted):
            services.case_verify(case=case, actor=actor, passed=True)


def test_supervisors_still_verify(make_case, supervisor, verifies):
    case = make_case(CaseStatus.RESOLVED)

    services.case_verify(case=case, actor=supervisor, passed=True)

    assert Case.objects.get(pk=case.pk).status == CaseStatus.CLOSED


def test_the_page_offers_verify_and_rework_only_when_on(client, make_case, liaison, community):
    case = make_case(CaseStatus.RESOLVED)
    client.force_login(liaison)
    off = detail(client, case)
    CommunityCaseSettings.objects.create(community=community, liaison_verifies=True)

    on = detail(client, case)

    assert 'data-desk-action="verify"' not in off
    assert 'data-desk-action="verify"' in on and 'data-desk-action="rework"' in on


def test_the_to_verify_worklist_holds_the_communitys_resolved_cases(
    client, make_case, liaison, verifies, django_assert_max_num_queries
):
    resolved = [make_case(CaseStatus.RESOLVED) for _ in range(3)]
    make_case(CaseStatus.IN_PROGRESS)
    client.force_login(liaison)

    with django_assert_max_num_queries(13):
        response = client.get(reverse("desk:worklist", args=["verify"]))

    assert response.status_code == 200
    listed = sorted(case.number for case in response.context["page_obj"].object_list)
    assert listed == sorted(case.number for case in resolved)


def test_without_the_setting_the_liaisons_to_verify_list_is_empty(client, make_case, liaison):
    make_case(CaseStatus.RESOLVED)
    client.force_login(liaison)

    response = client.get(reverse("desk:worklist", args=["verify"]))

    assert response.status_code == 200
    assert list(response.context["page_obj"].object_list) == []


def test_anonymous_and_handling_units_do_not_get_the_worklist(client, unit_member):
    assert client.get(reverse("desk:worklist", args=["verify"])).status_code == 302
    client.force_login(unit_member)
    assert client.get(reverse("desk:worklist", args=["verify"])).status_code == 403


def test_the_liaison_hears_of_submitted_results(
    make_case, liaison, verifies, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        case = make_case(CaseStatus.RESOLVED)

    event = CaseEvent.objects.get(case=case, action=CaseAction.SUBMIT_RESULT)

    assert Notification.objects.filter(recipient=liaison, key=f"case-event:{event.pk}").exists()
