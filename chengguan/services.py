"""Writes on staff accounts: roles and scope, each audited."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from chengguan.audit import audit
from chengguan.permissions import forget_scope
from chengguan.roles import Role, role_group
from communities.models import Community, District, HandlingUnit

User = get_user_model()


@transaction.atomic
def user_create_staff(
    *,
    username: str,
    password: str | None,
    name: str,
    roles: list[Role | str],
    phone: str = "",
    actor: Any = None,
) -> Any:
    """Create a staff account with its roles. Scope is granted separately.

    Preconditions: the password passes AUTH_PASSWORD_VALIDATORS (pass
    password=None for an account that cannot sign in until one is set).
    """
    user = User(username=username, name=name, phone=phone, is_staff=Role.ADMIN in roles)
    if password is not None:
        validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    user.save()
    user.groups.set([role_group(r) for r in roles])
    audit(actor=actor, action="user.created", target=user, roles=[str(r) for r in roles])
    return user


# The object permission that puts a user's work in each kind of area (chengguan.permissions).
SCOPE_PERMISSIONS: dict[type[Any], str] = {
    District: "communities.oversee_district",
    Community: "communities.work_in_community",
    HandlingUnit: "communities.work_for_unit",
}


@transaction.atomic
def user_set_scope(
    *, user: Any, target: District | Community | HandlingUnit, grant: bool = True, actor: Any = None
) -> None:
    """Grant (or withdraw) a user's access to a district, community or handling unit.

    Side effects: the guardian object permission (audited by chengguan.security
    as auth.object_permission_*), the user's cached scope dropped, and one
    `scope.granted`/`scope.withdrawn` entry against the area; on commit, the
    figures cached for the user (dashboard, assessment) are dropped too
    (forget_scope), so their next page counts in the new scope.
    """
    perm = SCOPE_PERMISSIONS[type(target)]
    (assign_perm if grant else remove_perm)(perm, user, target)
    forget_scope(user)
    audit(
        actor=actor,
        action="scope.granted" if grant else "scope.withdrawn",
        target=target,
        user=user.pk,
        perm=perm,
    )
