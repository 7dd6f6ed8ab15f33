"""Structured API errors (chengguan.api_errors), authentication and throttling.

Every error is JSON with a stable code, a translated message and field
errors; nothing answers an API client with an HTML page, not even an
unexpected exception.
"""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from cases import services
from cases.choices import CaseStatus
from chengguan.roles import Role
from tests.api import as_user, assert_error
from tests.factories import CaseFactory, staff

pytestmark = pytest.mark.django_db


def test_anonymous_is_401_with_a_token_challenge():
    response = APIClient().get("/api/v1/cases/")

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


def test_a_bad_token_is_401():
    client = APIClient(HTTP_AUTHORIZATION="Token not-a-real-token")

    assert_error(client.get("/api/v1/cases/"), 401, "authentication_failed")


def test_token_authentication(district, community):
    operator = staff(Role.OPERATOR, scope=district)
    case = CaseFactory(community=community)
    token = Token.objects.create(user=operator)
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = client.get("/api/v1/cases/")

    assert [row["number"] for row in response.json()["results"]] == [case.number]


def test_a_token_is_obtained_with_username_and_password(district):
    operator = staff(Role.OPERATOR, scope=district, username="op1")

    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "op1", "password": "pass-1234-word"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=operator).key


def test_wrong_credentials_for_a_token_are_400_with_fields(db):
    body = assert_error(
        APIClient().post("/api/v1/auth/token/", {"username": "nobody", "password": "x"}, format="json"),
        400,
        "invalid",
    )

    assert "non_field_errors" in body["fields"]


def test_unknown_api_path_is_a_json_404(district):
    client = as_user(staff(Role.OPERATOR, scope=district))

    assert_error(client.get("/api/v1/no-such-things/"), 404, "not_found")
    assert_error(APIClient().get("/api/nothing-here"), 404, "not_found")


def test_wrong_method_is_405(district):
    client = as_user(staff(Role.OPERATOR, scope=district))

    assert_error(client.delete("/api/v1/cases/"), 405, "method_not_allowed")
    assert_error(client.put("/api/v1/districts/"), 405, "method_not_allowed")


def test_malformed_json_is_a_parse_error(district):
    client = as_user(staff(Role.OPERATOR, scope=district))

    response = client.post("/api/v1/cases/", data="{not json", content_type="application/json")

    assert_error(response, 400, "parse_error")


def test_messages_follow_the_request_language():
    zh = APIClient().get("/api/v1/cases/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    en = APIClient().get("/api/v1/cases/", HTTP_ACCEPT_LANGUAGE="en")

    assert en.json()["message"] == "Authentication credentials were not provided."
    assert zh.json()["message"] != en.json()["message"]
    assert zh.json()["code"] == en.json()["code"] == "not_authenticated"


def test_a_domain_error_keeps_its_code_and_status(district, community):
    from tests.factories import UserFactory

    superuser = UserFactory(is_superuser=True)
    case = services.case_report(
        source="web", description="占道经营", actor=superuser, lat=30.005, lng=120.005
    )
    supervisor = staff(Role.SUPERVISOR, scope=district)

    response = as_user(supervisor).post(
        f"/api/v1/cases/{case.number}/verify/", {"passed": True}, format="json"
    )

    body = assert_error(response, 409, "case.transition_not_allowed")
    assert case.get_status_display() in body["message"] or CaseStatus.REPORTED.label in body["message"]


def test_throttle_rates_come_from_the_settings(settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]

    assert AnonRateThrottle.THROTTLE_RATES["anon"] == rates["anon"]
    assert UserRateThrottle.THROTTLE_RATES["user"] == rates["user"]


def test_anonymous_clients_are_throttled(monkeypatch, db):
    monkeypatch.setitem(AnonRateThrottle.THROTTLE_RATES, "anon", "2/minute")
    client = APIClient()
    credentials = {"username": "someone", "password": "guess"}
    for _ in range(2):
        client.post("/api/v1/auth/token/", credentials, format="json")

    response = client.post("/api/v1/auth/token/", credentials, format="json")

    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


def test_signed_in_clients_are_throttled(monkeypatch, district):
    monkeypatch.setitem(UserRateThrottle.THROTTLE_RATES, "user", "3/minute")
    client = as_user(staff(Role.OPERATOR, scope=district))
    for _ in range(3):
        assert client.get("/api/v1/districts/").status_code == 200

    assert_error(client.get("/api/v1/districts/"), 429, "throttled")


def test_an_unexpected_error_is_a_json_500_and_logged(monkeypatch, district, community, caplog):
    def broken(**kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database on fire")

    monkeypatch.setattr(services, "case_report", broken)
    client = as_user(staff(Role.OPERATOR, scope=district))
    client.raise_request_exception = False

    response = client.post("/api/v1/cases/", {"source": "walk_in", "description": "x"}, format="json")

    assert_error(response, 500, "server_error")
    assert "database on fire" not in response.content.decode()
    assert any("Unexpected error" in record.getMessage() for record in caplog.records)


def test_an_error_outside_the_view_is_a_json_500(rf):
    from chengguan.api_errors import server_error

    api = server_error(rf.get("/api/v1/cases/"))
    page = server_error(rf.get("/cases/"))

    assert api.status_code == page.status_code == 500
    assert api["Content-Type"] == "application/json"
    assert api.content.startswith(b'{"code": "server_error"')
    assert page["Content-Type"].startswith("text/html")
