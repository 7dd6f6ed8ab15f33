"""Patrol plans (巡查计划) in the admin: the admin role sets them up, in its scope, audited;
other roles are refused; plans are made inactive, not deleted."""

from datetime import date

import pytest
from django.urls import reverse

from chengguan.clock import frozen_at
from chengguan.models import AuditEntry, Notification
from chengguan.roles import Role
from liaisons import jobs
from liaisons.choices import PatrolFrequency, ScheduledPatrolStatus, Weekday
from liaisons.models import PatrolPlan, ScheduledPatrol
from liaisons.services import liaison_assign
from tests.factories import CommunityFactory, DistrictFactory, StreetFactory, aware, staff

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:liaisons_patrolplan_changelist"
ADD = "admin:liaisons_patrolplan_add"


def signed_in(client, role, scope="city"):  # type: ignore[no-untyped-def]
    user = staff(role, scope=scope)
    user.is_staff = True
    user.save()
    client.force_login(user)
    return user


def plan_data(community, **overrides):  # type: ignore[no-untyped-def]
    data = {
        "community": community.pk,
        "frequency": PatrolFrequency.WEEKLY,
        "times_per_month": 4,
        "preferred_weekday": Weekday.WEDNESDAY,
        "notes": "",
        "is_active": "on",
    }
    data.update(overrides)
    return data


@pytest.fixture
def far_community(db):  # type: ignore[no-untyped-def]
    return CommunityFactory(street=StreetFactory(district=DistrictFactory()), origin=(121.0, 31.0))


def test_the_admin_role_opens_the_list_and_the_add_page(client, community):
    # Given a plan and a signed-in administrator
    PatrolPlan.objects.create(community=community)
    signed_in(client, Role.ADMIN)
    # When they open the list and the add page, then both load
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert client.get(reverse(ADD)).status_code == 200


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.DISPATCHER, Role.COMMUNITY_STAFF])
def test_roles_without_the_plan_permissions_are_refused(client, community, role):
    plan = PatrolPlan.objects.create(community=community)
    signed_in(client, role, scope=community)
    assert client.get(reverse(CHANGELIST)).status_code == 403
    assert client.get(reverse(ADD)).status_code == 403
    assert client.post(reverse(ADD), plan_data(community)).status_code == 403
    assert client.get(reverse("admin:liaisons_patrolplan_change", args=[plan.pk])).status_code == 403


def test_a_liaison_may_read_the_plans_of_their_community_but_not_change_them(client, community):
    plan = PatrolPlan.objects.create(community=community)
    signed_in(client, Role.LIAISON, scope=community)
    assert client.get(reverse(CHANGELIST)).status_code == 200
    assert client.get(reverse(ADD)).status_code == 403
    change = reverse("admin:liaisons_patrolplan_change", args=[plan.pk])
    assert client.post(change, plan_data(community, is_active="")).status_code == 403
    plan.refresh_from_db()
    assert plan.is_active is True


def test_anonymous_is_sent_to_the_login(client):
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_a_plan_added_in_the_admin_is_saved_and_audited(client, community):
    admin_user = signed_in(client, Role.ADMIN)

    response = client.post(reverse(ADD), plan_data(community, frequency=PatrolFrequency.TWICE_DAILY))

    assert response.status_code == 302
    plan = PatrolPlan.objects.get()
    assert (plan.community, plan.frequency, plan.is_active) == (community, PatrolFrequency.TWICE_DAILY, True)
    entry = AuditEntry.objects.get(action="patrol_plan.created")
    assert entry.actor == admin_user
    assert entry.target_id == str(plan.pk)
    assert entry.data["frequency"] == PatrolFrequency.TWICE_DAILY


def test_deactivating_a_plan_is_audited_as_a_change(client, community):
    plan = PatrolPlan.objects.create(community=community)
    signed_in(client, Role.ADMIN)
    data = plan_data(community)
    del data["is_active"]
    del data["community"]  # fixed once saved

    response = client.post(reverse("admin:liaisons_patrolplan_change", args=[plan.pk]), data)

    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.is_active is False
    entry = AuditEntry.objects.get(action="patrol_plan.changed")
    assert entry.data["changed"] == ["is_active"]


def test_a_monthly_plan_needs_a_number_of_patrols(client, community):
    signed_in(client, Role.ADMIN)

    response = client.post(
        reverse(ADD), plan_data(community, frequency=PatrolFrequency.MONTHLY, times_per_month=0)
    )

    assert response.status_code == 200
    assert "times_per_month" in response.context["adminform"].form.errors
    assert not PatrolPlan.objects.exists()


def test_a_second_active_plan_of_the_same_frequency_is_refused(client, community):
    PatrolPlan.objects.create(community=community, frequency=PatrolFrequency.WEEKLY)
    signed_in(client, Role.ADMIN)

    response = client.post(reverse(ADD), plan_data(community))

    assert response.status_code == 200
    assert "frequency" in response.context["adminform"].form.errors
    assert PatrolPlan.objects.count() == 1
    # An inactive one, or another frequency, is fine
    assert client.post(reverse(ADD), plan_data(community, is_active="")).status_code == 302
    assert client.post(reverse(ADD), plan_data(community, frequency=PatrolFrequency.DAILY)).status_code == 302


def test_plans_are_not_deleted(client, community):
    plan = PatrolPlan.objects.create(community=community)
    signed_in(client, Role.ADMIN)
    assert client.get(reverse("admin:liaisons_patrolplan_delete", args=[plan.pk])).status_code == 403
    assert PatrolPlan.objects.filter(pk=plan.pk).exists()


def test_the_list_is_scoped_and_plans_outside_the_scope_are_not_found(
    client, community, far_community, district
):
    # Given a supervisor of one district (who may view plans) and plans in and outside it
    mine = PatrolPlan.objects.create(community=community)
    theirs = PatrolPlan.objects.create(community=far_community)
    signed_in(client, Role.SUPERVISOR, scope=district)

    response = client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [mine]
    assert client.get(reverse("admin:liaisons_patrolplan_change", args=[theirs.pk])).status_code == 302
    assert not response.context["cl"].model_admin.has_add_permission(response.wsgi_request)


def test_plans_are_refused_outside_the_planner_s_scope(client, community, far_community, district):
    # Given someone who may plan patrols (the admin role is city-wide, so a
    # supervisor given the plan permissions) whose scope is one district
    from django.contrib.auth.models import Permission

    planner = signed_in(client, Role.SUPERVISOR, scope=district)
    planner.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_patrolplan", "change_patrolplan"])
    )
    # When they add a plan for a community of another district, then it is refused
    response = client.post(reverse(ADD), plan_data(far_community))
    assert response.status_code == 200
    assert "community" in response.context["adminform"].form.errors
    assert not PatrolPlan.objects.exists()
    # And one in their district is saved
    assert client.post(reverse(ADD), plan_data(community)).status_code == 302
    assert PatrolPlan.objects.get().community == community


# --- the plan's scheduled patrols follow it ------------------------------------------------


def slots_of(plan):  # type: ignore[no-untyped-def]
    return [
        (slot.due_date.isoformat(), slot.status)
        for slot in ScheduledPatrol.objects.filter(plan=plan).order_by("due_date", "slot")
    ]


def change(client, plan, **overrides):  # type: ignore[no-untyped-def]
    data = plan_data(plan.community, frequency=plan.frequency, preferred_weekday=plan.preferred_weekday)
    del data["community"]  # fixed once saved
    data.update(overrides)
    return client.post(reverse("admin:liaisons_patrolplan_change", args=[plan.pk]), data)


def test_deactivating_a_plan_withdraws_its_patrols_still_to_come(client, community):
    # Given a daily plan scheduled from Tuesday 2026-12-01, its responsible liaison,
    # Tuesday's patrol done and Wednesday's not (not yet flagged as missed)
    admin_user = signed_in(client, Role.ADMIN)
    liaison = staff(Role.LIAISON, scope=community)
    liaison_assign(community=community, liaison=liaison, actor=admin_user)
    plan = PatrolPlan.objects.create(community=community, frequency=PatrolFrequency.DAILY)
    with frozen_at(aware(2026, 12, 1, 1)):
        jobs.schedule_patrols(days=7)
    ScheduledPatrol.objects.filter(plan=plan, due_date=date(2026, 12, 1)).update(
        status=ScheduledPatrolStatus.DONE
    )

    # When the admin makes it inactive on Thursday morning, and the patrol jobs run that day
    with frozen_at(aware(2026, 12, 3, 8)):
        response = change(client, plan, is_active="")
        reminded = jobs.remind_patrols()
        flagged = jobs.flag_missed_patrols()

    # Then the patrols from Thursday on are gone, the past ones kept as history
    assert response.status_code == 302
    assert slots_of(plan) == [("2026-12-01", "done"), ("2026-12-02", "missed")]
    # and nobody is reminded of Thursday's patrol; only Wednesday's is flagged as missed
    assert (reminded, flagged) == (0, 1)
    wednesday = ScheduledPatrol.objects.get(plan=plan, due_date=date(2026, 12, 2))
    told = Notification.objects.filter(recipient=liaison).values_list("key", flat=True)
    assert list(told) == [f"patrol:{wednesday.pk}:missed"]
    entry = AuditEntry.objects.get(action="patrol_plan.changed")
    assert (entry.data["changed"], entry.data["withdrawn"]) == (["is_active"], 5)


def test_changing_the_weekday_moves_the_patrols_still_to_come(client, community):
    # Given a weekly plan due on Wednesdays, scheduled for two weeks from Monday 2026-11-30
    signed_in(client, Role.ADMIN)
    plan = PatrolPlan.objects.create(
        community=community, frequency=PatrolFrequency.WEEKLY, preferred_weekday=Weekday.WEDNESDAY
    )
    with frozen_at(aware(2026, 11, 30, 1)):
        jobs.schedule_patrols(days=14)
    assert slots_of(plan) == [("2026-12-02", "due"), ("2026-12-09", "due")]

    # When the admin moves it to Fridays on Tuesday
    with frozen_at(aware(2026, 12, 1, 9)):
        change(client, plan, preferred_weekday=Weekday.FRIDAY)

    # Then the Wednesday patrols are replaced at once by Friday ones, as far ahead as the daily job plans
    assert slots_of(plan) == [("2026-12-04", "due"), ("2026-12-11", "due"), ("2026-12-18", "due")]
    entry = AuditEntry.objects.get(action="patrol_plan.changed")
    assert (entry.data["withdrawn"], entry.data["scheduled"]) == (2, 3)


def test_changing_only_the_notes_leaves_the_patrols_alone(client, community):
    signed_in(client, Role.ADMIN)
    plan = PatrolPlan.objects.create(community=community, frequency=PatrolFrequency.WEEKLY)
    with frozen_at(aware(2026, 11, 30, 1)):
        jobs.schedule_patrols(days=14)
        before = list(ScheduledPatrol.objects.filter(plan=plan).values_list("pk", flat=True))
        change(client, plan, notes="沿街商铺重点巡查")
    assert list(ScheduledPatrol.objects.filter(plan=plan).values_list("pk", flat=True)) == before
