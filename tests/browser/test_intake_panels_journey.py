"""The inbox's panels in real headless Chromium: loaded when opened, working as before.

"Correct first", "Reject" and "Merge" are fetched with htmx when their
<details> opens; a report without a category has "Correct first" open at once.
"""

import pytest

from cases.choices import CaseSource, CaseStatus, Urgency
from cases.models import Case
from chengguan.roles import Role
from tests.browser.conftest import DESKTOP, PHONE, sign_in
from tests.factories import CaseFactory, CommunityFactory, DistrictFactory, StreetFactory, staff

pytestmark = pytest.mark.browser


@pytest.fixture
def place(reference_data):  # type: ignore[no-untyped-def]
    street = StreetFactory(district=DistrictFactory(name="示范区"), name="幸福街道")
    community = CommunityFactory(street=street, name="阳光社区", origin=(120.0, 30.0))
    CommunityFactory(street=street, name="月亮湾社区", origin=(120.02, 30.0))
    return community


@pytest.fixture
def operator(place):  # type: ignore[no-untyped-def]
    return staff(Role.OPERATOR, scope=place.street.district, username="hotline")


def test_operator_corrects_merges_and_classifies_from_loaded_panels(new_page, screenshot, operator, place):
    corrected = CaseFactory(community=place, source=CaseSource.HOTLINE_12319, reporter_phone="13800000001")
    master = CaseFactory(community=place, status=CaseStatus.REGISTERED)
    duplicate = CaseFactory(community=place, reporter_phone="13800000002")
    unclassified = CaseFactory(community=place, category=None, reporter_phone="13800000003")
    page = new_page(viewport=DESKTOP)
    sign_in(page, "hotline")
    page.goto("/desk/intake/inbox/")
    page.evaluate("window.notReloaded = true")

    # Correct first: the fields arrive when the panel opens; they post with the item's form.
    item = page.locator(f"#item-{corrected.number}")
    assert item.locator("select[name=urgency]").count() == 0
    item.locator(".intake-correct > summary").click()
    item.locator("select[name=urgency]").select_option(Urgency.URGENT.value)
    item.locator("input[name=note]").fill("来电人补充")
    screenshot(page, "01-correct-first-loaded")
    item.locator(".intake-correct button[type=submit]").click()
    page.locator(f"#item-{corrected.number}.intake-item--done").wait_for()

    # Merge: the possible duplicates and the merge by number arrive when the panel opens.
    item = page.locator(f"#item-{duplicate.number}")
    item.locator(".intake-merge > summary").click()
    item.locator("input[name=master][type=text]").fill(master.number)
    item.locator("input[name=master][type=text]").press("Enter")
    page.locator(f"#item-{duplicate.number}.intake-item--done").wait_for()

    # Without a category, "Correct first" is open with its fields from the start.
    item = page.locator(f"#item-{unclassified.number}")
    category = item.locator("input[name=category]")
    assert category.is_visible()
    category.fill("0401")
    item.locator(".intake-correct button[type=submit]").click()
    page.locator(f"#item-{unclassified.number}.intake-item--done").wait_for()
    screenshot(page, "02-panels-worked")

    assert page.evaluate("window.notReloaded") is True
    statuses = {case.number: (case.status, case.urgency) for case in Case.objects.all()}
    assert statuses[corrected.number] == (CaseStatus.REGISTERED, Urgency.URGENT)
    assert statuses[duplicate.number][0] == CaseStatus.REJECTED
    assert Case.objects.get(pk=duplicate.pk).merged_into == master
    assert statuses[unclassified.number][0] == CaseStatus.REGISTERED
    assert Case.objects.get(pk=unclassified.pk).category.code == "0401"


def test_an_open_panel_fits_a_phone(new_page, screenshot, operator, place):
    case = CaseFactory(community=place)
    CaseFactory(community=place, category=None)
    page = new_page(viewport=PHONE)
    sign_in(page, "hotline")
    page.goto("/desk/intake/inbox/")

    item = page.locator(f"#item-{case.number}")
    item.locator(".intake-correct > summary").click()
    item.locator("select[name=community]").wait_for()
    item.locator(".intake-reject > summary").click()
    item.locator("select[name=reason]").wait_for()
    screenshot(page, "03-panels-375px")

    # Nothing sticks out sideways on a phone, and the panel's fields have their labels.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert item.locator(f"label[for=reason-{case.pk}]").count() == 1
    # Opening one panel closes the other (<details name>).
    assert not item.locator(f"#community-{case.pk}").is_visible()


def test_the_filters_load_when_opened_and_filter_in_place(new_page, operator, place):
    walk_in = CaseFactory(community=place, source=CaseSource.WALK_IN)
    hotline = CaseFactory(community=place, source=CaseSource.HOTLINE_12345)
    page = new_page(viewport=DESKTOP)
    sign_in(page, "hotline")
    page.goto("/desk/intake/inbox/")
    page.evaluate("window.notReloaded = true")
    assert page.locator("#inbox_source").count() == 0

    page.locator(".intake-filters details > summary").click()
    page.locator("#inbox_source").select_option(CaseSource.WALK_IN.value)
    page.locator(".filters__grid button[type=submit]").click()
    page.locator(f"#item-{hotline.number}").wait_for(state="detached")

    assert page.locator(f"#item-{walk_in.number}").is_visible()
    # Filtering, the filters stay open with the choice made.
    assert page.locator("#inbox_source").input_value() == CaseSource.WALK_IN.value
    assert page.evaluate("window.notReloaded") is True
