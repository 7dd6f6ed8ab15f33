"""Saved filters of the case list and the desk worklists: private to their owner.

Tested as anonymous, unscoped and scoped users: saving from a list, the chips
above the list, renaming and deleting, bad input, other users' filters (404)
and the query count of the pages that show them.
"""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.choices import CaseStatus
from cases.lists import normalise_querystring
from cases.models import SavedFilter
from cases.saved_filters import MAX_PER_LIST, saved_filter_create, saved_filter_delete, saved_filter_rename
from chengguan.errors import ActionNotPermitted, InvalidInput
from chengguan.models import AuditEntry
from chengguan.roles import Role
from tests.factories import CaseFactory, UserFactory, staff

pytestmark = pytest.mark.django_db

ADD = reverse("cases:saved_filter_add")
MANAGE = reverse("cases:saved_filters")


def edit_url(saved: SavedFilter) -> str:
    return reverse("cases:saved_filter_edit", args=[saved.pk])


def delete_url(saved: SavedFilter) -> str:
    return reverse("cases:saved_filter_delete", args=[saved.pk])


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def supervisor(district):  # type: ignore[no-untyped-def]
    return staff(Role.SUPERVISOR, scope=district)


@pytest.fixture
def own_filter(supervisor) -> SavedFilter:  # type: ignore[no-untyped-def]
    return saved_filter_create(
        owner=supervisor, list_key="cases", name="周一例会筛选", querystring="status=registered"
    )


# --- anonymous ------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_log_in_and_nothing_is_saved(client, own_filter):
    # Given nobody signed in
    # When they use any saved-filter page
    responses = [
        client.get(MANAGE),
        client.post(ADD, {"list": "cases", "name": "x", "querystring": "status=reported"}),
        client.get(edit_url(own_filter)),
        client.post(edit_url(own_filter), {"name": "改名"}),
        client.post(delete_url(own_filter)),
    ]

    # Then each sends them to the login page and nothing changes
    assert all(r.status_code == 302 and reverse("login") in r["Location"] for r in responses)
    own_filter.refresh_from_db()
    assert own_filter.name == "周一例会筛选"
    assert SavedFilter.objects.count() == 1


# --- saving from the lists -----------------------------------------------------------------


def test_saving_the_case_list_filters_keeps_them_without_the_page(client, supervisor, community):
    CaseFactory(community=community, status=CaseStatus.REGISTERED)
    client.force_login(supervisor)

    # When the supervisor saves the list's current filters
    response = client.post(
        ADD, {"list": "cases", "name": " 已立案 ", "querystring": "status=registered&q=&page=3"}
    )

    # Then the filter is theirs, without the page number and empty values, and the list opens with it
    saved = SavedFilter.objects.get()
    assert (saved.owner, saved.list_key, saved.name, saved.querystring) == (
        supervisor,
        "cases",
        "已立案",
        "status=registered",
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:list") + "?status=registered"
    assert AuditEntry.objects.filter(action="saved_filter.created", actor=supervisor).exists()


def test_the_list_shows_the_save_form_with_its_filters_and_the_chips(client, supervisor, own_filter):
    client.force_login(supervisor)

    # When the list is filtered
    html = client.get(reverse("cases:list") + "?status=registered&page=1").content.decode()

    # Then it offers to save exactly those filters, and shows the saved one as the current chip
    assert f'action="{ADD}"' in html
    assert 'name="querystring" value="status=registered"' in html
    assert f'href="{own_filter.url}" aria-current="true">周一例会筛选</a>' in html.replace("&amp;", "&")


def test_an_unfiltered_list_shows_no_save_form(client, supervisor):
    client.force_login(supervisor)

    html = client.get(reverse("cases:list")).content.decode()

    assert f'action="{ADD}"' not in html


def test_a_worklist_filter_shows_on_its_worklist_only(client, supervisor):
    client.force_login(supervisor)

    # Given a filter saved on the dispatch queue
    client.post(
        ADD, {"list": "dispatch", "name": "被回退", "querystring": "returned=true&ordering=-deadline"}
    )
    saved = SavedFilter.objects.get()

    # Then its chip links to that worklist, and the staff list does not show it
    assert saved.url == reverse("desk:worklist", args=["dispatch"]) + "?returned=true&ordering=-deadline"
    assert "被回退" in client.get(reverse("desk:worklist", args=["dispatch"])).content.decode()
    assert "被回退" not in client.get(reverse("cases:list")).content.decode()


def test_a_worklist_the_role_does_not_have_cannot_get_saved_filters(client, unit):
    handler = staff(Role.HANDLING_UNIT, scope=unit)
    client.force_login(handler)

    response = client.post(ADD, {"list": "dispatch", "name": "x", "querystring": "returned=true"})

    assert response.status_code == 403
    assert not SavedFilter.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"list": "cases", "name": "", "querystring": "status=reported"}, "This field is required"),
        ({"list": "cases", "name": "   ", "querystring": "status=reported"}, "This field is required"),
        ({"list": "cases", "name": "空", "querystring": "page=2&q="}, "Choose some filters"),
        ({"list": "cases", "name": "x" * 61, "querystring": "status=reported"}, "at most 60"),
        ({"list": "no-such-list", "name": "x", "querystring": "status=reported"}, "Select a valid choice"),
        ({"list": "cases", "name": "长", "querystring": "q=" + "x" * 2100}, "at most 2000"),
    ],
)
def test_bad_input_is_refused_with_a_message(client, supervisor, data, message):
    client.force_login(supervisor)

    response = client.post(ADD, data, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 302
    assert any(message in text for text in messages_of(response))
    assert not SavedFilter.objects.exists()


def test_a_name_is_used_once_per_list(client, supervisor, own_filter):
    client.force_login(supervisor)

    response = client.post(ADD, {"list": "cases", "name": "周一例会筛选", "querystring": "status=reported"})

    assert any(
        "already have a saved filter" in text or "周一例会筛选" in text for text in messages_of(response)
    )
    assert SavedFilter.objects.count() == 1
    # The same name on another list is fine.
    client.post(ADD, {"list": "overdue", "name": "周一例会筛选", "querystring": "q=摊贩"})
    assert SavedFilter.objects.count() == 2


def test_the_number_of_filters_per_list_is_capped(supervisor):
    for n in range(MAX_PER_LIST):
        SavedFilter.objects.create(owner=supervisor, list_key="cases", name=f"f{n}", querystring="q=a")

    with pytest.raises(InvalidInput) as error:
        saved_filter_create(owner=supervisor, list_key="cases", name="one more", querystring="q=a")

    assert error.value.code == "saved_filter.too_many"


def test_normalising_drops_pages_and_empty_values_and_keeps_repeated_keys():
    assert normalise_querystring("?status=a&status=b&page=4&q=&community=") == "status=a&status=b"


# --- rename and delete -----------------------------------------------------------------------


def test_the_owner_renames_a_filter(client, supervisor, own_filter):
    client.force_login(supervisor)

    assert client.get(edit_url(own_filter)).status_code == 200
    response = client.post(edit_url(own_filter), {"name": "派遣队列"})

    assert response.status_code == 302
    own_filter.refresh_from_db()
    assert own_filter.name == "派遣队列"


def test_renaming_to_a_taken_name_shows_the_error_and_keeps_the_name(client, supervisor, own_filter):
    saved_filter_create(owner=supervisor, list_key="cases", name="超期", querystring="overdue=true")
    client.force_login(supervisor)

    response = client.post(edit_url(own_filter), {"name": "超期"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 422
    assert "already have a saved filter" in response.content.decode()
    own_filter.refresh_from_db()
    assert own_filter.name == "周一例会筛选"


def test_the_owner_deletes_a_filter(client, supervisor, own_filter):
    client.force_login(supervisor)

    response = client.post(delete_url(own_filter))

    assert response["Location"] == MANAGE
    assert not SavedFilter.objects.exists()
    assert AuditEntry.objects.filter(action="saved_filter.deleted").exists()


def test_delete_needs_a_post(client, supervisor, own_filter):
    client.force_login(supervisor)

    assert client.get(delete_url(own_filter)).status_code == 405
    assert SavedFilter.objects.exists()


# --- other users -------------------------------------------------------------------------------


@pytest.mark.parametrize("other_kind", ["unscoped", "scoped"])
def test_someone_elses_filter_does_not_exist_for_them(client, district, own_filter, other_kind):
    # Given another supervisor, without any scope or in the same district
    other = staff(Role.SUPERVISOR, scope=None if other_kind == "unscoped" else district)
    client.force_login(other)

    # When they try to open, rename or delete the filter
    responses = [
        client.get(edit_url(own_filter)),
        client.post(edit_url(own_filter), {"name": "偷改"}),
        client.post(delete_url(own_filter)),
    ]

    # Then it is not found and stays as it was; their pages do not show it
    assert [r.status_code for r in responses] == [404, 404, 404]
    own_filter.refresh_from_db()
    assert own_filter.name == "周一例会筛选"
    assert "周一例会筛选" not in client.get(MANAGE).content.decode()
    assert "周一例会筛选" not in client.get(reverse("cases:list")).content.decode()


def test_the_services_refuse_anyone_but_the_owner(own_filter):
    other = UserFactory()

    with pytest.raises(ActionNotPermitted):
        saved_filter_rename(saved_filter=own_filter, actor=other, name="x")
    with pytest.raises(ActionNotPermitted):
        saved_filter_delete(saved_filter=own_filter, actor=other)
    assert SavedFilter.objects.filter(pk=own_filter.pk, name="周一例会筛选").exists()


def test_an_unscoped_user_keeps_their_own_filters(client):
    unscoped = staff(Role.SUPERVISOR)
    client.force_login(unscoped)

    client.post(ADD, {"list": "cases", "name": "我的", "querystring": "status=closed"})

    assert "我的" in client.get(MANAGE).content.decode()
    assert SavedFilter.objects.get().owner == unscoped


# --- query counts -------------------------------------------------------------------------------


def _queries(client, url: str) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries.captured_queries)


@pytest.mark.parametrize("url", [MANAGE, reverse("cases:list"), reverse("desk:worklist", args=["overdue"])])
def test_the_query_count_does_not_grow_with_the_saved_filters(
    client, supervisor, url, django_assert_max_num_queries
):
    key = "overdue" if "desk" in url else "cases"
    client.force_login(supervisor)
    for n in range(2):
        saved_filter_create(owner=supervisor, list_key=key, name=f"a{n}", querystring=f"q={n}")
    client.get(url)  # warm the content-type cache
    with_two = _queries(client, url)
    for n in range(12):
        saved_filter_create(owner=supervisor, list_key=key, name=f"b{n}", querystring=f"q={n}")

    with django_assert_max_num_queries(with_two):
        client.get(url)
    assert _queries(client, url) == with_two
