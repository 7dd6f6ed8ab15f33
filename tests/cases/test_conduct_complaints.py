"""Complaints about an officer's conduct (DESIGN §3): for supervisors only.

The intake desk's operator (or an API client that takes reports) names the
officer complained about; from then on the officer never sees the case, is
never dispatched it and never hears of it.
"""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from cases import jobs, services
from cases.choices import CaseAction, CaseSource, CaseStatus
from cases.forms.desk import DispatchForm
from cases.models import Case, CaseEvent
from chengguan.clock import frozen_at
from chengguan.errors import ActionNotPermitted, InvalidInput
from chengguan.models import Notification, NotificationKind
from chengguan.roles import Role
from tests.api import as_user, assert_error
from tests.cases.test_intake_views import report
from tests.factories import CaseFactory, UserFactory, aware, leaf_category, staff

pytestmark = pytest.mark.django_db

DESK = reverse("intake:desk")


@pytest.fixture
def officer(community):  # type: ignore[no-untyped-def]
    """The community's liaison, whom the complaints are about."""
    return staff(Role.LIAISON, scope=community)


@pytest.fixture
def colleague(community):  # type: ignore[no-untyped-def]
    """Another liaison of the same community."""
    return staff(Role.LIAISON, scope=community)


@pytest.fixture
def dispatching_supervisor(district):  # type: ignore[no-untyped-def]
    return staff(Role.SUPERVISOR, scope=district)


def intake(community, **overrides):  # type: ignore[no-untyped-def]
    """The intake desk's form (tests.cases.test_intake_views.report) for a complaint about an officer."""
    return report(community, description="执法队员态度粗暴，辱骂摊主", **overrides)


def complaint(community, officer, status=CaseStatus.REGISTERED):  # type: ignore[no-untyped-def]
    return CaseFactory(community=community, status=status, subject_officer=officer)


def texts(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- filing one ------------------------------------------------------------------------


def test_the_operator_files_a_complaint_about_an_officer(client, operator, community, officer):
    client.force_login(operator)

    # When the operator names the officer, asking to register at once
    response = client.post(
        DESK, intake(community, subject_officer=str(officer.pk), then="register"), follow=True
    )

    # Then the report is filed about the officer and left for the supervisors to register
    case = Case.objects.get()
    assert case.subject_officer == officer
    assert case.status == CaseStatus.REPORTED
    # And the operator, who no longer sees it, still has the tracking code for the caller
    [message] = texts(response)
    assert case.number in message and case.tracking_code in message
    assert client.get(reverse("cases:detail", args=[case.number])).status_code == 404


def test_the_supervisors_find_it_in_their_inbox_and_register_it(
    client, operator, community, officer, dispatching_supervisor
):
    client.force_login(operator)
    client.post(DESK, intake(community, subject_officer=str(officer.pk)))
    case = Case.objects.get()
    assert case.number not in [c.number for c in client.get(reverse("intake:inbox")).context["items"]]

    client.force_login(dispatching_supervisor)
    inbox = client.get(reverse("intake:inbox")).context["items"]
    client.post(reverse("intake:register", args=[case.number]), {"expected_version": case.version})

    assert [c.number for c in inbox] == [case.number]
    case.refresh_from_db()
    assert (case.subject_officer, case.status) == (officer, CaseStatus.REGISTERED)


def test_the_intake_form_offers_officers_only(client, operator, community, officer):
    resident = UserFactory()
    community_worker = staff(Role.COMMUNITY_STAFF, scope=community)
    client.force_login(operator)

    offered = client.get(DESK).context["form"].fields["subject_officer"].queryset
    refused = client.post(DESK, intake(community, subject_officer=str(community_worker.pk)))

    assert officer in offered and operator in offered
    assert resident not in offered and community_worker not in offered
    assert refused.status_code == 200
    assert "subject_officer" in refused.context["form"].errors
    assert not Case.objects.exists()


def test_the_operator_marks_a_web_report_when_registering_it(client, operator, community, officer):
    # Given a report from the public form, waiting in the inbox
    case = CaseFactory(community=community, source=CaseSource.WEB, category=leaf_category())
    client.force_login(operator)
    panel = client.get(reverse("intake:register_form", args=[case.number])).content.decode()
    assert f'<option value="{officer.pk}">' in panel

    # When the operator corrects it: a complaint about the officer, and registers it
    response = client.post(
        reverse("intake:register", args=[case.number]),
        {"expected_version": case.version, "subject_officer": officer.pk, "next": reverse("intake:inbox")},
    )

    # Then it is registered as a conduct complaint, the correction in its history
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.subject_officer) == (CaseStatus.REGISTERED, officer)
    event = CaseEvent.objects.get(case=case, action=CaseAction.REGISTER)
    assert event.data["corrections"]["subject_officer"] == ["", officer.display_name]
    # And it left the operator's sight as it leaves the officer's
    assert client.get(reverse("cases:detail", args=[case.number])).status_code == 404


def test_the_officers_are_offered_on_the_correction_page_not_in_every_inbox_item(
    client, operator, community, officer
):
    # Given a report without a category: its "Correct first" fields are shown in the list
    case = CaseFactory(community=community, category=None)
    client.force_login(operator)

    # The list leaves the officers out (the whole city's, for every such item) ...
    inbox = client.get(reverse("intake:inbox")).content.decode()
    assert f'id="category-{case.pk}"' in inbox
    assert f'id="subject-officer-{case.pk}"' not in inbox

    # ... and the item's correction page offers them
    page = client.get(reverse("intake:register_form", args=[case.number])).content.decode()
    assert f'id="subject-officer-{case.pk}" name="subject_officer"' in page
    assert f'<option value="{officer.pk}">' in page


def test_registering_without_naming_anyone_leaves_the_report_as_it_was(client, operator, community):
    case = CaseFactory(community=community, category=leaf_category())
    client.force_login(operator)

    client.post(reverse("intake:register", args=[case.number]), {"expected_version": case.version})

    case.refresh_from_db()
    assert (case.status, case.subject_officer) == (CaseStatus.REGISTERED, None)


def test_only_an_active_officer_can_be_complained_about(operator, community):
    resident = UserFactory()
    retired = staff(Role.LIAISON, scope=community)
    retired.is_active = False
    retired.save()
    case = CaseFactory(community=community, category=leaf_category())

    for person in (resident, retired):
        with pytest.raises(InvalidInput) as error:
            services.case_report(
                source=CaseSource.HOTLINE_12345,
                description="态度恶劣",
                actor=operator,
                subject_officer=person,
            )
        assert error.value.code == "invalid.subject_officer"
        with pytest.raises(InvalidInput) as error:
            services.case_register(case=case, actor=operator, subject_officer=person)
        assert error.value.code == "invalid.subject_officer"
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REPORTED


def test_a_resident_cannot_name_an_officer_from_the_public_form(officer):
    with pytest.raises(ActionNotPermitted):
        services.case_report(
            source=CaseSource.WEB, description="队员态度恶劣", actor=UserFactory(), subject_officer=officer
        )
    assert not Case.objects.exists()


# --- the API ------------------------------------------------------------------------------

REPORT = {
    "source": "hotline_12345",
    "description": "执法队员态度粗暴",
    "address": "幸福路12号",
    "reporter_phone": "13900001111",
}


def test_an_api_client_that_takes_reports_names_the_officer(operator, officer):
    response = as_user(operator).post(
        "/api/v1/cases/", {**REPORT, "subject_officer": officer.pk}, format="json"
    )

    assert response.status_code == 201, response.content
    case = Case.objects.get(number=response.json()["number"])
    assert case.subject_officer == officer
    # The operator no longer sees it: the outcome only, not the case
    assert "events" not in response.json()


def test_the_api_refuses_a_non_officer_or_a_caller_without_the_report_permission(
    operator, community, officer
):
    community_worker = staff(Role.COMMUNITY_STAFF, scope=community)
    resident = UserFactory()

    not_an_officer = as_user(operator).post(
        "/api/v1/cases/", {**REPORT, "subject_officer": community_worker.pk}, format="json"
    )
    from_a_resident = as_user(resident).post(
        "/api/v1/cases/", {**REPORT, "source": "web", "subject_officer": officer.pk}, format="json"
    )

    assert "subject_officer" in assert_error(not_an_officer, 400, "invalid")["fields"]
    assert "subject_officer" in assert_error(from_a_resident, 400, "invalid")["fields"]
    assert not Case.objects.exists()


# --- the officer never sees it ---------------------------------------------------------------


def test_the_officer_complained_about_never_sees_the_case(client, community, officer, dispatching_supervisor):
    case = complaint(community, officer)
    ordinary = CaseFactory(community=community, status=CaseStatus.REGISTERED)
    detail = reverse("cases:detail", args=[case.number])

    client.force_login(officer)
    listed = [c.number for c in client.get(reverse("cases:list")).context["page_obj"].object_list]
    assert listed == [ordinary.number]
    assert client.get(detail).status_code == 404
    api = as_user(officer)
    assert [row["number"] for row in api.get("/api/v1/cases/").json()["results"]] == [ordinary.number]
    assert api.get(f"/api/v1/cases/{case.number}/").status_code == 404

    # While the district's supervisor does
    client.force_login(dispatching_supervisor)
    assert client.get(detail).status_code == 200


# --- dispatch --------------------------------------------------------------------------------


def test_a_complaint_is_never_dispatched_to_the_officer_complained_about(
    community, officer, colleague, dispatching_supervisor
):
    case = complaint(community, officer)

    with pytest.raises(InvalidInput) as error:
        services.case_dispatch(case=case, actor=dispatching_supervisor, assignee=officer)

    assert error.value.code == "invalid.subject_officer"
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REGISTERED
    # Another officer takes it
    services.case_dispatch(case=case, actor=dispatching_supervisor, assignee=colleague)
    assert Case.objects.get(pk=case.pk).assignee == colleague


def test_the_dispatch_form_neither_offers_nor_suggests_the_officer(
    community, officer, colleague, dispatching_supervisor
):
    case = Case.objects.select_related("community", "category").get(pk=complaint(community, officer).pk)

    form = DispatchForm(case=case, user=dispatching_supervisor, action="dispatch")
    choices = str(form.fields["assignee"].widget.choices)
    refused = DispatchForm(
        {"expected_version": case.version, "assignee": officer.pk},
        case=case,
        user=dispatching_supervisor,
        action="dispatch",
    )

    assert officer not in form.fields["assignee"].queryset
    assert colleague in form.fields["assignee"].queryset
    assert officer.display_name not in choices and colleague.display_name in choices
    assert not refused.is_valid() and "assignee" in refused.errors


def test_the_desk_refuses_to_dispatch_to_the_officer(client, community, officer, dispatching_supervisor):
    case = complaint(community, officer)
    client.force_login(dispatching_supervisor)

    client.post(
        reverse("desk:act", args=[case.number, "dispatch"]),
        {"expected_version": case.version, "assignee": officer.pk},
    )

    case.refresh_from_db()
    assert (case.status, case.assignee) == (CaseStatus.REGISTERED, None)


# --- notifications ------------------------------------------------------------------------------


def test_the_officer_hears_nothing_of_the_complaint(
    community, district, unit, dispatching_supervisor, django_capture_on_commit_callbacks
):
    # Given a complaint about a member of a handling unit, and about a supervisor of the district
    member, other_member = staff(Role.HANDLING_UNIT, scope=unit), staff(Role.HANDLING_UNIT, scope=unit)
    about_member = complaint(community, member)
    complained_supervisor = staff(Role.SUPERVISOR, scope=district)
    other_supervisor = staff(Role.SUPERVISOR, scope=district)
    about_supervisor = complaint(community, complained_supervisor, status=CaseStatus.DISPATCHED)

    # When the first is dispatched to the unit and the second escalated
    with django_capture_on_commit_callbacks(execute=True):
        services.case_dispatch(case=about_member, actor=dispatching_supervisor, handling_unit=unit)
        services.case_escalate(case=about_supervisor, actor=dispatching_supervisor, note="请尽快核实处理")

    # Then the others are told, the officers complained about are not
    assert Notification.objects.filter(recipient=other_member).count() == 1
    assert Notification.objects.filter(recipient=other_supervisor).count() == 1
    assert not Notification.objects.filter(recipient=member).exists()
    assert not Notification.objects.filter(recipient=complained_supervisor).exists()


def test_the_officer_hears_nothing_of_an_overdue_complaint(community, district, unit):
    # Given two overdue complaints dispatched to a unit: one about a member of the unit,
    # one about a supervisor of the district
    member, other_member = staff(Role.HANDLING_UNIT, scope=unit), staff(Role.HANDLING_UNIT, scope=unit)
    complained_supervisor = staff(Role.SUPERVISOR, scope=district)
    other_supervisor = staff(Role.SUPERVISOR, scope=district)
    deadline = aware(2026, 3, 3, 10)
    about_member, about_supervisor = (
        CaseFactory(
            community=community,
            status=CaseStatus.DISPATCHED,
            handling_unit=unit,
            deadline=deadline,
            subject_officer=officer,
        )
        for officer in (member, complained_supervisor)
    )

    # When the deadline reminder runs before the deadline and the escalation job after it
    with frozen_at(aware(2026, 3, 3, 9)):
        assert jobs.remind_deadlines() == 2
    with frozen_at(aware(2026, 3, 3, 11)):
        assert jobs.escalate_overdue() == 2

    # Then everyone else is told of both, the officers complained about of neither
    def told(user):  # type: ignore[no-untyped-def]
        return set(Notification.objects.filter(recipient=user).values_list("kind", "url"))

    cases = {about_member, about_supervisor}
    assert told(other_member) == {
        (kind, f"/cases/{case.number}/")
        for case in cases
        for kind in (NotificationKind.DEADLINE, NotificationKind.CASE_ESCALATED)
    }
    assert told(other_supervisor) == {(NotificationKind.CASE_ESCALATED, f"/cases/{c.number}/") for c in cases}
    # (the member is told of the complaint about the supervisor, not of the one about them)
    assert told(member) == {
        (NotificationKind.DEADLINE, f"/cases/{about_supervisor.number}/"),
        (NotificationKind.CASE_ESCALATED, f"/cases/{about_supervisor.number}/"),
    }
    assert told(complained_supervisor) == {
        (NotificationKind.CASE_ESCALATED, f"/cases/{about_member.number}/")
    }
