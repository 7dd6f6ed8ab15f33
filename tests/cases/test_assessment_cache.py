"""The monthly assessment's figures, kept in the cache like the dashboard's.

Each month's figures of cases and patrols (the costly part: at a million
cases 220-480 ms per page) are kept per user and month under the user's
token (cases.dashboard.FigureCache): a month under way for
DASHBOARD_CACHE_SECONDS, a month that is over for ASSESSMENT_CACHE_SECONDS.
The page says when they were computed and offers the dashboard's "refresh";
names, weights and two-way ratings are read on every request; the exports
are computed anew. A change of a user's scope drops what was cached for them
at once. The numbers are those of the hand-computed November of
test_indicators: U1 58.33, U2 100, at NOW (2026-12-01 10:00, November over).
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases import dashboard as reads
from cases.assessment import two_way_rating_submit
from cases.choices import CaseStatus
from cases.models import AssessmentWeights, TwoWayRating
from chengguan.clock import frozen_at
from chengguan.roles import Role
from chengguan.services import user_set_scope
from liaisons.services import liaison_assign
from tests.cases.test_indicators import NOW, at
from tests.factories import (
    CaseFactory,
    CommunityFactory,
    DistrictFactory,
    HandlingUnitFactory,
    StreetFactory,
    staff,
)

ASSESSMENT = reverse("dashboard:assessment")
NOVEMBER = "?month=2026-11"
DECEMBER = "?month=2026-12"


def read(client, url: str) -> tuple[Any, CaptureQueriesContext]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response, queries


def counting(queries: CaptureQueriesContext) -> int:
    """The queries that count a month's cases or patrols: the costly ones the cache saves."""
    return sum(
        "COUNT(" in q["sql"] and ('"cases_case"' in q["sql"] or '"liaisons_scheduledpatrol"' in q["sql"])
        for q in queries.captured_queries
    )


def scores(response) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """The units ranked on the page (those with a score), by name."""
    return {row.name: row.score for row in response.context["report"].units if row.score is not None}


def one_more_due_for(unit, community) -> None:  # type: ignore[no-untyped-def]
    """A case of `unit` due in November and still open: its on-time and closure rates fall."""
    CaseFactory(
        community=community,
        handling_unit=unit,
        status=CaseStatus.DISPATCHED,
        reported_at=at(11, 20),
        registered_at=at(11, 20),
        due_at=at(11, 27),
        deadline=at(11, 27),
    )


@pytest.fixture
def more_for_u2(month, community):  # type: ignore[no-untyped-def]
    """Adds a case of U2 (100 in November: its one case due closed on time) due in November and open.

    U2 then scores (60 × 1/2 + 20 × 1/2 + 10 × 1) × 100 / 90 = 55.56; after a second one 40.74.
    """
    return lambda: one_more_due_for(month["u2"], community)


# --- served from the cache -------------------------------------------------------------


def test_a_second_request_is_served_from_the_cache(client, month, supervisor, more_for_u2):
    # Given a supervisor who opened November's assessment
    client.force_login(supervisor)
    with frozen_at(NOW):
        first, first_queries = read(client, ASSESSMENT + NOVEMBER)
        # when a case of U2 due in November turns up and they open it again
        more_for_u2()
        again, again_queries = read(client, ASSESSMENT + NOVEMBER)

    # then the rankings are those computed the first time, without counting anything again
    assert scores(first) == scores(again) == {month["u1"].name: 58.33, month["u2"].name: 100.0}
    # (November's cases and patrols, October's cases and patrols)
    assert counting(first_queries) == 4
    assert counting(again_queries) == 0
    assert len(again_queries) <= len(first_queries) - 4


def test_a_month_under_way_is_kept_as_long_as_the_dashboard_a_month_over_longer(
    client, month, supervisor, settings
):
    settings.DASHBOARD_CACHE_SECONDS = 60
    settings.ASSESSMENT_CACHE_SECONDS = 3600
    client.force_login(supervisor)
    with frozen_at(NOW):
        read(client, ASSESSMENT + NOVEMBER)
        read(client, ASSESSMENT + DECEMBER)
        # When a minute has passed
        with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
            _response, november = read(client, ASSESSMENT + NOVEMBER)
            _response, december = read(client, ASSESSMENT + DECEMBER)
        # and when an hour has passed
        with time_machine.travel(timezone.now() + timedelta(seconds=3601), tick=False):
            _response, november_later = read(client, ASSESSMENT + NOVEMBER)

    # Then November (over) still comes from the cache after a minute, and is counted again after an hour;
    assert counting(november) == 0
    assert counting(november_later) == 4
    # December (under way) is counted again after a minute, its comparison with November still cached
    assert counting(december) == 2


def test_with_no_cache_time_a_past_month_is_counted_on_every_request(client, month, supervisor, settings):
    settings.ASSESSMENT_CACHE_SECONDS = 0
    client.force_login(supervisor)
    with frozen_at(NOW):
        read(client, ASSESSMENT + NOVEMBER)
        _response, queries = read(client, ASSESSMENT + NOVEMBER)

    assert counting(queries) == 4


def test_the_cache_holds_plain_numbers_by_id(client, month, supervisor):
    client.force_login(supervisor)
    with frozen_at(NOW):
        read(client, ASSESSMENT + NOVEMBER)
        report = reads.Assessment(supervisor, date(2026, 11, 1), cached=True)

    for first in (report.first, report.previous_first):
        entry = cache.get(report.cache_key(first))
        assert entry is not None, first
        assert _plain(entry)
    figures = cache.get(report.cache_key(report.first))[3]
    assert figures["units"][month["u1"].pk]["due"] == 4


def _plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_plain(item) for item in value)
    return value is None or isinstance(value, bool | int | float | str | Decimal | date | datetime)


# --- what is read on every request ---------------------------------------------------------


def test_a_rating_or_a_change_of_the_weights_shows_at_once(client, month, supervisor, community):
    liaison = staff(Role.LIAISON, username="lianluoyuan")
    liaison_assign(community=community, liaison=liaison)
    community_staff = staff(Role.COMMUNITY_STAFF, scope=community)
    client.force_login(supervisor)
    with frozen_at(NOW):
        read(client, ASSESSMENT + NOVEMBER)
        # When the community rates its liaison for November and the weights change
        two_way_rating_submit(
            actor=community_staff,
            community=community,
            direction=TwoWayRating.Direction.OF_LIAISON,
            month=date(2026, 11, 1),
            score=4,
        )
        AssessmentWeights(on_time_rate=100, closure_rate=0, rework_rate=0, satisfaction_rate=0).save()
        response, queries = read(client, ASSESSMENT + NOVEMBER)

    # Then the page shows both, its figures of cases still from the cache
    assert counting(queries) == 0
    assert [row["of_liaison"].score for row in response.context["report"].two_way] == [4]
    row = next(r for r in response.context["report"].liaisons if r.key == liaison.pk)
    assert row.extra["rating"] == 4
    assert scores(response)[month["u1"].name] == 50.0  # on time 2 of 4, the only weight


# --- "Figures as of" and the refresh link -----------------------------------------------


def test_the_page_says_when_its_figures_were_computed(client, month, supervisor):
    client.force_login(supervisor)
    with frozen_at(NOW):
        first, _queries = read(client, ASSESSMENT + NOVEMBER)
    with frozen_at(NOW + timedelta(minutes=5)):
        again, _queries = read(client, ASSESSMENT + NOVEMBER)
    # The next day by the application's clock (the cache's own time has not moved)
    with frozen_at(NOW + timedelta(days=1)):
        next_day, _queries = read(client, ASSESSMENT + NOVEMBER)

    for response in (first, again):
        html = response.content.decode()
        assert response.context["as_of"] == NOW
        assert '<time datetime="2026-12-01T10:00:00+08:00">10:00</time>' in html
        assert 'href="?month=2026-11&amp;fresh=1"' in html
    assert '<time datetime="2026-12-01T10:00:00+08:00">2026-12-01 10:00</time>' in next_day.content.decode()


def test_refresh_recomputes_at_most_once_per_ten_seconds(client, month, supervisor, more_for_u2):
    client.force_login(supervisor)
    with frozen_at(NOW):
        read(client, ASSESSMENT + NOVEMBER)
        more_for_u2()

        # When the supervisor follows "refresh"
        refreshed, queries = read(client, ASSESSMENT + NOVEMBER + "&fresh=1")
        # then the month is counted again: U2 has one of two cases closed on time now
        assert counting(queries) == 4
        assert scores(refreshed)[month["u2"].name] == 55.56
        assert "fresh" not in refreshed.context["xlsx_url"] + refreshed.context["csv_url"]

        # When they follow it again at once
        more_for_u2()
        throttled, queries = read(client, ASSESSMENT + NOVEMBER + "&fresh=1")
        # then the cached figures are shown
        assert counting(queries) == 0
        assert scores(throttled)[month["u2"].name] == 55.56

        # When ten seconds have passed
        cache.delete(reads.fresh_throttle_key(supervisor.pk))
        again, queries = read(client, ASSESSMENT + NOVEMBER + "&fresh=1")
        assert counting(queries) == 4
        assert scores(again)[month["u2"].name] == 40.74


def test_the_dashboards_refresh_recomputes_the_assessment_too(client, month, supervisor, more_for_u2):
    client.force_login(supervisor)
    with frozen_at(NOW):
        read(client, ASSESSMENT + NOVEMBER)
        more_for_u2()
        read(client, reverse("dashboard:index") + "?fresh=1")
        response, queries = read(client, ASSESSMENT + NOVEMBER)

    assert counting(queries) == 4
    assert scores(response)[month["u2"].name] == 55.56


# --- the exports -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_exports_are_computed_anew_and_leave_the_page_cached(client, month, supervisor, more_for_u2, fmt):
    from openpyxl import load_workbook

    client.force_login(supervisor)
    with frozen_at(NOW):
        read(client, ASSESSMENT + NOVEMBER)
        more_for_u2()
        # When the supervisor exports the month the page shows from the cache
        export, queries = read(client, reverse("dashboard:assessment_export", args=[fmt]) + NOVEMBER)
        page, page_queries = read(client, ASSESSMENT + NOVEMBER)

    # Then the export counts now and has U2's new case; the page still shows its cached figures
    assert counting(queries) == 4
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))[1:]
        exported = {row[2]: row[3] for row in rows}
    else:
        sheet = load_workbook(io.BytesIO(export.content)).worksheets[0]
        exported = {row[1]: str(row[2]) for row in list(sheet.iter_rows(values_only=True))[2:]}
    assert exported[month["u2"].name] == "55.56"
    assert counting(page_queries) == 0
    assert scores(page)[month["u2"].name] == 100.0


# --- scope ------------------------------------------------------------------------------


@pytest.fixture
def elsewhere(db):  # type: ignore[no-untyped-def]
    """A second district whose unit U3 has one case due in November, still open (score 0)."""
    district = DistrictFactory()
    community = CommunityFactory(street=StreetFactory(district=district), origin=(121.0, 31.0))
    u3 = HandlingUnitFactory(district=district, name="U3")
    one_more_due_for(u3, community)
    return {"district": district, "unit": u3}


def test_a_change_of_scope_shows_the_new_scopes_figures_at_once(
    client, month, supervisor, district, elsewhere, django_capture_on_commit_callbacks
):
    client.force_login(supervisor)
    with frozen_at(NOW):
        before, _queries = read(client, ASSESSMENT + NOVEMBER)
        # When the supervisor is moved from their district to the other one
        with django_capture_on_commit_callbacks(execute=True):
            user_set_scope(user=supervisor, target=elsewhere["district"])
            user_set_scope(user=supervisor, target=district, grant=False)
        after, queries = read(client, ASSESSMENT + NOVEMBER)
        # and when they lose it too
        with django_capture_on_commit_callbacks(execute=True):
            user_set_scope(user=supervisor, target=elsewhere["district"], grant=False)
        nothing, _queries = read(client, ASSESSMENT + NOVEMBER)

    # Then the next page counts in the new scope, not an hour later
    assert scores(before) == {month["u1"].name: 58.33, month["u2"].name: 100.0}
    assert counting(queries) == 4
    assert scores(after) == {"U3": 0.0}
    assert scores(nothing) == {}


def test_scoped_and_city_wide_users_never_see_each_others_figures(client, month, supervisor, elsewhere):
    district_b = staff(Role.SUPERVISOR, scope=elsewhere["district"])
    city = staff(Role.SUPERVISOR, scope="city")
    u1, u2 = month["u1"].name, month["u2"].name

    # When each opens the same month, one after the other, twice
    seen: dict[str, list[dict[str, float]]] = {"A": [], "B": [], "city": []}
    with frozen_at(NOW):
        for _round in range(2):
            for name, user in [("A", supervisor), ("B", district_b), ("city", city)]:
                client.force_login(user)
                response, _queries = read(client, ASSESSMENT + NOVEMBER)
                seen[name].append(scores(response))

    # Then each sees their own area's figures, the second time as the first
    assert seen == {
        "A": [{u1: 58.33, u2: 100.0}] * 2,
        "B": [{"U3": 0.0}] * 2,
        "city": [{u1: 58.33, u2: 100.0, "U3": 0.0}] * 2,
    }
