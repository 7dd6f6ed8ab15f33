"""The supervisor's dashboard journey in real headless Chromium.

Open the dashboard, switch the period to this week, narrow the scope to one
community, click a tile and land on the case list showing exactly as many
cases; then the monthly assessment and the public statistics. Screenshots
(desktop, and the dashboard on a 375 px phone) land in test-output/screenshots/.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from cases.choices import CaseSource, CaseStatus
from chengguan.roles import Role
from tests.browser.conftest import DESKTOP, PHONE, sign_in
from tests.factories import (
    CaseFactory,
    CommunityFactory,
    DistrictFactory,
    GridCellFactory,
    HandlingUnitFactory,
    StreetFactory,
    square,
    staff,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def world(reference_data):  # type: ignore[no-untyped-def]
    district = DistrictFactory(name="示范区")
    street = StreetFactory(district=district, name="幸福街道")
    sunny = CommunityFactory(street=street, name="阳光社区", origin=(120.0, 30.0))
    harbour = CommunityFactory(
        street=StreetFactory(district=district, name="港湾街道"), name="港湾社区", origin=(120.02, 30.0)
    )
    unit = HandlingUnitFactory(district=district, name="幸福街道环卫所")
    now = timezone.now() - timedelta(minutes=5)
    for community, origin in [(sunny, 120.0), (harbour, 120.02)]:
        for k in range(2):
            cell = GridCellFactory(community=community, name=f"{community.name}网格{k + 1}")
            cell.set_boundary(square(origin + 0.005 * k, 30.0, 0.005))
            cell.save()
            for n in range(3 + 2 * k):
                CaseFactory(
                    community=community,
                    grid_cell=cell,
                    source=[CaseSource.WEB, CaseSource.HOTLINE_12345, CaseSource.PATROL][n % 3],
                    reported_at=now - timedelta(minutes=n),
                    registered_at=now - timedelta(minutes=n),
                    handling_unit=unit,
                    status=CaseStatus.DISPATCHED if n % 2 else CaseStatus.REGISTERED,
                    deadline=now - timedelta(minutes=1) if n == 0 else now + timedelta(days=3),
                )
    return {"supervisor": staff(Role.SUPERVISOR, scope=district, username="ducha"), "sunny": sunny}


def tile_value(page, key: str) -> int:  # type: ignore[no-untyped-def]
    return int(page.locator(f'li[data-key="{key}"] .dtile__value').inner_text().replace(",", ""))


def test_a_supervisor_drills_down_from_the_dashboard(new_page, screenshot, world):
    page = new_page(DESKTOP)
    page.emulate_media(reduced_motion="reduce")  # charts drawn at once, for the screenshots
    sign_in(page, "ducha")

    page.goto("/dashboard/")
    # The trend, category and source charts load after the page (dashboard:chart_data).
    page.wait_for_selector("#chart-trend canvas")
    page.wait_for_selector("#chart-sources canvas")
    assert tile_value(page, "reported") == 16
    # Their numbers are under "Numbers", each linked to its cases.
    trend_numbers = page.locator('[data-numbers="trend"] tbody tr')
    assert sum(int(n) for n in trend_numbers.locator("td:nth-child(2) a").all_text_contents()) == 16
    screenshot(page, "1-dashboard-month")

    # This week: the period applies as soon as it is picked.
    page.locator('label.segmented__option:has(input[value="week"])').click()
    page.wait_for_url(re.compile(r"period=week"))
    assert tile_value(page, "reported") == 16

    # Scope: one community.
    page.locator("details.dash-scope > summary").click()
    page.select_option("#id_community", label="阳光社区")
    page.locator(".dash-filters__actions button[type=submit]").click()
    page.wait_for_url(re.compile(rf"community={world['sunny'].pk}"))
    page.wait_for_selector("#hotspot-map .leaflet-interactive")
    reported = tile_value(page, "reported")
    assert reported == 8
    screenshot(page, "2-dashboard-week-community")

    # The tile leads to the case list of exactly those cases.
    page.locator('li[data-key="reported"] a.dtile__main').click()
    page.wait_for_url(re.compile(r"/cases/\?.*indicator=reported"))
    assert page.locator("table.case-table tbody tr").count() == reported
    assert str(reported) in page.locator(".page-head__meta").inner_text()
    screenshot(page, "3-case-list")

    page.goto("/dashboard/assessment/")
    assert page.locator("table.rank-table").count() == 2
    screenshot(page, "4-assessment")


def test_the_dashboard_on_a_phone(new_page, screenshot, world):
    page = new_page(PHONE)
    page.emulate_media(reduced_motion="reduce")
    sign_in(page, "ducha")

    page.goto("/dashboard/")
    page.wait_for_selector("#chart-sources canvas")
    # Nothing sticks out sideways on a 375 px screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "dashboard")

    page.goto("/dashboard/public/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "public-statistics")
