"""The one permission gate.

Two questions decide every access:

* role: does the user hold the model permission for the action? Roles are
  groups carrying model permissions (chengguan.roles).
* scope: is the object inside the user's area of work? Scope is guardian
  object permissions on districts (`oversee_district`), communities
  (`work_in_community`) and handling units (`work_for_unit`), or the global
  `oversee_city`.

`restrict(queryset, user, action)` answers both for a whole queryset and is
what every list, detail view, API viewset, export and dashboard applies
first; objects outside it are simply not found (404). `can()` answers for one
object already in memory, from the same rule, without a query.

Each model registers a `ScopeRule` (see cases/scopes.py); a model without a
rule is not reachable through the gate at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.db import models, transaction
from django.db.models import Q

from chengguan.errors import ActionNotPermitted

if TYPE_CHECKING:
    pass

M = TypeVar("M", bound=models.Model)
AnyUser = "User | AnonymousUser"

NOTHING = Q(pk__in=[])


@dataclass(frozen=True)
class Scope:
    """Where a user works, computed once per user object (i.e. per request)."""

    user_id: int | None
    is_superuser: bool
    city_wide: bool
    district_ids: frozenset[int]
    community_ids: frozenset[int]
    unit_ids: frozenset[int]
    # Districts and streets that contain the user's communities.
    community_district_ids: frozenset[int]
    community_street_ids: frozenset[int]

    @property
    def is_empty(self) -> bool:
        return not (self.city_wide or self.district_ids or self.community_ids or self.unit_ids)


EMPTY_SCOPE = Scope(None, False, False, frozenset(), frozenset(), frozenset(), frozenset(), frozenset())
_SCOPE_ATTR = "_chengguan_scope"


def scope_for(user: Any) -> Scope:
    """The user's scope, computed once per user object (i.e. per request) in one query."""
    if user is None or not user.is_authenticated or not user.is_active:
        return EMPTY_SCOPE
    cached = getattr(user, _SCOPE_ATTR, None)
    if cached is not None:
        return cached
    districts, communities, units = set(), set(), set()
    community_districts, community_streets = set(), set()
    for kind, pk, street_id, district_id in _scope_rows(user):
        if kind == _DISTRICT:
            districts.add(pk)
        elif kind == _UNIT:
            units.add(pk)
        else:
            communities.add(pk)
            community_streets.add(street_id)
            community_districts.add(district_id)
    scope = Scope(
        user_id=user.pk,
        is_superuser=user.is_superuser,
        city_wide=user.is_superuser or user.has_perm("communities.oversee_city"),
        district_ids=frozenset(districts),
        community_ids=frozenset(communities),
        unit_ids=frozenset(units),
        community_district_ids=frozenset(community_districts),
        community_street_ids=frozenset(community_streets),
    )
    setattr(user, _SCOPE_ATTR, scope)
    return scope


_DISTRICT, _COMMUNITY, _UNIT = 1, 2, 3


def _scope_rows(user: Any) -> models.QuerySet[Any]:
    """(kind, pk, street id, district id) of every district, community and unit the user works in.

    One UNION query instead of one guardian get_objects_for_user per kind
    plus one for the communities' placement: the rule is guardian's (object
    permissions of the user or of their groups, global permissions ignored,
    everything for a superuser), and only objects that exist are returned.
    """
    from django.db.models import CharField, IntegerField, Value
    from django.db.models.functions import Cast
    from guardian.models import GroupObjectPermission, UserObjectPermission

    from communities.models import Community, District, HandlingUnit

    def granted(model: type[models.Model], codename: str) -> Q:
        if user.is_superuser:
            return Q()
        # Joined by name rather than looked up, so a cold content-type cache costs no query.
        permission = Q(
            permission__codename=codename,
            permission__content_type__app_label=model._meta.app_label,
            permission__content_type__model=model._meta.model_name,
        )
        by_user = UserObjectPermission.objects.filter(permission, user=user).values("object_pk")
        by_group = GroupObjectPermission.objects.filter(permission, group__user=user).values("object_pk")
        return Q(pk_text__in=by_user) | Q(pk_text__in=by_group)

    def rows(
        model: type[models.Model], codename: str, kind: int, street: str | None, district: str | None
    ) -> models.QuerySet[Any]:
        nothing = Value(None, output_field=IntegerField())
        return (
            model._default_manager.annotate(pk_text=Cast("pk", CharField()))
            .filter(granted(model, codename))
            .order_by()
            .annotate(
                scope_kind=Value(kind, output_field=IntegerField()),
                street_ref=models.F(street) if street else nothing,
                district_ref=models.F(district) if district else nothing,
            )
            .values_list("scope_kind", "pk", "street_ref", "district_ref")
        )

    return rows(District, "oversee_district", _DISTRICT, None, None).union(
        rows(Community, "work_in_community", _COMMUNITY, "street_id", "street__district_id"),
        rows(HandlingUnit, "work_for_unit", _UNIT, None, None),
        all=True,
    )


def forget_scope(user: Any) -> None:
    """Drop what is remembered of the user's scope after their permissions change.

    Every change of a user's scope calls it (chengguan.services.user_set_scope,
    the liaison postings and cover periods of liaisons.services); changes of
    roles, group permissions and the superuser and active flags reach it
    through the receivers below. Side effects: the scope and permission
    caches on this user object go at once; what is cached for the user across
    requests (dashboard and assessment figures, the desk menu's worklist
    counts) goes once the transaction commits, so their next page counts in
    the new scope.

    Limit: QuerySet.update(), bulk deletes of through rows and raw SQL on
    users, groups or permissions send no signals and so bypass the receivers.
    Scope changes must therefore go through the services
    (chengguan.services.user_set_scope, liaisons.services) or call
    forget_scope themselves.
    """
    for attr in (
        _SCOPE_ATTR,
        "_liaison_verifies_ids",
        "_perm_cache",
        "_user_perm_cache",
        "_group_perm_cache",
        "_guardian_perms_cache",
    ):
        if hasattr(user, attr):
            delattr(user, attr)
    forget_cached_figures_on_commit([user.pk])


def forget_cached_figures_on_commit(user_ids: Any) -> None:
    """Have what is cached for these users counted afresh, once the transaction commits.

    After the commit, not now: a request counting before it would still see
    the old scope and cache its figures under the new token.
    """
    ids = sorted({pk for pk in user_ids if pk is not None})
    if ids:
        transaction.on_commit(partial(_forget_cached_figures, ids))


def _forget_cached_figures(user_ids: list[Any]) -> None:
    # cases.dashboard imports this module: import it when needed.
    from cases.dashboard import forget_cached_figures

    for user_id in user_ids:
        # A new token: the dashboard and assessment figures and the menu's
        # worklist counts (cases.worklists) stored under the old one are not
        # used again, even those a request still counting in the old scope
        # stores after this.
        forget_cached_figures(user_id)


def _members(**groups: Any) -> Any:
    """The ids of the users in the groups, e.g. `_members(groups=pk)`, lazily (one query when read)."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(**groups).values_list("pk", flat=True)


def _on_roles_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    """User.groups or User.user_permissions changed (the admin's role field, a shell): scope may have too.

    Roles carry global permissions such as `communities.oversee_city`, and
    groups may hold object permissions on areas.
    """
    if action == "pre_clear" and reverse:
        # group.user_set.clear(): post_clear no longer knows whose.
        instance._scope_cleared_user_ids = set(instance.user_set.values_list("pk", flat=True))
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if not reverse:
        forget_scope(instance)
    elif action == "post_clear":
        forget_cached_figures_on_commit(getattr(instance, "_scope_cleared_user_ids", ()))
    else:
        forget_cached_figures_on_commit(pk_set or ())


def _on_group_permissions_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    """Group.permissions changed (a role's permissions in the admin, chengguan.roles.sync_roles).

    Every member's role changed: what they may see and count. One query for
    the members, whichever side the change was made from.
    """
    if reverse:
        # permission.group_set: `instance` is a permission, pk_set its groups.
        if action == "pre_clear":
            # post_clear no longer knows which groups held it.
            instance._scope_cleared_user_ids = set(_members(groups__permissions=instance))
        elif action == "post_clear":
            forget_cached_figures_on_commit(getattr(instance, "_scope_cleared_user_ids", ()))
        elif action in ("post_add", "post_remove"):
            forget_cached_figures_on_commit(_members(groups__in=pk_set or ()))
    elif action in ("post_add", "post_remove", "post_clear"):
        forget_cached_figures_on_commit(_members(groups=instance.pk))


def _on_group_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A group is deleted: its members lose its permissions, its memberships go without m2m_changed.

    On pre_delete: by post_delete the memberships are gone.
    """
    forget_cached_figures_on_commit(_members(groups=instance.pk))


def _on_permission_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A permission is deleted (the admin, a stale content type removed): its holders lose it.

    Its rows in the users' and groups' permissions and its object
    permissions go with it without m2m_changed, and a user's own object
    permissions are not watched. On pre_delete, while those rows still say
    who held it: one query for the users holding it, directly (a role
    permission or an object permission) or through a group.
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from guardian.models import GroupObjectPermission, UserObjectPermission

    user_model: Any = get_user_model()
    groups = Q(
        group_id__in=Group.permissions.through.objects.filter(permission_id=instance.pk).values("group_id")
    ) | Q(group_id__in=GroupObjectPermission.objects.filter(permission_id=instance.pk).values("group_id"))
    by_user = [
        user_model.user_permissions.through.objects.filter(permission_id=instance.pk),
        UserObjectPermission.objects.filter(permission_id=instance.pk),
        user_model.groups.through.objects.filter(groups),
    ]
    holders = Q()
    for rows in by_user:
        holders |= Q(pk__in=rows.values("user_id"))
    forget_cached_figures_on_commit(user_model._default_manager.filter(holders).values_list("pk", flat=True))


def _on_group_object_permission_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A group's object permission was granted or withdrawn: the scope of each of its members changed.

    On pre_delete for a withdrawal: deleting the group itself removes its
    members before post_delete, which could then no longer tell whose.
    """
    forget_cached_figures_on_commit(_members(groups=instance.group_id))


# The user fields that decide their scope and permissions (scope_for, has_perm).
_SCOPE_FLAGS = ("is_superuser", "is_active")


def _on_user_saving(
    sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    """Note whether a saved user's superuser or active flag changes (post_save then forgets their scope).

    One query, and only when the save may write the flags: not for a new
    user (nothing is cached for them yet), a fixture being loaded, nor for
    saves of other fields (update_last_login at every sign-in).
    """
    if raw or instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and not set(_SCOPE_FLAGS) & set(update_fields):
        return
    stored = sender._default_manager.filter(pk=instance.pk).values_list(*_SCOPE_FLAGS).first()
    new = tuple(getattr(instance, name) for name in _SCOPE_FLAGS)
    if stored is not None and tuple(stored) != new:
        instance._scope_flags_changed = True


def _on_user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """The superuser or active flag of the saved user changed: so did their scope.

    After the save, not before: in autocommit the forgetting would run at
    once, and a request could cache figures of the old flags in between.
    """
    if instance.__dict__.pop("_scope_flags_changed", False):
        forget_scope(instance)


def connect_scope_receivers() -> None:
    """Connected in ChengguanConfig.ready(): changes of roles, permissions and flags drop the cached figures.

    A user's own object permissions are not watched: every service that
    changes them calls forget_scope. Neither are QuerySet.update() of the
    users' flags nor raw SQL, which send no signals.
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.db.models.signals import m2m_changed, post_save, pre_delete, pre_save
    from guardian.models import GroupObjectPermission

    user_model: Any = get_user_model()
    for field in ("groups", "user_permissions"):
        m2m_changed.connect(
            _on_roles_changed,
            sender=getattr(user_model, field).through,
            dispatch_uid=f"chengguan.scope.{field}",
        )
    m2m_changed.connect(
        _on_group_permissions_changed,
        sender=Group.permissions.through,
        dispatch_uid="chengguan.scope.group_permissions",
    )
    pre_delete.connect(_on_group_deleted, sender=Group, dispatch_uid="chengguan.scope.group.del")
    pre_delete.connect(
        _on_permission_deleted, sender=Permission, dispatch_uid="chengguan.scope.permission.del"
    )
    pre_save.connect(_on_user_saving, sender=user_model, dispatch_uid="chengguan.scope.user.saving")
    post_save.connect(_on_user_saved, sender=user_model, dispatch_uid="chengguan.scope.user.saved")
    post_save.connect(
        _on_group_object_permission_changed,
        sender=GroupObjectPermission,
        dispatch_uid="chengguan.scope.gop.save",
    )
    pre_delete.connect(
        _on_group_object_permission_changed,
        sender=GroupObjectPermission,
        dispatch_uid="chengguan.scope.gop.del",
    )


@dataclass(frozen=True)
class ScopeRule(Generic[M]):
    """How one model is scoped.

    permissions: action -> the model permission the role must hold, or a
    tuple of permissions any one of which will do (`q`/`allows` then tell
    the holders apart, e.g. supervisors and liaisons who verify).
    q: the filter for a user holding that permission.
    allows: the same rule for one object in memory; must agree with `q`.
    """

    permissions: dict[str, str | tuple[str, ...]]
    q: Callable[[Scope, Any, str], Q]
    allows: Callable[[Scope, Any, str, M], bool]
    # False for reference data everyone with the role sees whole (categories):
    # the gate then skips computing the user's scope, which costs queries.
    scoped: bool = True

    def scope(self, user: Any) -> Scope:
        return scope_for(user) if self.scoped else EMPTY_SCOPE


_RULES: dict[type[models.Model], ScopeRule[Any]] = {}


def register_rule(model: type[M], rule: ScopeRule[M]) -> None:
    _RULES[model] = rule


def rule_for(model: type[models.Model]) -> ScopeRule[Any]:
    try:
        return _RULES[model]
    except KeyError:
        raise LookupError(f"{model._meta.label} has no scope rule") from None


def has_role_permission(user: Any, model: type[models.Model], action: str) -> bool:
    rule = rule_for(model)
    perm = rule.permissions.get(action)
    if perm is None:
        raise ValueError(f"Unknown action {action!r} for {model._meta.label}")
    if user is None or not user.is_active:
        return False
    perms = (perm,) if isinstance(perm, str) else perm
    return any(user.has_perm(p) for p in perms)


def restrict(queryset: models.QuerySet[M], user: Any, action: str = "view") -> models.QuerySet[M]:
    """The part of `queryset` the user may act on with `action`."""
    model = queryset.model
    if not has_role_permission(user, model, action):
        return queryset.none()
    rule = rule_for(model)
    return queryset.filter(rule.q(rule.scope(user), user, action))


def can(user: Any, action: str, obj: models.Model) -> bool:
    model = type(obj)
    if not has_role_permission(user, model, action):
        return False
    rule = rule_for(model)
    return rule.allows(rule.scope(user), user, action, obj)


def require(user: Any, action: str, obj: models.Model) -> None:
    if not can(user, action, obj):
        raise ActionNotPermitted()


class RestrictedQuerySet(models.QuerySet[M]):
    def restrict(self, user: Any, action: str = "view") -> models.QuerySet[M]:
        return restrict(self, user, action)


def in_ids(value: int | None, ids: frozenset[int]) -> bool:
    return value is not None and value in ids


def area_rule(
    *,
    app_model: str,
    district_path: str | None,
    community_path: str | None,
    whole_district_for_community_workers: bool = True,
) -> ScopeRule[Any]:
    """Scope rule for a geography level, from its paths to district and community ids.

    district_path/community_path name the field holding the containing
    district's/community's id ("pk" for the level itself).
    whole_district_for_community_workers: people working in a community also
    see the rest of its district (right for geography, which they pick from);
    field work passes False, so a liaison sees only their own communities'
    patrols and shops while district overseers still see the whole district.
    """

    def districts(scope: Scope) -> frozenset[int]:
        if whole_district_for_community_workers:
            return scope.district_ids | scope.community_district_ids
        return scope.district_ids

    def q(scope: Scope, user: Any, action: str) -> Q:
        if scope.city_wide:
            return Q()
        result = NOTHING
        if district_path:
            result |= Q(**{f"{district_path}__in": districts(scope)})
        if community_path:
            result |= Q(**{f"{community_path}__in": scope.community_ids})
        return result

    def value(obj: models.Model, path: str) -> Any:
        for part in path.split("__"):
            obj = getattr(obj, "pk" if part == "pk" else part)
        return obj

    def allows(scope: Scope, user: Any, action: str, obj: models.Model) -> bool:
        if scope.city_wide:
            return True
        if district_path and in_ids(value(obj, district_path), districts(scope)):
            return True
        return bool(community_path and in_ids(value(obj, community_path), scope.community_ids))

    app_label, model_name = app_model.split(".")
    return ScopeRule(
        permissions={"view": f"{app_label}.view_{model_name}", "change": f"{app_label}.change_{model_name}"},
        q=q,
        allows=allows,
    )
