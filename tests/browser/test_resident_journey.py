"""A resident on a phone files a complaint with a photo and a pin, gets a code and follows it;
another finds the same problem already reported nearby and adds themselves ("我也遇到了")."""

import re
from urllib.parse import urlsplit

import pytest
from PIL import Image
from playwright.sync_api import expect

from cases import services
from cases.choices import CaseSource, CaseStatus
from cases.models import Case, Category, CoReporter
from tests.browser.conftest import DESKTOP, PHONE
from tests.conftest import seed_categories
from tests.factories import CommunityFactory, DistrictFactory, StreetFactory

LOCAL_HOSTS = {"localhost", "127.0.0.1"}


@pytest.fixture
def reference_data(transactional_db):  # type: ignore[no-untyped-def]
    """The seeded categories and form rules. The live server's flush of the previous test runs
    after tests/conftest.py puts them back (pytest-django's live-server helper tears down last)."""
    seed_categories()


@pytest.fixture
def places(reference_data):  # type: ignore[no-untyped-def]
    district = DistrictFactory(name="示范区")
    street = StreetFactory(district=district, name="湖滨街道")
    east = CommunityFactory(street=street, name="东湖社区", origin=(120.10, 30.20))
    west = CommunityFactory(street=street, name="西湖社区", origin=(120.115, 30.20))
    return east, west


def watch_requests(page) -> list[str]:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    return seen


def assert_only_local(urls: list[str]) -> None:
    remote = [url for url in urls if urlsplit(url).scheme in {"http", "https", "ws", "wss"}]
    assert remote, "the page made requests"
    assert [url for url in remote if urlsplit(url).hostname not in LOCAL_HOSTS] == []


def photo_file(tmp_path) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path / "street-vendor.png"
    image = Image.new("RGB", (640, 480), (90, 140, 200))
    for x in range(200, 440):
        for y in range(180, 300):
            image.putpixel((x, y), (220, 120, 40))
    image.save(path)
    return str(path)


def pin_inside(page, community_id: int) -> None:  # type: ignore[no-untyped-def]
    """Centre the map on a community (as choosing it does) and tap the middle of the map."""
    expect(page.locator(".area-label").first).to_be_visible()
    page.select_option("#id_community", str(community_id))
    page.wait_for_timeout(400)  # the map's fit animation
    page.locator("#map").click()
    expect(page.locator("#id_lat")).not_to_have_value("")


def test_a_resident_files_a_complaint_with_photo_and_pin_then_tracks_it(
    new_page, screenshot, places, tmp_path, settings
):
    settings.MAP_TILE_URL = ""
    east, _west = places
    page = new_page(PHONE)
    requests = watch_requests(page)

    page.goto("/report/")
    expect(page.locator("h1")).to_be_visible()
    screenshot(page, "1-form")

    page.fill("#cat-search", "摊贩")
    expect(page.locator("label.cat-option", has_text="占道经营")).to_be_hidden()
    page.locator("label.cat-option", has_text="流动摊贩").click()
    expect(page.locator("#cat-chosen")).to_be_visible()
    expect(page.locator("#cat-chosen-text")).to_contain_text("流动摊贩")
    expect(page.locator("#id_description")).to_have_attribute("placeholder", re.compile("摊贩"))
    page.fill("#id_description", "东湖社区北门人行道上有流动摊贩，每天早上七点到九点，影响通行。")

    pin_inside(page, east.pk)
    expect(page.locator("#pin-status")).to_contain_text("东湖社区")
    screenshot(page, "2-category-and-pin")

    page.set_input_files("#id_photos", photo_file(tmp_path))
    expect(page.locator("#photo-previews img")).to_have_count(1)
    page.fill("#id_reporter_phone", "13900001111")
    page.fill("#id_reporter_name", "李女士")
    page.check("#id_consent")
    screenshot(page, "3-filled-in")

    page.click("#submit-report")
    page.wait_for_url(re.compile(r"/report/done/[A-Z0-9]+/$"))
    code = page.locator("#tracking-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{8}", code)
    screenshot(page, "4-confirmation")

    case = Case.objects.get(tracking_code=code)
    assert case.source == CaseSource.WEB
    assert case.community == east
    assert case.category == Category.objects.get(code="0102")
    assert case.reporter_phone == "13900001111"
    assert case.attachments.count() == 1

    page.locator(f"a[href='/track/{code}/']").click()
    page.wait_for_url(f"**/track/{code}/")
    expect(page.locator(".status-card .badge")).to_be_visible()
    expect(page.locator(".status-card__text")).not_to_be_empty()
    expect(page.locator(".timeline__item")).to_have_count(1)
    screenshot(page, "5-tracking")

    assert_only_local(requests)


def test_a_second_resident_adds_themselves_to_the_same_problem_nearby(new_page, screenshot, places, settings):
    settings.MAP_TILE_URL = ""
    existing = services.case_report(
        source=CaseSource.WEB,
        category=Category.objects.get(code="0203"),
        description="东湖社区北门垃圾桶旁有人乱倒建筑垃圾，联系电话 13812345678",
        lat=30.205,
        lng=120.105,
        reporter_name="王五",
        reporter_phone="13812345678",
    )
    page = new_page(PHONE)
    requests = watch_requests(page)
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": 30.2051, "longitude": 120.1052})

    page.goto("/report/")
    page.locator("label.cat-option", has_text="乱倒垃圾").click()
    expect(page.locator(".area-label").first).to_be_visible()
    page.click("#locate-me")
    expect(page.locator("#pin-status")).to_contain_text("东湖社区")

    nearby = page.locator("#nearby")
    expect(nearby).to_be_visible()
    expect(nearby).to_contain_text(existing.number)
    expect(nearby).to_contain_text("138****5678")
    expect(nearby).not_to_contain_text("13812345678")
    expect(nearby).not_to_contain_text("王五")
    screenshot(page, "1-nearby")

    nearby.locator("button[aria-expanded]").click()
    nearby.locator("input[type=tel]").fill("13700002222")
    nearby.locator(".nearby__join .button").first.click()
    expect(nearby.locator(".nearby__done")).to_contain_text(existing.number)
    expect(nearby).not_to_contain_text(existing.tracking_code)
    screenshot(page, "2-me-too")

    co_reporter = CoReporter.objects.get()
    assert (co_reporter.case_id, co_reporter.phone) == (existing.pk, "13700002222")
    assert Case.objects.get(pk=existing.pk).report_count == 2
    assert Case.objects.count() == 1
    assert_only_local(requests)


def test_resident_pages_on_a_desktop_screen(new_page, screenshot, places, settings):
    settings.MAP_TILE_URL = ""
    east, _west = places
    case = services.case_report(
        source=CaseSource.WEB,
        category=Category.objects.get(code="0401"),
        description="楼下餐馆油烟直排，晚上六点后最严重。",
        lat=30.205,
        lng=120.105,
        reporter_phone="13900003333",
    )
    assert case.status == CaseStatus.REPORTED
    page = new_page(DESKTOP)
    requests = watch_requests(page)

    page.goto(f"/report/?community={east.code}&source=qr")
    expect(page.locator(".area-label").first).to_be_visible()
    screenshot(page, "1-form")
    page.goto(f"/track/{case.tracking_code}/")
    screenshot(page, "2-tracking")
    page.goto(f"/communities/{east.code}/")
    screenshot(page, "3-community")
    page.goto("/track/NOSUCH00/")
    expect(page.locator("h1")).to_be_visible()
    screenshot(page, "4-not-found")

    assert_only_local(requests)
