"""Staff case pages: the list (gate + FilterSet + pagination) and the detail with its timeline."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.choices import CaseStatus, Urgency
from chengguan.roles import Role
from tests.factories import CaseFactory, CommunityFactory, leaf_category, staff

pytestmark = pytest.mark.django_db


def list_url(query: str = "") -> str:
    return reverse("cases:list") + (f"?{query}" if query else "")


def detail_url(case) -> str:  # type: ignore[no-untyped-def]
    return reverse("cases:detail", args=[case.number])


def listed(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [case.number for case in response.context["page_obj"].object_list]


# --- anonymous ---------------------------------------------------------------


def test_anonymous_is_sent_to_login_from_the_list(client):
    response = client.get(list_url())

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={list_url()}"


def test_anonymous_is_sent_to_login_from_a_detail(client, community):
    case = CaseFactory(community=community)

    response = client.get(detail_url(case))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


# --- unscoped staff --------------------------------------------------------


def test_unscoped_staff_sees_an_empty_list(client, community):
    CaseFactory(community=community)
    client.force_login(staff(Role.OPERATOR))

    response = client.get(list_url())

    assert response.status_code == 200
    assert listed(response) == []
    assert "您的工作范围内没有案件" in response.content.decode()


def test_unscoped_staff_gets_404_on_a_detail(client, community):
    case = CaseFactory(community=community)
    client.force_login(staff(Role.OPERATOR))

    response = client.get(detail_url(case))

    assert response.status_code == 404
    assert "不在您的工作范围内" in response.content.decode()


def test_user_without_a_role_sees_nothing_even_in_scope(client, community):
    case = CaseFactory(community=community)
    user = staff(Role.LIAISON, scope=community)
    user.groups.clear()
    client.force_login(user)

    assert listed(client.get(list_url())) == []
    assert client.get(detail_url(case)).status_code == 404


# --- scoped staff ------------------------------------------------------------


def test_liaison_sees_only_the_cases_of_their_community(client, community, other_community):
    mine = CaseFactory(community=community)
    theirs = CaseFactory(community=other_community)
    client.force_login(staff(Role.LIAISON, scope=community))

    response = client.get(list_url())

    assert response.status_code == 200
    assert listed(response) == [mine.number]
    html = response.content.decode()
    assert detail_url(mine) in html
    assert theirs.number not in html


def test_liaison_of_community_a_gets_404_on_a_case_of_community_b(client, community, other_community):
    mine = CaseFactory(community=community)
    theirs = CaseFactory(community=other_community)
    client.force_login(staff(Role.LIAISON, scope=community))

    assert client.get(detail_url(mine)).status_code == 200
    assert client.get(detail_url(theirs)).status_code == 404


def test_district_supervisor_sees_every_community_of_the_district(
    client, district, community, other_community
):
    elsewhere = CaseFactory(community=CommunityFactory())  # another district
    cases = [CaseFactory(community=community), CaseFactory(community=other_community)]
    client.force_login(staff(Role.SUPERVISOR, scope=district))

    response = client.get(list_url())

    assert sorted(listed(response)) == sorted(c.number for c in cases)
    assert client.get(detail_url(elsewhere)).status_code == 404


def test_conduct_complaint_is_hidden_from_the_officer_complained_about(client, community):
    liaison = staff(Role.LIAISON, scope=community)
    complaint = CaseFactory(community=community, subject_officer=liaison)
    client.force_login(liaison)

    assert listed(client.get(list_url())) == []
    assert client.get(detail_url(complaint)).status_code == 404


# --- personal data -----------------------------------------------------------


def test_handling_unit_sees_the_reporter_masked(client, community, unit):
    case = CaseFactory(
        community=community,
        handling_unit=unit,
        status=CaseStatus.DISPATCHED,
        reporter_name="张三",
        reporter_phone="13812341234",
    )
    client.force_login(staff(Role.HANDLING_UNIT, scope=unit))

    html = client.get(detail_url(case)).content.decode()

    assert "138****1234" in html
    assert "张*" in html
    assert "13812341234" not in html
    assert "张三" not in html


def test_operator_sees_the_reporter_in_full(client, district, community):
    case = CaseFactory(community=community, reporter_name="张三", reporter_phone="13812341234")
    client.force_login(staff(Role.OPERATOR, scope=district))

    html = client.get(detail_url(case)).content.decode()

    assert "13812341234" in html
    assert "张三" in html
    assert "138****1234" not in html


# --- detail and timeline ------------------------------------------------------


def test_detail_shows_the_timeline_from_case_events(client, district, make_case):
    case = make_case(CaseStatus.DISPATCHED)
    client.force_login(staff(Role.DISPATCHER, scope=district))

    response = client.get(detail_url(case))

    assert response.status_code == 200
    assert [e.action for e in response.context["timeline"]] == ["report", "register", "dispatch"]
    html = response.content.decode()
    for label in ("已上报", "已立案", "已派遣"):
        assert label in html
    assert case.handling_unit.name in html  # the dispatch event names the handler
    assert "已立案 → 已派遣" in html


def test_timeline_shows_photos_with_links(client, district, make_case, superuser):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from cases import services

    def photo(name: str) -> SimpleUploadedFile:
        import io

        buffer = io.BytesIO()
        Image.new("RGB", (40, 30), "green").save(buffer, format="JPEG")
        return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")

    case = make_case(CaseStatus.IN_PROGRESS)
    services.case_submit_result(case=case, actor=superuser, result="已清理完毕", photos=[photo("after.jpg")])
    client.force_login(staff(Role.SUPERVISOR, scope=district))

    html = client.get(detail_url(case)).content.decode()

    attachment = case.attachments.get()
    assert f'href="{attachment.file.url}"' in html
    assert f'src="{attachment.file.url}"' in html
    assert "已清理完毕" in html


# --- filters ------------------------------------------------------------------


@pytest.fixture
def supervisor_client(client, district):  # type: ignore[no-untyped-def]
    client.force_login(staff(Role.SUPERVISOR, scope=district))
    return client


def test_filter_by_several_statuses(supervisor_client, community):
    reported = CaseFactory(community=community, status=CaseStatus.REPORTED)
    dispatched = CaseFactory(community=community, status=CaseStatus.DISPATCHED)
    CaseFactory(community=community, status=CaseStatus.CLOSED)

    response = supervisor_client.get(list_url("status=reported&status=dispatched"))

    assert sorted(listed(response)) == sorted([reported.number, dispatched.number])


def test_search_by_number_tracking_code_and_description(supervisor_client, community):
    case = CaseFactory(community=community, description="小区北门垃圾堆放")
    CaseFactory(community=community, description="噪声扰民")

    assert listed(supervisor_client.get(list_url(f"q={case.number[-6:]}"))) == [case.number]
    assert listed(supervisor_client.get(list_url(f"q={case.tracking_code.lower()}"))) == [case.number]
    assert listed(supervisor_client.get(list_url("q=北门"))) == [case.number]


def test_parent_category_matches_its_subcategories(supervisor_client, community):
    vendor = CaseFactory(community=community, category=leaf_category("0102"))
    CaseFactory(community=community, category=leaf_category("0401"))
    street_order = leaf_category("0102").parent

    assert listed(supervisor_client.get(list_url(f"category={street_order.pk}"))) == [vendor.number]
    assert listed(supervisor_client.get(list_url(f"category={vendor.category_id}"))) == [vendor.number]


def test_filter_by_source_urgency_and_community(supervisor_client, community, other_community):
    target = CaseFactory(community=community, source="hotline_12345", urgency=Urgency.URGENT)
    CaseFactory(community=community, source="hotline_12345")
    CaseFactory(community=other_community, source="hotline_12345", urgency=Urgency.URGENT)

    response = supervisor_client.get(
        list_url(f"source=hotline_12345&urgency=urgent&community={community.pk}")
    )

    assert listed(response) == [target.number]


def test_filter_by_reported_date_range(supervisor_client, community):
    now = timezone.now()
    old = CaseFactory(community=community, reported_at=now - timedelta(days=10))
    new = CaseFactory(community=community, reported_at=now)
    since = timezone.localdate() - timedelta(days=1)

    assert listed(supervisor_client.get(list_url(f"reported_at_after={since:%Y-%m-%d}"))) == [new.number]
    until = timezone.localdate() - timedelta(days=5)
    assert listed(supervisor_client.get(list_url(f"reported_at_before={until:%Y-%m-%d}"))) == [old.number]


def test_filter_overdue(supervisor_client, community):
    now = timezone.now()
    late = CaseFactory(community=community, status=CaseStatus.DISPATCHED, deadline=now - timedelta(hours=1))
    on_time = CaseFactory(
        community=community, status=CaseStatus.DISPATCHED, deadline=now + timedelta(hours=1)
    )
    no_deadline = CaseFactory(community=community, status=CaseStatus.CLOSED, deadline=None)

    assert listed(supervisor_client.get(list_url("overdue=true"))) == [late.number]
    not_overdue = listed(supervisor_client.get(list_url("overdue=false")))
    assert sorted(not_overdue) == sorted([on_time.number, no_deadline.number])
    html = supervisor_client.get(list_url("overdue=true")).content.decode()
    assert "已超期" in html


def test_community_choices_stay_inside_the_scope(client, community, other_community):
    elsewhere = CommunityFactory()  # in another district
    client.force_login(staff(Role.LIAISON, scope=community))

    response = client.get(list_url())

    choices = list(response.context["filterset"].form.fields["community"].queryset)
    assert community in choices
    assert elsewhere not in choices


def test_invalid_filter_values_show_an_error_and_do_not_crash(supervisor_client, community):
    CaseFactory(community=community)

    response = supervisor_client.get(list_url("reported_at_after=not-a-date&status=bogus"))

    assert response.status_code == 200
    assert response.context["filterset"].form.errors


# --- pagination and query count ----------------------------------------------


def test_pages_of_25_keep_the_filters(supervisor_client, community):
    CaseFactory.create_batch(30, community=community, status=CaseStatus.REPORTED)
    CaseFactory(community=community, status=CaseStatus.CLOSED)

    first = supervisor_client.get(list_url("status=reported"))
    second = supervisor_client.get(list_url("status=reported&page=2"))

    assert len(listed(first)) == 25
    assert len(listed(second)) == 5
    assert "?status=reported&amp;page=2" in first.content.decode()
    assert "?status=reported&amp;page=1" in second.content.decode()


def test_list_query_count_does_not_grow_with_the_cases(
    client, district, community, unit, django_assert_max_num_queries
):
    supervisor = staff(Role.SUPERVISOR, scope=district)
    client.force_login(supervisor)

    def create(n: int) -> None:
        for _ in range(n):
            CaseFactory(
                community=community,
                handling_unit=unit,
                status=CaseStatus.DISPATCHED,
                deadline=timezone.now() - timedelta(hours=1),
            )

    create(5)
    client.get(list_url())  # warm the content-type cache
    with CaptureQueriesContext(connection) as five:
        response = client.get(list_url())
    assert len(listed(response)) == 5

    create(20)
    with django_assert_max_num_queries(len(five)), CaptureQueriesContext(connection) as twenty_five:
        response = client.get(list_url())
    assert len(listed(response)) == 25
    assert len(twenty_five) == len(five)
