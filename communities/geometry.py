"""GeoJSON boundaries (WGS-84) and the derived centroid and bounding box."""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

POLYGON_TYPES = {"Polygon", "MultiPolygon"}


@dataclass(frozen=True)
class BoundaryFacts:
    centroid_lat: float
    centroid_lng: float
    min_lat: float
    min_lng: float
    max_lat: float
    max_lng: float


def parse_boundary(geojson: Any) -> BaseGeometry:
    """A valid polygon from a GeoJSON geometry (or a Feature holding one)."""
    if isinstance(geojson, dict) and geojson.get("type") == "Feature":
        geojson = geojson.get("geometry")
    if not isinstance(geojson, dict) or geojson.get("type") not in POLYGON_TYPES:
        raise ValidationError(_("The boundary must be a GeoJSON Polygon or MultiPolygon."))
    try:
        geometry = shape(geojson)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ValidationError(_("The boundary is not valid GeoJSON: %(error)s") % {"error": exc}) from exc
    if geometry.is_empty or not geometry.is_valid:
        raise ValidationError(_("The boundary polygon is empty or intersects itself."))
    min_lng, min_lat, max_lng, max_lat = geometry.bounds
    if not (-180 <= min_lng <= max_lng <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise ValidationError(_("The boundary is not in WGS-84 longitude/latitude."))
    return geometry


def boundary_facts(geometry: BaseGeometry) -> BoundaryFacts:
    # A point inside the polygon, so a concave community's "centre" is in it.
    centre = geometry.centroid if geometry.contains(geometry.centroid) else geometry.representative_point()
    min_lng, min_lat, max_lng, max_lat = geometry.bounds
    return BoundaryFacts(
        centroid_lat=round(centre.y, 7),
        centroid_lng=round(centre.x, 7),
        min_lat=min_lat,
        min_lng=min_lng,
        max_lat=max_lat,
        max_lng=max_lng,
    )


def covers(geojson: dict[str, Any], lat: float, lng: float) -> bool:
    """True when the point lies inside the boundary or on its edge."""
    return bool(shape(geojson).covers(Point(lng, lat)))
