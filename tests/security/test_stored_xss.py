"""Stored XSS: a payload written into every free-text field through the services
comes back escaped on every page that shows it, staff and public, and
JSON-escaped in the API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cases import services as case_services
from tests.security.world import World, build_world

pytestmark = pytest.mark.django_db

PAYLOAD = "<script>alert(1)</script>\"'><img src=x onerror=alert(1)>"
RAW_MARKERS = ("<script>alert(1)", "<img src=x onerror", "onerror=alert(1)>")


@pytest.fixture
def world() -> World:
    """Every text field of both sides (descriptions, addresses, notes, reasons,
    result texts, names, patrol notes, inspection remarks, meeting minutes,
    facility and disclosure texts) holds the payload."""
    built = build_world(text=PAYLOAD)
    # Texts the world does not write through its own steps: a rejection note and a return visit comment.
    case_services.case_reject(case=built.home.reported_case, actor=built.root, reason="invalid", note=PAYLOAD)
    case_services.return_visit_record(
        visit=built.home.visit, actor=built.root, reached=True, satisfaction="satisfied", comment=PAYLOAD
    )
    return built


def staff_pages(world: World) -> list[str]:
    home = world.home
    return [
        reverse("cases:list"),
        reverse("cases:detail", args=[home.case.number]),
        reverse("cases:detail", args=[home.open_case.number]),
        reverse("cases:detail", args=[home.reported_case.number]),
        reverse("desk:home"),
        reverse("desk:notifications"),
        reverse("desk:hotline_pushes"),
        reverse("intake:inbox"),
        reverse("liaisons:patrol_list"),
        reverse("liaisons:patrol_detail", args=[home.patrol.pk]),
        reverse("liaisons:visit_list"),
        reverse("liaisons:meeting_list"),
        reverse("liaisons:meeting_detail", args=[home.meeting.pk]),
        reverse("liaisons:cover_list"),
        reverse("inspections:shop_list"),
        reverse("inspections:shop_detail", args=[home.shop.pk]),
        reverse("inspections:notice_detail", args=[home.notice.pk]),
        reverse("communities:facility_list"),
        reverse("communities:facility_qr_sheet", args=[home.facility.code]),
        reverse("dashboard:index"),
        reverse("dashboard:assessment"),
    ]


def public_pages(world: World) -> list[str]:
    home = world.home
    return [
        reverse("home"),
        reverse("public:track_detail", args=[home.case.tracking_code]),
        reverse("communities:list"),
        reverse("communities:detail", args=[home.community.code]),
        reverse("communities:facility_detail", args=[home.facility.code]),
        reverse("communities:disclosure", args=[home.district.code]),
        reverse("dashboard:public"),
        f"{reverse('public:report')}?facility={home.facility.code}",
    ]


def api_paths(world: World) -> list[str]:
    home = world.home
    return [
        reverse("api:case-list"),
        reverse("api:case-detail", kwargs={"number": home.case.number}),
        reverse("api:caseevent-list"),
        reverse("api:returnvisit-list"),
        reverse("api:patrol-detail", kwargs={"pk": home.patrol.pk}),
        reverse("api:meeting-detail", kwargs={"pk": home.meeting.pk}),
        reverse("api:shop-detail", kwargs={"pk": home.shop.pk}),
        reverse("api:rectificationnotice-detail", kwargs={"pk": home.notice.pk}),
        reverse("api:facility-list"),
    ]


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings(item)]
    return []


def assert_escaped(path: str, html: str) -> None:
    for marker in RAW_MARKERS:
        assert marker not in html, f"{path} shows the payload unescaped ({marker})"


def test_staff_pages_escape_the_payload(world):
    # Given the superuser, who sees every page
    client = Client()
    client.force_login(world.root)
    escaped_somewhere = False

    for path in staff_pages(world):
        # When they open each page that shows the texts
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        # Then the payload is never raw HTML
        assert_escaped(path, html)
        escaped_somewhere |= "&lt;script&gt;alert(1)&lt;/script&gt;" in html

    # and the texts really were on the pages (the check can fail)
    assert escaped_somewhere


def test_public_pages_escape_the_payload(world):
    client = Client()
    shown = 0
    for path in public_pages(world):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        assert_escaped(path, html)
        shown += "&lt;script&gt;" in html or "\\u003Cscript\\u003E" in html
    assert shown, "the payload reached at least one public page"


def test_the_api_returns_the_payload_as_json_data(world):
    # Given the superuser reading the API
    client = Client()
    client.force_login(world.root)

    for path in api_paths(world):
        response = client.get(path)
        # Then the answer is JSON (never HTML) and the payload comes back as a plain string
        assert response.status_code == 200, path
        assert response["Content-Type"].startswith("application/json"), path
        assert response.get("X-Content-Type-Options") == "nosniff", path
        assert any(PAYLOAD in text for text in strings(json.loads(response.content))), path


def test_open311_escapes_in_xml_too(world, settings):
    settings.OPEN311_PUBLIC_READS = True
    response = Client().get(f"/open311/v2/requests/{world.home.case.number}.xml")
    if response.status_code == 200:
        assert_escaped("open311 xml", response.content.decode())
