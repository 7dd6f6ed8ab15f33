"""Patrol plans (巡查计划) in the admin: the admin role sets them up, in its scope, audited;
other roles are refused; plans are made inactive, not deleted."""

import pytest
from django.urls import reverse

from chengguan.models import AuditEntry
from chengguan.roles import Role
from liaisons.choices import PatrolFrequency, Weekday
from liaisons.models import PatrolPlan
from tests.factories import CommunityFactory, DistrictFactory, StreetFactory, staff

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
