"""A resident scans a street light's QR service code (城市服务码) on a phone: the form opens pre-filled,
the case carries the facility and reaches the community's liaison."""

import re

import pytest
from playwright.sync_api import expect

from cases import services
from cases.choices import CaseSource
from cases.models import Case, Category
from chengguan.roles import Role
from communities.services import facility_save
from liaisons.services import liaison_assign
from tests.browser.conftest import PHONE, sign_in
from tests.factories import CommunityFactory, DistrictFactory, StreetFactory, UserFactory, staff


@pytest.fixture
def world(reference_data):  # type: ignore[no-untyped-def]
    district = DistrictFactory(name="示范区")
    street = StreetFactory(district=district, name="幸福街道")
    community = CommunityFactory(street=street, name="阳光社区", origin=(120.0, 30.0))
    liaison = staff(Role.LIAISON, username="lianluo")
    liaison_assign(community=community, liaison=liaison)
    lamp, _created = facility_save(
        code="LD-0042",
        name="阳光路42号路灯",
        kind="street_light",
        lat=30.004,
        lng=120.004,
        address="阳光路42号",
    )
    return {"community": community, "liaison": liaison, "lamp": lamp, "root": UserFactory(is_superuser=True)}


def test_scanning_a_facility_code_files_a_case_for_the_community_liaison(
    new_page, screenshot, world, settings
):
    settings.MAP_TILE_URL = ""
    lamp = world["lamp"]
    page = new_page(PHONE)

    # when the resident scans the code (the URL the QR sheet prints)
    page.goto(f"/report/?facility={lamp.code}&source=qr")

    # then the form knows the facility, its place and the category its kind suggests
    expect(page.locator("#facility-notice")).to_contain_text("阳光路42号路灯")
    expect(page.locator("#cat-chosen-text")).to_contain_text("路灯")
    expect(page.locator("#id_lat")).to_have_value(re.compile(r"^30\.004"))
    expect(page.locator("#id_address")).to_have_value("阳光路42号")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "1-prefilled")

    page.fill("#id_description", "路灯晚上不亮，已经三天了。")
    page.fill("#id_reporter_phone", "13900002222")
    page.check("#id_consent")
    page.click("#submit-report")
    page.wait_for_url(re.compile(r"/report/done/[A-Z0-9]+/$"))
    code = page.locator("#tracking-code").inner_text().strip()
    screenshot(page, "2-confirmation")

    case = Case.objects.get(tracking_code=code)
    assert case.source == CaseSource.QR_CODE and case.facility == lamp
    assert case.community == world["community"] and case.category == Category.objects.get(code="9002")

    # the desk registers and dispatches it to the community's liaison (routing by community)
    root = world["root"]
    services.case_register(case=case, actor=root)
    services.case_dispatch(case=Case.objects.get(pk=case.pk), actor=root, assignee=world["liaison"])

    # and it is in the liaison's worklist, showing the facility on its page
    liaison_page = new_page(PHONE)
    sign_in(liaison_page, "lianluo")
    liaison_page.goto("/desk/mine/")
    expect(liaison_page.locator(f"text={case.number}").first).to_be_visible()
    screenshot(liaison_page, "3-liaison-worklist")
    liaison_page.goto(f"/cases/{case.number}/")
    expect(liaison_page.locator("#case-facility")).to_contain_text("阳光路42号路灯")
    screenshot(liaison_page, "4-case-with-facility")

    # the facility's public page lists the case without personal data
    page.goto(f"/communities/facilities/{lamp.code}/")
    expect(page.locator("#open-cases")).to_contain_text(case.number)
    expect(page.locator("body")).not_to_contain_text("13900002222")
    screenshot(page, "5-facility-page")
