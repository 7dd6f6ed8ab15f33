"""Residents' names and phone numbers (PIPL): masked for roles that may not see
them, on pages, in exports and in the API; every unmasked view is audited."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from chengguan.masking import mask_name, mask_phone
from chengguan.models import AuditEntry
from chengguan.roles import ROLE_PERMISSIONS, Role
from tests.security.world import NAME, PHONE, World, build_world

pytestmark = pytest.mark.django_db

SEES_CONTACT = {role for role, perms in ROLE_PERMISSIONS.items() if "cases.view_reporter_contact" in perms}
MASKED_ROLES = sorted(set(map(str, Role)) - set(map(str, SEES_CONTACT)))


@pytest.fixture
def world() -> World:
    return build_world()


def test_who_sees_contact_details():
    # Community staff and handling units work on cases without calling the reporter.
    assert set(MASKED_ROLES) == {Role.COMMUNITY_STAFF, Role.HANDLING_UNIT}


@pytest.mark.parametrize("role", MASKED_ROLES)
def test_masked_everywhere_for_roles_without_the_permission(world, role):
    # Given a scoped user who may see the case but not the reporter's contact
    client = Client()
    client.force_login(world.users[role])
    case = world.home.case

    # When they read the case on the page, in the API and in an export
    page = client.get(reverse("cases:detail", args=[case.number])).content.decode()
    api = client.get(reverse("api:case-detail", kwargs={"number": case.number})).json()
    listing = client.get(reverse("api:case-list")).content.decode()
    export = client.post(reverse("cases:export"), {"format": "csv", "list": "cases"})

    # Then only the masked forms appear, and nothing was audited as revealed
    assert PHONE not in page and NAME not in page
    assert api["reporter_phone"] == mask_phone(PHONE)
    assert api["reporter_name"] == mask_name(NAME)
    assert PHONE not in listing and NAME not in listing
    body = b"".join(export.streaming_content) if export.streaming else export.content  # type: ignore[attr-defined]
    assert PHONE.encode() not in body
    assert not AuditEntry.objects.filter(action="case.contact_viewed").exists()


@pytest.mark.parametrize("via", ["page", "api"])
def test_an_unmasked_view_is_audited(world, via):
    # Given an operator who may see the reporter's contact
    operator = world.users[Role.OPERATOR]
    client = Client()
    client.force_login(operator)
    case = world.home.case

    # When they open the case
    if via == "page":
        response = client.get(reverse("cases:detail", args=[case.number]))
    else:
        response = client.get(reverse("api:case-detail", kwargs={"number": case.number}))

    # Then they see the phone number, and the view is in the audit log
    assert PHONE in response.content.decode()
    entry = AuditEntry.objects.get(action="case.contact_viewed")
    assert entry.actor == operator
    assert entry.target_id == str(case.pk)
    assert entry.data == {"via": via}


def test_public_pages_never_show_contact_details(world):
    # Given anyone with the tracking code
    client = Client()
    case = world.home.case

    # When they read the tracking page and the community page
    pages = [
        client.get(reverse("public:track_detail", args=[case.tracking_code])),
        client.get(reverse("communities:detail", args=[world.home.community.code])),
        client.get(reverse("dashboard:public")),
    ]

    # Then neither the name nor the phone appears
    for response in pages:
        assert response.status_code == 200
        html = response.content.decode()
        assert PHONE not in html and NAME not in html
