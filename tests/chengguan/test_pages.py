"""Project pages: home (public landing and staff overview), sign in/out, language switch."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.choices import CaseStatus
from chengguan.roles import Role
from tests.factories import CaseFactory, UserFactory, staff

pytestmark = pytest.mark.django_db

PASSWORD = "pass-1234-word"


# --- home, anonymous --------------------------------------------------------


def test_home_is_public_and_chinese_by_default(client):
    response = client.get(reverse("home"))

    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert "城管进社区" in html
    assert "12345" in html and "12319" in html
    assert reverse("login") in html
    assert "街面秩序" in html  # top-level categories, from the data


def test_home_in_english_when_the_browser_asks_for_it(client):
    response = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en")

    html = response.content.decode()
    assert '<html lang="en">' in html
    assert "City management in communities" in html
    assert "Staff sign in" in html
    assert "Street order" in html  # category names in English too
    assert "城管进社区" not in html


def test_language_switch_persists(client):
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("home")})
    assert response.status_code == 302

    html = client.get(reverse("home")).content.decode()
    assert "Report a problem" in html


# --- home, signed in --------------------------------------------------------


def test_home_for_unscoped_staff_shows_roles_and_no_cases(client, community):
    CaseFactory(community=community)
    user = staff(Role.OPERATOR)
    client.force_login(user)

    response = client.get(reverse("home"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "受理员" in html
    assert "您的工作范围内还没有案件" in html
    assert response.context["total_cases"] == 0


def test_home_for_scoped_staff_counts_cases_by_status_in_one_query(client, community, other_community):
    CaseFactory(community=community, status=CaseStatus.REPORTED)
    CaseFactory(community=community, status=CaseStatus.REPORTED)
    CaseFactory(community=community, status=CaseStatus.DISPATCHED)
    CaseFactory(community=other_community, status=CaseStatus.CLOSED)
    liaison = staff(Role.LIAISON, scope=community)
    client.force_login(liaison)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("home"))

    counts = dict(response.context["status_counts"])
    assert counts[CaseStatus.REPORTED] == 2
    assert counts[CaseStatus.DISPATCHED] == 1
    assert counts[CaseStatus.CLOSED] == 0
    assert response.context["total_cases"] == 3
    case_queries = [q for q in queries.captured_queries if 'FROM "cases_case"' in q["sql"]]
    # One for the status counts; the desk menu's counts load separately (desk:nav_counts).
    assert len(case_queries) == 1
    html = response.content.decode()
    assert "社区联络员" in html
    assert f"{reverse('cases:list')}?status=reported" in html
    assert reverse("admin:index") not in html  # not staff


def test_home_links_staff_users_to_the_admin(client):
    admin_user = staff(Role.ADMIN, scope="city")
    admin_user.is_staff = True
    admin_user.save()
    client.force_login(admin_user)

    html = client.get(reverse("home")).content.decode()

    assert reverse("admin:index") in html
    assert reverse("cases:list") in html


def test_home_for_user_without_role(client):
    client.force_login(UserFactory())

    response = client.get(reverse("home"))

    assert response.status_code == 200
    assert reverse("cases:list") not in response.content.decode()


# --- sign in and out -------------------------------------------------------


def test_login_page_renders(client):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert "员工登录" in response.content.decode()


def test_login_with_wrong_password_shows_error(client):
    UserFactory(username="wang")

    response = client.post(reverse("login"), {"username": "wang", "password": "wrong"})

    assert response.status_code == 200
    assert "请输入一个正确的" in response.content.decode()


def test_login_and_logout(client):
    UserFactory(username="wang")

    response = client.post(
        reverse("login"), {"username": "wang", "password": PASSWORD, "next": reverse("cases:list")}
    )
    assert response.status_code == 302
    assert response.url == reverse("cases:list")

    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert "_auth_user_id" not in client.session


def test_logout_by_get_is_refused(client):
    client.force_login(UserFactory())

    assert client.get(reverse("logout")).status_code == 405
