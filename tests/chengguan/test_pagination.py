"""The capped paginator (chengguan.pagination): big lists are counted only up to a cap.

Below the cap the count is exact; above it the pages say "N+" and offer the
next pages but no last one, and the API says `count_is_capped`. The count
query reads at most cap + 1 rows (a LIMITed subquery), never the whole list.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.models import Case
from chengguan.pagination import CappedPaginator
from chengguan.roles import Role
from tests.api import as_user
from tests.factories import CaseFactory, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def seven_cases(community):  # type: ignore[no-untyped-def]
    return CaseFactory.create_batch(7, community=community)


def test_below_the_cap_the_count_and_the_pages_are_exact(seven_cases):
    # given seven cases, pages of two, a cap of ten
    paginator = CappedPaginator(Case.objects.order_by("pk"), 2, cap=10)
    # when page 1 is taken
    page = paginator.get_page(1)
    # then the count is exact and the last page is known
    assert (paginator.count, paginator.count_is_capped, paginator.count_floor) == (7, False, 7)
    assert paginator.num_pages == 4
    assert list(paginator.get_elided_page_range(1, on_each_side=1, on_ends=1)) == [1, 2, 3, 4]
    assert len(page.object_list) == 2


def test_above_the_cap_the_count_stops_and_the_last_page_is_not_offered(seven_cases):
    # given seven cases, pages of two, a cap of three
    paginator = CappedPaginator(Case.objects.order_by("pk"), 2, cap=3)
    # when page 1 is taken
    with CaptureQueriesContext(connection) as queries:
        page = paginator.get_page(1)
        list(page.object_list)
    # then there are "3+" cases, counted with a LIMIT, and a next page but no last one
    assert (paginator.count_is_capped, paginator.count_floor) == (True, 3)
    assert page.has_next()
    counting = queries.captured_queries[0]["sql"]
    assert "COUNT(*)" in counting and "LIMIT 4" in counting
    assert list(paginator.get_elided_page_range(1, on_each_side=1, on_ends=1)) == [1, 2, "…"]


def test_a_deep_page_counts_up_to_itself_and_the_last_page_ends_the_list(seven_cases):
    # given seven cases, pages of two, a cap of three
    # when page 3 is asked for, then page 4 (the last)
    third = CappedPaginator(Case.objects.order_by("pk"), 2, cap=3)
    page = third.get_page(3)
    last = CappedPaginator(Case.objects.order_by("pk"), 2, cap=3)
    final = last.get_page(4)
    # then page 3 exists with a next page; page 4 holds the seventh case and nothing follows
    assert page.number == 3 and page.has_next() and third.count_is_capped
    assert final.number == 4 and not final.has_next() and not last.count_is_capped
    assert [case.pk for case in final.object_list] == [seven_cases[-1].pk]
    assert last.count == 7


def test_a_page_beyond_the_end_is_the_last_page(seven_cases):
    paginator = CappedPaginator(Case.objects.order_by("pk"), 2, cap=3)
    assert paginator.get_page(99).number == 4
    assert paginator.get_page("not a number").number == 1


def test_the_case_list_says_more_than_the_cap(client, district, seven_cases, settings, monkeypatch):
    # given a supervisor of the district, pages of two and a cap of five
    settings.PAGINATION_COUNT_CAP = 5
    monkeypatch.setattr("cases.views.staff.CASES_PER_PAGE", 2)
    client.force_login(staff(Role.SUPERVISOR, scope=district))
    # when the case list is opened
    response = client.get("/cases/")
    # then it shows "5+" cases, not a total, two rows, and the pages known to exist, then "…"
    assert response.status_code == 200
    page_obj = response.context["page_obj"]
    assert page_obj.paginator.count_is_capped and len(page_obj.object_list) == 2
    page = response.content.decode()
    meta = re.search(r'class="page-head__meta">([^<]*)<', page)
    assert meta is not None and "5+" in meta.group(1)
    assert "page=2" in page and "page=3" in page and "page=4" not in page
    assert '<span class="gap">…</span>' in page


def test_the_case_list_shows_the_exact_count_below_the_cap(client, district, seven_cases):
    client.force_login(staff(Role.SUPERVISOR, scope=district))
    response = client.get("/cases/")
    assert response.status_code == 200
    assert not response.context["page_obj"].paginator.count_is_capped
    assert response.context["page_obj"].paginator.count == 7
    meta = re.search(r'class="page-head__meta">([^<]*)<', response.content.decode())
    assert meta is not None and "7" in meta.group(1) and "+" not in meta.group(1)


def test_the_case_list_needs_a_signed_in_user(client):
    response = client.get("/cases/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_worklist_pages_count_up_to_the_cap(client, district, community, settings, monkeypatch):
    # given four registered cases, a dispatcher, pages of two, a cap of three
    from cases.choices import CaseStatus

    CaseFactory.create_batch(4, community=community, status=CaseStatus.REGISTERED)
    settings.PAGINATION_COUNT_CAP = 3
    monkeypatch.setattr("cases.views.desk.PER_PAGE", 2)
    client.force_login(staff(Role.DISPATCHER, scope=district))
    # when the dispatch queue is opened
    response = client.get("/desk/dispatch/")
    # then it says "3+" cases and pages on
    assert response.status_code == 200, response.content[:300]
    assert response.context["page_obj"].paginator.count_is_capped
    meta = re.search(r'class="page-head__meta">([^<]*)<', response.content.decode())
    assert meta is not None and "3+" in meta.group(1)


def test_the_api_case_list_reports_a_capped_count(community, district, seven_cases, settings):
    # given an operator of the district, seven cases and a cap of five
    settings.PAGINATION_COUNT_CAP = 5
    client = as_user(staff(Role.OPERATOR, scope=district))
    # when the first page of two is read, and then the last
    first = client.get("/api/v1/cases/", {"page_size": 2}).json()
    last = client.get("/api/v1/cases/", {"page_size": 2, "page": 4}).json()
    # then the first says "at least 5", with a next page; the last is exact and ends the list
    assert (first["count"], first["count_is_capped"]) == (5, True)
    assert first["next"] and len(first["results"]) == 2
    assert (last["count"], last["count_is_capped"], last["next"]) == (7, False, None)
    assert len(last["results"]) == 1


def test_the_api_case_list_count_is_exact_below_the_cap(community, district, seven_cases):
    client = as_user(staff(Role.OPERATOR, scope=district))
    body = client.get("/api/v1/cases/").json()
    assert (body["count"], body["count_is_capped"], body["next"]) == (7, False, None)


def test_the_api_case_list_still_needs_a_signed_in_scoped_user(community, seven_cases):
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/cases/").status_code == 401
    unscoped = as_user(staff(Role.OPERATOR)).get("/api/v1/cases/").json()
    assert (unscoped["count"], unscoped["count_is_capped"], unscoped["results"]) == (0, False, [])
