"""Query counts of the dashboard pages and the case search, pinned and independent of the data size.

At a million cases (`manage.py bench_dashboard`) a page's time is the time
of its queries; these tests make sure no page grows a query per case, per
day, per grid cell or per search hit. Each page is read on a small month
and again after many more cases (of every status, source, category, day,
grid cell, unit and liaison) were added: the same number of queries, and no
more than the pinned ceiling. "Cold" requests find no cached
previous-period figures (cases.dashboard.PREVIOUS_PERIOD_CACHE_SECONDS).
"""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.choices import CaseSource, CaseStatus
from chengguan.clock import frozen_at
from chengguan.roles import Role
from tests.cases.test_indicators import NOW, at, november
from tests.factories import CaseFactory, GridCellFactory, UserFactory, leaf_category, square, staff

NOVEMBER = "period=custom&start=2026-11-01&end=2026-11-30"

# The ceiling of each page (on PostgreSQL three more: the SET LOCAL of cases.dashboard.analytic_reads
# and, inside the test's transaction, the savepoint around it and its release).
# Staff pages no longer count the desk menu's worklists (cases.views.nav), and
# the return visits are counted in the indicator pass (Case.last_visit_*).
PAGES = {
    "dashboard": (reverse("dashboard:index") + "?" + NOVEMBER, 22),
    "dashboard, this month": (reverse("dashboard:index"), 22),
    "dashboard, one unit": (reverse("dashboard:index") + "?" + NOVEMBER + "&unit={unit}", 22),
    "dashboard, one liaison": (reverse("dashboard:index") + "?" + NOVEMBER + "&liaison={liaison}", 22),
    "dashboard, page 2 of the table": (reverse("dashboard:index") + "?" + NOVEMBER + "&page=2", 22),
    "trend JSON": (reverse("dashboard:chart_data", args=["trend"]) + "?" + NOVEMBER, 13),
    "categories JSON": (reverse("dashboard:chart_data", args=["categories"]) + "?" + NOVEMBER, 13),
    "sources JSON": (reverse("dashboard:chart_data", args=["sources"]) + "?" + NOVEMBER, 12),
    "trend CSV": (reverse("dashboard:chart_csv", args=["trend"]) + "?" + NOVEMBER, 13),
    "grid cells CSV": (reverse("dashboard:chart_csv", args=["grid_cells"]) + "?" + NOVEMBER, 13),
    "indicators CSV": (reverse("dashboard:chart_csv", args=["indicators"]) + "?" + NOVEMBER, 16),
    "assessment": (reverse("dashboard:assessment") + "?month=2026-11", 15),
    "assessment CSV": (reverse("dashboard:assessment_export", args=["csv"]) + "?month=2026-11", 13),
    "public statistics": (reverse("dashboard:public"), 6),
    "case search, text": (reverse("cases:list") + "?q=摊贩", 11),
    "case search, phone": (reverse("cases:list") + "?q=13800138000", 11),
    "case search, last digits": (reverse("cases:list") + "?q=8000", 11),
    "case search, filters": (
        reverse("cases:list")
        + "?q=占道&status=closed&status=dispatched&source=web&reported_at_after=2026-11-01"
        + "&reported_at_before=2026-11-30&category={category}&community={community}",
        13,
    ),
}


def _many_cases(community, unit, liaison, cells, n: int) -> None:  # type: ignore[no-untyped-def]
    statuses = [CaseStatus.CLOSED, CaseStatus.DISPATCHED, CaseStatus.REPORTED, CaseStatus.IN_PROGRESS]
    sources = [CaseSource.WEB, CaseSource.PATROL, CaseSource.HOTLINE_12345, CaseSource.QR_CODE]
    categories = [leaf_category("0102"), leaf_category()]
    for i in range(n):
        status = statuses[i % len(statuses)]
        day = 1 + i % 29
        CaseFactory(
            community=community,
            grid_cell=cells[i % len(cells)],
            handling_unit=unit if i % 2 else None,
            assignee=liaison if not i % 2 else None,
            category=categories[i % len(categories)],
            status=status,
            source=sources[i % len(sources)],
            description=f"人行道上有流动摊贩占道经营 {i}",
            reporter_phone="13800138000",
            reported_at=at(11, day),
            registered_at=at(11, day),
            due_at=at(11, day) + timedelta(days=1),
            deadline=at(11, day) + timedelta(days=1),
            closed_at=at(11, day) + timedelta(hours=5) if status == CaseStatus.CLOSED else None,
            rework_count=i % 3 == 0,
            extension_count=i % 5 == 0,
            escalation_level=i % 2,
        )


@pytest.fixture
def world(community):  # type: ignore[no-untyped-def]
    month = november(community)
    cells = []
    for k in range(3):
        cell = GridCellFactory(community=community)
        cell.set_boundary(square(120.0 + 0.005 * k, 30.0, 0.005))
        cell.save()
        cells.append(cell)
    liaison = UserFactory(roles=[Role.LIAISON])
    return {"unit": month["u1"], "liaison": liaison, "cells": cells, "community": community}


@pytest.mark.django_db
@pytest.mark.parametrize("page", list(PAGES))
def test_each_page_runs_a_fixed_number_of_queries_whatever_the_cases(
    client, district, world, page, django_assert_max_num_queries
):
    # Given a supervisor of the district and the pinned page
    url, ceiling = PAGES[page]
    if connection.vendor == "postgresql":
        ceiling += 1 if page.startswith("case search") else 3
    url = url.format(
        unit=world["unit"].pk,
        liaison=world["liaison"].pk,
        category=leaf_category().pk,
        community=world["community"].pk,
    )
    if page != "public statistics":
        client.force_login(staff(Role.SUPERVISOR, scope=district))

    def cold_read() -> int:
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    with frozen_at(NOW - timedelta(hours=1)):
        # (A part of a page without data skips its queries: some cases of every kind first.)
        _many_cases(world["community"], world["unit"], world["liaison"], world["cells"], 8)
        client.get(url)  # content types, permissions, sessions
        few = cold_read()
        # when 80 more cases of every kind are added
        _many_cases(world["community"], world["unit"], world["liaison"], world["cells"], 80)
        # then the page runs as many queries as before, within its ceiling
        with django_assert_max_num_queries(ceiling):
            many = cold_read()

    assert many == few


@pytest.mark.django_db
def test_the_filter_choices_come_from_the_cache_on_the_next_request(client, district, world):
    # Given a supervisor who opened the dashboard once
    url = PAGES["dashboard"][0]
    client.force_login(staff(Role.SUPERVISOR, scope=district))
    cache.clear()
    with CaptureQueriesContext(connection) as first:
        client.get(url)

    # When they open it again
    with CaptureQueriesContext(connection) as again:
        response = client.get(url)

    # Then the scope filters offer the same, without reading the reference lists again
    def lists_categories(queries: CaptureQueriesContext) -> bool:
        return any('ORDER BY "cases_category"."code"' in q["sql"] for q in queries.captured_queries)

    assert lists_categories(first) and not lists_categories(again)
    assert len(again) < len(first)
    assert world["community"].name in response.content.decode()
