"""The case detail page pins the case on a small Leaflet map, only when it has coordinates."""

from __future__ import annotations

import json
import re
from typing import cast

import pytest
from django.urls import reverse

from chengguan.roles import Role
from communities.models import Community
from tests.factories import CaseFactory, CommunityFactory, DistrictFactory, StreetFactory, staff

pytestmark = pytest.mark.django_db


def detail(client, case):  # type: ignore[no-untyped-def]
    return client.get(reverse("cases:detail", args=[case.number]))


def map_config(html: str) -> dict:
    found = re.search(r'<script id="case-map-config" type="application/json">(.*?)</script>', html, re.S)
    assert found, "no map configuration on the page"
    return json.loads(found.group(1))


def test_a_case_with_coordinates_shows_its_pin(client, district, community, settings):
    settings.MAP_TILE_URL = ""
    case = CaseFactory(community=community, lat=30.0051, lng=120.0049)
    client.force_login(staff(Role.SUPERVISOR, scope=district))

    html = detail(client, case).content.decode()

    assert 'id="case-map"' in html
    config = map_config(html)
    assert (config["lat"], config["lng"]) == (30.0051, 120.0049)
    # Leaflet from our own static files; no tiles when none are configured.
    assert "/static/vendor/leaflet/leaflet.js" in html
    assert "/static/js/case_map.js" in html
    assert config["tileUrl"] == ""
    # The community's outline gives the pin its context.
    assert 'id="case-map-area"' in html


def test_a_case_without_coordinates_has_no_map(client, district, community):
    case = CaseFactory(community=community, lat=None, lng=None, address="解放路12号")
    client.force_login(staff(Role.SUPERVISOR, scope=district))

    html = detail(client, case).content.decode()

    assert "解放路12号" in html
    assert "case-map" not in html
    assert "leaflet.js" not in html


def test_a_case_with_only_one_coordinate_has_no_map(client, district, community):
    case = CaseFactory(community=community, lat=30.0, lng=None)
    client.force_login(staff(Role.SUPERVISOR, scope=district))

    assert "case-map" not in detail(client, case).content.decode()


def test_the_configured_tiles_are_passed_to_the_map(client, district, community, settings):
    settings.MAP_TILE_URL = "https://tiles.example.org/{z}/{x}/{y}.png"
    case = CaseFactory(community=community, lat=30.0, lng=120.0)
    client.force_login(staff(Role.SUPERVISOR, scope=district))

    assert map_config(detail(client, case).content.decode())["tileUrl"] == settings.MAP_TILE_URL


def test_the_map_is_not_shown_to_anonymous_or_out_of_scope_users(client, community):
    case = CaseFactory(community=community, lat=30.0, lng=120.0)
    other = cast(
        Community, CommunityFactory(street=StreetFactory(district=DistrictFactory()), origin=(121.0, 31.0))
    )

    anonymous = detail(client, case)
    client.force_login(staff(Role.SUPERVISOR, scope=other.street.district))
    unscoped = detail(client, case)

    assert anonymous.status_code == 302
    assert unscoped.status_code == 404
    assert "case-map" not in unscoped.content.decode()
