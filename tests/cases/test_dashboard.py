"""The supervisor dashboard, its CSV downloads and the public statistics page.

The numbers come from the hand-computed month of test_indicators (November
2026, "now" 2026-12-01 10:00); here the pages show them, scope them, and
every tile and chart segment links to a case list of exactly as many cases.
"""

import csv
import io
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.choices import CaseSource, CaseStatus
from cases.dashboard import DashboardFilters, dashboard_period
from cases.models import Case
from chengguan.clock import frozen_at
from chengguan.roles import Role
from communities.models import GridCell
from tests.cases.test_indicators import NOW, at
from tests.factories import (
    CaseFactory,
    CommunityFactory,
    DistrictFactory,
    GridCellFactory,
    StreetFactory,
    UserFactory,
    square,
    staff,
)

DASHBOARD = reverse("dashboard:index")
NOVEMBER = "?period=custom&start=2026-11-01&end=2026-11-30"


def listed(client, url: str) -> int:  # type: ignore[no-untyped-def]
    """How many cases the case list shows for a drill-down link."""
    response = client.get(url)
    assert response.status_code == 200
    return response.context["page_obj"].paginator.count


@pytest.fixture
def cells(month, community):  # type: ignore[no-untyped-def]
    """Two grid cells with boundaries; C1–C3 were reported in the first, C4 in the second."""
    first = GridCellFactory(community=community)
    second = GridCellFactory(community=community)
    for cell, lng in [(first, 120.0), (second, 120.005)]:
        cell.set_boundary(square(lng, 30.0, 0.005))
        cell.save()
    cases = month["cases"]
    Case.objects.filter(pk__in=[cases[n].pk for n in ("C1", "C2", "C3")]).update(grid_cell=first)
    Case.objects.filter(pk=cases["C4"].pk).update(grid_cell=second)
    return first, second


# --- periods ------------------------------------------------------------------------


def test_periods_and_what_they_are_compared_with():
    today = date(2026, 11, 18)  # a Wednesday

    day = dashboard_period("today", today=today)
    assert (day.first, day.last, day.previous_first, day.previous_last) == (
        today,
        today,
        today - timedelta(days=1),
        today - timedelta(days=1),
    )
    week = dashboard_period("week", today=today)
    assert (week.first, week.last) == (date(2026, 11, 16), date(2026, 11, 22))
    assert (week.previous_first, week.previous_last) == (date(2026, 11, 9), date(2026, 11, 15))
    month_ = dashboard_period("month", today=today)
    assert (month_.first, month_.last) == (date(2026, 11, 1), date(2026, 11, 30))
    # A month compares with the previous calendar month, not the 30 days before.
    assert (month_.previous_first, month_.previous_last) == (date(2026, 10, 1), date(2026, 10, 31))
    custom = dashboard_period("custom", date(2026, 11, 10), date(2026, 11, 3), today=today)
    assert (custom.first, custom.last) == (date(2026, 11, 3), date(2026, 11, 10))
    assert (custom.previous_first, custom.previous_last) == (date(2026, 10, 26), date(2026, 11, 2))
    whole_month = dashboard_period("custom", date(2026, 3, 1), date(2026, 3, 31), today=today)
    assert (whole_month.previous_first, whole_month.previous_last) == (date(2026, 2, 1), date(2026, 2, 28))
    assert dashboard_period("nonsense", today=today).kind == "month"


# --- who sees what --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,args",
    [
        ("dashboard:index", []),
        ("dashboard:chart_csv", ["trend"]),
        ("dashboard:assessment", []),
        ("dashboard:assessment_export", ["xlsx"]),
        ("dashboard:rate", []),
    ],
)
def test_anonymous_users_are_sent_to_sign_in(client, db, name, args):
    url = reverse(name, args=args)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_public_statistics_need_no_sign_in(client, month, community):
    with frozen_at(NOW - timedelta(days=1)):
        response = client.get(reverse("dashboard:public"))

    assert response.status_code == 200
    row = next(r for r in response.context["rows"] if r["community"] == community)
    # The last 30 days before 2026-11-30 10:00: C1–C11 less C7 reported in October.
    assert row["reported"] == 10
    assert community.name in response.content.decode()


def test_staff_without_the_case_role_are_refused(client, db):
    client.force_login(UserFactory())

    assert client.get(DASHBOARD).status_code == 403
    assert client.get(reverse("dashboard:assessment")).status_code == 403


def test_a_supervisor_without_an_area_sees_zeros(client, month):
    client.force_login(staff(Role.SUPERVISOR))

    with frozen_at(NOW):
        response = client.get(DASHBOARD + NOVEMBER)

    assert response.status_code == 200
    figures = {tile.key: tile.value for tile in response.context["tiles"]}
    assert figures["reported"] == figures["due"] == figures["overdue"] == 0
    assert figures["on_time_rate"] is None
    assert response.context["page_obj"].paginator.count == 0
    assert len(response.context["form"].fields["community"].choices) == 1  # only "All"


def test_the_dashboard_counts_only_the_users_area(client, month, supervisor, community):
    elsewhere = CommunityFactory(street=StreetFactory(district=DistrictFactory()), origin=(121.0, 31.0))
    CaseFactory.create_batch(3, community=elsewhere, reported_at=at(11, 8))
    client.force_login(supervisor)

    with frozen_at(NOW):
        response = client.get(DASHBOARD + NOVEMBER)

    figures = {tile.key: tile.value for tile in response.context["tiles"]}
    assert figures["reported"] == 10  # the fixture month, not the other district's 3
    offered = [pk for pk, _label in response.context["form"].fields["community"].choices]
    assert community.pk in offered
    assert elsewhere.pk not in offered


def test_community_staff_see_their_community_only(client, month, community, other_community):
    CaseFactory.create_batch(2, community=other_community, reported_at=at(11, 8))
    client.force_login(staff(Role.COMMUNITY_STAFF, scope=other_community))

    with frozen_at(NOW):
        response = client.get(DASHBOARD + NOVEMBER)

    assert {t.key: t.value for t in response.context["tiles"]}["reported"] == 2


def test_every_indicator_of_design_6_has_a_tile_with_its_change(client, month, supervisor):
    client.force_login(supervisor)

    with frozen_at(NOW):
        response = client.get(DASHBOARD + NOVEMBER)

    tiles = {tile.key: tile for tile in response.context["tiles"]}
    assert set(tiles) >= {
        "reported",
        "registered",
        "registration_rate",
        "due",
        "closure_rate",
        "on_time_rate",
        "rework_rate",
        "extension_rate",
        "overdue",
        "visit_rate",
        "satisfaction_rate",
        "avg_handling_hours",
        "patrol_rate",
        "score",
        "false_reports",
    }
    assert tiles["closure_rate"].value == pytest.approx(6 / 8)
    assert tiles["on_time_rate"].value == pytest.approx(5 / 8)
    assert (tiles["on_time_rate"].numerator, tiles["on_time_rate"].denominator) == (5, 8)
    # October had C7 reported only: +900 %.
    assert tiles["reported"].previous == 1
    assert tiles["reported"].change == pytest.approx(9.0)
    assert tiles["closed_on_time" if "closed_on_time" in tiles else "on_time_rate"].trend in (
        "",
        "good",
        "bad",
    )


# --- drill-down: every figure links to as many cases ----------------------------------


@pytest.mark.parametrize("scope", ["", "&unit={u1}", "&source=web&community={community}"])
def test_every_tile_links_to_a_case_list_with_as_many_cases(client, month, supervisor, community, scope):
    client.force_login(supervisor)
    query = NOVEMBER + scope.format(u1=month["u1"].pk, community=community.pk)

    with frozen_at(NOW):
        response = client.get(DASHBOARD + query)
        dashboard = response.context["dashboard"]
        checked = 0
        for tile in response.context["tiles"]:
            if tile.link_key:
                assert listed(client, tile.url) == dashboard.figures[tile.link_key], tile.key
                checked += 1
            if tile.denominator_url:
                assert listed(client, tile.denominator_url) == tile.denominator, tile.key
                checked += 1

    assert checked >= 20


def test_a_unit_leaves_false_reports_out_of_its_tiles_and_lists(client, month, supervisor):
    client.force_login(supervisor)

    with frozen_at(NOW):
        response = client.get(DASHBOARD + NOVEMBER + f"&unit={month['u1'].pk}")
        tiles = {tile.key: tile for tile in response.context["tiles"]}
        # U1 before C10 (false) is left out: due C1–C4, closed C1–C3 (see test_indicators).
        assert (tiles["due"].value, tiles["on_time_rate"].numerator) == (4, 2)
        assert tiles["false_reports"].value == 1
        assert "false_report=false" in tiles["due"].url
        assert listed(client, tiles["false_reports"].url) == 1


def test_every_chart_segment_links_to_as_many_cases(client, month, supervisor, cells):
    client.force_login(supervisor)

    with frozen_at(NOW):
        response = client.get(DASHBOARD + NOVEMBER)
        dashboard = response.context["dashboard"]
        for row in dashboard.trend:
            if row["reported"] or row["closed"]:
                assert listed(client, row["reported_url"]) == row["reported"], row["day"]
                assert listed(client, row["closed_url"]) == row["closed"], row["day"]
        for row in dashboard.categories + dashboard.sources + dashboard.grid_cells:
            assert listed(client, row["url"]) == row["count"], row
        for row in dashboard.streets:
            assert listed(client, row["url"]) == row["closed_on_time"]
            assert listed(client, row["due_url"]) == row["due"]
        assert (
            listed(client, response.context["attention_url"]) == response.context["page_obj"].paginator.count
        )

    assert sum(row["reported"] for row in dashboard.trend) == 10
    assert [row["count"] for row in dashboard.grid_cells] == [3, 1]
    assert dashboard.geojson()["features"][0]["properties"]["count"] == 3


def test_the_case_list_tells_what_the_drill_down_narrows_to(client, month, supervisor):
    client.force_login(supervisor)
    url = DashboardFilters(unit=month["u1"].pk)

    from cases.dashboard import case_list_url

    with frozen_at(NOW):
        response = client.get(case_list_url(url, "closed", date(2026, 11, 1), date(2026, 11, 30)))

    page = response.content.decode()
    assert month["u1"].name in page
    assert response.context["page_obj"].paginator.count == 3  # C1–C3; C10 is a false report


def test_the_overdue_and_escalated_table(client, month, supervisor, community):
    escalated = CaseFactory(
        community=community,
        status=CaseStatus.DISPATCHED,
        deadline=at(12, 20),
        escalation_level=1,
        reported_at=at(11, 28),
    )
    client.force_login(supervisor)

    with frozen_at(NOW):
        response = client.get(DASHBOARD + NOVEMBER)

    listed_cases = response.context["attention_cases"]
    assert listed_cases == [month["cases"]["C4"], escalated]  # most overdue first
    assert escalated.number in response.content.decode()


# --- CSV ---------------------------------------------------------------------------------


@pytest.mark.parametrize("chart", ["indicators", "trend", "categories", "sources", "streets", "grid_cells"])
def test_the_numbers_behind_every_chart_download_as_csv(client, month, supervisor, cells, chart):
    client.force_login(supervisor)

    with frozen_at(NOW):
        response = client.get(reverse("dashboard:chart_csv", args=[chart]) + NOVEMBER)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) > 1
    if chart == "trend":
        assert len(rows) == 1 + 30
        assert sum(int(r[1]) for r in rows[1:]) == 10
    if chart == "grid_cells":
        assert sorted(int(r[3]) for r in rows[1:]) == [1, 3]


def test_an_unknown_chart_is_not_found(client, supervisor):
    client.force_login(supervisor)

    assert client.get(reverse("dashboard:chart_csv", args=["nothing"])).status_code == 404


# --- query counts ---------------------------------------------------------------------------


def _more_cases(community, unit, n: int) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        CaseFactory(
            community=community,
            handling_unit=unit,
            status=[CaseStatus.CLOSED, CaseStatus.DISPATCHED, CaseStatus.REPORTED][i % 3],
            reported_at=at(11, 1 + i % 28),
            registered_at=at(11, 1 + i % 28),
            due_at=at(11, 2 + i % 28),
            deadline=at(11, 2 + i % 28),
            closed_at=at(11, 2 + i % 28) if i % 3 == 0 else None,
            escalation_level=i % 2,
            source=[CaseSource.WEB, CaseSource.PATROL, CaseSource.HOTLINE_12345][i % 3],
        )


@pytest.mark.parametrize(
    "url",
    [
        DASHBOARD + NOVEMBER,
        DASHBOARD + NOVEMBER + "&unit={unit}",
        reverse("dashboard:chart_csv", args=["grid_cells"]) + NOVEMBER,
        reverse("dashboard:assessment") + "?month=2026-11",
        reverse("dashboard:assessment_export", args=["xlsx"]) + "?month=2026-11",
    ],
)
def test_the_query_count_does_not_grow_with_the_cases(client, month, supervisor, community, cells, url):
    # Some cases in every part of the page (an empty part skips its queries), then 40 more.
    unit = month["u1"]
    client.force_login(supervisor)
    url = url.format(unit=unit.pk)
    with frozen_at(NOW):
        client.get(url)  # warm the content-type and permission caches
        with CaptureQueriesContext(connection) as few:
            assert client.get(url).status_code == 200
        _more_cases(community, unit, 40)
        with CaptureQueriesContext(connection) as many:
            assert client.get(url).status_code == 200

    assert len(many) == len(few)
    assert len(few) <= 40


def test_the_public_page_query_count_does_not_grow(client, month, community, unit, other_community):
    with frozen_at(NOW):
        client.get(reverse("dashboard:public"))
        with CaptureQueriesContext(connection) as few:
            client.get(reverse("dashboard:public"))
        _more_cases(community, unit, 30)
        _more_cases(other_community, unit, 30)
        with CaptureQueriesContext(connection) as many:
            response = client.get(reverse("dashboard:public"))

    # Communities, their figures and their return visits (on PostgreSQL also a
    # savepoint around SET LOCAL jit, cases.dashboard.analytic_reads).
    assert len(many) == len(few) <= 6
    assert len(response.context["rows"]) == 2


def test_grid_cells_without_cases_are_on_the_map_with_zero(client, month, supervisor, cells, community):
    GridCell.objects.filter(pk=cells[1].pk).update(is_active=True)
    empty = GridCellFactory(community=community)
    empty.set_boundary(square(120.0, 30.005, 0.005))
    empty.save()
    client.force_login(supervisor)

    with frozen_at(NOW):
        response = client.get(DASHBOARD + NOVEMBER)

    counts = {
        f["properties"]["id"]: f["properties"]["count"] for f in response.context["map_data"]["features"]
    }
    assert counts[empty.pk] == 0
