"""API keys of machine clients (Open311Client) on /api/v1/ and /open311/v2/, and their call log.

Keys are stored as a SHA-256 digest and a prefix; the same key signs in to
the REST API as the client's account, narrowed to the key's areas and to
reading unless it may write; revoked or expired keys get 401 at once; every
call made with a key is logged with one INSERT.
"""

import hashlib
import importlib
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cases.choices import CaseSource
from cases.models import ApiCallLog, Open311Client
from cases.open311.services import api_call_logs_prune
from cases.tasks import prune_api_call_logs
from chengguan.models import User
from chengguan.roles import Role
from tests.api import assert_error, listed
from tests.factories import CaseFactory, CommunityFactory, DistrictFactory, StreetFactory, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(district):  # type: ignore[no-untyped-def]
    """The 12345 platform's account: an operator of the district (reads its cases, reports)."""
    return staff(Role.OPERATOR, scope=district, username="hotline-12345")


@pytest.fixture
def platform(account):  # type: ignore[no-untyped-def]
    return Open311Client.objects.create(
        name="12345 热线平台", source=CaseSource.HOTLINE_12345, account=account
    )


def with_key(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


# --- storage -------------------------------------------------------------------------------


def test_only_a_digest_and_a_prefix_of_the_key_are_stored(platform):
    key = platform.api_key

    stored = Open311Client.objects.get(pk=platform.pk)

    assert key and len(key) >= 40
    assert stored.key_digest == hashlib.sha256(key.encode()).hexdigest()
    assert stored.key_prefix == key[:8]
    assert stored.api_key is None
    row = Open311Client.objects.filter(pk=platform.pk).values().get()
    assert key not in {str(value) for value in row.values()}


def test_the_migration_hashes_the_keys_already_handed_out():
    migration = importlib.import_module("cases.migrations.0018_api_keys")
    saved = []

    class Row(SimpleNamespace):
        def save(self, update_fields):  # type: ignore[no-untyped-def]
            saved.append((self.key_prefix, self.key_digest, update_fields))

    rows = [Row(api_key="plain-old-key-0123456789")]
    manager = SimpleNamespace(all=lambda: rows)
    apps = SimpleNamespace(get_model=lambda app, model: SimpleNamespace(objects=manager))

    migration.hash_existing_keys(apps, None)

    digest = hashlib.sha256(b"plain-old-key-0123456789").hexdigest()
    assert saved == [("plain-ol", digest, ["key_prefix", "key_digest"])]


def test_an_old_key_keeps_working_once_hashed(platform, community):
    # given a key handed out before hashing, whose digest the migration stored
    old_key = "plain-old-key-0123456789"
    Open311Client.objects.filter(pk=platform.pk).update(
        key_digest=hashlib.sha256(old_key.encode()).hexdigest(), key_prefix=old_key[:8]
    )
    case = CaseFactory(community=community)

    assert listed(with_key(old_key).get("/api/v1/cases/"), "number") == [case.number]


# --- signing in to the REST API --------------------------------------------------------------


def test_the_key_signs_in_as_its_account_by_header_or_parameter(platform, community, other_community):
    cases = {CaseFactory(community=community).number, CaseFactory(community=other_community).number}

    by_header = with_key(platform.api_key).get("/api/v1/cases/")
    by_parameter = APIClient().get(f"/api/v1/cases/?api_key={platform.api_key}")

    assert set(listed(by_header, "number")) == cases
    assert set(listed(by_parameter, "number")) == cases


def test_a_wrong_key_gets_401(platform):
    assert_error(with_key("not-a-key").get("/api/v1/cases/"), 401, "authentication_failed")
    assert_error(APIClient().get("/api/v1/cases/?api_key=nope"), 401, "authentication_failed")
    response = with_key(platform.api_key + " extra").get("/api/v1/cases/")
    assert_error(response, 401, "authentication_failed")


def test_a_key_limited_to_a_community_sees_only_it(platform, community, other_community):
    mine = CaseFactory(community=community)
    theirs = CaseFactory(community=other_community)
    platform.communities.set([community])

    response = with_key(platform.api_key).get("/api/v1/cases/")

    assert listed(response, "number") == [mine.number]
    assert_error(with_key(platform.api_key).get(f"/api/v1/cases/{theirs.number}/"), 404, "not_found")


def test_a_key_limited_to_another_district_sees_nothing_of_the_accounts(platform, community):
    CaseFactory(community=community)
    elsewhere = DistrictFactory()
    platform.districts.set([elsewhere])

    assert listed(with_key(platform.api_key).get("/api/v1/cases/"), "number") == []


def test_a_key_limited_to_its_accounts_district_sees_all_of_it(platform, district, community):
    case = CaseFactory(community=community)
    platform.districts.set([district])

    assert listed(with_key(platform.api_key).get("/api/v1/cases/"), "number") == [case.number]


def test_a_key_cannot_reach_beyond_its_account(platform, community):
    # A key naming a district its account does not oversee gains nothing there.
    elsewhere = DistrictFactory()
    far = CommunityFactory(street=StreetFactory(district=elsewhere), origin=(121.0, 31.0))
    CaseFactory(community=far)
    platform.districts.set([elsewhere])
    platform.communities.set([far])

    assert listed(with_key(platform.api_key).get("/api/v1/cases/"), "number") == []


def test_a_read_only_key_reads_but_does_not_write(platform, community):
    platform.can_write = False
    platform.save()
    case = CaseFactory(community=community)
    client = with_key(platform.api_key)

    assert listed(client.get("/api/v1/cases/"), "number") == [case.number]
    refused = client.post(
        "/api/v1/cases/", {"source": "hotline_12345", "description": "占道经营"}, format="json"
    )
    assert_error(refused, 403, "permission_denied")
    # Nor on Open311.
    posted = APIClient().post(
        "/open311/v2/requests.json",
        {
            "api_key": platform.api_key,
            "service_code": "0102",
            "description": "占道",
            "lat": 30.005,
            "long": 120.005,
        },
    )
    assert posted.status_code == 403


def test_a_writing_key_reports_a_case(platform, community):
    response = with_key(platform.api_key).post(
        "/api/v1/cases/",
        {"source": "hotline_12345", "description": "小区门口占道经营", "community": community.pk},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["source"] == "hotline_12345"


@pytest.mark.parametrize("state", ["revoked", "expired", "inactive"])
def test_revoked_expired_or_inactive_keys_get_401_at_once(platform, community, state):
    client = with_key(platform.api_key)
    assert client.get("/api/v1/cases/").status_code == 200
    now = timezone.now()
    every: dict[str, dict[str, Any]] = {
        "revoked": {"revoked_at": now},
        "expired": {"expires_at": now - timedelta(seconds=1)},
        "inactive": {"is_active": False},
    }
    changes = every[state]
    Open311Client.objects.filter(pk=platform.pk).update(**changes)

    assert_error(client.get("/api/v1/cases/"), 401, "authentication_failed")
    # Open311 refuses it too.
    assert APIClient().get(f"/open311/v2/requests.json?api_key={platform.api_key}").status_code == 403


def test_a_key_not_yet_expired_works(platform):
    Open311Client.objects.filter(pk=platform.pk).update(expires_at=timezone.now() + timedelta(days=1))

    assert with_key(platform.api_key).get("/api/v1/cases/").status_code == 200


def test_a_disabled_account_disables_its_key(platform, account):
    User.objects.filter(pk=account.pk).update(is_active=False)

    assert_error(with_key(platform.api_key).get("/api/v1/cases/"), 401, "authentication_failed")


# --- the call log ----------------------------------------------------------------------------


def test_every_call_with_a_key_is_logged_with_one_insert(platform):
    client = with_key(platform.api_key)
    client.get("/api/v1/cases/")  # warms caches and sets last_used_at

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/cases/?status=closed", REMOTE_ADDR="10.1.2.3")

    assert response.status_code == 200
    touching = [q["sql"] for q in queries if "apicalllog" in q["sql"].lower()]
    assert len(touching) == 1 and touching[0].upper().startswith("INSERT")
    call = ApiCallLog.objects.latest("at")
    assert (call.client_id, call.method, call.path, call.status, call.remote_addr) == (
        platform.pk,
        "GET",
        "/api/v1/cases/",
        200,
        "10.1.2.3",
    )
    assert call.duration_ms >= 0
    assert ApiCallLog.objects.count() == 2


def test_refused_calls_with_a_known_key_are_logged_too(platform):
    Open311Client.objects.filter(pk=platform.pk).update(revoked_at=timezone.now())

    with_key(platform.api_key).post("/api/v1/cases/", {}, format="json")

    call = ApiCallLog.objects.get()
    assert (call.method, call.status) == ("POST", 401)


def test_calls_without_a_key_are_not_logged(platform, account):
    APIClient().get("/api/v1/cases/")
    session = APIClient()
    session.force_login(account)
    session.get("/api/v1/cases/")

    assert ApiCallLog.objects.count() == 0


def test_open311_calls_are_logged_under_their_key(platform):
    APIClient().get(f"/open311/v2/requests.json?api_key={platform.api_key}")

    call = ApiCallLog.objects.get()
    assert (call.client_id, call.path, call.status) == (platform.pk, "/open311/v2/requests.json", 200)


def test_last_used_at_moves_at_most_once_a_minute(platform):
    client = with_key(platform.api_key)
    client.get("/api/v1/cases/")
    first = Open311Client.objects.get(pk=platform.pk).last_used_at

    client.get("/api/v1/cases/")

    assert first is not None
    assert Open311Client.objects.get(pk=platform.pk).last_used_at == first


def test_old_calls_are_pruned(platform, settings):
    settings.API_CALL_LOG_RETENTION_DAYS = 30
    now = timezone.now()
    for days in (40, 31, 29, 0):
        ApiCallLog.objects.create(
            client=platform, at=now - timedelta(days=days), method="GET", path="/", status=200, duration_ms=1
        )

    assert api_call_logs_prune(batch_size=1) == 2
    assert prune_api_call_logs.delay().get() == 0
    assert sorted((now - at).days for at in ApiCallLog.objects.values_list("at", flat=True)) == [0, 29]


# --- the admin -------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client):  # type: ignore[no-untyped-def]
    client.force_login(User.objects.create_superuser("root", password="pass-1234-word"))
    return client


def test_the_admin_shows_a_new_key_once(admin_client, account):
    response = admin_client.post(
        reverse("admin:cases_open311client_add"),
        {
            "name": "12319 平台",
            "source": CaseSource.OPEN311,
            "jurisdiction_id": "",
            "account": account.pk,
            "is_active": "on",
            "can_write": "on",
            # The rest of the form at its defaults (e.g. how cases are pushed back to the platform).
            **{
                field.name: field.get_default()
                for field in Open311Client._meta.concrete_fields
                if field.editable
                and field.has_default()
                and field.name not in ("is_active", "can_write")
                and field.name != "created_at"
            },
        },
        follow=True,
    )

    assert response.status_code == 200
    assert "adminform" not in response.context or not response.context["adminform"].form.errors, (
        response.context["adminform"].form.errors
    )
    client = Open311Client.objects.get(name="12319 平台")
    shown = [str(m) for m in response.context["messages"]]
    keys = [text.split("<code>")[1].split("</code>")[0] for text in shown if "<code>" in text]
    assert len(keys) == 1 and hashlib.sha256(keys[0].encode()).hexdigest() == client.key_digest
    change_page = admin_client.get(reverse("admin:cases_open311client_change", args=[client.pk]))
    assert keys[0] not in change_page.content.decode()
    assert client.key_prefix in change_page.content.decode()


def test_the_admin_revokes_and_reissues_keys(admin_client, platform):
    old_key = platform.api_key
    url = reverse("admin:cases_open311client_changelist")

    admin_client.post(url, {"action": "revoke_keys", "_selected_action": [platform.pk]})
    assert Open311Client.objects.get(pk=platform.pk).revoked_at is not None
    response = admin_client.post(
        url, {"action": "issue_new_keys", "_selected_action": [platform.pk]}, follow=True
    )

    renewed = Open311Client.objects.get(pk=platform.pk)
    (text,) = [str(m) for m in response.context["messages"] if "<code>" in str(m)]
    new_key = text.split("<code>")[1].split("</code>")[0]
    assert renewed.revoked_at is None and new_key != old_key
    assert with_key(new_key).get("/api/v1/cases/").status_code == 200
    assert_error(with_key(old_key).get("/api/v1/cases/"), 401, "authentication_failed")


def test_the_call_log_is_read_only_in_the_admin(admin_client, platform):
    ApiCallLog.objects.create(
        client=platform, at=timezone.now(), method="GET", path="/api/v1/", status=200, duration_ms=3
    )

    assert admin_client.get(reverse("admin:cases_apicalllog_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:cases_apicalllog_add")).status_code == 403
