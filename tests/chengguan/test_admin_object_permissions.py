"""Scope granted and withdrawn on django-guardian's admin pages is audited, with the admin as actor.

A user's scope permission goes through user_set_scope (a `scope.*` entry
against the area, as from anywhere else); every other object permission row,
and group permissions, are audited by the receivers in chengguan.security.
"""

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm

from chengguan.models import AuditEntry, User
from chengguan.roles import Role
from tests.factories import staff

pytestmark = pytest.mark.django_db

SCOPE_PERMISSIONS = {
    "district": "oversee_district",
    "community": "work_in_community",
    "handlingunit": "work_for_unit",
}


@pytest.fixture
def admin_client(client):  # type: ignore[no-untyped-def]
    root = User.objects.create_superuser("root", password="pass-1234-word")
    client.force_login(root)
    client.root = root
    return client


@pytest.fixture(params=list(SCOPE_PERMISSIONS))
def area(request, community, unit):  # type: ignore[no-untyped-def]
    return {"district": community.street.district, "community": community, "handlingunit": unit}[
        request.param
    ]


def manage_url(obj: Any, kind: str, pk: int) -> str:
    return reverse(
        f"admin:{obj._meta.app_label}_{obj._meta.model_name}_permissions_manage_{kind}", args=[obj.pk, pk]
    )


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).select_related("actor").order_by("id"))


def test_scope_granted_on_the_admin_page_is_audited_as_a_scope_change(admin_client, area):
    # Given a liaison without scope
    liaison = staff(Role.LIAISON)
    perm = SCOPE_PERMISSIONS[area._meta.model_name]

    # When an admin ticks the scope permission on the object's permission page
    response = admin_client.post(manage_url(area, "user", liaison.pk), {"permissions": [perm]})

    # Then the liaison has it, and the audit log says who granted what to whom, on the area
    assert response.status_code == 302
    assert liaison.has_perm(f"communities.{perm}", area)
    [scope] = entries("scope.granted")
    assert scope.actor == admin_client.root
    assert (scope.target_type, scope.target_id) == (area._meta.label_lower, str(area.pk))
    assert scope.data == {"user": liaison.pk, "perm": f"communities.{perm}"}
    # and the permission row itself, against the user
    [row] = entries("auth.object_permission_granted")
    assert row.actor == admin_client.root
    assert (row.target_type, row.target_id) == ("chengguan.user", str(liaison.pk))
    assert row.data == {
        "permission": f"communities.{perm}",
        "object_type": area._meta.label_lower,
        "object_id": str(area.pk),
    }


def test_scope_withdrawn_on_the_admin_page_is_audited_as_a_scope_change(admin_client, area):
    # Given a user holding the scope
    perm = SCOPE_PERMISSIONS[area._meta.model_name]
    member = staff(Role.SUPERVISOR)
    assign_perm(f"communities.{perm}", member, area)

    # When an admin unticks every permission (the browser still posts the CSRF field)
    response = admin_client.post(manage_url(area, "user", member.pk), {"csrfmiddlewaretoken": "x"})

    # Then the scope is gone and its withdrawal is audited
    assert response.status_code == 302
    assert not UserObjectPermission.objects.filter(user=member).exists()
    [scope] = entries("scope.withdrawn")
    assert (scope.actor, scope.target_id, scope.data["user"]) == (admin_client.root, str(area.pk), member.pk)
    [row] = entries("auth.object_permission_revoked")
    assert row.actor == admin_client.root
    assert row.data["permission"] == f"communities.{perm}"


def test_other_object_permissions_on_the_admin_page_are_audited(admin_client, community):
    # Given a staff member
    member = staff(Role.ADMIN)

    # When an admin grants a permission other than scope on the community
    admin_client.post(manage_url(community, "user", member.pk), {"permissions": ["change_community"]})

    # Then that row is audited, and it is not recorded as a scope change
    [row] = entries("auth.object_permission_granted")
    assert (row.actor, row.target_id) == (admin_client.root, str(member.pk))
    assert row.data["permission"] == "communities.change_community"
    assert entries("scope.granted") == []


def test_group_scope_changed_on_the_admin_page_is_audited(admin_client, community):
    # Given a group
    team = Group.objects.create(name="街道巡查组")
    url = manage_url(community, "group", team.pk)

    # When an admin grants the community to it and then withdraws it
    admin_client.post(url, {"permissions": ["work_in_community"]})
    admin_client.post(url, {"csrfmiddlewaretoken": "x"})

    # Then both changes are audited against the group, with the admin as actor
    changes = entries("auth.object_permission_granted") + entries("auth.object_permission_revoked")
    assert [(e.action, e.target_type, e.target_id, e.actor) for e in changes] == [
        ("auth.object_permission_granted", "auth.group", str(team.pk), admin_client.root),
        ("auth.object_permission_revoked", "auth.group", str(team.pk), admin_client.root),
    ]


def test_one_save_on_the_admin_page_is_all_or_nothing(admin_client, community, monkeypatch):
    # Given the scope service fails after guardian granted another permission of the same save
    member = staff(Role.ADMIN)

    def broken_audit(**kwargs: Any) -> None:
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr("chengguan.services.audit", broken_audit)

    # When an admin grants both on the community's permission page
    with pytest.raises(RuntimeError):
        admin_client.post(
            manage_url(community, "user", member.pk),
            {"permissions": ["change_community", "work_in_community"]},
        )

    # Then neither is kept: no change is left half made or unaudited
    assert not UserObjectPermission.objects.filter(user=member).exists()
