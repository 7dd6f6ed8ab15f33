"""Reads on geography: routing a point, listing areas."""

from dataclasses import dataclass

from django.db.models import QuerySet

from communities.geometry import covers
from communities.models import Area, Community, District, GridCell


@dataclass(frozen=True)
class Place:
    district: District | None
    community: Community | None
    grid_cell: GridCell | None


def _first_covering(queryset: QuerySet, lat: float, lng: float):  # type: ignore[no-untyped-def]
    # The bounding box narrows the candidates in SQL; shapely decides.
    for area in queryset.filter(Area.bbox_contains(lat, lng), is_active=True, boundary__isnull=False):
        if covers(area.boundary, lat, lng):
            return area
    return None


def locate_point(lat: float, lng: float) -> Place:
    """The community and grid cell containing a WGS-84 point (edges count as inside)."""
    community = _first_covering(Community.objects.select_related("street__district"), lat, lng)
    if community is None:
        district = _first_covering(District.objects.all(), lat, lng)
        return Place(district=district, community=None, grid_cell=None)
    grid_cell = _first_covering(GridCell.objects.filter(community=community), lat, lng)
    return Place(district=community.street.district, community=community, grid_cell=grid_cell)
