"""Scope rules for case data (see chengguan.permissions for the gate)."""

from typing import Any

from django.db.models import Q

from cases.choices import CaseSource
from cases.models import Case, CaseAttachment, CaseEvent, Category, HotlinePush, ParkingRequest, ReturnVisit
from chengguan.permissions import NOTHING, Scope, ScopeRule, in_ids, register_rule

CASE_PERMISSIONS: dict[str, str | tuple[str, ...]] = {
    "view": "cases.view_case",
    "report": "cases.add_case",
    "register": "cases.register_case",
    "dispatch": "cases.dispatch_case",
    "handle": "cases.handle_case",
    # 当场处置: close a patrol finding at once, in a community one works in.
    "close_on_spot": "cases.handle_case",
    # Supervisors verify in their area; a community's responsible liaison
    # verifies its cases where the community has them do so.
    "verify": ("cases.verify_case", "cases.verify_community_case"),
    # Correct a report's wording, category or place and hide photos: the intake role.
    "moderate": "cases.register_case",
    "supervise": "cases.supervise_case",
    "reopen": "cases.reopen_case",
    # Remove a reporter's personal data on their request (cases.retention).
    "forget": "cases.forget_reporter",
}


def _sees_conduct_complaints(user: Any) -> bool:
    return bool(user.has_perm("cases.view_conduct_complaint"))


def _verifies_as_liaison(user: Any) -> bool:
    return not user.has_perm("cases.verify_case")


def liaison_verifies_community_ids(user: Any, scope: Scope) -> frozenset[int]:
    """The communities whose resolved cases `user` verifies as their responsible liaison.

    Those of the user's communities that have `liaison_verifies` on and an
    open responsible posting of the user; computed once per user object,
    like the scope (chengguan.permissions.forget_scope drops it).
    """
    cached = getattr(user, "_liaison_verifies_ids", None)
    if cached is not None:
        return cached
    from cases.models import CommunityCaseSettings
    from liaisons.choices import AssignmentRole
    from liaisons.models import LiaisonAssignment

    ids: frozenset[int] = frozenset()
    if scope.community_ids:
        posted = LiaisonAssignment.objects.filter(
            liaison_id=scope.user_id, role=AssignmentRole.RESPONSIBLE, ends_at__isnull=True
        ).values("community_id")
        ids = (
            frozenset(
                CommunityCaseSettings.objects.filter(
                    liaison_verifies=True, community_id__in=posted
                ).values_list("community_id", flat=True)
            )
            & scope.community_ids
        )
    user._liaison_verifies_ids = ids
    return ids


def case_q(scope: Scope, user: Any, action: str, prefix: str = "") -> Q:
    def f(**lookups: Any) -> Q:
        return Q(**{f"{prefix}{key}": value for key, value in lookups.items()})

    if action == "handle":
        # Handlers act on what is dispatched to them, to their unit, or to the
        # liaison of a community they cover (AB角).
        area = (
            Q()
            if scope.city_wide
            else f(assignee_id=scope.user_id)
            | f(handling_unit_id__in=scope.unit_ids)
            | (f(assignee__isnull=False) & f(community_id__in=scope.community_ids))
        )
    elif action == "close_on_spot":
        area = Q() if scope.city_wide else f(source=CaseSource.PATROL, community_id__in=scope.community_ids)
    elif action == "verify" and _verifies_as_liaison(user):
        # Never their own work: a case they handled goes to a supervisor.
        area = f(community_id__in=liaison_verifies_community_ids(user, scope)) & ~f(assignee_id=scope.user_id)
    elif scope.city_wide:
        area = Q()
    else:
        area = (
            NOTHING
            | f(district_id__in=scope.district_ids)
            | f(community_id__in=scope.community_ids)
            | f(handling_unit_id__in=scope.unit_ids)
            | f(assignee_id=scope.user_id)
        )
    if _sees_conduct_complaints(user):
        # Supervisors see conduct complaints, except those about themselves.
        conduct = ~f(subject_officer_id=scope.user_id)
    else:
        conduct = f(subject_officer__isnull=True)
    return area & conduct


def case_allows(scope: Scope, user: Any, action: str, case: Case) -> bool:
    if case.subject_officer_id is not None and (
        not _sees_conduct_complaints(user) or case.subject_officer_id == scope.user_id
    ):
        return False
    if action == "verify" and _verifies_as_liaison(user):
        return in_ids(case.community_id, liaison_verifies_community_ids(user, scope)) and (
            case.assignee_id is None or case.assignee_id != scope.user_id
        )
    if scope.city_wide:
        return True
    if action == "handle":
        return (
            case.assignee_id == scope.user_id
            or in_ids(case.handling_unit_id, scope.unit_ids)
            or (case.assignee_id is not None and in_ids(case.community_id, scope.community_ids))
        )
    if action == "close_on_spot":
        return case.source == CaseSource.PATROL and in_ids(case.community_id, scope.community_ids)
    return (
        in_ids(case.district_id, scope.district_ids)
        or in_ids(case.community_id, scope.community_ids)
        or in_ids(case.handling_unit_id, scope.unit_ids)
        or (case.assignee_id is not None and case.assignee_id == scope.user_id)
    )


def _child_rule(prefix: str, related: str) -> ScopeRule[Any]:
    """Events and photos are visible exactly when their case is."""
    return ScopeRule(
        permissions={"view": "cases.view_case"},
        q=lambda scope, user, action: case_q(scope, user, action, prefix=prefix),
        allows=lambda scope, user, action, obj: case_allows(scope, user, action, getattr(obj, related)),
    )


def register() -> None:
    register_rule(Case, ScopeRule(permissions=CASE_PERMISSIONS, q=case_q, allows=case_allows))
    register_rule(CaseEvent, _child_rule("case__", "case"))
    register_rule(CaseAttachment, _child_rule("case__", "case"))
    register_rule(ReturnVisit, _child_rule("case__", "case"))
    # Parking requests (挂账申请): seen where their case is seen (e.g. the API list).
    register_rule(ParkingRequest, _child_rule("case__", "case"))
    # Pushes to the 12345 platform: seen and retried where their case is seen.
    register_rule(
        HotlinePush,
        ScopeRule(
            permissions={"view": "cases.view_hotlinepush", "retry": "cases.retry_hotlinepush"},
            q=lambda scope, user, action: case_q(scope, user, "view", prefix="case__"),
            allows=lambda scope, user, action, obj: case_allows(scope, user, "view", obj.case),
        ),
    )
    register_rule(
        Category,
        ScopeRule(
            permissions={"view": "cases.view_category"},
            q=lambda scope, user, action: Q(),
            allows=lambda scope, user, action, obj: True,
            scoped=False,
        ),
    )
