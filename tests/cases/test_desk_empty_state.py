"""The desk of a user without worklists: an operator is pointed to the intake inbox
with the number of reports waiting there, others get the plain empty state."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.translation import override

from cases import services
from cases.choices import CaseSource
from chengguan.roles import Role
from tests.factories import (
    CommunityFactory,
    DistrictFactory,
    StreetFactory,
    UserFactory,
    leaf_category,
    staff,
)

pytestmark = pytest.mark.django_db

NO_WORKLISTS = "Your role has no worklists"


def report(community, superuser, at=(30.005, 120.005)):  # type: ignore[no-untyped-def]
    return services.case_report(
        actor=superuser,
        source=CaseSource.HOTLINE_12345,
        description="小区门口有流动摊贩占道经营",
        category=leaf_category(),
        lat=at[0],
        lng=at[1],
        community=community,
        reporter_name="张三",
        reporter_phone="13812341234",
    )


@pytest.fixture
def superuser(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def desk(client):  # type: ignore[no-untyped-def]
    with override("en"):
        response = client.get(reverse("desk:home"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return response


def test_an_operator_is_pointed_to_the_reports_waiting_in_the_inbox(client, district, community, superuser):
    # Given two reports waiting in the operator's district and one elsewhere
    far = CommunityFactory(street=StreetFactory(district=DistrictFactory()), origin=(121.0, 31.0))
    report(community, superuser)
    report(community, superuser)
    report(far, superuser, at=(31.005, 121.005))
    client.force_login(staff(Role.OPERATOR, scope=district))

    # When they open the desk
    response = desk(client)

    # Then it counts the two in their scope and links to the inbox, not "no worklists"
    html = response.content.decode()
    assert response.context["inbox_waiting"] == 2
    assert f'href="{reverse("intake:inbox")}"' in html
    assert "2 reports are waiting to be accepted in the intake inbox." in html
    assert NO_WORKLISTS not in html


def test_an_operator_with_nothing_waiting_still_gets_the_way_to_the_inbox(client, district):
    client.force_login(staff(Role.OPERATOR, scope=district))

    html = desk(client).content.decode()

    assert "No reports are waiting in your area of work." in html
    assert f'href="{reverse("intake:inbox")}"' in html
    assert NO_WORKLISTS not in html


def test_the_inbox_costs_one_count_query(client, district, community, superuser):
    report(community, superuser)
    operator = staff(Role.OPERATOR, scope=district)
    client.force_login(operator)
    desk(client)  # warm the session, permission and scope lookups of the first request

    with CaptureQueriesContext(connection) as queries:
        desk(client)

    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "cases_case" in q["sql"]]
    assert len(counts) == 1


def test_a_role_without_worklists_nor_intake_keeps_the_plain_empty_state(client, community, superuser):
    report(community, superuser)
    client.force_login(staff(Role.COMMUNITY_STAFF, scope=community))

    response = desk(client)

    assert "inbox_waiting" not in response.context
    assert NO_WORKLISTS in response.content.decode()


def test_a_supervisor_s_worklists_are_shown_without_counting_the_inbox(
    client, district, community, superuser
):
    report(community, superuser)
    client.force_login(staff(Role.SUPERVISOR, scope=district))

    response = desk(client)

    assert "inbox_waiting" not in response.context
    assert response.context["desk_nav"].worklists
