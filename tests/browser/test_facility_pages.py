"""The facility pages on a phone and on a desktop, in real Chromium (issue #10)."""

from pathlib import Path

import pytest
from django.urls import reverse

from chengguan.roles import Role
from communities.choices import FacilityKind
from tests import factories
from tests.browser.conftest import CHROMIUM, DESKTOP, PHONE, sign_in
from tests.communities.test_facility_list import URL, make_facility, reports

# --- on a phone and on a desktop, in real Chromium ------------------------------------------------


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"needs Chromium at {CHROMIUM}")
def test_facility_pages_fit_a_phone_and_a_desktop(new_page, screenshot, reference_data):  # type: ignore[no-untyped-def]
    district = factories.DistrictFactory(name="示范区")
    community = factories.CommunityFactory(
        street=factories.StreetFactory(district=district, name="幸福街道"),
        name="阳光社区",
        origin=(120.0, 30.0),
    )
    lamp = make_facility(
        community,
        "LD-0042-LONG-CODE",
        name="阳光路42号路灯（东侧人行道靠近公交站台）",
        address="阳光路42号东侧人行道",
    )
    reports(lamp, days_ago=[1, 2, 3])
    for n in range(4):
        make_facility(community, f"LJ-{n:04d}", kind=FacilityKind.BIN, name=f"垃圾箱{n}")
    factories.staff(Role.SUPERVISOR, scope=district, username="duban")

    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = new_page(viewport)
        sign_in(page, "duban")
        # the staff list, with its filters open
        page.goto(f"{URL}?community={community.pk}")
        page.locator(".filters summary").click()
        assert page.locator("#facility-list .fw-item").count() == 5
        assert page.locator(".fw-item--alert").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        screenshot(page, f"{name}-facility-list")
        # the public community page, with the staff links, and the public facility page
        page.goto(reverse("communities:detail", args=[community.code]))
        assert page.locator("#staff-links").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        screenshot(page, f"{name}-community")
        page.goto(reverse("communities:facility_detail", args=[lamp.code]))
        assert page.locator("#repeat-fault").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        screenshot(page, f"{name}-facility")
