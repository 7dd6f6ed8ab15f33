"""Residents' personal data in the case history, and a signed-in resident's home page.

A resident's account that acted on a case (reported it, added themselves to
it, rated it) is personal data: roles without `cases.view_reporter_contact`
see it masked, as they see the reporter block; its username is never shown.
Staff who acted keep their names. A resident signed in sees their own reports.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.choices import CaseAction, CaseSource, CaseStatus
from cases.models import Case
from chengguan.roles import Role
from tests.api import as_user
from tests.factories import CaseFactory, UserFactory, leaf_category, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def resident():  # type: ignore[no-untyped-def]
    return UserFactory(username="songxiuying", name="宋秀英", phone="13900001111")


@pytest.fixture
def handler(unit):  # type: ignore[no-untyped-def]
    """A handling-unit user: sees the cases dispatched to the unit, not reporters' contact details."""
    return staff(Role.HANDLING_UNIT, scope=unit)


@pytest.fixture
def dispatched(resident, supervisor, unit) -> Case:  # type: ignore[no-untyped-def]
    """A case the resident reported from their account, registered and dispatched by a supervisor."""
    case = services.case_report(
        actor=resident,
        reporter=resident,
        source=CaseSource.WEB,
        description="小区门口有流动摊贩占道经营",
        category=leaf_category(),
        lat=30.005,
        lng=120.005,
        reporter_name=resident.name,
        reporter_phone=resident.phone,
    )
    case = services.case_register(case=case, actor=supervisor)
    case = services.case_dispatch(case=case, actor=supervisor, handling_unit=unit)
    return Case.objects.get(pk=case.pk)


def detail_html(client, user, case: Case) -> str:  # type: ignore[no-untyped-def]
    client.force_login(user)
    response = client.get(reverse("cases:detail", args=[case.number]))
    assert response.status_code == 200
    return str(response.content.decode())


def timeline_part(html: str) -> str:
    return html[html.index('<ol class="timeline">') :]


# --- the case page's timeline ----------------------------------------------------------------------


def test_timeline_masks_the_resident_for_a_role_without_contact_access(
    client, dispatched, handler, supervisor
):
    timeline = timeline_part(detail_html(client, handler, dispatched))

    assert "宋**" in timeline
    assert "宋秀英" not in timeline
    assert "songxiuying" not in timeline
    # Staff who acted keep their names.
    assert supervisor.display_name in timeline


def test_timeline_names_the_resident_for_a_role_with_contact_access(client, dispatched, supervisor):
    timeline = timeline_part(detail_html(client, supervisor, dispatched))

    assert "宋秀英" in timeline
    assert "songxiuying" not in timeline


def test_timeline_calls_a_resident_without_a_name_the_reporter(client, dispatched, resident, handler):
    resident.name = ""
    resident.save(update_fields=["name"])

    timeline = timeline_part(detail_html(client, handler, dispatched))

    assert "反映人" in timeline
    assert "songxiuying" not in timeline


def test_timeline_queries_do_not_grow_with_residents_who_acted(client, dispatched, handler):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            detail_html(client, handler, dispatched)
        return len(queries.captured_queries)

    count()  # warm caches
    before = count()
    for n in range(3):
        neighbour = UserFactory(name=f"邻居{n}号")
        services.case_add_co_reporter(
            case=dispatched, name=neighbour.name, phone=f"1390000200{n}", user=neighbour
        )

    assert count() == before
    timeline = timeline_part(detail_html(client, handler, dispatched))
    assert "邻***" in timeline and "邻居0号" not in timeline


# --- the API --------------------------------------------------------------------------------------


def actors(rows: list[dict], action: str) -> list[dict | None]:  # type: ignore[type-arg]
    return [row["actor"] for row in rows if row["action"] == action]


def test_api_masks_the_resident_actor_without_contact_access(dispatched, handler, supervisor):
    client = as_user(handler)

    detail = client.get(f"/api/v1/cases/{dispatched.number}/").json()
    listed = client.get(f"/api/v1/case-events/?case={dispatched.number}").json()["results"]

    masked = {"id": None, "username": None, "name": "宋**"}
    assert actors(detail["events"], CaseAction.REPORT) == [masked]
    assert actors(listed, CaseAction.REPORT) == [masked]
    assert actors(listed, CaseAction.DISPATCH) == [
        {"id": supervisor.pk, "username": supervisor.username, "name": supervisor.display_name}
    ]


def test_api_names_the_resident_actor_with_contact_access_but_never_the_username(dispatched, supervisor):
    client = as_user(supervisor)

    detail = client.get(f"/api/v1/cases/{dispatched.number}/").json()
    one = next(
        row
        for row in client.get(f"/api/v1/case-events/?case={dispatched.number}").json()["results"]
        if row["action"] == CaseAction.REPORT
    )
    single = client.get(f"/api/v1/case-events/{one['id']}/").json()

    full = {"id": None, "username": None, "name": "宋秀英"}
    assert actors(detail["events"], CaseAction.REPORT) == [full]
    assert single["actor"] == full


# --- a signed-in resident's home page -------------------------------------------------------------


def test_resident_home_lists_their_own_reports_newest_first(client, resident, community):
    now = timezone.now()
    older = CaseFactory(community=community, reporter=resident, reported_at=now - timedelta(days=2))
    newer = CaseFactory(
        community=community,
        reporter=resident,
        reported_at=now - timedelta(days=1),
        status=CaseStatus.REGISTERED,
    )
    someone_elses = CaseFactory(community=community, reporter=UserFactory(), reported_at=now)
    client.force_login(resident)

    response = client.get(reverse("home"))

    assert response.status_code == 200
    assert [case for case, _label in response.context["reports"]] == [newer, older]
    html = response.content.decode()
    assert 'id="reports-title"' in html
    assert reverse("public:track_detail", args=[newer.tracking_code]) in html
    assert reverse("public:track_detail", args=[older.tracking_code]) in html
    assert someone_elses.number not in html
    assert "已受理" in html and "已收到" in html  # the residents' words for the status
    assert "您的账号还没有角色" not in html
    assert reverse("cases:list") not in html


def test_resident_home_is_paginated_in_fixed_queries(
    client, resident, community, django_assert_max_num_queries
):
    for _ in range(21):
        CaseFactory(community=community, reporter=resident)
    client.force_login(resident)
    client.get(reverse("home"))  # warm caches

    with django_assert_max_num_queries(8):
        first = client.get(reverse("home"))
    second = client.get(reverse("home"), {"page": 2})

    assert len(first.context["reports"]) == 20
    assert len(second.context["reports"]) == 1
    assert 'rel="next"' in first.content.decode()


def test_resident_without_reports_is_offered_the_form(client, resident):
    client.force_login(resident)

    html = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert reverse("public:report") in html
    assert "You have not reported any problem from this account yet." in html
    assert "Your account has no role yet" not in html


def test_staff_account_without_a_role_is_told_so_and_sees_no_reports(client, community):
    admin_without_role = UserFactory(is_staff=True)
    CaseFactory(community=community, reporter=admin_without_role)
    client.force_login(admin_without_role)

    response = client.get(reverse("home"))

    html = response.content.decode()
    assert "您的账号还没有角色" in html
    assert 'id="reports-title"' not in html
    assert "reports" not in response.context
