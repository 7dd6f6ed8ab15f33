"""Brute force: username + address locked out after AXES_FAILURE_LIMIT wrong passwords."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from chengguan.models import AuditEntry
from chengguan.security import lockout_message
from tests.factories import UserFactory

PASSWORD = "pass-1234-word"


@pytest.fixture
def wang(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="wang")


def attempt(client, password: str, ip: str = "10.1.1.1"):  # type: ignore[no-untyped-def]
    return client.post(reverse("login"), {"username": "wang", "password": password}, REMOTE_ADDR=ip)


def fail_until_locked(client, settings, ip: str = "10.1.1.1"):  # type: ignore[no-untyped-def]
    responses = [attempt(client, "wrong", ip) for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert all(r.status_code in (200, 429) for r in responses)
    return responses[-1]


def test_the_limit_locks_the_account_from_that_address_with_a_message(client, wang, settings):
    # Given AXES_FAILURE_LIMIT wrong passwords from one address
    last = fail_until_locked(client, settings)
    # Then the last one already shows the lockout page
    assert last.status_code == 429
    # When the right password comes next from there
    response = attempt(client, PASSWORD)
    # Then it is refused with the message on the login page, and nobody is signed in
    assert response.status_code == 429
    html = response.content.decode()
    assert lockout_message() in html
    assert 'name="username"' in html
    assert "_auth_user_id" not in client.session


def test_another_address_is_not_locked_out(client, wang, settings):
    fail_until_locked(client, settings, ip="10.1.1.1")
    response = attempt(client, PASSWORD, ip="10.9.9.9")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(wang.pk)


def test_the_lock_ends_after_the_cool_off(client, wang, settings):
    fail_until_locked(client, settings)
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(minutes=1)):
        response = attempt(client, PASSWORD)
    assert response.status_code == 302


def test_fewer_failures_than_the_limit_do_not_lock(client, wang, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, "wrong").status_code == 200
    assert attempt(client, PASSWORD).status_code == 302


def test_a_lockout_is_audited_once_with_every_failure(client, wang, settings):
    fail_until_locked(client, settings)
    assert AuditEntry.objects.filter(action="auth.login_failed", target_id=str(wang.pk)).count() == (
        settings.AXES_FAILURE_LIMIT
    )
    locked = AuditEntry.objects.get(action="auth.locked_out")
    assert locked.target_id == str(wang.pk)
    assert locked.data == {"username": "wang", "ip": "10.1.1.1"}


def test_the_api_token_endpoint_is_locked_too(client, wang, settings):
    url = reverse("api:token") if _has_api_namespace() else "/api/v1/auth/token/"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"username": "wang", "password": "wrong"}, REMOTE_ADDR="10.2.2.2")
    response = client.post(url, {"username": "wang", "password": PASSWORD}, REMOTE_ADDR="10.2.2.2")
    assert response.status_code in (400, 429)
    assert "token" not in response.json()


def _has_api_namespace() -> bool:
    from django.urls import NoReverseMatch

    try:
        reverse("api:token")
    except NoReverseMatch:
        return False
    return True
