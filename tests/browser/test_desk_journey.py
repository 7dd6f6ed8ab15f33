"""The casework desk journey in real headless Chromium, each step by the right role.

dispatch → sign for → submit with a photo → verify fail → rework (sign for,
submit again) → verify pass → closed. The actions run through htmx without
a page reload; screenshots of each step (desktop, and the handler on a 375 px
phone) land in test-output/screenshots/.
"""

import io

import pytest
from PIL import Image

from cases import services
from cases.choices import AttachmentKind, CaseSource, CaseStatus
from cases.models import Case, Category
from chengguan.roles import Role
from tests.browser.conftest import DESKTOP, PHONE, sign_in
from tests.factories import (
    CommunityFactory,
    DistrictFactory,
    HandlingUnitFactory,
    StreetFactory,
    UserFactory,
    staff,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def world(reference_data):  # type: ignore[no-untyped-def]
    district = DistrictFactory(name="示范区")
    street = StreetFactory(district=district, name="幸福街道")
    CommunityFactory(street=street, name="阳光社区", origin=(120.0, 30.0))
    unit = HandlingUnitFactory(district=district, name="幸福街道环卫所")
    HandlingUnitFactory(district=district, name="园林绿化队")
    category = Category.objects.get(code="0102")
    category.handling_units.add(unit)
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    case = services.case_report(
        actor=root,
        source=CaseSource.HOTLINE_12345,
        category=category,
        description="幸福路12号门口有流动摊贩占道经营，影响行人通行",
        address="幸福路12号",
        lat=30.005,
        lng=120.005,
        reporter_name="李四",
        reporter_phone="13912345678",
    )
    services.case_register(case=case, actor=root)
    return {
        "case": Case.objects.get(pk=case.pk),
        "unit": unit,
        "dispatcher": staff(Role.DISPATCHER, scope=district, username="paiqian"),
        "handler": staff(Role.HANDLING_UNIT, scope=unit, username="huanwei"),
        "supervisor": staff(Role.SUPERVISOR, scope=district, username="ducha"),
    }


def photo(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "after.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 140, 90)).save(buffer, format="JPEG")
    path.write_bytes(buffer.getvalue())
    return path


def mark_page(page) -> None:  # type: ignore[no-untyped-def]
    """A marker that a full page load would wipe out."""
    page.evaluate("window.__noReload = true")


def still_same_page(page) -> bool:  # type: ignore[no-untyped-def]
    return bool(page.evaluate("window.__noReload === true"))


def act(page, slug: str) -> None:  # type: ignore[no-untyped-def]
    """Open an action's panel on the case page (quick actions have none)."""
    summary = page.locator(f'[data-desk-action="{slug}"] > summary')
    if summary.count():
        summary.click()


def submit(page, slug: str, button: str = "button[type=submit]:not([data-reply-insert])") -> None:  # type: ignore[no-untyped-def]
    with page.expect_response(lambda r: "/desk/cases/" in r.url and r.request.method == "POST"):
        page.locator(f'[data-desk-action="{slug}"] {button}').first.click()
    page.wait_for_selector(".message")


def status_of(case: Case) -> str:
    return Case.objects.get(pk=case.pk).status


def test_dispatch_handle_verify_rework_and_close(new_page, screenshot, world, tmp_path):
    case, unit = world["case"], world["unit"]

    # The dispatcher finds the case in the queue and dispatches it to the suggested unit.
    page = new_page(DESKTOP)
    sign_in(page, "paiqian")
    page.goto("/desk/dispatch/")
    assert page.locator(".desknav").count() == 1
    screenshot(page, "1-dispatch-queue")
    page.click(f"text={case.number}")
    page.wait_for_url(f"**/cases/{case.number}/")
    mark_page(page)
    act(page, "dispatch")
    page.select_option('[data-desk-action="dispatch"] select[name=handling_unit]', str(unit.pk))
    page.fill('[data-desk-action="dispatch"] textarea[name=note]', "请今天内处置")
    screenshot(page, "2-dispatch-form")
    submit(page, "dispatch")
    assert still_same_page(page)
    assert status_of(case) == CaseStatus.DISPATCHED
    assert page.locator('[data-desk-action="dispatch"]').count() == 0
    screenshot(page, "3-dispatched")

    # The unit member, on a phone, signs for it and reports the result with a photo.
    phone = new_page(PHONE)
    sign_in(phone, "huanwei")
    phone.goto("/desk/mine/")
    assert phone.locator(f"text={case.number}").is_visible()
    screenshot(phone, "4-phone-my-cases")
    phone.click(f"text={case.number}")
    phone.wait_for_url(f"**/cases/{case.number}/")
    mark_page(phone)
    submit(phone, "sign-for")
    assert status_of(case) == CaseStatus.IN_PROGRESS
    act(phone, "submit-result")
    phone.fill('[data-desk-action="submit-result"] textarea[name=result]', "摊贩已劝离，现场已清理干净")
    phone.set_input_files('[data-desk-action="submit-result"] input[name=photos]', str(photo(tmp_path)))
    screenshot(phone, "5-phone-submit-result")
    submit(phone, "submit-result")
    assert still_same_page(phone)
    assert status_of(case) == CaseStatus.RESOLVED
    screenshot(phone, "6-phone-submitted")

    # The supervisor is not satisfied: rework with a reason.
    boss = new_page(DESKTOP)
    sign_in(boss, "ducha")
    boss.goto("/desk/verify/")
    screenshot(boss, "7-verify-queue")
    boss.click(f"text={case.number}")
    boss.wait_for_url(f"**/cases/{case.number}/")
    act(boss, "rework")
    boss.fill('[data-desk-action="rework"] textarea[name=reason]', "路口仍有杂物未清理")
    submit(boss, "rework")
    assert status_of(case) == CaseStatus.DISPATCHED
    assert Case.objects.get(pk=case.pk).rework_count == 1

    # The handler sees the rework in their list, signs for it again and resubmits.
    phone.goto("/desk/mine/")
    assert phone.locator(".badge--rework").first.is_visible()
    phone.click(f"text={case.number}")
    phone.wait_for_url(f"**/cases/{case.number}/")
    submit(phone, "sign-for")
    act(phone, "submit-result")
    phone.fill('[data-desk-action="submit-result"] textarea[name=result]', "杂物已全部清运")
    phone.set_input_files('[data-desk-action="submit-result"] input[name=photos]', str(photo(tmp_path)))
    submit(phone, "submit-result")
    assert status_of(case) == CaseStatus.RESOLVED

    # The supervisor passes it: closed.
    boss.goto(f"/cases/{case.number}/")
    mark_page(boss)
    act(boss, "verify")
    submit(boss, "verify")
    assert still_same_page(boss)
    closed = Case.objects.get(pk=case.pk)
    assert closed.status == CaseStatus.CLOSED
    assert closed.attachments.filter(kind=AttachmentKind.AFTER).count() == 2
    # A closed case offers no more workflow steps, only what follows closure
    # (reopening, marking it false) and moderation.
    actions = boss.locator("[data-desk-action]")
    offered = set(actions.evaluate_all("els => els.map(e => e.dataset.deskAction)"))
    assert not offered & {"verify", "rework", "dispatch", "sign-for", "submit-result"}
    assert "reopen" in offered
    screenshot(boss, "8-closed")


def test_bulk_dispatch_from_the_queue(new_page, screenshot, world):
    root = world["case"]
    others = []
    for n in range(2):
        extra = services.case_report(
            actor=UserFactory(username=f"r{n}", is_superuser=True),
            source=CaseSource.HOTLINE_12345,
            category=root.category,
            description=f"第{n + 2}处流动摊贩",
            lat=30.004,
            lng=120.004,
        )
        services.case_register(case=extra, actor=UserFactory(username=f"s{n}", is_superuser=True))
        others.append(extra)
    page = new_page(DESKTOP)
    sign_in(page, "paiqian")
    page.goto("/desk/dispatch/")
    mark_page(page)

    page.check("[data-select-all]")
    page.select_option("#bulk-dispatch select[name=handling_unit]", str(world["unit"].pk))
    screenshot(page, "1-selected")
    with page.expect_response(lambda r: "/desk/dispatch/bulk/" in r.url):
        page.click("#bulk-dispatch button[type=submit]")
    page.wait_for_selector(".message--success")

    assert still_same_page(page)
    for case in [root, *others]:
        assert status_of(case) == CaseStatus.DISPATCHED
    screenshot(page, "2-dispatched")
