"""Reads on geography: routing a point, listing areas."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from shapely.geometry import Point, shape
from shapely.prepared import PreparedGeometry, prep

from chengguan import refdata
from communities.models import Community, District, Facility, GridCell


@dataclass(frozen=True)
class Place:
    district: District | None
    community: Community | None
    grid_cell: GridCell | None


@dataclass(frozen=True)
class _Outline:
    """An area with its boundary ready for point tests."""

    area: Any
    min_lat: float
    min_lng: float
    max_lat: float
    max_lng: float
    shape: PreparedGeometry

    def covers(self, lat: float, lng: float) -> bool:
        # The bounding box rules out nearly every area before shapely is asked.
        return (
            self.min_lat <= lat <= self.max_lat
            and self.min_lng <= lng <= self.max_lng
            and self.shape.covers(Point(lng, lat))
        )


@dataclass(frozen=True)
class _Map:
    districts: list[_Outline]
    communities: list[_Outline]
    cells: dict[int, list[_Outline]]


def _outlines(queryset: QuerySet) -> list[_Outline]:
    return [
        _Outline(area, area.min_lat, area.min_lng, area.max_lat, area.max_lng, prep(shape(area.boundary)))
        for area in queryset.filter(is_active=True, boundary__isnull=False, min_lat__isnull=False)
    ]


def _load_map() -> _Map:
    cells: dict[int, list[_Outline]] = {}
    for outline in _outlines(GridCell.objects.all()):
        cells.setdefault(outline.area.community_id, []).append(outline)
    return _Map(
        districts=_outlines(District.objects.all()),
        communities=_outlines(Community.objects.select_related("street__district")),
        cells=cells,
    )


# Every report is routed; the boundaries change a few times a year (chengguan.refdata).
AREA_MAP = refdata.Snapshot("area boundaries", _load_map)


def _first_covering(outlines: list[_Outline], lat: float, lng: float) -> Any:
    return next((outline.area for outline in outlines if outline.covers(lat, lng)), None)


def locate_point(lat: float, lng: float) -> Place:
    """The community and grid cell containing a WGS-84 point (edges count as inside)."""
    areas = AREA_MAP.get()
    community = _first_covering(areas.communities, lat, lng)
    if community is None:
        return Place(district=_first_covering(areas.districts, lat, lng), community=None, grid_cell=None)
    grid_cell = _first_covering(areas.cells.get(community.pk, []), lat, lng)
    return Place(district=community.street.district, community=community, grid_cell=grid_cell)


# --- facilities (城市服务码) ---------------------------------------------------------

REPEAT_FAULT_DAYS = 90
# This many reports in REPEAT_FAULT_DAYS make a facility a repeat fault.
REPEAT_FAULT_THRESHOLD = 3


def facilities_of(community: Community, user: Any) -> QuerySet[Facility]:
    """The community's active facilities the user may see, in code order."""
    return (
        Facility.objects.restrict(user, "view")
        .filter(community=community, is_active=True)
        .select_related("community", "grid_cell")
        .order_by("code")
    )


def facility_public_cases(facility: Facility) -> QuerySet[Any]:
    """The facility's cases as strangers may see them: no conduct complaints, no duplicates, no false reports.

    Only public fields are meant to be shown (number, category, status, dates);
    the views never read the reporter or the description.
    """
    from cases.models import Case

    return (
        Case.objects.filter(
            facility=facility, subject_officer__isnull=True, merged_into__isnull=True, false_report=False
        )
        .select_related("category")
        .only("number", "status", "category__name", "category__name_en", "reported_at", "closed_at")
        .order_by("-reported_at")
    )


def facility_recent_count(facility: Facility, *, now: datetime, days: int = REPEAT_FAULT_DAYS) -> int:
    """Reports about the facility in the last `days` days (repeat faults, 反复故障)."""
    return facility_public_cases(facility).filter(reported_at__gte=now - timedelta(days=days)).count()


# --- enforcement disclosure (执法信息公开) -----------------------------------------------

DISCLOSURE_DAYS = 365


@dataclass(frozen=True)
class DisclosureRow:
    category: str
    total: int
    closed: int
    rejected: int
    open: int
    false_reports: int


def disclosure_results(district: District, *, now: datetime) -> list[DisclosureRow]:
    """Cases reported in the district in the last 12 months by category and outcome, in one query.

    Duplicates merged into another case are counted once, with their master.
    """
    from django.db.models import Count, Q

    from cases.choices import OPEN_STATUSES, CaseStatus
    from cases.models import Case

    rows = (
        Case.objects.filter(
            district=district,
            reported_at__gte=now - timedelta(days=DISCLOSURE_DAYS),
            merged_into__isnull=True,
        )
        .values("category__name", "category__name_en")
        .annotate(
            total=Count("pk"),
            closed=Count("pk", filter=Q(status=CaseStatus.CLOSED)),
            rejected=Count("pk", filter=Q(status=CaseStatus.REJECTED)),
            open=Count("pk", filter=Q(status__in=OPEN_STATUSES)),
            false_reports=Count("pk", filter=Q(false_report=True)),
        )
        .order_by("-total", "category__name")
    )
    from django.utils.translation import get_language
    from django.utils.translation import gettext as _

    english = (get_language() or "").startswith("en")
    return [
        DisclosureRow(
            category=(
                row["category__name_en"] if english and row["category__name_en"] else row["category__name"]
            )
            or _("Not yet classified"),
            total=row["total"],
            closed=row["closed"],
            rejected=row["rejected"],
            open=row["open"],
            false_reports=row["false_reports"],
        )
        for row in rows
    ]


def facilities_listed(user: Any, *, now: datetime) -> QuerySet[Facility]:
    """The facilities the user may see, each with its open-case count and repeat-fault flag.

    One query whatever the number of rows: both figures are correlated
    subqueries over the cases strangers may see (facility_public_cases'
    rules), so the staff list, the API and the public page count alike.
    """
    from django.db.models import BooleanField, Count, ExpressionWrapper, IntegerField, OuterRef, Q, Subquery
    from django.db.models.functions import Coalesce

    from cases.choices import OPEN_STATUSES
    from cases.models import Case

    def counted(extra: Q) -> Coalesce:
        cases = (
            Case.objects.filter(
                extra,
                facility=OuterRef("pk"),
                subject_officer__isnull=True,
                merged_into__isnull=True,
                false_report=False,
            )
            .order_by()
            .values("facility")
            .annotate(n=Count("pk"))
            .values("n")[:1]
        )
        return Coalesce(Subquery(cases), 0, output_field=IntegerField())

    return (
        Facility.objects.restrict(user, "view")
        .select_related("community__street", "grid_cell")
        .defer("community__boundary", "community__street__boundary", "grid_cell__boundary")
        .annotate(
            open_case_count=counted(Q(status__in=OPEN_STATUSES)),
            recent_case_count=counted(Q(reported_at__gte=now - timedelta(days=REPEAT_FAULT_DAYS))),
        )
        .annotate(
            is_repeat_fault=ExpressionWrapper(
                Q(recent_case_count__gte=REPEAT_FAULT_THRESHOLD), output_field=BooleanField()
            )
        )
        .order_by("community__code", "code")
    )
