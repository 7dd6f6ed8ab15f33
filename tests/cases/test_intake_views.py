"""The operator's intake desk (受理台): the form, the duplicate hint, the inbox and its actions."""

import io
import re
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from cases import services
from cases.choices import CaseAction, CaseSource, CaseStatus, RejectReason
from cases.models import Case, CaseEvent
from cases.verbs import VERBS
from chengguan import clock
from chengguan.roles import Role
from tests.factories import (
    CaseFactory,
    CommunityFactory,
    DistrictFactory,
    StreetFactory,
    leaf_category,
    staff,
)

pytestmark = pytest.mark.django_db

DESK = reverse("intake:desk")
INBOX = reverse("intake:inbox")
CHECK = reverse("intake:check")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def elsewhere():  # type: ignore[no-untyped-def]
    """A community of another district (its square lies away from the fixtures' ones)."""
    return CommunityFactory(street=StreetFactory(district=DistrictFactory()), origin=(121.0, 31.0))


@pytest.fixture
def foreign_operator(elsewhere):  # type: ignore[no-untyped-def]
    return staff(Role.OPERATOR, scope=elsewhere.street.district)


def report(community, **overrides):  # type: ignore[no-untyped-def]
    data = {
        "idempotency_key": uuid.uuid4().hex,
        "source": CaseSource.HOTLINE_12345.value,
        "reporter_phone": "13900001111",
        "reporter_name": "李四",
        "category": "0102",
        "urgency": "",
        "community": str(community.pk),
        "address": "幸福路12号路口",
        "lat": "",
        "lng": "",
        "description": "路口有流动摊贩占道经营，影响通行",
        "then": "",
    }
    data.update(overrides)
    return data


def action_url(name: str, case: Case) -> str:
    return reverse(f"intake:{name}", args=[case.number])


def message_texts(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


def png(name: str = "photo.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def listed(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [case.number for case in response.context["items"]]


# --- who may use the desk ------------------------------------------------------------


ENDPOINTS_GET = [DESK, INBOX, CHECK]


@pytest.mark.parametrize("url", ENDPOINTS_GET)
def test_anonymous_is_sent_to_login_from_every_page(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("name", ["register", "reject", "merge", "duplicates"])
def test_anonymous_is_sent_to_login_from_every_action(client, community, name):
    case = CaseFactory(community=community)

    response = (
        client.post(action_url(name, case)) if name != "duplicates" else client.get(action_url(name, case))
    )

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REPORTED


def test_anonymous_cannot_file_a_report(client, community):
    response = client.post(DESK, report(community))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert not Case.objects.exists()


@pytest.mark.parametrize("url", ENDPOINTS_GET)
def test_staff_without_the_operator_role_is_refused_every_page(client, community, url):
    client.force_login(staff(Role.LIAISON, scope=community))

    assert client.get(url).status_code == 403


@pytest.mark.parametrize("name", ["register", "reject", "merge"])
def test_staff_without_the_operator_role_is_refused_every_action(client, community, name):
    case = CaseFactory(community=community)
    client.force_login(staff(Role.LIAISON, scope=community))

    response = client.post(action_url(name, case), {"expected_version": case.version, "reason": "invalid"})

    assert response.status_code == 403
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REPORTED


def test_staff_without_the_operator_role_cannot_file(client, community):
    client.force_login(staff(Role.DISPATCHER, scope=community.street.district))

    response = client.post(DESK, report(community))

    assert response.status_code == 403
    assert not Case.objects.exists()


def test_supervisor_gets_the_inbox_but_no_intake_form(client, district, community):
    # Supervisors register (conduct complaints) but do not take reports.
    CaseFactory(community=community)
    client.force_login(staff(Role.SUPERVISOR, scope=district))

    response = client.get(DESK)

    assert response.status_code == 200
    assert response.context["form"] is None
    assert 'id="intake-form"' not in response.content.decode()
    assert len(response.context["items"]) == 1
    assert client.post(DESK, report(community)).status_code == 403


def test_operator_of_another_district_sees_nothing_and_gets_404_on_actions(
    client, community, foreign_operator
):
    case = CaseFactory(community=community)
    client.force_login(foreign_operator)

    response = client.get(DESK)

    assert response.status_code == 200
    assert listed(response) == []
    assert case.number not in response.content.decode()
    assert community.pk not in [c.pk for c in response.context["form"].fields["community"].queryset]
    for name in ("register", "reject", "merge"):
        response = client.post(
            action_url(name, case), {"expected_version": case.version, "reason": "invalid", "note": "x"}
        )
        assert response.status_code == 404
    assert client.get(action_url("duplicates", case)).status_code == 404
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REPORTED


def test_operator_of_another_district_cannot_file_into_our_community(client, community, foreign_operator):
    client.force_login(foreign_operator)

    response = client.post(DESK, report(community))

    assert response.status_code == 200
    assert "community" in response.context["form"].errors
    assert not Case.objects.exists()


def test_operator_of_another_district_is_not_offered_our_cases_as_duplicates(
    client, make_case, community, foreign_operator, elsewhere
):
    make_case()  # in our community, at its centre
    client.force_login(foreign_operator)

    response = client.get(CHECK, {"category": "0102", "lat": "30.005", "lng": "120.005"})

    assert response.context["duplicates"] == []


# --- the intake form ----------------------------------------------------------------


def test_desk_offers_a_fresh_form_with_the_hotline_as_source(client, operator, community):
    client.force_login(operator)

    response = client.get(DESK)

    assert response.status_code == 200
    form = response.context["form"]
    assert form["source"].value() == CaseSource.HOTLINE_12345
    assert uuid.UUID(form["idempotency_key"].value())
    html = response.content.decode()
    assert "autofocus" in html
    assert 'list="intake-categories"' in html
    assert "Ctrl+Enter" in html


def test_desk_page_ids_are_unique(client, operator, community):
    # The intake form and the inbox filters have fields of the same names;
    # the duplicate hint finds its inputs by id.
    CaseFactory(community=community)
    client.force_login(operator)

    html = client.get(DESK).content.decode()

    ids = re.findall(r'\sid="([^"]+)"', html)
    assert sorted({i for i in ids if ids.count(i) > 1}) == []


def test_filing_creates_one_case_with_the_chosen_source_and_the_operator_as_actor(
    client, operator, community
):
    client.force_login(operator)

    response = client.post(DESK, report(community, source=CaseSource.HOTLINE_12319.value))

    case = Case.objects.get()
    assert response.status_code == 302
    assert response.url == f"{DESK}?filed={case.number}"
    assert case.source == CaseSource.HOTLINE_12319
    assert case.status == CaseStatus.REPORTED
    assert case.category == leaf_category("0102")
    assert case.community == community
    assert case.district == community.street.district
    assert case.reporter_phone == "13900001111"
    assert case.reporter_name == "李四"
    event = case.events.get()
    assert event.action == CaseAction.REPORT
    assert event.actor == operator
    # The confirmation shows the tracking code to read out to the caller.
    page = client.get(response.url)
    assert page.context["filed"] == case
    assert case.tracking_code in page.content.decode()


def test_the_next_form_remembers_the_source(client, operator, community):
    client.force_login(operator)
    client.post(DESK, report(community, source=CaseSource.WALK_IN.value))

    response = client.get(DESK)

    assert response.context["form"]["source"].value() == CaseSource.WALK_IN


def test_a_replayed_post_creates_one_case(client, operator, community):
    client.force_login(operator)
    data = report(community)

    first = client.post(DESK, data)
    second = client.post(DESK, data)

    assert Case.objects.count() == 1
    assert first.url == second.url


def test_a_replayed_file_and_register_registers_once(client, operator, community):
    client.force_login(operator)
    data = report(community, then="register")

    client.post(DESK, data)
    response = client.post(DESK, data)

    case = Case.objects.get()
    assert case.status == CaseStatus.REGISTERED
    assert list(case.events.values_list("action", flat=True)) == [CaseAction.REPORT, CaseAction.REGISTER]
    assert message_texts(response) == []


def test_file_and_register_in_one_click(client, operator, community):
    client.force_login(operator)

    client.post(DESK, report(community, then="register"))

    case = Case.objects.get()
    assert case.status == CaseStatus.REGISTERED
    register = case.events.get(action=CaseAction.REGISTER)
    assert register.actor == operator


def test_registering_at_once_needs_a_category(client, operator, community):
    client.force_login(operator)

    response = client.post(DESK, report(community, category="", then="register"))

    assert response.status_code == 200
    assert "category" in response.context["form"].errors
    assert not Case.objects.exists()


def test_an_unsure_category_is_filed_unclassified(client, operator, community):
    client.force_login(operator)

    client.post(DESK, report(community, category="不确定"))

    assert Case.objects.get().category is None


def test_the_category_box_accepts_code_and_name_and_the_listed_label(client, operator, community):
    client.force_login(operator)

    for text in ("0401", "餐饮油烟", "0401 餐饮油烟"):
        client.post(DESK, report(community, category=text))

    assert list(Case.objects.values_list("category__code", flat=True)) == ["0401"] * 3


def test_an_unknown_category_is_refused(client, operator, community):
    client.force_login(operator)

    response = client.post(DESK, report(community, category="外星人"))

    assert "category" in response.context["form"].errors
    assert not Case.objects.exists()


def test_missing_description_and_place_are_refused(client, operator, community):
    client.force_login(operator)

    response = client.post(DESK, report(community, description="", address=""))

    errors = response.context["form"].errors
    assert "description" in errors
    assert "address" in errors
    assert not Case.objects.exists()
    # The same key is kept, so fixing the form and sending it files once.
    assert response.context["form"]["idempotency_key"].value()


def test_coordinates_in_another_community_are_refused(client, operator, community, other_community):
    client.force_login(operator)

    response = client.post(DESK, report(community, lat="30.005", lng="120.025"))

    assert "lat" in response.context["form"].errors
    assert not Case.objects.exists()


def test_coordinates_route_the_case_to_its_grid(client, operator, community):
    client.force_login(operator)

    client.post(DESK, report(community, lat="30.004", lng="120.006", address=""))

    case = Case.objects.get()
    assert (case.lat, case.lng) == (30.004, 120.006)
    assert case.community == community


def test_photos_are_stored_with_the_report(client, operator, community):
    client.force_login(operator)

    client.post(DESK, {**report(community), "photos": [png("a.png"), png("b.png")]})

    assert Case.objects.get().attachments.count() == 2


def test_a_file_that_is_not_a_photo_is_refused_with_the_domain_message(client, operator, community):
    client.force_login(operator)
    fake = SimpleUploadedFile("report.jpg", b"%PDF-1.4 not an image", content_type="image/jpeg")

    response = client.post(DESK, {**report(community), "photos": [fake]})

    assert response.status_code == 200
    assert "report.jpg" in " ".join(response.context["form"].non_field_errors())
    assert not Case.objects.exists()


def test_file_and_merge_into_a_duplicate(client, operator, community, make_case):
    master = make_case(CaseStatus.REGISTERED)
    client.force_login(operator)

    response = client.post(DESK, report(community, merge_into=master.number))

    duplicate = Case.objects.exclude(pk=master.pk).get()
    assert response.url == f"{DESK}?filed={duplicate.number}"
    assert duplicate.status == CaseStatus.REJECTED
    assert duplicate.merged_into == master
    assert duplicate.reject_reason == RejectReason.DUPLICATE
    master.refresh_from_db()
    assert master.report_count == 2
    assert master.events.filter(action=CaseAction.DUPLICATE_ADDED, actor=operator).count() == 1
    assert duplicate.events.filter(action=CaseAction.MERGE, actor=operator).count() == 1


def test_merging_into_a_case_out_of_scope_is_refused_before_filing(client, operator, community, elsewhere):
    master = CaseFactory(community=elsewhere, status=CaseStatus.REGISTERED)
    client.force_login(operator)

    response = client.post(DESK, report(community, merge_into=master.number))

    assert "merge_into" in response.context["form"].errors
    assert Case.objects.count() == 1


def test_a_failed_follow_up_keeps_the_report_and_says_so(client, operator, community, make_case, monkeypatch):
    master = make_case(CaseStatus.REGISTERED)
    client.force_login(operator)
    original = services.case_merge_duplicate

    def merge_after_the_master_closed(*, expected_version=None, **kwargs):  # type: ignore[no-untyped-def]
        # The master closes between the form's check and the merge.
        Case.objects.filter(pk=master.pk).update(status=CaseStatus.CLOSED)
        return original(expected_version=expected_version, **kwargs)

    # The desk merges through the verb table (cases.verbs), as every surface does.
    monkeypatch.setitem(VERBS, "merge", replace(VERBS["merge"], service=merge_after_the_master_closed))

    response = client.post(DESK, report(community, merge_into=master.number))

    duplicate = Case.objects.exclude(pk=master.pk).get()
    assert duplicate.status == CaseStatus.REPORTED
    [warning] = message_texts(response)
    assert duplicate.number in warning


# --- the duplicate hint ------------------------------------------------------------------


def test_duplicate_hint_lists_only_nearby_open_recent_same_category_cases_in_scope(
    client, operator, community, make_case, elsewhere
):
    near = make_case(lat=30.005, lng=120.005)
    also_near = make_case(CaseStatus.DISPATCHED, lat=30.0055, lng=120.0052)
    make_case(category=leaf_category("0201"))  # another category
    make_case(lat=30.005, lng=120.0075)  # about 240 m east
    make_case(CaseStatus.CLOSED)  # closed
    make_case(CaseStatus.REJECTED)  # rejected
    with clock.frozen_at(clock.now() - timedelta(days=8)):
        make_case()  # too old
    CaseFactory(community=elsewhere, lat=30.005, lng=120.005)  # same spot, another district's case
    client.force_login(operator)

    response = client.get(CHECK, {"category": "0102", "community": community.pk}, **HTMX)

    assert response.status_code == 200
    assert [c.number for c in response.context["duplicates"]] == [near.number, also_near.number]
    assert response.context["from_centre"] is True
    html = response.content.decode()
    assert f'name="merge_into" value="{near.number}"' in html


def test_duplicate_hint_uses_the_given_point_before_the_community_centre(
    client, operator, community, make_case
):
    case = make_case(lat=30.009, lng=120.009)
    client.force_login(operator)

    at_centre = client.get(CHECK, {"category": "0102", "community": community.pk})
    at_point = client.get(
        CHECK, {"category": "0102", "community": community.pk, "lat": "30.0091", "lng": "120.0089"}
    )

    assert at_centre.context["duplicates"] == []
    assert [c.number for c in at_point.context["duplicates"]] == [case.number]
    assert at_point.context["from_centre"] is False


def test_duplicate_hint_needs_a_category_and_a_place(client, operator, community, make_case):
    make_case()
    client.force_login(operator)

    assert client.get(CHECK, {"community": community.pk}).context["duplicates"] == []
    assert client.get(CHECK, {"category": "0102"}).context["duplicates"] == []


def test_caller_history_counts_the_reports_from_the_phone(client, operator, community):
    for _ in range(3):
        CaseFactory(community=community, reporter_phone="13911112222")
    CaseFactory(community=community, reporter_phone="13800000000")
    client.force_login(operator)

    response = client.get(CHECK, {"reporter_phone": "13911112222"})

    assert response.context["caller"]["count"] == 3
    assert len(response.context["caller"]["latest"]) == 3


def test_without_script_check_rerenders_the_form_with_the_hint(client, operator, community, make_case):
    master = make_case()
    client.force_login(operator)

    response = client.post(DESK, {**report(community), "check": "1"})

    assert response.status_code == 200
    assert [c.number for c in response.context["duplicates"]] == [master.number]
    assert Case.objects.count() == 1


def test_duplicates_of_a_filed_report_offer_merge_forms(client, operator, make_case):
    master = make_case(CaseStatus.REGISTERED)
    report_ = make_case()
    client.force_login(operator)

    response = client.get(action_url("duplicates", report_), **HTMX)

    assert [c.number for c in response.context["duplicates"]] == [master.number]
    assert action_url("merge", report_) in response.content.decode()
    # Without htmx it is a page of its own.
    assert "<html" in client.get(action_url("duplicates", report_)).content.decode()


# --- the inbox ---------------------------------------------------------------------------


def test_inbox_lists_reported_cases_in_scope_oldest_first(
    client, operator, community, other_community, elsewhere
):
    now = clock.now()
    newer = CaseFactory(community=community, reported_at=now - timedelta(hours=1))
    older = CaseFactory(community=other_community, reported_at=now - timedelta(hours=5))
    CaseFactory(community=community, status=CaseStatus.REGISTERED)
    CaseFactory(community=elsewhere)
    client.force_login(operator)

    for url in (DESK, INBOX):
        response = client.get(url)
        assert listed(response) == [older.number, newer.number]


def test_inbox_shows_the_register_deadline_and_overdue_badge(client, operator, community):
    CaseFactory(community=community, deadline=clock.now() - timedelta(hours=1))
    client.force_login(operator)

    html = client.get(INBOX).content.decode()

    assert "badge--overdue" in html


def test_inbox_is_paginated_by_25(client, operator, community):
    for _ in range(27):
        CaseFactory(community=community)
    client.force_login(operator)

    assert len(listed(client.get(INBOX))) == 25
    assert len(listed(client.get(INBOX, {"page": 2}))) == 2


def test_inbox_search_finds_a_caller_by_phone(client, operator, community):
    mine = CaseFactory(community=community, reporter_phone="13512345678")
    CaseFactory(community=community, reporter_phone="13800000000")
    client.force_login(operator)

    response = client.get(INBOX, {"q": "13512345678"})

    assert listed(response) == [mine.number]


def test_inbox_filters_by_overdue(client, operator, community):
    late = CaseFactory(community=community, deadline=clock.now() - timedelta(hours=1))
    CaseFactory(community=community, deadline=clock.now() + timedelta(hours=1))
    client.force_login(operator)

    assert listed(client.get(INBOX, {"overdue": "true"})) == [late.number]


def test_htmx_inbox_request_gets_the_list_only(client, operator, community):
    CaseFactory(community=community)
    client.force_login(operator)

    html = client.get(INBOX, **HTMX).content.decode()

    assert html.lstrip().startswith('<section id="inbox"')


def test_repeat_caller_count(client, operator, community, elsewhere):
    now = clock.now()
    phone = "13711112222"
    CaseFactory(
        community=community,
        reporter_phone=phone,
        status=CaseStatus.CLOSED,
        reported_at=now - timedelta(days=30),
    )
    CaseFactory(
        community=community,
        reporter_phone=phone,
        status=CaseStatus.REJECTED,
        reported_at=now - timedelta(days=3),
    )
    first = CaseFactory(community=community, reporter_phone=phone, reported_at=now - timedelta(hours=3))
    latest = CaseFactory(community=community, reporter_phone=phone, reported_at=now - timedelta(hours=1))
    CaseFactory(
        community=elsewhere, reporter_phone=phone, reported_at=now - timedelta(days=1)
    )  # out of scope
    silent = CaseFactory(community=community, reporter_phone="", reported_at=now - timedelta(hours=2))
    client.force_login(operator)

    response = client.get(INBOX)

    counts = {case.number: case.earlier_reports for case in response.context["items"]}
    assert counts == {first.number: 2, silent.number: 0, latest.number: 3}
    assert "badge--repeat" in response.content.decode()


@pytest.mark.parametrize("reports", [3, 20])
def test_inbox_query_count_does_not_grow_with_the_reports(
    client, operator, community, other_community, django_assert_max_num_queries, reports
):
    for n in range(reports):
        CaseFactory(
            community=community if n % 2 else other_community,
            reporter_phone=f"1390000{n % 4:04d}",
            # One without a category: its "Correct first" panel (the community choice) is shown at once.
            category=None if n == 0 else leaf_category("0102" if n % 3 else "0401"),
        )
    client.force_login(operator)
    client.get(INBOX)  # warm the session and caches as a second request would

    with django_assert_max_num_queries(10):
        response = client.get(INBOX)

    assert len(response.context["items"]) == reports


def test_desk_query_count_does_not_grow_with_the_reports(
    client, operator, community, django_assert_max_num_queries
):
    for _ in range(20):
        CaseFactory(community=community, reporter_phone="13900001234")
    client.force_login(operator)

    # (one of them the officers a report may complain about, for the form's list)
    with django_assert_max_num_queries(13):
        client.get(DESK)


# --- inbox actions -------------------------------------------------------------------------


def test_register_from_the_inbox(client, operator, community):
    case = CaseFactory(community=community)
    client.force_login(operator)

    response = client.post(action_url("register", case), {"expected_version": case.version, "next": INBOX})

    assert response.status_code == 302
    assert response.url == INBOX
    case.refresh_from_db()
    assert case.status == CaseStatus.REGISTERED
    event = case.events.get()
    assert (event.action, event.actor) == (CaseAction.REGISTER, operator)


def test_register_with_corrections(client, operator, community, other_community):
    case = CaseFactory(community=community)
    client.force_login(operator)

    client.post(
        action_url("register", case),
        {
            "expected_version": case.version,
            "category": "0401 餐饮油烟",
            "urgency": "urgent",
            "community": other_community.pk,
            "note": "来电人补充：油烟来自二楼餐馆",
        },
    )

    case.refresh_from_db()
    assert case.status == CaseStatus.REGISTERED
    assert case.category == leaf_category("0401")
    assert case.urgency == "urgent"
    assert case.community == other_community
    assert case.events.get().note == "来电人补充：油烟来自二楼餐馆"


def test_register_over_htmx_swaps_the_item(client, operator, community):
    case = CaseFactory(community=community)
    client.force_login(operator)

    response = client.post(action_url("register", case), {"expected_version": case.version}, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<li class="intake-item intake-item--done"')
    assert case.number in html
    assert message_texts(response) == []


def test_an_unclassified_report_needs_a_category_to_register(client, operator, community):
    case = CaseFactory(community=community, category=None)
    client.force_login(operator)

    response = client.post(action_url("register", case), {"expected_version": case.version}, **HTMX)

    assert response.status_code == 400
    assert "intake-item--error" in response.content.decode()
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REPORTED


def test_reject_from_the_inbox(client, operator, community):
    case = CaseFactory(community=community)
    client.force_login(operator)

    client.post(
        action_url("reject", case),
        {"expected_version": case.version, "reason": RejectReason.OUT_OF_AREA, "note": "属于邻区管辖"},
    )

    case.refresh_from_db()
    assert case.status == CaseStatus.REJECTED
    assert case.reject_reason == RejectReason.OUT_OF_AREA
    event = case.events.get()
    assert (event.action, event.actor, event.note) == (CaseAction.REJECT, operator, "属于邻区管辖")


def test_reject_without_the_note_shows_the_domain_message(client, operator, community):
    case = CaseFactory(community=community)
    client.force_login(operator)

    response = client.post(
        action_url("reject", case), {"expected_version": case.version, "reason": "invalid"}
    )

    assert Case.objects.get(pk=case.pk).status == CaseStatus.REPORTED
    [error] = message_texts(response)
    assert case.number in error


def test_merge_from_the_inbox_by_number(client, operator, community, make_case):
    master = make_case(CaseStatus.DISPATCHED)
    case = make_case()
    client.force_login(operator)

    client.post(
        action_url("merge", case), {"expected_version": case.version, "master": master.number.lower()}
    )

    case.refresh_from_db()
    master.refresh_from_db()
    assert case.status == CaseStatus.REJECTED
    assert case.merged_into == master
    assert case.events.get(action=CaseAction.MERGE).actor == operator
    assert master.report_count == 2
    assert master.events.filter(action=CaseAction.DUPLICATE_ADDED).count() == 1


def test_merge_into_an_unknown_or_foreign_case_is_refused(client, operator, community, elsewhere):
    case = CaseFactory(community=community)
    foreign = CaseFactory(community=elsewhere, status=CaseStatus.REGISTERED)
    client.force_login(operator)

    for number in ("CG-00000000-000000", foreign.number):
        response = client.post(
            action_url("merge", case), {"expected_version": case.version, "master": number}
        )
        assert number in message_texts(response)[-1]
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REPORTED


def test_merge_into_a_closed_case_shows_the_domain_message(client, operator, community, make_case):
    closed = make_case(CaseStatus.CLOSED)
    case = make_case()
    client.force_login(operator)

    response = client.post(
        action_url("merge", case), {"expected_version": case.version, "master": closed.number}, **HTMX
    )

    assert response.status_code == 400
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REPORTED


def test_registering_a_rejected_case_shows_the_domain_error_and_changes_nothing(client, operator, community):
    case = CaseFactory(community=community, status=CaseStatus.REJECTED)
    client.force_login(operator)
    events_before = CaseEvent.objects.count()

    response = client.post(action_url("register", case), {"expected_version": case.version})

    [error] = message_texts(response)
    assert "不能进行" in error  # 案件当前为“…”，不能进行“…”操作。
    case_after = Case.objects.get(pk=case.pk)
    assert case_after.status == CaseStatus.REJECTED
    assert case_after.version == case.version
    assert CaseEvent.objects.count() == events_before


def test_forbidden_transition_over_htmx_is_a_conflict_with_the_message_inline(client, operator, community):
    case = CaseFactory(community=community, status=CaseStatus.REGISTERED)
    client.force_login(operator)

    response = client.post(
        action_url("reject", case),
        {"expected_version": case.version, "reason": "invalid", "note": "x"},
        **HTMX,
    )

    assert response.status_code == 409
    html = response.content.decode()
    assert "不能进行" in html
    # The item is shown as the case now is, without actions on it.
    assert action_url("reject", case) not in html


def test_a_stale_version_gets_a_clear_message(client, operator, community):
    case = CaseFactory(community=community)
    client.force_login(operator)
    services.case_add_co_reporter(case=case, phone="13600001111")  # someone else changed it

    response = client.post(action_url("register", case), {"expected_version": case.version})

    [error] = message_texts(response)
    assert "其他人修改了这条记录" in error
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REPORTED


def test_a_stale_version_over_htmx_returns_the_fresh_item(client, operator, community):
    case = CaseFactory(community=community)
    client.force_login(operator)
    services.case_add_co_reporter(case=case, phone="13600001111")

    response = client.post(action_url("register", case), {"expected_version": case.version}, **HTMX)

    assert response.status_code == 409
    assert f'name="expected_version" value="{case.version + 1}"' in response.content.decode()


def test_action_redirect_ignores_a_foreign_next(client, operator, community):
    case = CaseFactory(community=community)
    client.force_login(operator)

    response = client.post(
        action_url("register", case), {"expected_version": case.version, "next": "https://evil.example/"}
    )

    assert response.url == INBOX


def test_actions_need_post(client, operator, community):
    case = CaseFactory(community=community)
    client.force_login(operator)

    assert client.get(action_url("register", case)).status_code == 405
