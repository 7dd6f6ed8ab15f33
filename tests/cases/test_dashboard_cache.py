"""The dashboard's figures of the current period, kept in the cache (issue #9).

At a million cases the figures take a fifth of a second of the database per
request; the page, its chart JSON and its downloads keep them for
DASHBOARD_CACHE_SECONDS per user, period and filters, say when they were
computed ("Figures as of HH:MM") and offer a "refresh" that recomputes them,
at most once per FRESH_SECONDS per user. The numbers are those of the
hand-computed November of test_indicators (10 reports in the district).
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from cases import dashboard as reads
from cases.choices import CaseStatus
from cases.dashboard import ASYNC_CHARTS, Dashboard, DashboardFilters, dashboard_period, read_through
from chengguan.clock import frozen_at
from chengguan.roles import Role, role_group
from chengguan.services import user_set_scope
from communities.models import Community
from liaisons.models import LiaisonAssignment
from liaisons.services import cover_cancel, cover_create, liaison_assign, liaison_unassign
from tests.cases.test_indicators import NOW, at
from tests.factories import CaseFactory, CommunityFactory, DistrictFactory, StreetFactory, staff

DASHBOARD = reverse("dashboard:index")
NOVEMBER = "?period=custom&start=2026-11-01&end=2026-11-30"


def read(client, url: str) -> tuple[Any, CaptureQueriesContext]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response, queries


def counting(queries: CaptureQueriesContext) -> int:
    """The queries that count cases: the figures, the charts, the overdue table's length."""
    return sum('"cases_case"' in q["sql"] and "COUNT(" in q["sql"] for q in queries.captured_queries)


def reported(response) -> int:  # type: ignore[no-untyped-def]
    return {tile.key: tile.value for tile in response.context["tiles"]}["reported"]


def one_more_report(community) -> None:  # type: ignore[no-untyped-def]
    CaseFactory(community=community, reported_at=at(11, 20))


# --- the page -------------------------------------------------------------------------


def test_a_second_request_within_the_cache_time_does_not_count_again(client, month, supervisor, community):
    # Given a supervisor who opened the dashboard
    client.force_login(supervisor)
    with frozen_at(NOW):
        first, first_queries = read(client, DASHBOARD + NOVEMBER)
        # when a case is reported and they open it again
        one_more_report(community)
        again, again_queries = read(client, DASHBOARD + NOVEMBER)

    # then the figures are those computed the first time, without counting anything again
    assert reported(first) == reported(again) == 10
    assert counting(first_queries) >= 3  # this and the previous period, the overdue table's length
    assert counting(again_queries) == 0
    assert len(again_queries) <= len(first_queries) - 6


def test_the_figures_are_counted_again_once_their_time_is_over(
    client, month, supervisor, community, settings
):
    settings.DASHBOARD_CACHE_SECONDS = 60
    client.force_login(supervisor)
    with frozen_at(NOW):
        read(client, DASHBOARD + NOVEMBER)
        one_more_report(community)
        # When a minute has passed
        with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
            later, queries = read(client, DASHBOARD + NOVEMBER)

    # Then the page counts afresh and shows the new case
    assert counting(queries) > 0
    assert reported(later) == 11


@pytest.mark.parametrize(
    "other",
    [
        "?period=month",
        NOVEMBER + "&source=web",
        NOVEMBER + "&community={community}",
        "?period=custom&start=2026-11-01&end=2026-11-29",
    ],
)
def test_another_period_or_filter_is_counted_on_its_own(client, month, supervisor, community, other):
    client.force_login(supervisor)
    with frozen_at(NOW):
        read(client, DASHBOARD + NOVEMBER)
        # When the supervisor changes the period or a filter
        _response, queries = read(client, DASHBOARD + other.format(community=community.pk))

    # Then those figures are counted, not taken from the first ones
    assert counting(queries) > 0


def test_scoped_and_city_wide_users_never_see_each_others_figures(client, month, supervisor):
    # Given a second district with 3 cases, its supervisor and a city-wide supervisor
    other_district = DistrictFactory()
    elsewhere = CommunityFactory(street=StreetFactory(district=other_district), origin=(121.0, 31.0))
    CaseFactory.create_batch(3, community=elsewhere, reported_at=at(11, 8))
    district_b = staff(Role.SUPERVISOR, scope=other_district)
    city = staff(Role.SUPERVISOR, scope="city")

    # When each opens the same dashboard, one after the other, twice
    seen: dict[str, list[int]] = {"A": [], "B": [], "city": []}
    with frozen_at(NOW):
        for _round in range(2):
            for name, user in [("A", supervisor), ("B", district_b), ("city", city)]:
                client.force_login(user)
                response, _queries = read(client, DASHBOARD + NOVEMBER)
                trend = client.get(reverse("dashboard:chart_data", args=["trend"]) + NOVEMBER).json()
                seen[name] += [reported(response), sum(row["reported"] for row in trend["rows"])]

    # Then each sees their own area's figures, on the page and in the charts
    assert seen == {"A": [10, 10, 10, 10], "B": [3, 3, 3, 3], "city": [13, 13, 13, 13]}


# --- a change of scope --------------------------------------------------------------------


@pytest.fixture
def other_district(db):  # type: ignore[no-untyped-def]
    """A second district with 3 cases reported in November and 2 in October."""
    district = DistrictFactory()
    elsewhere = CommunityFactory(street=StreetFactory(district=district), origin=(121.0, 31.0))
    CaseFactory.create_batch(3, community=elsewhere, reported_at=at(11, 8))
    CaseFactory.create_batch(2, community=elsewhere, reported_at=at(10, 8))
    return district


def test_a_change_of_scope_shows_the_new_scopes_figures_at_once(
    client, month, supervisor, other_district, django_capture_on_commit_callbacks
):
    def previous(response) -> int:  # type: ignore[no-untyped-def]
        return {tile.key: tile.previous for tile in response.context["tiles"]}["reported"]

    client.force_login(supervisor)
    with frozen_at(NOW):
        before, _queries = read(client, DASHBOARD + NOVEMBER)
        # When the supervisor is given the other district as well
        with django_capture_on_commit_callbacks(execute=True):
            user_set_scope(user=supervisor, target=other_district)
        after, queries = read(client, DASHBOARD + NOVEMBER)

    # Then the next page counts both districts, this period and the one compared with,
    # and the scope filters offer the new district
    assert counting(queries) > 0
    assert reported(after) == reported(before) + 3
    assert previous(after) == previous(before) + 2
    assert other_district.pk in dict(after.context["form"].fields["district"].choices)
    assert other_district.pk not in dict(before.context["form"].fields["district"].choices)


def test_the_cached_figures_are_dropped_once_the_scope_change_is_committed(
    supervisor, other_district, django_capture_on_commit_callbacks
):
    token = reads.figures_token(supervisor.pk)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        user_set_scope(user=supervisor, target=other_district)
        # (a request computing before the commit would still see the old scope)
        assert reads.figures_token(supervisor.pk) == token

    assert len(callbacks) == 1
    assert reads.figures_token(supervisor.pk) != token


def test_one_users_change_of_scope_leaves_the_others_cached_figures_alone(
    client, month, supervisor, district, other_district, django_capture_on_commit_callbacks
):
    colleague = staff(Role.SUPERVISOR, scope=district)
    with frozen_at(NOW):
        client.force_login(colleague)
        read(client, DASHBOARD + NOVEMBER)
        with django_capture_on_commit_callbacks(execute=True):
            user_set_scope(user=supervisor, target=other_district)
        _response, queries = read(client, DASHBOARD + NOVEMBER)

    assert counting(queries) == 0


# Scope changed elsewhere than user_set_scope: liaison postings and cover periods
# (liaisons.services, through chengguan.permissions.forget_scope), roles and group
# permissions (the admin, through the receivers of chengguan.permissions).


def _posted(community, superuser):  # type: ignore[no-untyped-def]
    liaison = staff(Role.LIAISON)
    liaison_assign(community=community, liaison=liaison, actor=superuser)
    return type(liaison).objects.get(pk=liaison.pk)


def _community_of(district):  # type: ignore[no-untyped-def]
    return Community.objects.get(street__district=district)


def test_a_liaisons_new_posting_shows_in_both_liaisons_next_dashboards_at_once(
    client, month, community, other_district, superuser, django_capture_on_commit_callbacks
):
    # Given a liaison of `community` and one of the other district's, each having opened the dashboard
    elsewhere = _community_of(other_district)
    with frozen_at(NOW):
        ours, theirs = _posted(community, superuser), _posted(elsewhere, superuser)
        seen = {}
        for name, user in [("ours", ours), ("theirs", theirs)]:
            client.force_login(user)
            seen[name] = [reported(read(client, DASHBOARD + NOVEMBER)[0])]

        # When our liaison takes over the other community (its liaison loses it)
        with django_capture_on_commit_callbacks(execute=True):
            liaison_assign(community=elsewhere, liaison=ours, actor=superuser)
        for name, user in [("ours", ours), ("theirs", theirs)]:
            client.force_login(user)
            response, queries = read(client, DASHBOARD + NOVEMBER)
            seen[name].append(reported(response))
            assert counting(queries) > 0

    # Then each one's next page counts in their new scope
    assert seen == {"ours": [10, 13], "theirs": [3, 0]}


def test_an_ended_posting_shows_in_the_liaisons_next_dashboard_at_once(
    client, month, community, superuser, django_capture_on_commit_callbacks
):
    with frozen_at(NOW):
        liaison = _posted(community, superuser)
        client.force_login(liaison)
        before, _queries = read(client, DASHBOARD + NOVEMBER)
        # When the posting ends
        with django_capture_on_commit_callbacks(execute=True):
            liaison_unassign(assignment=LiaisonAssignment.objects.get(liaison=liaison), actor=superuser)
        after, _queries = read(client, DASHBOARD + NOVEMBER)

    assert (reported(before), reported(after)) == (10, 0)


def test_a_cover_period_shows_in_the_backups_next_dashboard_at_once(
    client, month, community, other_district, superuser, django_capture_on_commit_callbacks
):
    # Given a liaison of `community` who opened the dashboard
    with frozen_at(NOW):
        backup = _posted(community, superuser)
        client.force_login(backup)
        before, _queries = read(client, DASHBOARD + NOVEMBER)
        # When they start covering the other district's community (B角) now, and the cover is later cancelled
        with django_capture_on_commit_callbacks(execute=True):
            cover = cover_create(
                community=_community_of(other_district),
                backup=backup,
                starts_at=NOW - timedelta(hours=1),
                ends_at=NOW + timedelta(days=3),
                reason="A角休假",
                actor=superuser,
            )
        covering, _queries = read(client, DASHBOARD + NOVEMBER)
        with django_capture_on_commit_callbacks(execute=True):
            cover_cancel(cover=cover, actor=superuser)
        after, _queries = read(client, DASHBOARD + NOVEMBER)

    # Then the next pages count the covered community while the cover runs, and not after
    assert [reported(r) for r in (before, covering, after)] == [10, 13, 10]


def test_a_liaison_posting_drops_the_cached_figures_only_once_committed(
    community, superuser, django_capture_on_commit_callbacks
):
    liaison = staff(Role.LIAISON)
    token = reads.figures_token(liaison.pk)
    with django_capture_on_commit_callbacks(execute=True):
        liaison_assign(community=community, liaison=liaison, actor=superuser)
        # (a request computing before the commit would still see the old scope)
        assert reads.figures_token(liaison.pk) == token

    assert reads.figures_token(liaison.pk) != token


def test_a_change_of_role_shows_in_the_next_dashboard_at_once(
    client, month, supervisor, other_district, django_capture_on_commit_callbacks
):
    client.force_login(supervisor)
    with frozen_at(NOW):
        before, _queries = read(client, DASHBOARD + NOVEMBER)
        # When the supervisor is also made an administrator (a city-wide role), as the admin's role field does
        with django_capture_on_commit_callbacks(execute=True):
            supervisor.groups.add(role_group(Role.ADMIN))
        city_wide, _queries = read(client, DASHBOARD + NOVEMBER)
        # and when the role is taken away again from the group's side
        with django_capture_on_commit_callbacks(execute=True):
            role_group(Role.ADMIN).user_set.remove(supervisor)
        after, _queries = read(client, DASHBOARD + NOVEMBER)

    assert [reported(r) for r in (before, city_wide, after)] == [10, 13, 10]


def test_a_groups_new_area_shows_in_its_members_next_dashboards_at_once(
    client, month, supervisor, other_district, django_capture_on_commit_callbacks
):
    # Given the supervisor in a group, having opened the dashboard
    team = Group.objects.create(name="督查组")
    supervisor.groups.add(team)
    client.force_login(supervisor)
    with frozen_at(NOW):
        before, _queries = read(client, DASHBOARD + NOVEMBER)
        # When the group is given the other district (the admin's group object permissions page)
        with django_capture_on_commit_callbacks(execute=True):
            assign_perm("communities.oversee_district", team, other_district)
        granted, _queries = read(client, DASHBOARD + NOVEMBER)
        # and when it is withdrawn
        with django_capture_on_commit_callbacks(execute=True):
            remove_perm("communities.oversee_district", team, other_district)
        withdrawn, _queries = read(client, DASHBOARD + NOVEMBER)

    assert [reported(r) for r in (before, granted, withdrawn)] == [10, 13, 10]


def test_becoming_a_superuser_shows_in_the_next_dashboard_at_once(
    client, month, supervisor, other_district, django_capture_on_commit_callbacks
):
    client.force_login(supervisor)
    with frozen_at(NOW):
        before, _queries = read(client, DASHBOARD + NOVEMBER)
        # When the supervisor is made a superuser on the admin's user page (a full save)
        with django_capture_on_commit_callbacks(execute=True):
            supervisor.is_superuser = True
            supervisor.save()
        city_wide, _queries = read(client, DASHBOARD + NOVEMBER)
        # and when it is taken away again
        with django_capture_on_commit_callbacks(execute=True):
            supervisor.is_superuser = False
            supervisor.save(update_fields=["is_superuser"])
        after, _queries = read(client, DASHBOARD + NOVEMBER)

    assert [reported(r) for r in (before, city_wide, after)] == [10, 13, 10]


def test_a_change_of_a_roles_permissions_shows_in_its_holders_next_dashboards_at_once(
    client, month, supervisor, other_district, django_capture_on_commit_callbacks
):
    oversee_city = Permission.objects.get(codename="oversee_city")
    client.force_login(supervisor)
    with frozen_at(NOW):
        before, _queries = read(client, DASHBOARD + NOVEMBER)
        # When the supervisors' role is given the whole city (the admin's group page)
        with django_capture_on_commit_callbacks(execute=True):
            role_group(Role.SUPERVISOR).permissions.add(oversee_city)
        city_wide, _queries = read(client, DASHBOARD + NOVEMBER)
        # and when it is taken away again
        with django_capture_on_commit_callbacks(execute=True):
            role_group(Role.SUPERVISOR).permissions.remove(oversee_city)
        after, _queries = read(client, DASHBOARD + NOVEMBER)

    assert [reported(r) for r in (before, city_wide, after)] == [10, 13, 10]


def test_a_token_lost_from_the_cache_never_brings_older_figures_back(db):
    # Given figures cached under a user's token, then a refresh (a new token) and figures under it
    first = reads.figures_token(7)
    assert read_through("k", lambda: 1, seconds=60, now=NOW, token=first) == (NOW, 1)
    reads.forget_cached_figures(7)
    assert reads.figures_token(7) != first

    # When the token is evicted, a new one is drawn: nothing cached before is used
    cache.delete(reads.figures_token_key(7))
    assert reads.figures_token(7) not in (first, None)
    assert read_through("k", lambda: 2, seconds=60, now=NOW, token=reads.figures_token(7)) == (NOW, 2)


# --- "Figures as of" and the refresh link -----------------------------------------------


def test_the_page_says_when_its_figures_were_computed(client, month, supervisor):
    client.force_login(supervisor)
    with frozen_at(NOW):
        first, _queries = read(client, DASHBOARD + NOVEMBER)
    # Five minutes later by the application's clock, still within the cache time
    with frozen_at(NOW + timedelta(minutes=5)):
        again, _queries = read(client, DASHBOARD + NOVEMBER)
        # and for a user in another time zone (UTC+9)
        with timezone.override("Asia/Tokyo"):
            elsewhere, _queries = read(client, DASHBOARD + NOVEMBER)

    # The page shows when the figures it shows were computed, in the user's time zone
    for response in (first, again):
        html = response.content.decode()
        assert response.context["as_of"] == NOW
        assert '<time datetime="2026-12-01T10:00:00+08:00">10:00</time>' in html
    assert '<time datetime="2026-12-01T11:00:00+09:00">11:00</time>' in elsewhere.content.decode()
    # with a link that recomputes them
    assert (
        'href="?period=custom&amp;start=2026-11-01&amp;end=2026-11-30&amp;fresh=1"' in first.content.decode()
    )


def test_refresh_recomputes_at_most_once_per_ten_seconds(client, month, supervisor, community):
    client.force_login(supervisor)
    with frozen_at(NOW):
        read(client, DASHBOARD + NOVEMBER)
        one_more_report(community)

        # When the supervisor follows "refresh"
        refreshed, queries = read(client, DASHBOARD + NOVEMBER + "&fresh=1")
        # then the figures are counted again, and the links of the page do not ask for it again
        assert counting(queries) > 0 and reported(refreshed) == 11
        assert "fresh" not in refreshed.context["query"]
        assert all("fresh" not in url for url in refreshed.context["data_urls"].values())

        # When they follow it again at once
        one_more_report(community)
        throttled, queries = read(client, DASHBOARD + NOVEMBER + "&fresh=1")
        # then the cached figures are shown
        assert counting(queries) == 0 and reported(throttled) == 11

        # When ten seconds have passed (the throttle's entry has expired)
        cache.delete(reads.fresh_throttle_key(supervisor.pk))
        again, queries = read(client, DASHBOARD + NOVEMBER + "&fresh=1")
        # then it counts again
        assert counting(queries) > 0 and reported(again) == 12


def test_one_users_refresh_leaves_the_others_cached_figures_alone(client, month, supervisor, district):
    colleague = staff(Role.SUPERVISOR, scope=district)
    with frozen_at(NOW):
        client.force_login(colleague)
        read(client, DASHBOARD + NOVEMBER)
        client.force_login(supervisor)
        read(client, DASHBOARD + NOVEMBER + "&fresh=1")

        # When the colleague opens the dashboard again
        client.force_login(colleague)
        _response, queries = read(client, DASHBOARD + NOVEMBER)

    # Then their figures still come from the cache
    assert counting(queries) == 0


# --- the charts loaded after the page ---------------------------------------------------


@pytest.mark.parametrize("chart", ASYNC_CHARTS)
def test_the_chart_json_is_cached_and_refreshed_the_same_way(client, month, supervisor, community, chart):
    url = reverse("dashboard:chart_data", args=[chart]) + NOVEMBER
    client.force_login(supervisor)

    def total(data: dict[str, Any]) -> int:
        return sum(row["reported" if chart == "trend" else "count"] for row in data["rows"])

    with frozen_at(NOW):
        first, _queries = read(client, url)
        one_more_report(community)
        again, queries = read(client, url)
        # The same rows, from the cache, with the time they were computed
        assert total(first.json()) == total(again.json()) == 10
        assert counting(queries) == 0
        assert again.json()["as_of"] == NOW.isoformat()

        # "fresh" counts again, within the same throttle as the page
        refreshed, queries = read(client, url + "&fresh=1")
        assert counting(queries) > 0 and total(refreshed.json()) == 11


def test_the_three_charts_share_one_count_of_the_reports(client, month, supervisor):
    client.force_login(supervisor)
    with frozen_at(NOW):
        read(client, reverse("dashboard:chart_data", args=["trend"]) + NOVEMBER)
        _response, categories = read(client, reverse("dashboard:chart_data", args=["categories"]) + NOVEMBER)
        _response, sources = read(client, reverse("dashboard:chart_data", args=["sources"]) + NOVEMBER)

    assert counting(categories) == counting(sources) == 0


def test_the_page_after_a_refresh_has_its_charts_counted_again(client, month, supervisor, community):
    trend = reverse("dashboard:chart_data", args=["trend"]) + NOVEMBER
    client.force_login(supervisor)
    with frozen_at(NOW):
        read(client, trend)
        one_more_report(community)
        page, _queries = read(client, DASHBOARD + NOVEMBER + "&fresh=1")
        # When the page's script loads its charts (their links without "fresh")
        response, queries = read(client, page.context["data_urls"]["trend"])

    # Then they are counted again too
    assert counting(queries) > 0
    assert sum(row["reported"] for row in response.json()["rows"]) == 11


# --- the overdue table ----------------------------------------------------------------


def test_each_page_of_the_overdue_table_is_cached_apart(client, month, supervisor, community):
    for day in range(1, 16):
        CaseFactory(
            community=community,
            status=CaseStatus.DISPATCHED,
            reported_at=at(11, day),
            registered_at=at(11, day),
            deadline=at(11, day) + timedelta(days=1),
        )
    client.force_login(supervisor)

    def numbers(response) -> list[str]:  # type: ignore[no-untyped-def]
        return [case.number for case in response.context["attention_cases"]]

    with frozen_at(NOW):
        page_1, _queries = read(client, DASHBOARD + NOVEMBER)
        page_2, first_queries = read(client, DASHBOARD + NOVEMBER + "&page=2")
        page_2_again, again_queries = read(client, DASHBOARD + NOVEMBER + "&page=2")

    assert numbers(page_1) and numbers(page_2)
    assert not set(numbers(page_1)) & set(numbers(page_2))
    assert numbers(page_2_again) == numbers(page_2)
    # page 2 read its own ids the first time, and nothing counted the second
    ids = [q for q in first_queries.captured_queries if "LIMIT" in q["sql"] and '"cases_case"' in q["sql"]]
    assert ids
    assert counting(again_queries) == 0
    assert page_1.context["page_obj"].paginator.count == page_2.context["page_obj"].paginator.count


# --- what is cached -------------------------------------------------------------------


def _plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_plain(item) for item in value)
    return value is None or isinstance(value, bool | int | float | str | Decimal | date | datetime)


def test_the_cache_holds_plain_numbers_and_ids(client, month, supervisor, district):
    client.force_login(supervisor)
    with frozen_at(NOW):
        page, _queries = read(client, DASHBOARD + NOVEMBER)
        for chart in ASYNC_CHARTS:
            read(client, reverse("dashboard:chart_data", args=[chart]) + NOVEMBER)
        period = dashboard_period("custom", date(2026, 11, 1), date(2026, 11, 30))
        dashboard = Dashboard(supervisor, DashboardFilters(), period)

    parts = ["figures", "patrols", "weights", "grid-cells", "reported", "closed", "attention-count"]
    # (the Paginator's slice of the first page: up to the number of cases in the table)
    parts.append(f"attention:0:{min(reads.ATTENTION_PER_PAGE, page.context['page_obj'].paginator.count)}")
    for part in parts:
        entry = cache.get(dashboard.cache_key(part))
        assert entry is not None, part
        assert _plain(entry), part


def test_with_no_cache_time_every_request_counts(client, month, supervisor, community, settings):
    settings.DASHBOARD_CACHE_SECONDS = 0
    client.force_login(supervisor)
    with frozen_at(NOW):
        read(client, DASHBOARD + NOVEMBER)
        one_more_report(community)
        again, queries = read(client, DASHBOARD + NOVEMBER)

    assert counting(queries) > 0 and reported(again) == 11


# --- one computation at a time ----------------------------------------------------------

EARLIER = timezone.make_aware(datetime(2026, 12, 1, 9, 0))


def _fails() -> Any:
    raise AssertionError("computed although cached figures could be served")


def test_expired_figures_are_served_while_another_request_computes_them(db):
    assert read_through("k", lambda: 1, seconds=60, now=EARLIER) == (EARLIER, 1)
    with time_machine.travel(time.time() + 61, tick=False):
        # While another request holds the entry's lock, the expired figures are served
        cache.add("k:computing", True)
        assert read_through("k", _fails, seconds=60, now=NOW) == (EARLIER, 1)
        # and once it is free, the next request computes them
        cache.delete("k:computing")
        assert read_through("k", lambda: 2, seconds=60, now=NOW) == (NOW, 2)
    assert cache.get("k:computing") is None


def test_without_figures_a_request_waits_for_the_one_computing_them(db, monkeypatch):
    # Given another request computing (its lock held) and nothing cached yet
    monkeypatch.setattr(reads, "WAIT_SECONDS", 0.2)
    cache.add("k:computing", True)

    # When it never stores anything, the waiting request computes them itself after the wait
    assert read_through("k", lambda: 3, seconds=60, now=NOW) == (NOW, 3)
    # (and leaves the other request's lock alone)
    assert cache.get("k:computing") is True


def test_an_entry_left_by_a_former_version_or_before_a_refresh_is_not_used(db):
    cache.set("k", {"reported": 999})
    assert read_through("k", lambda: 4, seconds=60, now=NOW) == (NOW, 4)
    assert read_through("k", lambda: 5, seconds=60, now=NOW, token="after-refresh") == (NOW, 5)
    assert read_through("k", _fails, seconds=60, now=EARLIER, token="after-refresh") == (NOW, 5)
