"""Reads on cases. Every query that serves a staff user goes through the gate;
the public reads at the end expose only what the public pages show."""

import math
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from guardian.shortcuts import get_users_with_perms

from cases.choices import OPEN_STATUSES, CaseStatus
from cases.models import Case, CaseEvent, Category
from chengguan import clock
from communities.models import Community, District, HandlingUnit

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


# --- public and intake reads --------------------------------------------------

NEARBY_RADIUS_M = 200
NEARBY_DAYS = 7
_EARTH_RADIUS_M = 6_371_000


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(math.sqrt(a))


def open_cases_near(
    *,
    category: Category | None,
    lat: float,
    lng: float,
    radius_m: float = NEARBY_RADIUS_M,
    days: int = NEARBY_DAYS,
    exclude: Case | None = None,
    limit: int = 5,
) -> list[Case]:
    """Open cases of the category reported within `radius_m` in the last `days`, nearest first.

    A bounding box narrows the rows in SQL (indexed by category and date);
    the exact distance is computed for the few candidates. Conduct
    complaints are never offered.
    """
    if category is None:
        return []
    dlat = radius_m / 111_320
    dlng = radius_m / (111_320 * max(math.cos(math.radians(lat)), 0.01))
    candidates = Case.objects.filter(
        category=category,
        status__in=OPEN_STATUSES,
        merged_into__isnull=True,
        subject_officer__isnull=True,
        reported_at__gte=clock.now() - timedelta(days=days),
        lat__range=(lat - dlat, lat + dlat),
        lng__range=(lng - dlng, lng + dlng),
    ).select_related("category", "community")
    if exclude is not None:
        candidates = candidates.exclude(pk=exclude.pk)
    near = []
    for case in candidates[:200]:
        if case.lat is None or case.lng is None:
            continue
        distance = distance_m(lat, lng, case.lat, case.lng)
        if distance <= radius_m:
            case.distance_m = round(distance)  # type: ignore[attr-defined]
            near.append(case)
    near.sort(key=lambda c: c.distance_m)  # type: ignore[attr-defined]
    return near[:limit]


def case_for_tracking(code: str, phone: str | None = None) -> Case | None:
    """The case a tracking code names; with a phone, only if it is the reporter's or a co-reporter's."""
    code = (code or "").strip().upper()
    if not code:
        return None
    case = (
        Case.objects.filter(tracking_code=code)
        .select_related("category", "category__parent", "community", "merged_into")
        .first()
    )
    if case is None or phone is None:
        return case
    from cases.services import normalise_phone

    phone = normalise_phone(phone)
    if phone and (case.reporter_phone == phone or case.co_reporters.filter(phone=phone).exists()):
        return case
    return None


def community_public_stats(community: Community, *, days: int = 30) -> dict[str, Any]:
    """The public community page's figures for the last `days` days.

    The rates are the DESIGN §6 indicators (cases.indicators), so the public
    page and the dashboards agree; conduct complaints are left out.
    """
    from cases.indicators import Period, indicators

    now = clock.now()
    cases = Case.objects.filter(community=community, subject_officer__isnull=True)
    figures = indicators(cases, Period(now - timedelta(days=days), now), now=now)
    figures["open"] = cases.filter(status__in=OPEN_STATUSES).count()
    figures["rated"] = figures["visited"]
    figures["days"] = days
    return figures
