"""An operator at the intake desk (受理台), in real headless Chromium.

Takes a hotline report from the keyboard and registers it with one click,
then takes a second call about the same problem, sees the duplicate hint
and merges the report into the first case. Screenshots of every step land
in test-output/screenshots/.
"""

import pytest

from cases import services
from cases.choices import CaseSource, CaseStatus, RejectReason
from cases.models import Case
from chengguan.roles import Role
from tests.browser.conftest import DESKTOP, PHONE, sign_in
from tests.factories import CaseFactory, CommunityFactory, DistrictFactory, StreetFactory, staff

pytestmark = pytest.mark.browser


@pytest.fixture
def place(reference_data):  # type: ignore[no-untyped-def]
    district = DistrictFactory(name="示范区")
    street = StreetFactory(district=district, name="幸福街道")
    # A 0.01° square whose centre is (30.005, 120.005).
    community = CommunityFactory(street=street, name="阳光社区", origin=(120.0, 30.0))
    CommunityFactory(street=street, name="月亮湾社区", origin=(120.02, 30.0))
    return community


@pytest.fixture
def operator(place):  # type: ignore[no-untyped-def]
    return staff(Role.OPERATOR, scope=place.street.district, username="hotline")


def type_field(page, text: str) -> None:  # type: ignore[no-untyped-def]
    """Type into the focused field and press Enter to move on, as an operator does."""
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def focused(page) -> str:  # type: ignore[no-untyped-def]
    return page.evaluate("document.activeElement.id")


def choose_community_from_keyboard(page, name: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(10):
        if name in page.evaluate("document.activeElement.selectedOptions[0].textContent"):
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"{name} is not offered")


def take_call(
    page,
    *,
    phone: str,
    name: str,
    category: str,
    address: str,
    point: tuple[str, str] | None,
    description: str,
) -> None:  # type: ignore[no-untyped-def]
    """Fill the intake form from the keyboard only, starting at the autofocused source."""
    assert focused(page) == "id_source"
    page.keyboard.press("Tab")  # 12345 is already the source
    assert focused(page) == "id_reporter_phone"
    type_field(page, phone)
    assert focused(page) == "id_reporter_name"
    type_field(page, name)
    assert focused(page) == "id_category"
    type_field(page, category)
    assert focused(page) == "id_urgency"
    page.keyboard.press("Enter")  # urgency as the category says
    assert focused(page) == "id_community"
    choose_community_from_keyboard(page, "阳光社区")
    page.keyboard.press("Enter")
    assert focused(page) == "id_address"
    type_field(page, address)
    if point:
        type_field(page, point[0])
        type_field(page, point[1])
    else:
        page.keyboard.press("Enter")
        page.keyboard.press("Enter")
    assert focused(page) == "id_description"
    page.keyboard.type(description)


def test_operator_registers_a_hotline_report_and_merges_a_duplicate(new_page, screenshot, operator, place):
    page = new_page(viewport=DESKTOP)
    sign_in(page, "hotline")
    page.goto("/desk/intake/")
    screenshot(page, "01-desk")

    # First call: typed from the keyboard, filed and registered in one click.
    take_call(
        page,
        phone="13912345678",
        name="王先生",
        category="摊贩",
        address="阳光路与幸福路路口",
        point=("30.005", "120.005"),
        description="路口东北角有流动摊贩占道卖水果，影响行人通行",
    )
    assert page.input_value("#id_category") == "0102 流动摊贩"
    page.wait_for_selector("#intake-hints .intake-caller")
    screenshot(page, "02-first-call-filled")
    page.click("[data-intake-submit=register]")
    page.wait_for_url("**/desk/intake/?filed=*")

    first = Case.objects.get()
    assert first.status == CaseStatus.REGISTERED
    assert first.source == CaseSource.HOTLINE_12345
    assert first.category.code == "0102"
    assert first.community == place
    assert first.events.filter(action="register", actor=operator).exists()
    assert first.tracking_code in page.inner_text(".intake-filed")
    screenshot(page, "03-first-registered")

    # Second call about the same stall: the hint offers the first case.
    take_call(
        page,
        phone="13700001111",
        name="李女士",
        category="0102",
        address="阳光路路口",
        point=None,
        description="阳光路口又有人摆摊卖水果",
    )
    hint = page.locator(".hint", has_text=first.number)
    hint.wait_for()
    assert "0 m" in hint.inner_text() or "0 米" in hint.inner_text()
    screenshot(page, "04-duplicate-hint")
    hint.get_by_role("button").click()
    page.wait_for_url("**/desk/intake/?filed=*")
    screenshot(page, "05-merged")

    first.refresh_from_db()
    second = Case.objects.exclude(pk=first.pk).get()
    assert first.status == CaseStatus.REGISTERED
    assert first.report_count == 2
    assert second.status == CaseStatus.REJECTED
    assert second.merged_into == first
    assert second.reject_reason == RejectReason.DUPLICATE
    assert first.number in page.inner_text(".intake-filed")

    phone = new_page(viewport=PHONE)
    sign_in(phone, "hotline")
    phone.goto("/desk/intake/")
    screenshot(phone, "06-desk-375px")
    # Nothing sticks out sideways on a phone.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_operator_works_the_inbox_without_reloading(new_page, screenshot, operator, place):
    waiting = [
        CaseFactory(community=place, source=CaseSource.HOTLINE_12319, reporter_phone="13800000001"),
        CaseFactory(community=place, source=CaseSource.WALK_IN, reporter_phone="13800000002"),
        CaseFactory(community=place, source=CaseSource.MEDIA, reporter_phone="13800000003"),
    ]
    page = new_page(viewport=DESKTOP)
    sign_in(page, "hotline")
    page.goto("/desk/intake/inbox/")
    page.evaluate("window.notReloaded = true")
    screenshot(page, "01-inbox")

    first = page.locator(f"#item-{waiting[0].number}")
    first.locator(".intake-register__go").click()
    page.locator(f"#item-{waiting[0].number}.intake-item--done").wait_for()

    second = page.locator(f"#item-{waiting[1].number}")
    second.locator(".intake-reject > summary").click()
    second.locator("select[name=reason]").select_option(RejectReason.OUT_OF_AREA.value)
    second.locator("textarea[name=note]").fill("属于邻区管辖，已告知来电人")
    second.locator("form[action$='/reject/'] button").click()
    page.locator(f"#item-{waiting[1].number}.intake-item--done").wait_for()

    # Someone else changes the third report meanwhile: the first click is
    # refused with a message and the fresh report; the second one registers it.
    services.case_add_co_reporter(case=waiting[2], phone="13600000000")
    third = f"#item-{waiting[2].number}"
    page.locator(f"{third} .intake-register__go").click()
    page.locator(f"{third}.intake-item--error").wait_for()
    assert "其他人修改了这条记录" in page.inner_text(third)
    screenshot(page, "02-inbox-stale")
    page.locator(f"{third} .intake-register__go").click()
    page.locator(f"{third}.intake-item--done").wait_for()
    screenshot(page, "03-inbox-worked")

    assert page.evaluate("window.notReloaded") is True
    statuses = dict(Case.objects.values_list("number", "status"))
    assert statuses == {
        waiting[0].number: CaseStatus.REGISTERED,
        waiting[1].number: CaseStatus.REJECTED,
        waiting[2].number: CaseStatus.REGISTERED,
    }
