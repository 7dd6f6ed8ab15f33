"""The staff case list's search (issue #5): by number, phone, text and place, inside the gate.

On PostgreSQL the search reads the trigram indexes of migration 0016; the
last tests check that the indexes exist and that the planner can answer
each searched column from them (the benchmark, `bench_dashboard --search`,
times it at a million cases).
"""

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.choices import CaseStatus
from cases.filtersets import CaseFilterSet
from cases.models import Case
from chengguan.roles import Role
from tests.factories import CaseFactory, leaf_category, staff

pytestmark = pytest.mark.django_db

PHONE = "13800138000"


def search(client, query: str) -> list[str]:  # type: ignore[no-untyped-def]
    response = client.get(reverse("cases:list"), {"q": query})
    assert response.status_code == 200
    return sorted(case.number for case in response.context["page_obj"].object_list)


@pytest.fixture
def cases(community):  # type: ignore[no-untyped-def]
    return {
        "stall": CaseFactory(
            community=community,
            number="CG-20261124-000001",
            tracking_code="TRACKA1",
            description="小区北门早点摊占道经营",
            address="人民路12号",
            reporter_phone=PHONE,
        ),
        "noise": CaseFactory(
            community=community,
            number="CG-20261124-000002",
            tracking_code="TRACKB2",
            description="夜间施工噪声扰民",
            address="解放路3号",
            reporter_phone="13912345678",
        ),
    }


@pytest.fixture
def supervisor_client(client, district):  # type: ignore[no-untyped-def]
    client.force_login(staff(Role.SUPERVISOR, scope=district))
    return client


def test_anonymous_searching_is_sent_to_sign_in(client, cases):
    response = client.get(reverse("cases:list"), {"q": PHONE})

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_unscoped_staff_find_nothing_by_any_search(client, cases):
    client.force_login(staff(Role.OPERATOR))

    for query in (cases["stall"].number, PHONE, "早点摊", "人民路"):
        assert search(client, query) == []


def test_a_full_phone_number_finds_the_reporters_cases_however_it_is_typed(supervisor_client, cases):
    # Given two cases from two callers; when searching by the first caller's number as typed
    for typed in (PHONE, "138 0013 8000", "138-0013-8000"):
        # then only their case is found
        assert search(supervisor_client, typed) == [cases["stall"].number]


def test_the_last_digits_of_a_phone_number_find_the_case(supervisor_client, cases):
    assert search(supervisor_client, "5678") == [cases["noise"].number]


def test_three_digits_are_not_searched_as_a_phone_number(supervisor_client, cases):
    # "380" is inside the first phone number, but three digits would match too many numbers.
    assert search(supervisor_client, "380") == []


def test_staff_who_may_not_see_phone_numbers_cannot_search_by_them(client, cases, unit):
    # Given a handling unit that handles both cases but sees phone numbers masked
    Case.objects.update(handling_unit=unit, status=CaseStatus.DISPATCHED)
    client.force_login(staff(Role.HANDLING_UNIT, scope=unit))
    assert len(search(client, "")) == 2

    # when it searches by a phone number, it finds nothing (the number stays private)
    assert search(client, PHONE) == []
    assert search(client, "5678") == []
    # but it finds the cases by their text
    assert search(client, "噪声") == [cases["noise"].number]


def test_text_fragments_and_places_find_cases(supervisor_client, cases):
    assert search(supervisor_client, "早点摊") == [cases["stall"].number]
    assert search(supervisor_client, "人民路") == [cases["stall"].number]
    assert search(supervisor_client, "解放路3号") == [cases["noise"].number]
    assert search(supervisor_client, "cg-") == sorted(c.number for c in cases.values())


def test_search_combines_with_category_community_status_and_dates(supervisor_client, cases, other_community):
    stall = cases["stall"]
    elsewhere = CaseFactory(community=other_community, description="小区北门早点摊占道经营")
    query = {
        "q": "早点摊",
        "category": leaf_category().pk,
        "community": stall.community_id,
        "status": CaseStatus.REPORTED,
        "reported_at_after": stall.reported_at.date().isoformat(),
        "reported_at_before": stall.reported_at.date().isoformat(),
    }

    response = supervisor_client.get(reverse("cases:list"), query)

    found = [case.number for case in response.context["page_obj"].object_list]
    assert found == [stall.number]
    assert elsewhere.number not in found


def test_the_search_query_count_does_not_grow_with_the_matches(
    supervisor_client, community, django_assert_max_num_queries
):
    for _ in range(3):
        CaseFactory(community=community, description="垃圾箱满溢", reporter_phone=PHONE)
    supervisor_client.get(reverse("cases:list"), {"q": "垃圾"})
    with CaptureQueriesContext(connection) as few:
        supervisor_client.get(reverse("cases:list"), {"q": "垃圾"})
    for _ in range(30):
        CaseFactory(community=community, description="垃圾箱满溢", reporter_phone=PHONE)

    with django_assert_max_num_queries(len(few)):
        assert len(search(supervisor_client, "垃圾")) == 25
    with django_assert_max_num_queries(len(few)):
        assert len(search(supervisor_client, PHONE)) == 25


# --- PostgreSQL: the trigram indexes ----------------------------------------------

SEARCH_INDEXES = {
    "case_number_trgm",
    "case_tracking_code_trgm",
    "case_title_trgm",
    "case_description_trgm",
    "case_address_trgm",
    "case_reporter_phone_trgm",
}


def _plan(sql: str, params: list[object]) -> str:
    with connection.cursor() as cursor:
        # A test database has a handful of rows: make the planner use what it can.
        cursor.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.postgres
def test_the_trigram_indexes_exist_on_postgresql():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'cases_case'")
        names = {row[0] for row in cursor.fetchall()}

    assert names >= SEARCH_INDEXES


@pytest.mark.postgres
@pytest.mark.parametrize("query", ["人民路12号", "CG-2026", "13800138000", "8000"])
def test_every_searched_column_is_read_from_an_index(query, district, cases):
    # Given the queryset the case list filters with the search box value
    request = RequestFactory().get("/")
    request.user = staff(Role.SUPERVISOR, scope=district)
    filterset = CaseFilterSet({"q": query}, queryset=Case.objects.all(), request=request)
    # (its count: the page's order is the planner's choice at each size)
    sql, params = filterset.qs.order_by().values("pk").query.sql_with_params()

    # when PostgreSQL plans it
    plan = _plan(sql, list(params))

    # then every alternative of the OR is an index scan: none reads the whole table
    text = SEARCH_INDEXES - {"case_reporter_phone_trgm"}
    assert {name for name in text if name in plan} == text, plan
    if len(query) == 11:
        assert "case_reporter_phone " in plan, plan  # the btree of the full number
    elif query.isdigit():
        assert "case_reporter_phone_trgm" in plan, plan
    assert "Seq Scan on cases_case" not in plan, plan
