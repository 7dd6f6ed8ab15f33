"""The desk menu's worklist counts: loaded after the page from desk:nav_counts, cached per user.

Staff pages render the menu's links without counting (the counts are an
aggregate over the open cases); the menu fetches them from a small endpoint
that keeps them for WORKLIST_COUNTS_SECONDS and forgets them when the user
moves a case.
"""

import re

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.urls import reverse

from cases import services, worklists
from cases.choices import CaseStatus
from cases.dashboard import figures_token, figures_token_key
from cases.worklists import cached_worklist_counts, peek_worklist_counts
from chengguan.models import User
from chengguan.roles import Role, role_group
from chengguan.services import user_set_scope
from tests.factories import UserFactory, staff

pytestmark = pytest.mark.django_db

URL = reverse("desk:nav_counts")


def counts_in(html: str) -> dict[str, int]:
    """The count of each worklist in a page or fragment, by worklist slug."""
    found = re.findall(r'id="desknav-count-([a-z]+)">(?:<span class="count"[^>]*>(\d+)</span>)?</span>', html)
    return {slug: int(n or 0) for slug, n in found}


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_a_user_without_worklists_gets_no_counts(client):
    client.force_login(UserFactory())

    response = client.get(URL)

    assert response.status_code == 200
    assert counts_in(response.content.decode()) == {}


def test_unscoped_staff_count_nothing(client, make_case):
    make_case(CaseStatus.REGISTERED)
    client.force_login(staff(Role.SUPERVISOR))

    response = client.get(URL)

    counts = counts_in(response.content.decode())
    assert counts["dispatch"] == 0
    assert set(counts) == {"dispatch", "verify", "extensions", "parked", "overdue", "escalated"}


def test_scoped_staff_count_their_worklists_once_per_interval(
    client, make_case, supervisor, django_assert_max_num_queries
):
    # Given two registered cases and a resolved one in the supervisor's district
    make_case(CaseStatus.REGISTERED)
    make_case(CaseStatus.REGISTERED)
    make_case(CaseStatus.RESOLVED)
    client.force_login(supervisor)

    # When the menu asks for its counts
    response = client.get(URL)

    # Then each worklist is counted, the aggregate kept for the next pages
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    counts = counts_in(response.content.decode())
    assert (counts["dispatch"], counts["verify"], counts["parked"]) == (2, 1, 0)
    assert peek_worklist_counts(supervisor) == counts
    # and asked again within the interval, without counting the cases
    make_case(CaseStatus.REGISTERED)
    with django_assert_max_num_queries(6) as queries:
        again = client.get(URL)
    assert not [q for q in queries.captured_queries if 'FROM "cases_case"' in q["sql"]]
    assert counts_in(again.content.decode())["dispatch"] == 2


def test_pages_do_not_count_and_show_the_counts_once_loaded(client, make_case, supervisor):
    make_case(CaseStatus.REGISTERED)
    client.force_login(supervisor)
    cache.clear()

    # A staff page renders the menu without counts, asking the script to load them
    page = client.get(reverse("cases:list")).content.decode()
    assert f'data-counts-url="{URL}"' in page
    assert counts_in(page)["dispatch"] == 0
    assert peek_worklist_counts(supervisor) is None

    # Once loaded, the next pages show them at once
    client.get(URL)
    page = client.get(reverse("cases:list")).content.decode()
    assert "data-counts-url" not in page
    assert counts_in(page)["dispatch"] == 1


def test_moving_a_case_forgets_the_actors_counts(
    client, make_case, supervisor, unit, django_capture_on_commit_callbacks
):
    case = make_case(CaseStatus.REGISTERED)
    client.force_login(supervisor)
    client.get(URL)
    assert peek_worklist_counts(supervisor) is not None

    token = figures_token(supervisor.pk)

    with django_capture_on_commit_callbacks(execute=True):
        services.case_dispatch(case=case, actor=supervisor, handling_unit=unit)

    assert peek_worklist_counts(supervisor) is None
    assert counts_in(client.get(URL).content.decode())["dispatch"] == 0
    # while their dashboard figures are kept for their time
    assert figures_token(supervisor.pk) == token


def test_a_change_of_scope_forgets_the_users_counts_once_committed(
    client, make_case, supervisor, district, django_capture_on_commit_callbacks
):
    # Given a supervisor whose menu counted a case of their district
    make_case(CaseStatus.REGISTERED)
    client.force_login(supervisor)
    assert counts_in(client.get(URL).content.decode())["dispatch"] == 1

    # When the district is withdrawn from them
    with django_capture_on_commit_callbacks(execute=True):
        user_set_scope(user=supervisor, target=district, grant=False)
        # (a request counting before the commit would still see the old scope)
        assert peek_worklist_counts(supervisor) is not None

    # Then their next page counts in the new scope, not in up to 30 s
    assert peek_worklist_counts(supervisor) is None
    assert counts_in(client.get(URL).content.decode())["dispatch"] == 0


def test_becoming_a_superuser_shows_in_the_next_counts_at_once(
    client, make_case, district, django_capture_on_commit_callbacks
):
    make_case(CaseStatus.REGISTERED)
    user = staff(Role.SUPERVISOR)
    client.force_login(user)
    assert counts_in(client.get(URL).content.decode())["dispatch"] == 0

    with django_capture_on_commit_callbacks(execute=True):
        user.is_superuser = True
        user.save()

    assert counts_in(client.get(URL).content.decode())["dispatch"] == 1


def test_a_change_of_a_roles_permissions_shows_in_its_holders_next_counts_at_once(
    client, make_case, district, django_capture_on_commit_callbacks
):
    # Given a supervisor without an area, whose menu counted nothing
    make_case(CaseStatus.REGISTERED)
    user = staff(Role.SUPERVISOR)
    client.force_login(user)
    assert counts_in(client.get(URL).content.decode())["dispatch"] == 0

    # When the supervisors' role is given the whole city (the admin's group page)
    with django_capture_on_commit_callbacks(execute=True):
        role_group(Role.SUPERVISOR).permissions.add(Permission.objects.get(codename="oversee_city"))

    # Then their next page counts the city's cases, not in up to 30 s
    assert counts_in(client.get(URL).content.decode())["dispatch"] == 1


def test_counts_of_the_old_scope_stored_after_the_change_are_not_shown(
    client,
    make_case,
    supervisor,
    district,
    monkeypatch,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    # Given a supervisor with a registered case in their district
    make_case(CaseStatus.REGISTERED)
    count = worklists.worklist_counts

    def count_while_the_scope_changes(user):  # type: ignore[no-untyped-def]
        counts = count(user)
        # (the district is withdrawn, and committed, before the request stores its counts)
        with django_capture_on_commit_callbacks(execute=True):
            user_set_scope(user=User.objects.get(pk=supervisor.pk), target=district, grant=False)
        return counts

    # When a request that counted in the old scope stores its counts after the change
    monkeypatch.setattr(worklists, "worklist_counts", count_while_the_scope_changes)
    assert cached_worklist_counts(User.objects.get(pk=supervisor.pk))["dispatch"] == 1
    monkeypatch.undo()

    # Then the menu does not show them (and still asks no query to know it)
    with django_assert_num_queries(0):
        assert peek_worklist_counts(supervisor) is None
    # and the next request counts in the new scope, kept for the pages after it
    client.force_login(supervisor)
    assert counts_in(client.get(URL).content.decode())["dispatch"] == 0
    assert peek_worklist_counts(supervisor)["dispatch"] == 0  # type: ignore[index]


def test_counts_kept_under_a_token_that_expired_are_counted_again(client, make_case, supervisor):
    # Given counts cached for the supervisor
    make_case(CaseStatus.REGISTERED)
    client.force_login(supervisor)
    client.get(URL)
    make_case(CaseStatus.REGISTERED)

    # When their token is gone (expired or evicted), a new one drawn on next use
    cache.delete(figures_token_key(supervisor.pk))

    # Then the cached counts are not used
    assert peek_worklist_counts(supervisor) is None
    assert counts_in(client.get(URL).content.decode())["dispatch"] == 2
    assert peek_worklist_counts(supervisor)["dispatch"] == 2  # type: ignore[index]


def test_with_the_cache_unreachable_the_counts_are_counted_on_each_request(
    client, make_case, supervisor, settings
):
    # Given Redis unreachable (the cache as configured with REDIS_URL, on a port nobody listens on)
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 1.0},
        }
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    make_case(CaseStatus.REGISTERED)
    client.force_login(supervisor)

    # When the menu asks twice, a case registered in between
    first = counts_in(client.get(URL).content.decode())
    make_case(CaseStatus.REGISTERED)
    second = counts_in(client.get(URL).content.decode())

    # Then each answer is counted afresh
    assert (first["dispatch"], second["dispatch"]) == (1, 2)
    assert peek_worklist_counts(supervisor) is None
