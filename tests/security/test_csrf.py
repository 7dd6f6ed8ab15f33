"""CSRF: no form or endpoint accepts a POST from a signed-in browser without the token.

Every URL from the resolver is posted to, as a signed-in superuser (who
passes every role check, so the request reaches whatever guards the view),
with a client that enforces CSRF checks. Only URLs listed in CSRF_EXEMPT,
each with its reason, may answer otherwise.
"""

from __future__ import annotations

import pytest
from django.test import Client

from tests.security.routes import ADMIN, CAPTCHA, route_keys, url_for
from tests.security.world import World, build_world

pytestmark = pytest.mark.django_db

# URL -> why a POST without a CSRF token is harmless there.
CSRF_EXEMPT: dict[str, str] = {
    "api:token": "trades a username and password for a token; no session is used",
    "healthz": "read-only probe, answered by middleware before CSRF",
    "livez": "read-only probe, answered by middleware before CSRF",
}


@pytest.fixture
def world() -> World:
    return build_world()


def test_every_post_without_a_token_is_refused(world):
    # Given a signed-in superuser's browser that sends no CSRF token
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.root)
    accepted: list[str] = []

    # When it posts to every URL of the site
    for key in sorted(route_keys() - {ADMIN, CAPTCHA} - set(CSRF_EXEMPT)):
        if key.startswith("open311"):
            continue  # a machine interface keyed by api_key, never by the session: see below
        url = url_for(key, world, True, world.root)
        response = client.post(url, {"description": "x", "reason": "x"})
        # Then each is refused for the missing token (HTML 403 page, or the API's structured 403)
        if response.status_code != 403:
            accepted.append(f"{key} {url}: {response.status_code}")

    assert accepted == [], "\n".join(accepted)


def test_open311_posts_need_an_api_key_not_a_session(world):
    # Given a signed-in staff browser without a CSRF token
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.root)

    # When it posts a service request to Open311 (a machine interface)
    response = client.post("/open311/v2/requests.json", {"service_code": "0102", "description": "x"})

    # Then the session does not count: without an api_key the request is refused
    assert response.status_code in (400, 401, 403)


def test_admin_forms_need_the_token_too(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.root)

    response = client.post("/admin/chengguan/user/add/", {"username": "mallory"})

    assert response.status_code == 403


def test_a_post_with_the_token_is_accepted():
    # The check above must be able to fail: with the token the same kind of post goes through.
    client = Client(enforce_csrf_checks=True)
    page = client.get("/track/")
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else None
    assert token, "the tracking form sets the CSRF cookie"

    response = client.post("/track/", {"code": "NOPE", "csrfmiddlewaretoken": token})

    assert response.status_code != 403
