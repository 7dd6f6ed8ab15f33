"""Reads on cases. Every query that serves a user goes through the gate."""

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from guardian.shortcuts import get_users_with_perms

from cases.choices import OPEN_STATUSES, CaseStatus
from cases.models import Case, CaseEvent
from chengguan import clock
from communities.models import District, HandlingUnit

User = get_user_model()


def cases_for(user: Any, action: str = "view") -> QuerySet[Case]:
    """The cases a user may see (or act on), ready for list pages."""
    return Case.objects.restrict(user, action).select_related(
        "category", "category__parent", "community", "handling_unit", "assignee"
    )


def overdue_cases_for(user: Any) -> QuerySet[Case]:
    return cases_for(user).filter(status__in=OPEN_STATUSES, deadline__lt=clock.now())


def case_timeline(case: Case, *, public_only: bool = False) -> QuerySet[CaseEvent]:
    events = case.events.select_related("actor").prefetch_related("attachments")
    return events.filter(is_public=True) if public_only else events


def users_overseeing(district: District | None, role: str) -> QuerySet[Any]:
    """Active users of a role whose scope covers the district (or the whole city)."""
    city_wide = Q(user_permissions__codename="oversee_city") | Q(groups__permissions__codename="oversee_city")
    scoped = Q(pk__in=[])
    if district is not None:
        holders = get_users_with_perms(
            district, only_with_perms_in=["oversee_district"], with_group_users=True
        )
        scoped = Q(pk__in=[u.pk for u in holders])  # type: ignore[union-attr]
    return User.objects.filter(is_active=True, groups__name=role).filter(scoped | city_wide).distinct()


def unit_members(unit: HandlingUnit) -> QuerySet[Any]:
    users = get_users_with_perms(unit, only_with_perms_in=["work_for_unit"], with_group_users=True)
    return User.objects.filter(is_active=True, pk__in=[u.pk for u in users])  # type: ignore[union-attr]


def case_counts_for(user: Any) -> dict[str, int]:
    """How many cases the user can see, per status plus `overdue`, in one query."""
    overdue = Q(status__in=OPEN_STATUSES, deadline__lt=clock.now())
    return Case.objects.restrict(user, "view").aggregate(
        **{status.value: Count("pk", filter=Q(status=status)) for status in CaseStatus},
        overdue=Count("pk", filter=overdue),
    )
