"""Opening the inbox's panels in real headless Chromium leaves the browser console clean.

"Correct first" sits inside the item's register form, whose hx-disabled-elt
("find button") htmx would pass down to the panel's own load request, where it
finds no button and logs an error.
"""

import pytest

from chengguan.roles import Role
from tests.browser.conftest import DESKTOP, sign_in
from tests.factories import CaseFactory, CommunityFactory, DistrictFactory, StreetFactory, staff

pytestmark = pytest.mark.browser


def test_opening_each_panel_logs_no_console_error(new_page, reference_data):
    # Given an operator with one report in the inbox
    street = StreetFactory(district=DistrictFactory(name="示范区"), name="幸福街道")
    community = CommunityFactory(street=street, name="阳光社区", origin=(120.0, 30.0))
    staff(Role.OPERATOR, scope=street.district, username="hotline")
    case = CaseFactory(community=community, reporter_phone="13800000001")
    page = new_page(viewport=DESKTOP)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, "hotline")
    page.goto("/desk/intake/inbox/")
    item = page.locator(f"#item-{case.number}")
    # When they open "Correct first", "Reject" and "Merge" in turn
    item.locator(".intake-correct > summary").click()
    item.locator("select[name=urgency]").wait_for()
    item.locator(".intake-reject > summary").click()
    item.locator(".intake-reject select, .intake-reject input[type=radio]").first.wait_for()
    item.locator(".intake-merge > summary").click()
    item.locator("input[name=master][type=text]").wait_for()
    page.wait_for_load_state("networkidle")
    # Then each panel loaded without an error in the console
    assert errors == []
