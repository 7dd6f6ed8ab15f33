"""Reads on cases. Every query that serves a staff user goes through the gate;
the public reads at the end expose only what the public pages show."""

import math
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
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
    # Staff see who acted; a resident's name is masked for roles without contact access.
    return events.filter(is_public=True) if public_only else with_actor_standing(events)


def reply_templates_for(case: Case) -> QuerySet[Any]:
    """The active reply templates (常用语) offered on the case's action forms:
    general ones, and those of its category or of its category's parent."""
    from cases.models import ReplyTemplate

    categories = [pk for pk in (case.category_id, case.category and case.category.parent_id) if pk]
    return ReplyTemplate.objects.filter(is_active=True).filter(
        Q(category__isnull=True) | Q(category_id__in=categories)
    )


def pending_parking(case: Case) -> Any:
    """The case's parking request waiting for a supervisor, if any."""
    from cases.choices import ParkingRequestStatus

    return (
        case.parking_requests.filter(status=ParkingRequestStatus.PENDING)
        .select_related("requested_by")
        .first()
    )


def pending_extension(case: Case) -> Any:
    """The case's extension request waiting for a supervisor, if any."""
    from cases.choices import ExtensionStatus

    return (
        case.extension_requests.filter(status=ExtensionStatus.PENDING).select_related("requested_by").first()
    )


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


# Reports without a point: compared by their words (the intake desk's duplicate hint).
ALIKE_CANDIDATES = 100
ALIKE_MIN_SCORE = 0.5


def _bigrams(text: str) -> frozenset[str]:
    chars = "".join(ch for ch in (text or "").lower() if ch.isalnum())
    return frozenset(chars[i : i + 2] for i in range(len(chars) - 1))


def text_similarity(a: str, b: str) -> float:
    """How alike two short texts are: the Dice coefficient of their character pairs, 0 to 1.

    Character pairs rather than words, as Chinese addresses and descriptions
    have no spaces; punctuation and spacing are ignored.
    """
    x, y = _bigrams(a), _bigrams(b)
    if not x or not y:
        return 0.0
    return 2 * len(x & y) / (len(x) + len(y))


def open_cases_alike(
    *,
    category: Category | None,
    community: Community | None,
    address: str = "",
    description: str = "",
    days: int = NEARBY_DAYS,
    exclude: Case | None = None,
    limit: int = 5,
) -> list[Case]:
    """Open cases of the category in the community whose address or description is like the report's.

    For a report without a point, which open_cases_near cannot place, and
    which finds the open cases filed without one too. Most alike first; each
    case carries `similarity` (0 to 1). Bounded: the newest ALIKE_CANDIDATES
    open cases of the category reported in the community in the last `days`
    (the category/reported_at index) are compared in Python. Conduct
    complaints are never offered.
    """
    if category is None or community is None or not (address.strip() or description.strip()):
        return []
    candidates = (
        Case.objects.filter(
            category=category,
            community=community,
            status__in=OPEN_STATUSES,
            merged_into__isnull=True,
            subject_officer__isnull=True,
            reported_at__gte=clock.now() - timedelta(days=days),
        )
        .select_related("category", "community")
        .defer("community__boundary")
        .order_by("-reported_at", "-pk")
    )
    if exclude is not None:
        candidates = candidates.exclude(pk=exclude.pk)
    alike = []
    for case in candidates[:ALIKE_CANDIDATES]:
        score = max(text_similarity(address, case.address), text_similarity(description, case.description))
        if score >= ALIKE_MIN_SCORE:
            case.similarity = round(score, 2)  # type: ignore[attr-defined]
            alike.append(case)
    # Stable: among equally alike cases the newest stays first.
    alike.sort(key=lambda c: -c.similarity)  # type: ignore[attr-defined]
    return alike[:limit]


def case_for_tracking(code: str, phone: str | None = None) -> Case | None:
    """The case a tracking code names; with a phone, only if it is the reporter's or a co-reporter's."""
    code = (code or "").strip().upper()
    if not code:
        return None
    # No .first(): its ORDER BY (the model's ordering) cost more to compile than the
    # rest of the query, and a tracking code names one case.
    # The rating (reverse one-to-one) comes in the same row; a merged case's master is read
    # only for the few that have one, and the community's boundary never (the page links to
    # the community, it draws no map): compiling and parsing those columns cost the resident's
    # page more than its queries.
    case = next(
        iter(
            Case.objects.filter(tracking_code=code)
            .select_related("category", "category__parent", "community", "feedback")
            .defer("community__boundary")
            .order_by()[:1]
        ),
        None,
    )
    if case is None or phone is None:
        return case
    from cases.services import normalise_phone

    phone = normalise_phone(phone)
    if phone and (case.reporter_phone == phone or case.co_reporters.filter(phone=phone).exists()):
        return case
    return None


# What a merged report's tracking page shows of the case it was merged into:
# public facts only, never its reporter's data nor its tracking code (the key
# of its reporter).
TRACKING_MASTER_FIELDS = ("pk", "number", "status", "result", "closed_at", "reject_reason", "merged_into")


def tracking_master(case: Case) -> Case | None:
    """The case a merged report is handled in (None if it was not merged), with TRACKING_MASTER_FIELDS only.

    A master that was merged in turn hands the report on: the last case of the
    chain is the one handled. One query per link (one in practice).
    """
    master = None
    seen = {case.pk}
    next_id = case.merged_into_id
    while next_id is not None and next_id not in seen:
        seen.add(next_id)
        master = next(
            iter(Case.objects.filter(pk=next_id).only(*TRACKING_MASTER_FIELDS).order_by()[:1]), None
        )
        next_id = master.merged_into_id if master is not None else None
    return master


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


# --- supervisors' daily digest ------------------------------------------------

DIGEST_FIGURES = ("new_reports", "overdue", "escalated", "to_verify", "extensions", "parking")


def supervisor_digest(user: Any, *, since: Any, until: Any, now: Any) -> dict[str, int]:
    """A supervisor's morning figures over their scope, in one query (after the scope is known).

    `new_reports`: reported in [since, until); `overdue`, `escalated`: open
    cases they supervise; `to_verify`: resolved cases they may verify;
    `extensions`, `parking`: pending requests on cases they supervise.
    Each figure passes the permission gate for its own action.
    """
    from django.db.models import Exists, OuterRef

    from cases.choices import EXTENSION_STATUSES, ExtensionStatus, ParkingRequestStatus
    from cases.models import ExtensionRequest, ParkingRequest
    from chengguan.permissions import has_role_permission, rule_for, scope_for

    scope, rule = scope_for(user), rule_for(Case)

    def gate(action: str) -> Q:
        return rule.q(scope, user, action) if has_role_permission(user, Case, action) else Q(pk__in=[])

    pending_extension = Exists(
        ExtensionRequest.objects.filter(case=OuterRef("pk"), status=ExtensionStatus.PENDING)
    )
    pending_parking = Exists(
        ParkingRequest.objects.filter(case=OuterRef("pk"), status=ParkingRequestStatus.PENDING)
    )
    supervised, open_ = gate("supervise"), Q(status__in=OPEN_STATUSES)
    conditions: dict[str, Any] = {
        "new_reports": gate("view") & Q(reported_at__gte=since, reported_at__lt=until),
        "overdue": supervised & open_ & Q(deadline__lt=now),
        "escalated": supervised & open_ & Q(escalation_level__gt=0),
        "to_verify": gate("verify") & Q(status=CaseStatus.RESOLVED),
        "extensions": supervised & Q(status__in=EXTENSION_STATUSES) & pending_extension,
        "parking": supervised & open_ & pending_parking,
    }
    any_of = Q(pk__in=[])
    for condition in conditions.values():
        any_of |= condition
    return Case.objects.filter(any_of).aggregate(
        **{name: Count("pk", filter=condition) for name, condition in conditions.items()}
    )


def hotline_pushes_for(user: Any) -> QuerySet[Any]:
    """Pushes to the 12345 platform the user may see: those of cases in their scope."""
    from cases.models import HotlinePush

    return (
        HotlinePush.objects.restrict(user, "view")
        .select_related("case", "client")
        .only(
            "id",
            "action",
            "case_status",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "locked_until",
            "last_error",
            "response_code",
            "acknowledged_at",
            "created_at",
            "case__number",
            "case__status",
            "client__name",
        )
        .order_by("-created_at", "-id")
    )


REPORTER_HISTORY_DAYS = 90


def reporter_phone_history(
    user: Any, phone: str, *, days: int = REPORTER_HISTORY_DAYS
) -> dict[str, Any] | None:
    """How often a phone reported in the last `days` days and how many of those were marked false.

    For operators spotting repeated or malicious reporters: None for users
    without `view_reporter_contact` (PIPL) or without a phone. Counts only
    cases the user may see, in one query.
    """
    if not phone or not user.has_perm("cases.view_reporter_contact"):
        return None
    since = clock.now() - timedelta(days=days)
    figures = (
        cases_for(user)
        .filter(reporter_phone=phone, reported_at__gte=since)
        .aggregate(total=Count("pk"), false=Count("pk", filter=Q(false_report=True)))
    )
    return {"phone": phone, "days": days, "total": figures["total"], "false": figures["false"]}


# --- residents' accounts ----------------------------------------------------------------------------


def _resident_accounts() -> QuerySet[Any]:
    """Residents' accounts: no role, not staff.

    Their names are the residents' personal data; staff names are not.
    """
    return User.objects.filter(is_staff=False, is_superuser=False, groups__isnull=True)


def with_actor_standing(events: QuerySet[CaseEvent]) -> QuerySet[CaseEvent]:
    """The events with `actor_is_resident`, in the same query: their actor is a resident's account."""
    return events.annotate(actor_is_resident=Exists(_resident_accounts().filter(pk=OuterRef("actor_id"))))


def resident_ids(user_ids: Iterable[int | None]) -> set[int]:
    """Of these accounts, the residents', in one query (none without ids).

    Their link to a case is personal data (cases.retention removes it); staff
    who reported (a liaison's patrol finding) stay linked: that is their work.
    """
    ids = {pk for pk in user_ids if pk is not None}
    if not ids:
        return set()
    return set(_resident_accounts().filter(pk__in=ids).values_list("pk", flat=True))


def reports_of(user: Any) -> QuerySet[Case]:
    """The cases a signed-in resident reported from their account, newest first."""
    return Case.objects.filter(reporter_id=user.pk).select_related("category").order_by("-reported_at", "-pk")
