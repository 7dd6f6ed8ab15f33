"""The dashboard's charts loaded after the page (dashboard:chart_data).

The page renders its tiles, filters, street chart, map and overdue table and
leaves the trend, category and source charts empty, each with the URL of its
JSON and a link to its CSV; the JSON runs through the same gate, scope and
period as the CSV and carries the same numbers.
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.urls import reverse

from cases.dashboard import ASYNC_CHARTS
from chengguan.clock import frozen_at
from chengguan.roles import Role
from tests.cases.test_indicators import NOW, at
from tests.factories import CaseFactory, UserFactory, staff

NOVEMBER = "?period=custom&start=2026-11-01&end=2026-11-30"


def data_url(chart: str, query: str = NOVEMBER) -> str:
    return reverse("dashboard:chart_data", args=[chart]) + query


def csv_rows(client, chart: str, query: str = NOVEMBER) -> list[list[str]]:  # type: ignore[no-untyped-def]
    response = client.get(reverse("dashboard:chart_csv", args=[chart]) + query)
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))[1:]


def json_numbers(chart: str, rows: list[dict]) -> list[list[str]]:  # type: ignore[type-arg]
    """The JSON rows as the CSV writes them."""
    if chart == "trend":
        return [[r["day"], str(r["reported"]), str(r["closed"])] for r in rows]
    return [[r["name"], str(r["count"])] for r in rows]


# --- who may read them ------------------------------------------------------------------


@pytest.mark.parametrize("chart", ASYNC_CHARTS)
def test_anonymous_users_are_sent_to_sign_in(client, db, chart):
    response = client.get(data_url(chart))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_staff_without_the_case_role_are_refused(client, db):
    client.force_login(UserFactory())

    assert client.get(data_url("trend")).status_code == 403


def test_a_supervisor_without_an_area_gets_no_cases(client, month):
    # Given a supervisor with no district, street or community
    client.force_login(staff(Role.SUPERVISOR))

    with frozen_at(NOW):
        trend = client.get(data_url("trend")).json()
        categories = client.get(data_url("categories")).json()
        sources = client.get(data_url("sources")).json()

    # Then every day is there, with nothing reported or closed
    assert len(trend["rows"]) == 30
    assert {(r["reported"], r["closed"]) for r in trend["rows"]} == {(0, 0)}
    assert categories["rows"] == sources["rows"] == []


def test_community_staff_get_their_community_only(client, month, other_community):
    # Given two cases in another community of the district, on 8 November
    CaseFactory.create_batch(2, community=other_community, reported_at=at(11, 8))
    client.force_login(staff(Role.COMMUNITY_STAFF, scope=other_community))

    with frozen_at(NOW):
        trend = client.get(data_url("trend")).json()
        sources = client.get(data_url("sources")).json()

    # Then they get those two, not the fixture month's ten
    assert sum(r["reported"] for r in trend["rows"]) == 2
    assert [r["reported"] for r in trend["rows"] if r["day"] == "2026-11-08"] == [2]
    assert sum(r["count"] for r in sources["rows"]) == 2


# --- what they carry ------------------------------------------------------------------------


@pytest.mark.parametrize("chart", ASYNC_CHARTS)
@pytest.mark.parametrize("scope", ["", "&unit={unit}", "&source=web"])
def test_the_json_has_the_numbers_of_the_csv(client, month, supervisor, chart, scope):
    client.force_login(supervisor)
    query = NOVEMBER + scope.format(unit=month["u1"].pk)

    with frozen_at(NOW):
        response = client.get(data_url(chart, query))
        expected = csv_rows(client, chart, query)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert (data["chart"], data["first"], data["last"]) == (chart, "2026-11-01", "2026-11-30")
    assert json_numbers(chart, data["rows"]) == expected
    if not scope:
        assert sum(int(row[1]) for row in expected) == 10


def test_every_json_figure_links_to_as_many_cases(client, month, supervisor):
    client.force_login(supervisor)

    def listed(url: str) -> int:
        response = client.get(url)
        assert response.status_code == 200
        return response.context["page_obj"].paginator.count

    with frozen_at(NOW):
        trend = client.get(data_url("trend")).json()["rows"]
        for row in trend:
            if row["reported"] or row["closed"]:
                assert listed(row["reported_url"]) == row["reported"], row["day"]
                assert listed(row["closed_url"]) == row["closed"], row["day"]
        for chart in ("categories", "sources"):
            for row in client.get(data_url(chart)).json()["rows"]:
                assert listed(row["url"]) == row["count"], row

    assert any(row["closed"] for row in trend)
    assert f"period_start={date(2026, 11, 8).isoformat()}" in trend[7]["reported_url"]


def test_an_unknown_chart_is_not_found(client, supervisor):
    client.force_login(supervisor)

    # Charts drawn from the page's own numbers have a CSV but no JSON
    assert client.get(data_url("streets")).status_code == 404
    assert client.get(data_url("nothing")).status_code == 404


def test_a_bad_period_still_answers_with_the_default_month(client, month, supervisor):
    client.force_login(supervisor)

    with frozen_at(NOW):
        response = client.get(data_url("trend", "?period=custom&start=not-a-date&end=2026-99-99"))
        default = client.get(data_url("trend", "")).json()

    assert response.status_code == 200
    assert (response.json()["first"], response.json()["last"]) == (default["first"], default["last"])


# --- the page ---------------------------------------------------------------------------------


def test_the_page_leaves_the_charts_to_load_with_their_data_url_and_csv(client, month, supervisor):
    client.force_login(supervisor)

    with frozen_at(NOW):
        response = client.get(reverse("dashboard:index") + NOVEMBER + "&source=web")

    page = response.content.decode()
    for chart in ASYNC_CHARTS:
        url = reverse("dashboard:chart_data", args=[chart])
        assert f'id="chart-{chart}"' in page
        assert (
            f'data-url="{url}?period=custom&amp;start=2026-11-01&amp;end=2026-11-30&amp;source=web"' in page
        )
        # without JavaScript: the link to the chart's numbers
        assert reverse("dashboard:chart_csv", args=[chart]) + "?period=custom" in page
    # the page did not compute them
    dashboard = response.context["dashboard"]
    assert not {"reported", "trend", "categories", "sources"} & set(vars(dashboard))
