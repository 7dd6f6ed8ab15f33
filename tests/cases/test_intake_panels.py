"""The intake inbox's panels and filters, loaded when opened (htmx), each a page without script;
and the inbox actions through the workflow's verb table."""

import re
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from guardian.shortcuts import assign_perm

from cases import services
from cases.choices import CaseStatus, RejectReason, Urgency
from cases.models import Case
from cases.verbs import VERBS
from cases.views.intake import INBOX_ACTIONS
from chengguan.roles import Role
from tests.factories import CaseFactory, UserFactory, leaf_category, staff

pytestmark = pytest.mark.django_db

INBOX = reverse("intake:inbox")
HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name: str, case: Case) -> str:
    return reverse(f"intake:{name}", args=[case.number])


def item_html(html: str, case: Case) -> str:
    """The <li> of one inbox item."""
    start = html.index(f'id="item-{case.number}"')
    return html[start : html.index("</li>", start)]


# --- the inbox renders what an item needs at once, and links the rest ---------------


def test_a_classified_item_links_its_panels_instead_of_rendering_them(client, operator, community):
    case = CaseFactory(community=community)
    client.force_login(operator)

    item = item_html(client.get(INBOX).content.decode(), case)

    # The one-click register is there at once...
    assert f'action="{url("register", case)}"' in item
    assert item.count(f'name="expected_version" value="{case.version}"') == 1
    # ...the panels are not: they are loaded when opened, or a page without script;
    # their links carry the version the item shows and the way back.
    for field in ("category", "community", "reason", "master"):
        assert f'name="{field}"' not in item
    assert f'action="{url("reject", case)}"' not in item
    query = f"?version={case.version}&amp;next={quote(INBOX, safe='')}"
    for name in ("register_form", "reject_form", "duplicates"):
        link = url(name, case) + query
        assert f'hx-get="{link}" hx-trigger="toggle once"' in item
        assert f'<a href="{link}">' in item


def test_an_unclassified_item_shows_its_correct_first_panel_open(client, operator, community):
    # It cannot be registered without a category: the operator types one at once.
    case = CaseFactory(community=community, category=None)
    client.force_login(operator)

    item = item_html(client.get(INBOX).content.decode(), case)

    assert re.search(r'<details class="intake-more intake-correct" name="actions-\d+" open>', item)
    assert f'<input type="text" id="category-{case.pk}" name="category"' in item
    assert " required>" in item
    assert f'<option value="{community.pk}" selected>' in item
    assert url("register_form", case) not in item


def test_an_item_shows_the_callers_contact_only_to_who_may_see_it(client, district, community):
    case = CaseFactory(community=community, reporter_phone="13912345678", reporter_name="李四")
    registrar = UserFactory(roles=[])
    registrar.user_permissions.add(
        *Permission.objects.filter(codename__in=["register_case", "view_case", "view_district"])
    )
    assign_perm("communities.oversee_district", registrar, district)
    client.force_login(staff(Role.OPERATOR, scope=district))

    shown = item_html(client.get(INBOX).content.decode(), case)
    client.force_login(registrar)
    masked = item_html(client.get(INBOX).content.decode(), case)

    assert 'href="tel:13912345678"' in shown
    assert "13912345678" not in masked
    assert "李四" not in masked
    assert case.number in masked


# --- the panels ---------------------------------------------------------------------


def test_the_correct_first_panel_over_htmx_is_its_fields(client, operator, community, other_community):
    case = CaseFactory(community=community, urgency=Urgency.URGENT)
    client.force_login(operator)

    response = client.get(url("register_form", case), **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div class="intake-more__body">')
    # The item around it holds the form, its token and version.
    assert "<form" not in html
    assert "csrfmiddlewaretoken" not in html
    assert f'value="{case.category.code} {case.category.name}"' in html
    assert f'<option value="{Urgency.URGENT}" selected>' in html
    assert f'<option value="{community.pk}" selected>' in html
    assert f'<option value="{other_community.pk}">' in html
    assert 'name="note"' in html


def test_the_reject_panel_over_htmx_is_its_form_with_the_version_the_item_showed(client, operator, community):
    case = CaseFactory(community=community)
    client.force_login(operator)
    back = f"{INBOX}?page=2"

    response = client.get(url("reject_form", case), {"version": case.version, "next": back}, **HTMX)

    html = response.content.decode()
    assert html.lstrip().startswith('<form class="intake-more__body" method="post"')
    assert f'hx-post="{url("reject", case)}" hx-target="closest .intake-item"' in html
    assert "csrfmiddlewaretoken" in html
    assert f'name="expected_version" value="{case.version}"' in html
    assert f'name="next" value="{back}"' in html.replace("&amp;", "&")
    assert re.findall(r'<option value="([^"]+)">', html) == [value for value, _ in RejectReason.choices]
    assert f'id="reject-note-{case.pk}"' in html


def test_a_panel_opened_after_the_case_changed_still_sends_what_the_item_showed(client, operator, community):
    # The operator read the item at version 1; someone changed the case before the panel was opened.
    case = CaseFactory(community=community)
    seen = case.version
    services.case_add_co_reporter(case=case, phone="13600001111")
    client.force_login(operator)

    html = client.get(url("reject_form", case), {"version": seen}, **HTMX).content.decode()
    assert f'name="expected_version" value="{seen}"' in html
    response = client.post(
        url("reject", case), {"expected_version": seen, "reason": RejectReason.INVALID, "note": "x"}, **HTMX
    )

    assert response.status_code == 409
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REPORTED


def test_a_panel_link_without_a_good_version_uses_the_current_one(client, operator, community):
    case = CaseFactory(community=community)
    client.force_login(operator)

    for version in ("", "abc", "0", "-3"):
        html = client.get(url("reject_form", case), {"version": version}, **HTMX).content.decode()
        assert f'name="expected_version" value="{case.version}"' in html


def test_the_merge_panel_over_htmx_has_the_duplicates_and_a_merge_by_number(
    client, operator, community, make_case
):
    master = make_case(CaseStatus.REGISTERED)
    case = make_case()
    client.force_login(operator)

    response = client.get(url("duplicates", case), {"version": case.version, "next": INBOX}, **HTMX)

    html = response.content.decode()
    assert html.lstrip().startswith('<div class="intake-more__body">')
    assert f'name="master" value="{master.number}"' in html
    assert f'id="master-{case.pk}" name="master"' in html
    assert html.count(f'hx-post="{url("merge", case)}"') == 2
    assert html.count(f'name="expected_version" value="{case.version}"') == 2


def test_without_script_the_duplicates_page_merges_by_number_too(client, operator, community, make_case):
    master = make_case(CaseStatus.REGISTERED)
    case = make_case()
    client.force_login(operator)

    html = client.get(url("duplicates", case), {"version": case.version}).content.decode()

    assert "<html" in html
    assert f'id="master-{case.pk}" name="master"' in html
    # Its forms post plainly: there is no inbox item on the page to swap.
    assert "hx-post" not in html
    client.post(url("merge", case), {"expected_version": case.version, "master": master.number})
    assert Case.objects.get(pk=case.pk).merged_into == master


def test_without_script_the_correct_first_panel_is_a_page_whose_form_registers(
    client, operator, community, other_community
):
    case = CaseFactory(community=community)
    client.force_login(operator)
    back = f"{INBOX}?page=2"

    page = client.get(url("register_form", case), {"next": back})

    html = page.content.decode()
    assert "<html" in html
    assert f'<form method="post" action="{url("register", case)}">' in html
    assert f'name="expected_version" value="{case.version}"' in html
    assert f'name="next" value="{back}"' in html.replace("&amp;", "&")
    assert 'list="intake-categories"' in html
    assert '<datalist id="intake-categories">' in html

    # When the operator sends it as the page has it, with a correction
    response = client.post(
        url("register", case),
        {"expected_version": case.version, "next": back, "category": "", "community": other_community.pk},
    )

    assert response.status_code == 302
    assert response.url == back
    case.refresh_from_db()
    assert case.status == CaseStatus.REGISTERED
    assert case.community == other_community


def test_without_script_the_reject_panel_is_a_page_whose_form_rejects(client, operator, community):
    case = CaseFactory(community=community)
    client.force_login(operator)

    html = client.get(url("reject_form", case)).content.decode()

    assert f'<form class="intake-more__body" method="post" action="{url("reject", case)}">' in html
    assert "hx-post" not in html
    assert 'name="reason"' in html
    client.post(
        url("reject", case),
        {"expected_version": case.version, "reason": RejectReason.OUT_OF_AREA, "note": "属于邻区"},
    )
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REJECTED


def test_a_panel_page_leads_back_only_to_this_site(client, operator, community):
    case = CaseFactory(community=community)
    client.force_login(operator)

    html = client.get(url("reject_form", case), {"next": "https://evil.example/"}).content.decode()

    assert 'href="https://evil.example/"' not in html
    assert 'value="https://evil.example/"' not in html
    assert f'name="next" value="{INBOX}"' in html
    assert f'<a class="back" href="{INBOX}">' in html


@pytest.mark.parametrize("name", ["register_form", "reject_form"])
def test_the_panel_of_a_report_no_longer_waiting_says_so(client, operator, community, name):
    case = CaseFactory(community=community, status=CaseStatus.REGISTERED)
    client.force_login(operator)

    fragment = client.get(url(name, case), **HTMX).content.decode()
    page = client.get(url(name, case)).content.decode()

    with translation.override("zh-hans"):
        message = gettext("This report is no longer waiting to be accepted.")
    for html in (fragment, page):
        assert message in html
        assert 'name="note"' not in html
    assert 'method="post"' not in page.split("<main", 1)[-1]


@pytest.mark.parametrize("name", ["register_form", "reject_form"])
def test_panels_are_for_operators_in_scope_only(client, community, name):
    case = CaseFactory(community=community)
    foreign = staff(Role.OPERATOR, scope=staff_district_elsewhere())

    anonymous = client.get(url(name, case))
    client.force_login(staff(Role.LIAISON, scope=community))
    liaison = client.get(url(name, case), **HTMX)
    client.force_login(foreign)
    outside = client.get(url(name, case), **HTMX)

    assert anonymous.status_code == 302
    assert anonymous.url.startswith(reverse("login"))
    assert liaison.status_code == 403
    assert outside.status_code == 404


def staff_district_elsewhere():  # type: ignore[no-untyped-def]
    from tests.factories import DistrictFactory

    return DistrictFactory()


def test_panels_need_get(client, operator, community):
    case = CaseFactory(community=community)
    client.force_login(operator)

    assert client.post(url("register_form", case), {"expected_version": case.version}).status_code == 405
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REPORTED


# The correction panel lists the officers a report may complain about: one query more.
@pytest.mark.parametrize(("name", "most"), [("register_form", 8), ("reject_form", 7)])
def test_a_panel_costs_the_same_few_queries_whatever_the_inbox_holds(
    client, operator, community, django_assert_max_num_queries, name, most
):
    for _ in range(10):
        CaseFactory(community=community)
    case = CaseFactory(community=community)
    client.force_login(operator)
    client.get(url(name, case), **HTMX)

    with django_assert_max_num_queries(most):
        client.get(url(name, case), **HTMX)


# --- the filters --------------------------------------------------------------------


def test_the_inbox_filters_are_loaded_when_opened(client, operator, community):
    CaseFactory(community=community)
    client.force_login(operator)

    html = client.get(INBOX).content.decode()
    fragment = client.get(INBOX, HTTP_HX_TARGET="inbox-filters", **HTMX).content.decode()

    # The search box is there at once, the other filters are a link (and an htmx load).
    assert 'name="q"' in html
    assert 'name="source"' not in html
    assert f'hx-get="{INBOX}?filters=open" hx-trigger="toggle once" hx-target="#inbox-filters"' in html
    assert f'<a href="{INBOX}?filters=open">' in html
    # Opened, they come alone.
    assert fragment.lstrip().startswith('<div class="filters__grid" id="inbox-filters">')
    for name in ("source", "category", "community", "urgency", "overdue"):
        assert f'name="{name}"' in fragment
    assert 'id="inbox_id_source"' not in fragment
    assert 'id="inbox_source"' in fragment
    assert "intake-item" not in fragment


def test_without_script_the_filters_open_on_their_page(client, operator, community):
    case = CaseFactory(community=community)
    client.force_login(operator)

    response = client.get(INBOX, {"filters": "open"})

    html = response.content.decode()
    assert "<details open>" in html
    assert 'name="source"' in html
    # Opening the filters filters nothing.
    assert response.context["is_filtered"] is False
    assert [c.number for c in response.context["items"]] == [case.number]
    assert "Clear" not in html


def test_while_filtering_the_filters_are_shown_open(client, operator, community):
    CaseFactory(community=community)
    client.force_login(operator)

    for query in ({"overdue": "true"}, {"reported_at_after": "not a date"}):
        html = client.get(INBOX, query, **HTMX).content.decode()
        assert "<details open>" in html
        assert 'name="overdue"' in html


# --- the actions are the workflow's verbs ----------------------------------------------


def test_each_inbox_action_is_a_verb_of_the_workflow_table():
    assert {name: action.verb for name, action in INBOX_ACTIONS.items()} == {
        "register": VERBS["register"],
        "reject": VERBS["reject"],
        "merge": VERBS["merge"],
    }


def test_register_through_the_verb_table_records_the_corrections(client, operator, community):
    case = CaseFactory(community=community, category=leaf_category("0102"), urgency=Urgency.NORMAL)
    client.force_login(operator)

    client.post(
        url("register", case),
        {
            "expected_version": case.version,
            "category": "0102",
            "urgency": Urgency.URGENT,
            "community": community.pk,
            "note": "核实",
        },
    )

    case.refresh_from_db()
    assert case.status == CaseStatus.REGISTERED
    assert case.urgency == Urgency.URGENT
    event = case.events.get()
    assert event.actor == operator
    assert event.note == "核实"
    # Category and community were sent as they were: no correction of theirs is recorded.
    assert set(event.data["corrections"]) == {"urgency"}


# --- what an item renders in Python -----------------------------------------------------


def test_time_element_writes_what_the_date_filters_wrote():
    from datetime import UTC, datetime

    from django.template import Context, Template

    moment = datetime(2026, 1, 31, 17, 5, 9, 123456, tzinfo=UTC)  # 2026-02-01 01:05 in Shanghai
    filters = Template(
        """<time datetime="{{ moment|date:'c' }}">{{ moment|date:"Y-m-d H:i" }}</time>"""
    ).render(Context({"moment": moment}))
    tag = Template("{% load deadlines %}{% time_element moment %}").render(Context({"moment": moment}))

    assert tag == filters == '<time datetime="2026-02-01T01:05:09.123456+08:00">2026-02-01 01:05</time>'
    assert Template("{% load deadlines %}{% time_element nothing %}").render(Context({})) == ""


@pytest.mark.django_db
def test_plain_deadline_writes_what_the_deadline_include_wrote(community):
    """Date, then the overdue badge only past the deadline of an open case; a dash without one."""
    from datetime import timedelta

    from django.template import Context, Template

    from chengguan import clock

    template = Template("{% load deadlines %}{% plain_deadline case %}")
    due = clock.now() + timedelta(hours=4)
    case = CaseFactory(community=community, status=CaseStatus.DISPATCHED, deadline=due)
    local = timezone.localtime(due)
    time = f'<time datetime="{local.isoformat()}">{local:%Y-%m-%d %H:%M}</time>'

    assert template.render(Context({"case": case})) == time
    case.deadline = due - timedelta(days=1)
    assert "badge--overdue" in template.render(Context({"case": case}))
    case.status = CaseStatus.CLOSED
    assert "badge--overdue" not in template.render(Context({"case": case}))
    case.deadline = None
    assert template.render(Context({"case": case})) == '<span class="muted">—</span>'
