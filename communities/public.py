"""Reads for the public (resident) pages: community lists, boundaries for the map, the public page.

They expose only what every visitor may see: names, codes, boundaries and
the posted liaisons. They would sit in communities/selectors.py; they live
here while that module is being changed by other work (see the issue 4 notes).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from django.core.cache import cache
from django.db.models import Max, Min, QuerySet

from communities.models import Community, Facility, Street

# Six decimals are ~0.1 m: more precision only makes the map data heavier.
COORDINATE_DECIMALS = 6
BOUNDARIES_CACHE_SECONDS = 300
_BOUNDARIES_CACHE_KEY = "public:community-boundaries:v1"


def public_communities() -> QuerySet[Community]:
    """Active communities in street order, ready for selects and lists."""
    # A copy of a query built once per process: building it (joins, ordering) cost the
    # complaint form more than its copy does. Never evaluated itself, so nothing is kept.
    return _public_communities_query().all()


@functools.cache
def _public_communities_query() -> QuerySet[Community]:
    return (
        Community.objects.filter(is_active=True, street__is_active=True)
        .select_related("street", "street__district")
        .order_by("street__district__code", "street__code", "code")
    )


@dataclass(frozen=True)
class StreetGroup:
    street: Street
    communities: list[Community]


def communities_by_street(communities: Iterable[Community] | None = None) -> list[StreetGroup]:
    """Active communities grouped under their street office (for the list page and the select)."""
    rows = list(public_communities() if communities is None else communities)
    return [
        StreetGroup(street=street, communities=list(members))
        for street, members in groupby(rows, key=lambda community: community.street)
    ]


def public_community(code: str) -> Community | None:
    return public_communities().filter(code=code).first()


def public_facility(code: str) -> Facility | None:
    """An active facility of an active community by its QR code, or None."""
    if not code:
        return None
    return (
        Facility.objects.filter(code=code, is_active=True, community__is_active=True)
        .select_related("community__street__district", "grid_cell")
        .first()
    )


def _round_coordinates(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, COORDINATE_DECIMALS)
    if isinstance(value, list):
        return [_round_coordinates(item) for item in value]
    return value


def community_boundaries_geojson() -> dict[str, Any]:
    """A FeatureCollection of active community boundaries for the complaint-form map.

    Cached for a few minutes: boundaries change rarely and every form view needs them.
    """
    cached = cache.get(_BOUNDARIES_CACHE_KEY)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    features = []
    for community in public_communities().filter(boundary__isnull=False):
        geometry = community.boundary
        if isinstance(geometry, dict) and geometry.get("type") == "Feature":
            geometry = geometry.get("geometry")
        if not isinstance(geometry, dict):
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": geometry.get("type"),
                    "coordinates": _round_coordinates(geometry.get("coordinates")),
                },
                "properties": {
                    "id": community.pk,
                    "code": community.code,
                    "name": community.name,
                    "street": community.street.name,
                },
            }
        )
    collection = {"type": "FeatureCollection", "features": features}
    cache.set(_BOUNDARIES_CACHE_KEY, collection, BOUNDARIES_CACHE_SECONDS)
    return collection


def communities_extent() -> tuple[float, float, float, float] | None:
    """(south, west, north, east) of every active community boundary, or None without any."""
    box = public_communities().aggregate(
        south=Min("min_lat"), west=Min("min_lng"), north=Max("max_lat"), east=Max("max_lng")
    )
    if None in box.values():
        return None
    return box["south"], box["west"], box["north"], box["east"]


def responsible_liaisons(communities: Iterable[Community]) -> dict[int, Any]:
    """{community id: the responsible liaison (a user)} for the communities, in one query."""
    from liaisons.choices import AssignmentRole
    from liaisons.models import LiaisonAssignment

    assignments = LiaisonAssignment.objects.filter(
        community__in=list(communities), role=AssignmentRole.RESPONSIBLE, ends_at__isnull=True
    ).select_related("liaison")
    return {assignment.community_id: assignment.liaison for assignment in assignments}
