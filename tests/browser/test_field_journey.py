"""A liaison's day in the field, in real headless Chromium on a 375 px phone.

Patrol with a finding → the finding becomes a case in one tap; a shop
inspection fails an item → the rectification notice; the deadline passes →
the re-inspection reminder → re-inspected as not rectified → a case. Plus the
offline draft: a patrol submitted with no network is kept and sent once the
phone is back online, and logged once. Screenshots of every step (and of
every field page at 375 and 1280 px) land in test-output/screenshots/.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from cases.choices import CaseSource
from cases.models import Case, Category
from chengguan.models import Notification
from chengguan.roles import Role
from inspections import jobs as inspection_jobs
from inspections.choices import NoticeStatus
from inspections.models import Agreement, ChecklistItem, RectificationNotice, ResponsibilityUnit
from liaisons.choices import PatrolFrequency
from liaisons.jobs import schedule_patrols
from liaisons.models import PatrolFinding, PatrolLog, PatrolPlan
from liaisons.services import liaison_assign
from tests.browser.conftest import DESKTOP, PHONE, sign_in
from tests.factories import (
    CommunityFactory,
    DistrictFactory,
    GridCellFactory,
    HandlingUnitFactory,
    StreetFactory,
    UserFactory,
    staff,
)

pytestmark = pytest.mark.browser

PATROL_PAGE = re.compile(r"/field/patrols/\d+/$")


@pytest.fixture
def world(reference_data):  # type: ignore[no-untyped-def]
    district = DistrictFactory(name="示范区")
    street = StreetFactory(district=district, name="幸福街道")
    community = CommunityFactory(street=street, name="东园社区", origin=(120.0, 30.0))
    cells = [GridCellFactory(community=community, name=name) for name in ("东园一网格", "东园二网格")]
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    liaison = staff(Role.LIAISON, username="xuncha")
    liaison.name = "李联络"
    liaison.save()
    liaison_assign(community=community, liaison=liaison, actor=root)
    PatrolPlan.objects.create(community=community, frequency=PatrolFrequency.WEEKLY)
    schedule_patrols(days=7)
    shop = ResponsibilityUnit.objects.create(
        name="老王烧烤",
        address="东园街248号",
        community=community,
        grid_cell=cells[0],
        lat=30.005,
        lng=120.005,
        contact_name="王老板",
        contact_phone="13900002222",
        licence_number="91330100MA2XXXXX1",
    )
    today = timezone.localdate()
    Agreement.objects.create(
        unit=shop,
        number="MQSB-2026-001",
        starts_on=today - timedelta(days=30),
        ends_on=today + timedelta(days=335),
        signed_on=today - timedelta(days=31),
        signed_by="王老板",
        duties="门前市容整洁、环境卫生、秩序良好",
    )
    return {
        "community": community,
        "cells": cells,
        "liaison": liaison,
        "shop": shop,
        "district": district,
        "root": root,
    }


def test_a_liaison_logs_a_patrol_finding_and_follows_a_shop_to_a_case(world, new_page, screenshot):
    community, shop = world["community"], world["shop"]
    page = new_page(PHONE)
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": 30.0051, "longitude": 120.0052, "accuracy": 12})
    sign_in(page, "xuncha")

    # The day starts on the field home: the community and this week's patrol.
    page.goto("/field/")
    assert page.locator("text=东园社区").first.is_visible()
    screenshot(page, "01-home")

    # A patrol with one finding, its location from the phone.
    page.goto("/field/patrols/new/")
    page.check(f"input[name=grid_cells][value='{world['cells'][0].pk}']")
    page.fill("textarea[name=notes]", "沿东园街、幸福路巡查一遍")
    page.fill("textarea[name=findings-0-description]", "幸福路口有流动摊贩占道经营")
    page.select_option("select[name=findings-0-category]", value=str(Category.objects.get(code="0102").pk))
    page.click("[data-locate]")
    page.wait_for_function("document.querySelector('input[name=findings-0-lat]').value !== ''")
    page.fill("input[name=findings-0-address]", "幸福路与东园街交叉口")
    screenshot(page, "02-patrol-form")
    page.click("#submit-patrol")
    page.wait_for_url(PATROL_PAGE)
    patrol = PatrolLog.objects.get()
    finding = PatrolFinding.objects.get(patrol=patrol)
    assert finding.lat == pytest.approx(30.0051) and finding.case is None
    screenshot(page, "03-patrol-logged")

    # One tap turns the finding into a case.
    page.click("button.fw-convert")
    page.wait_for_url(re.compile(r"/cases/CG-[\d-]+/$"))
    finding.refresh_from_db()
    case = Case.objects.get(pk=finding.case_id)
    assert case.source == CaseSource.PATROL and case.community == community
    assert case.number in page.content()
    screenshot(page, "04-case-from-finding")

    # The shop is inspected and fails trading outside the shop: the notice is issued.
    page.goto(f"/shops/{shop.pk}/")
    screenshot(page, "05-shop")
    page.click(f"a[href='/shops/{shop.pk}/inspect/']")
    item = ChecklistItem.objects.get(code="ZX01")
    page.check(f"input[name=item_{item.pk}][value=fail]")
    page.fill(f"input[name=note_{item.pk}]", "店外摆放烧烤炉和桌椅")
    screenshot(page, "06-inspection")
    page.click("#inspect-form button[type=submit]")
    page.wait_for_url(re.compile(r"/shops/notices/\d+/$"))
    notice = RectificationNotice.objects.get()
    assert notice.number in page.content() and "店外摆放烧烤炉和桌椅" in page.content()
    screenshot(page, "07-notice")

    # The deadline passes; the beat job reminds the liaison to re-inspect.
    RectificationNotice.objects.filter(pk=notice.pk).update(deadline=timezone.now() - timedelta(hours=1))
    assert inspection_jobs.remind_reinspections() == 1
    reminder = Notification.objects.get(recipient=world["liaison"], key=f"notice:{notice.pk}:reinspect")
    page.goto("/desk/notifications/")
    assert page.locator(".notice__title", has_text="老王烧烤").first.is_visible()
    assert reminder.title in page.content()
    screenshot(page, "08-reminder")
    page.goto("/field/")
    assert page.locator(f"a[href='/shops/notices/{notice.pk}/reinspect/']").is_visible()
    screenshot(page, "09-home-reinspection-due")

    # Re-inspected, not rectified: a case (source inspection) is filed and linked.
    page.click(f"a[href='/shops/notices/{notice.pk}/reinspect/']")
    page.check("input[name=rectified][value=no]")
    page.fill("textarea[name=notes]", "仍在店外经营")
    screenshot(page, "10-reinspect")
    page.click("#reinspect-form button[type=submit]")
    page.wait_for_url(f"**/shops/notices/{notice.pk}/")
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.NOT_RECTIFIED
    assert notice.case.source == CaseSource.INSPECTION
    link = page.locator(f"a[href='/cases/{notice.case.number}/']")
    assert link.is_visible()
    screenshot(page, "11-case-filed")
    link.click()
    page.wait_for_url(f"**/cases/{notice.case.number}/")
    screenshot(page, "12-inspection-case")


def test_a_patrol_sent_offline_is_kept_and_sent_once_back_online(world, new_page, screenshot):
    page = new_page(PHONE)
    sign_in(page, "xuncha")
    page.goto("/field/patrols/new/")
    page.fill("textarea[name=notes]", "地下室没有信号")
    page.fill("textarea[name=findings-0-description]", "垃圾桶满溢")
    uuid = page.input_value("input[name=client_uuid]")

    # No network: the draft stays on the page and says it will retry.
    page.context.set_offline(True)
    page.click("#submit-patrol")
    status = page.locator("#draft-status.fw-alert--warn")
    status.wait_for(state="visible")
    draft = page.evaluate(
        "() => JSON.parse(localStorage.getItem(document.getElementById('patrol-form').dataset.draftKey))"
    )
    assert draft["pending"] and draft["fields"]["client_uuid"] == uuid
    assert draft["fields"]["findings-0-description"] == "垃圾桶满溢"
    assert not PatrolLog.objects.exists()
    screenshot(page, "01-offline-draft")

    # Back online: the same draft goes through, once.
    page.context.set_offline(False)
    page.wait_for_url(PATROL_PAGE, timeout=40_000)
    patrol = PatrolLog.objects.get()
    assert patrol.client_uuid == uuid and patrol.findings.get().description == "垃圾桶满溢"
    # The draft is dropped once the server has the patrol (asynchronously).
    # The page the draft was sent from may still be unloading: ask the loaded one.
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => localStorage.length === 0", timeout=10_000, polling=100)
    screenshot(page, "02-sent-when-online")


def test_a_draft_survives_a_reload_and_server_errors_keep_it(world, new_page, screenshot):
    page = new_page(PHONE)
    sign_in(page, "xuncha")
    page.goto("/field/patrols/new/")
    page.fill("textarea[name=findings-0-description]", "井盖缺失")
    page.click("#add-finding")
    page.fill("textarea[name=findings-1-description]", "共享单车乱停")
    uuid = page.input_value("input[name=client_uuid]")
    page.wait_for_timeout(400)  # the draft is saved a moment after typing

    page.reload()
    assert page.input_value("textarea[name=findings-1-description]") == "共享单车乱停"
    assert page.input_value("input[name=client_uuid]") == uuid
    assert page.locator("#draft-status").is_visible()
    screenshot(page, "01-draft-restored")

    # An end before the start: the server's Chinese error shows, the draft is still there.
    page.fill("input[name=ended_at]", page.input_value("input[name=started_at]"))
    page.click("#submit-patrol")
    page.wait_for_selector(".field--error")
    assert page.input_value("textarea[name=findings-1-description]") == "共享单车乱停"
    assert not PatrolLog.objects.exists()
    screenshot(page, "02-server-error-keeps-draft")


def test_tour_of_the_field_pages_on_a_phone_and_a_desktop(world, new_page, screenshot):
    """Not a journey: every field page as it looks, for people to review."""
    from cases.services import return_visit_schedule
    from inspections.services import ItemOutcome, inspection_record
    from liaisons.services import FindingInput, meeting_record, patrol_log
    from tests.fieldwork import closed_case

    liaison, community, shop = world["liaison"], world["community"], world["shop"]
    now = timezone.now()
    patrol = patrol_log(
        liaison=liaison,
        community=community,
        started_at=now - timedelta(hours=2),
        ended_at=now - timedelta(hours=1),
        grid_cells=world["cells"],
        notes="沿东园街巡查",
        findings=[FindingInput(description="路口有流动摊贩", address="东园街口", lat=30.005, lng=120.005)],
    )
    inspection = inspection_record(
        unit=shop,
        inspector=liaison,
        outcomes=[
            ItemOutcome(item=i, passed=i.code not in {"ZX01", "YY01"}) for i in ChecklistItem.objects.all()
        ],
    )
    meeting = meeting_record(
        community=community,
        actor=liaison,
        held_at=now - timedelta(days=1),
        title="东园街油烟扰民协调会",
        location="社区二楼会议室",
        attendees="居委会、物业公司、商户代表",
        issues="烧烤店油烟扰民，居民多次投诉",
        resolutions="一周内加装油烟净化器，社区跟踪复查",
    )
    unit = HandlingUnitFactory(district=world["district"], name="幸福街道环卫所")
    for phone in ("13812345678", "13700001111"):
        return_visit_schedule(case=closed_case(community, world["root"], unit, phone=phone))
    paths = {
        "home": "/field/",
        "patrol-new": "/field/patrols/new/",
        "patrols": "/field/patrols/",
        "patrol": f"/field/patrols/{patrol.pk}/",
        "visits": "/field/visits/",
        "meetings": "/field/meetings/",
        "meeting-new": "/field/meetings/new/",
        "meeting": f"/field/meetings/{meeting.pk}/",
        "shops": "/shops/",
        "shop-new": "/shops/new/",
        "shop": f"/shops/{shop.pk}/",
        "inspect": f"/shops/{shop.pk}/inspect/",
        "notice": f"/shops/notices/{inspection.notice.pk}/",
        "reinspect": f"/shops/notices/{inspection.notice.pk}/reinspect/",
    }
    for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = new_page(viewport)
        sign_in(page, "xuncha")
        for name, path in paths.items():
            response = page.goto(path)
            assert response is not None and response.status == 200, path
            # Nothing may be wider than the screen on a phone.
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow}px too wide at {viewport['width']}px"
            screenshot(page, f"{size}-{name}")
        page.emulate_media(media="print")
        page.goto(paths["notice"])
        screenshot(page, f"{size}-notice-print")
        page.goto(paths["meeting"])
        screenshot(page, f"{size}-meeting-print")
