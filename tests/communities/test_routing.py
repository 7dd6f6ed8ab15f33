"""Routing a point to its community and grid cell; validating GeoJSON boundaries."""

import pytest
from django.core.exceptions import ValidationError

from communities.models import Community, District
from communities.selectors import locate_point
from tests.factories import CommunityFactory, GridCellFactory, StreetFactory

# `community` is the 0.01° square with its south-west corner at (120.00, 30.00);
# `other_community` the one at (120.02, 30.00); both in `district`.


@pytest.fixture
def cells(community):  # type: ignore[no-untyped-def]
    """The community split into a west and an east grid cell."""
    west = GridCellFactory(community=community, code="G-W")
    west.set_boundary(_rect(120.000, 30.000, 120.005, 30.010))
    west.save()
    east = GridCellFactory(community=community, code="G-E")
    east.set_boundary(_rect(120.005, 30.000, 120.010, 30.010))
    east.save()
    return west, east


def _rect(min_lng: float, min_lat: float, max_lng: float, max_lat: float) -> dict:
    ring = [
        [min_lng, min_lat],
        [max_lng, min_lat],
        [max_lng, max_lat],
        [min_lng, max_lat],
        [min_lng, min_lat],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


class TestLocatePoint:
    def test_routes_to_the_community_and_grid_cell_containing_the_point(self, cells, community, district):
        west, east = cells
        place = locate_point(30.004, 120.002)
        assert (place.district, place.community, place.grid_cell) == (district, community, west)
        assert locate_point(30.004, 120.008).grid_cell == east

    def test_picks_the_right_one_of_several_communities(self, community, other_community):
        assert locate_point(30.005, 120.025).community == other_community
        assert locate_point(30.005, 120.005).community == community

    @pytest.mark.parametrize(
        ("lat", "lng"),
        [
            pytest.param(30.000, 120.005, id="south-edge"),
            pytest.param(30.010, 120.005, id="north-edge"),
            pytest.param(30.005, 120.000, id="west-edge"),
            pytest.param(30.005, 120.010, id="east-edge"),
            pytest.param(30.000, 120.000, id="corner"),
            pytest.param(30.010, 120.010, id="opposite-corner"),
        ],
    )
    def test_the_edge_counts_as_inside(self, community, lat, lng):
        assert locate_point(lat, lng).community == community

    def test_a_point_on_the_line_between_two_cells_gets_one_of_them(self, cells):
        assert locate_point(30.005, 120.005).grid_cell in cells

    def test_a_community_without_cells_routes_without_one(self, community):
        place = locate_point(30.005, 120.005)
        assert (place.community, place.grid_cell) == (community, None)

    @pytest.mark.parametrize(
        ("lat", "lng"),
        [
            pytest.param(30.0105, 120.005, id="just-north"),
            pytest.param(30.005, 120.015, id="between-communities"),
            pytest.param(31.5, 121.5, id="far-away"),
            pytest.param(-30.005, -120.005, id="other-hemisphere"),
        ],
    )
    def test_outside_every_polygon_there_is_no_community(self, community, other_community, lat, lng):
        place = locate_point(lat, lng)
        assert (place.community, place.grid_cell) == (None, None)

    def test_outside_every_community_the_district_boundary_still_routes(self, community, district):
        district.set_boundary(_rect(119.9, 29.9, 120.1, 30.1))
        district.save()
        place = locate_point(30.05, 120.05)
        assert (place.district, place.community) == (district, None)
        assert locate_point(31.0, 121.0).district is None

    def test_inactive_and_boundaryless_communities_are_skipped(self, community):
        community.is_active = False
        community.save()
        Community.objects.create(code="NB", name="无边界社区", street=community.street)
        assert locate_point(30.005, 120.005).community is None

    def test_a_bounding_box_hit_outside_a_concave_polygon_is_not_inside(self, db):
        # an L-shaped community: its bounding box covers the empty north-east quarter
        l_shape = {
            "type": "Polygon",
            "coordinates": [
                [
                    [121.0, 31.0],
                    [121.02, 31.0],
                    [121.02, 31.01],
                    [121.01, 31.01],
                    [121.01, 31.02],
                    [121.0, 31.02],
                    [121.0, 31.0],
                ]
            ],
        }
        community = CommunityFactory(origin=(121.0, 31.0))
        community.set_boundary(l_shape)
        community.save()
        assert locate_point(31.015, 121.015).community is None
        assert locate_point(31.005, 121.015).community == community


class TestSetBoundary:
    def test_a_polygon_gives_centroid_and_bounding_box(self, db):
        area = District(code="X", name="X", city="示范市")
        area.set_boundary(_rect(120.0, 30.0, 120.2, 30.1))
        assert (area.centroid_lat, area.centroid_lng) == pytest.approx((30.05, 120.1))
        assert (area.min_lat, area.min_lng, area.max_lat, area.max_lng) == (30.0, 120.0, 30.1, 120.2)
        assert area.boundary["type"] == "Polygon"

    def test_a_feature_is_accepted_and_its_geometry_kept(self, db):
        area = District(code="X", name="X", city="示范市")
        geometry = _rect(120.0, 30.0, 120.2, 30.1)
        area.set_boundary({"type": "Feature", "properties": {"name": "测试"}, "geometry": geometry})
        assert area.boundary == geometry
        assert area.max_lng == 120.2

    def test_a_multipolygon_is_accepted(self, db):
        area = District(code="X", name="X", city="示范市")
        area.set_boundary(
            {
                "type": "MultiPolygon",
                "coordinates": [
                    _rect(120.0, 30.0, 120.1, 30.1)["coordinates"],
                    _rect(120.3, 30.0, 120.4, 30.1)["coordinates"],
                ],
            }
        )
        assert (area.min_lng, area.max_lng) == (120.0, 120.4)
        # the centre of two islands lies in one of them, not in the sea between
        assert 120.0 <= area.centroid_lng <= 120.1 or 120.3 <= area.centroid_lng <= 120.4

    def test_the_centre_of_a_concave_area_lies_inside_it(self, db):
        u_shape = {
            "type": "Polygon",
            "coordinates": [[[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3], [0, 0]]],
        }
        area = District(code="X", name="X", city="示范市")
        area.set_boundary(u_shape)
        from shapely.geometry import Point, shape

        assert shape(u_shape).covers(Point(area.centroid_lng, area.centroid_lat))

    def test_an_empty_boundary_clears_it(self, community):
        community.set_boundary(None)
        assert community.boundary is None
        assert community.min_lat is None

    @pytest.mark.parametrize(
        "geojson",
        [
            pytest.param(
                {"type": "LineString", "coordinates": [[120.0, 30.0], [120.1, 30.1]]}, id="linestring"
            ),
            pytest.param({"type": "Point", "coordinates": [120.0, 30.0]}, id="point"),
            pytest.param(
                {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
                id="self-intersecting",
            ),
            pytest.param(_rect(190.0, 30.0, 190.1, 30.1), id="longitude-out-of-range"),
            pytest.param(_rect(120.0, 95.0, 120.1, 95.1), id="latitude-out-of-range"),
            pytest.param({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}, id="too-few-points"),
            pytest.param({"type": "Polygon", "coordinates": []}, id="empty"),
            pytest.param({"type": "Polygon", "coordinates": [[["a", "b"]]]}, id="not-numbers"),
            pytest.param({"type": "Polygon"}, id="no-coordinates"),
            pytest.param({"type": "Feature", "geometry": None}, id="feature-without-geometry"),
            pytest.param({"type": "FeatureCollection", "features": []}, id="feature-collection"),
            pytest.param([[120.0, 30.0]], id="not-an-object"),
        ],
    )
    def test_invalid_boundaries_are_refused(self, db, geojson):
        area = District(code="X", name="X", city="示范市")
        with pytest.raises(ValidationError):
            area.set_boundary(geojson)
        assert area.boundary is None


def test_a_street_of_the_district_routes_through_its_communities(district):
    street = StreetFactory(district=district)
    community = CommunityFactory(street=street, origin=(122.0, 32.0))
    place = locate_point(32.005, 122.005)
    assert (place.district, place.community) == (district, community)
