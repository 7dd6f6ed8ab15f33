"""门前三包 pages: shops, inspections, printable rectification notices and re-inspection.

Every page and POST is tried as anonymous, as staff without the liaison role,
as a liaison of another community of the same district, as the scoped
liaison and as the district supervisor.
"""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from cases.choices import CaseSource, CaseStatus
from inspections.choices import NoticeStatus
from inspections.models import Agreement, ChecklistItem, Inspection, RectificationNotice, ResponsibilityUnit
from inspections.services import ItemOutcome, inspection_record
from tests.factories import GridCellFactory
from tests.fieldwork import query_count, zh

pytestmark = pytest.mark.django_db

UUID = "5d1c1e0a-3f0b-4a51-9d7e-0c8b7a6f5e4d"


def make_shop(community, name="老王烧烤", **kwargs):  # type: ignore[no-untyped-def]
    return ResponsibilityUnit.objects.create(
        name=name,
        address=kwargs.pop("address", "东园街248号"),
        community=community,
        lat=30.005,
        lng=120.005,
        contact_name="王老板",
        contact_phone="13900002222",
        licence_number="91330100MA2XXXXX1",
        **kwargs,
    )


def failing(*codes: str) -> list[ItemOutcome]:
    return [ItemOutcome(item=item, passed=item.code not in codes) for item in ChecklistItem.objects.all()]


def checklist_data(failed=(), **extra):  # type: ignore[no-untyped-def]
    data = {"client_uuid": UUID, "notes": "", "requirements": ""}
    for item in ChecklistItem.objects.filter(is_active=True):
        data[f"item_{item.pk}"] = "fail" if item.code in failed else "pass"
        data[f"note_{item.pk}"] = "店外摆放烧烤炉" if item.code in failed else ""
    data.update(extra)
    return data


@pytest.fixture
def shop(community):  # type: ignore[no-untyped-def]
    return make_shop(community)


@pytest.fixture
def notice(shop, liaison):  # type: ignore[no-untyped-def]
    return inspection_record(unit=shop, inspector=liaison, outcomes=failing("ZX01")).notice


def pages(shop, notice):  # type: ignore[no-untyped-def]
    return {
        "shop_list": reverse("inspections:shop_list"),
        "shop_new": reverse("inspections:shop_new"),
        "shop_detail": reverse("inspections:shop_detail", args=[shop.pk]),
        "shop_inspect": reverse("inspections:shop_inspect", args=[shop.pk]),
        "notice_detail": reverse("inspections:notice_detail", args=[notice.pk]),
        "notice_reinspect": reverse("inspections:notice_reinspect", args=[notice.pk]),
    }


POSTS = ("shop_new", "shop_inspect", "notice_reinspect")


# --- who gets in --------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_sign_in(client, shop, notice):
    for name, url in pages(shop, notice).items():
        response = client.get(url)
        assert response.status_code == 302 and response.url == f"{reverse('login')}?next={url}", name
        if name in POSTS:
            assert client.post(url, {}).status_code == 302, name
    assert Inspection.objects.count() == 1


def test_staff_without_the_liaison_role_are_refused(client, shop, notice, operator):
    client.force_login(operator)
    for name, url in pages(shop, notice).items():
        assert client.get(url).status_code == 403, name
        if name in POSTS:
            assert client.post(url, {}).status_code == 403, name


def test_a_liaison_of_another_community_finds_nothing_of_this_one(client, shop, notice, outsider, community):
    client.force_login(outsider)
    urls = pages(shop, notice)
    for name in ("shop_detail", "shop_inspect", "notice_detail", "notice_reinspect"):
        assert client.get(urls[name]).status_code == 404, name
    assert client.post(urls["shop_inspect"], checklist_data(failed=["HW01"])).status_code == 404
    assert client.post(urls["notice_reinspect"], {"client_uuid": UUID, "rectified": "no"}).status_code == 404
    listing = client.get(urls["shop_list"])
    assert listing.status_code == 200 and listing.context["page_obj"].paginator.count == 0
    home = client.get(reverse("liaisons:home")).content.decode()
    assert notice.number not in home
    # Nor can they register a shop in this community.
    response = client.post(
        urls["shop_new"], {"name": "越界小店", "kind": "shop", "community": community.pk, "address": "某路"}
    )
    assert response.status_code == 400 and "community" in response.context["form"].errors
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.ISSUED
    assert Inspection.objects.count() == 1
    assert not ResponsibilityUnit.objects.filter(name="越界小店").exists()


def test_the_scoped_liaison_sees_every_page(client, shop, notice, liaison):
    client.force_login(liaison)
    for name, url in pages(shop, notice).items():
        assert client.get(url).status_code == 200, name


def test_the_district_supervisor_reads_but_does_not_inspect(client, shop, notice, supervisor):
    client.force_login(supervisor)
    urls = pages(shop, notice)
    for name in ("shop_list", "shop_detail", "notice_detail"):
        assert client.get(urls[name]).status_code == 200, name
    for name in POSTS:
        assert client.get(urls[name]).status_code == 403, name
        assert client.post(urls[name], {}).status_code == 403, name
    detail = client.get(urls["shop_detail"]).content.decode()
    assert urls["shop_inspect"] not in detail
    assert urls["notice_reinspect"] not in client.get(urls["notice_detail"]).content.decode()


# --- shops ---------------------------------------------------------------------------------------


def test_the_shop_list_filters_by_name_community_and_open_notice(client, liaison, community, shop, notice):
    quiet = make_shop(community, name="张记便利店", address="东园街250号")
    client.force_login(liaison)
    url = reverse("inspections:shop_list")

    def listed(query: str = "") -> list[str]:
        return [s.name for s in client.get(f"{url}?{query}").context["page_obj"].object_list]

    assert listed() == sorted([shop.name, quiet.name])
    assert listed("q=便利") == [quiet.name]
    assert listed("q=91330100") == sorted([shop.name, quiet.name])
    assert listed("has_open_notice=true") == [shop.name]
    assert listed("has_open_notice=false") == [quiet.name]
    assert listed(f"community={community.pk}") == sorted([shop.name, quiet.name])


def test_the_shop_list_costs_the_same_queries_for_more_shops(
    django_assert_max_num_queries, client, liaison, community, shop, notice
):
    client.force_login(liaison)
    url = reverse("inspections:shop_list")
    few = query_count(client, url)
    for n in range(30):
        other = make_shop(community, name=f"商户{n:02d}")
        if n % 3 == 0:
            inspection_record(unit=other, inspector=liaison, outcomes=failing("HW01"))
    with django_assert_max_num_queries(few):
        response = client.get(url)
    assert response.context["page_obj"].paginator.num_pages == 2


def test_registering_a_shop(client, liaison, community, cells):
    client.force_login(liaison)

    response = client.post(
        reverse("inspections:shop_new"),
        {
            "name": "李姐早餐",
            "kind": "restaurant",
            "community": community.pk,
            "grid_cell": cells[1].pk,
            "address": "东园街18号",
            "lat": "30.004",
            "lng": "120.006",
            "contact_name": "李姐",
            "contact_phone": "13700001111",
            "licence_number": "JY12345",
        },
    )

    shop = ResponsibilityUnit.objects.get(name="李姐早餐")
    assert response.status_code == 302 and response.url == reverse("inspections:shop_detail", args=[shop.pk])
    assert shop.community == community and shop.grid_cell == cells[1] and shop.lat == 30.004


def test_a_shop_needs_a_cell_of_its_community_and_a_real_phone(client, liaison, community, other_community):
    foreign_cell = GridCellFactory(community=other_community)
    client.force_login(liaison)

    response = client.post(
        reverse("inspections:shop_new"),
        {
            "name": "李姐早餐",
            "kind": "restaurant",
            "community": community.pk,
            "grid_cell": foreign_cell.pk,
            "address": "东园街18号",
            "contact_phone": "abc",
            "lat": "30.004",
        },
    )

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"grid_cell", "contact_phone", "lng"} <= set(errors)
    assert "李姐早餐" in response.content.decode()
    assert not ResponsibilityUnit.objects.filter(name="李姐早餐").exists()


def test_the_shop_page_shows_agreements_inspections_and_notices(client, liaison, shop, notice):
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
    client.force_login(liaison)

    page = client.get(reverse("inspections:shop_detail", args=[shop.pk])).content.decode()

    assert "MQSB-2026-001" in page and notice.number in page
    assert reverse("inspections:shop_inspect", args=[shop.pk]) in page


# --- inspecting -----------------------------------------------------------------------------------


def test_the_inspection_form_lists_every_active_item_by_group(client, liaison, shop):
    ChecklistItem.objects.filter(code="HW01").update(is_active=False)
    client.force_login(liaison)

    response = client.get(reverse("inspections:shop_inspect", args=[shop.pk]))

    form = response.context["form"]
    active = set(ChecklistItem.objects.filter(is_active=True).values_list("pk", flat=True))
    assert {item.pk for item in form.items} == active
    assert len(form.groups()) >= 3
    page = response.content.decode()
    assert "油烟" in page and f'name="item_{ChecklistItem.objects.get(code="HW01").pk}"' not in page


def test_a_failed_item_issues_a_notice_shown_at_once(client, liaison, shop):
    client.force_login(liaison)

    response = client.post(
        reverse("inspections:shop_inspect", args=[shop.pk]),
        checklist_data(failed=["ZX01"], notes="复查前再来"),
    )

    notice = RectificationNotice.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "inspections:notice_detail", args=[notice.pk]
    )
    assert list(notice.failed_items.values_list("code", flat=True)) == ["ZX01"]
    assert notice.inspection.results.get(item__code="ZX01").note == "店外摆放烧烤炉"
    page = client.get(response.url).content.decode()
    assert notice.number in page and shop.name in page and "店外摆放烧烤炉" in page


def test_a_clean_inspection_issues_nothing_and_a_replay_inspects_once(client, liaison, shop):
    client.force_login(liaison)
    url = reverse("inspections:shop_inspect", args=[shop.pk])

    first = client.post(url, checklist_data())
    again = client.post(url, checklist_data(failed=["ZX01"]))

    assert first.status_code == again.status_code == 302
    assert first.url == reverse("inspections:shop_detail", args=[shop.pk])
    assert Inspection.objects.count() == 1 and Inspection.objects.get().passed
    assert not RectificationNotice.objects.exists()


def test_the_requirements_can_be_written_for_the_notice(client, liaison, shop):
    client.force_login(liaison)

    client.post(
        reverse("inspections:shop_inspect", args=[shop.pk]),
        checklist_data(failed=["ZX01"], requirements="立即撤回店外烧烤炉"),
    )

    assert RectificationNotice.objects.get().requirements == "立即撤回店外烧烤炉"


def test_a_bad_checklist_answer_is_refused(client, liaison, shop):
    client.force_login(liaison)
    item = ChecklistItem.objects.filter(is_active=True).first()

    response = client.post(
        reverse("inspections:shop_inspect", args=[shop.pk]), checklist_data(**{f"item_{item.pk}": "maybe"})
    )

    assert response.status_code == 400
    assert not Inspection.objects.exists()


# --- the printable notice and the re-inspection -------------------------------------------------------


def test_the_notice_prints_as_a_rectification_notice(client, liaison, shop, notice):
    client.force_login(liaison)

    page = client.get(reverse("inspections:notice_detail", args=[notice.pk])).content.decode()

    item = ChecklistItem.objects.get(code="ZX01")
    for text in (
        notice.number,
        shop.name,
        shop.address,
        item.name,
        timezone.localtime(notice.deadline).strftime("%Y-%m-%d %H:%M"),
    ):
        assert text in page
    assert 'class="fw-paper"' in page and "fw-signatures" in page and "data-print" in page
    assert zh("Inspector (signature)") in page


def test_not_rectified_files_a_case_linked_from_the_notice(client, liaison, shop, notice):
    with time_machine.travel(notice.deadline + timedelta(hours=1), tick=False):
        client.force_login(liaison)  # sessions last 8 hours from sign-in
        response = client.post(
            reverse("inspections:notice_reinspect", args=[notice.pk]),
            {"client_uuid": UUID, "rectified": "no", "notes": "烧烤炉仍在店外"},
        )

    notice.refresh_from_db()
    assert response.status_code == 302 and response.url == reverse(
        "inspections:notice_detail", args=[notice.pk]
    )
    assert notice.status == NoticeStatus.NOT_RECTIFIED
    assert notice.case.source == CaseSource.INSPECTION and notice.case.status == CaseStatus.REPORTED
    page = client.get(response.url).content.decode()
    assert reverse("cases:detail", args=[notice.case.number]) in page
    # The settled notice takes no second re-inspection.
    again = client.get(reverse("inspections:notice_reinspect", args=[notice.pk]))
    assert again.status_code == 302


def test_rectified_settles_the_notice(client, liaison, shop, notice):
    client.force_login(liaison)

    client.post(
        reverse("inspections:notice_reinspect", args=[notice.pk]), {"client_uuid": UUID, "rectified": "yes"}
    )

    notice.refresh_from_db()
    assert notice.status == NoticeStatus.RECTIFIED and notice.case is None


def test_the_re_inspection_needs_an_answer(client, liaison, shop, notice):
    client.force_login(liaison)

    response = client.post(reverse("inspections:notice_reinspect", args=[notice.pk]), {"client_uuid": UUID})

    assert response.status_code == 400
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.ISSUED


def test_due_re_inspections_show_on_the_liaisons_home(client, liaison, shop, notice):
    with time_machine.travel(notice.deadline + timedelta(hours=1), tick=False):
        client.force_login(liaison)  # sessions last 8 hours from sign-in
        page = client.get(reverse("liaisons:home")).content.decode()

    assert notice.number in page
    assert reverse("inspections:notice_reinspect", args=[notice.pk]) in page
