"""POST /api/v1/auth/token/: roles that sign in with two factors must send a one-time code."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from chengguan.models import AuditEntry
from chengguan.roles import Role
from chengguan.security import otp_enrolment_confirm, otp_enrolment_start
from tests.api import assert_error
from tests.factories import staff

PASSWORD = "pass-1234-word"
URL = "/api/v1/auth/token/"


def code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def wrong_code(device: TOTPDevice) -> str:
    return "000000" if code(device) != "000000" else "111111"


def later(minutes: int = 2):  # type: ignore[no-untyped-def]
    """A later 30-second window, past the device's throttle delay after a failure."""
    return time_machine.travel(timezone.now() + timedelta(minutes=minutes))


def post(body: dict[str, str], ip: str = "10.3.3.3"):  # type: ignore[no-untyped-def]
    return APIClient().post(URL, body, format="json", REMOTE_ADDR=ip)


@pytest.fixture
def supervisor(district):  # type: ignore[no-untyped-def]
    return staff(Role.SUPERVISOR, scope=district, username="ducha")


@pytest.fixture
def recovery_codes(supervisor):  # type: ignore[no-untyped-def]
    device = otp_enrolment_start(user=supervisor)
    return otp_enrolment_confirm(user=supervisor, token=code(device))


def test_a_supervisor_without_a_code_gets_no_token(supervisor, recovery_codes, otp_enforced):
    # When a supervisor asks with the right password alone
    response = post({"username": "ducha", "password": PASSWORD})
    # Then it is refused with a stable code naming the missing field
    body = assert_error(response, 401, "auth.otp_required")
    assert "otp" in body["fields"]
    assert "token" not in body
    assert not Token.objects.filter(user=supervisor).exists()


def test_a_supervisor_not_enrolled_yet_gets_no_token(supervisor, otp_enforced):
    assert_error(post({"username": "ducha", "password": PASSWORD}), 401, "auth.otp_required")
    assert_error(post({"username": "ducha", "password": PASSWORD, "otp": "123456"}), 401, "auth.otp_invalid")
    assert not Token.objects.filter(user=supervisor).exists()


def test_a_wrong_code_is_refused_audited_and_counted(supervisor, recovery_codes, otp_enforced):
    device = TOTPDevice.objects.get(user=supervisor)
    with later():
        response = post({"username": "ducha", "password": PASSWORD, "otp": wrong_code(device)})
    assert_error(response, 401, "auth.otp_invalid")
    assert not Token.objects.filter(user=supervisor).exists()
    assert AuditEntry.objects.filter(action="auth.otp_failed", target_id=str(supervisor.pk)).count() == 1
    assert AuditEntry.objects.filter(action="auth.login_failed", target_id=str(supervisor.pk)).count() == 1
    from axes.models import AccessAttempt

    assert AccessAttempt.objects.get(username="ducha").failures_since_start == 1


def test_the_authenticator_code_gives_the_token(supervisor, recovery_codes, otp_enforced):
    device = TOTPDevice.objects.get(user=supervisor)
    with later():
        response = post({"username": "ducha", "password": PASSWORD, "otp": code(device)})
    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=supervisor).key
    assert AuditEntry.objects.filter(action="auth.otp_verified", data__api=True).exists()


def test_a_recovery_code_gives_the_token_once(supervisor, recovery_codes, otp_enforced):
    first = post({"username": "ducha", "password": PASSWORD, "otp": recovery_codes[0]})
    assert first.status_code == 200
    assert StaticToken.objects.filter(device__user=supervisor).count() == 9
    assert_error(
        post({"username": "ducha", "password": PASSWORD, "otp": recovery_codes[0]}), 401, "auth.otp_invalid"
    )


def test_a_wrong_password_still_fails_before_the_code_is_looked_at(supervisor, recovery_codes, otp_enforced):
    body = assert_error(
        post({"username": "ducha", "password": "wrong", "otp": recovery_codes[0]}), 400, "invalid"
    )
    assert "non_field_errors" in body["fields"]
    # The recovery code was not spent
    assert StaticToken.objects.filter(device__user=supervisor).count() == 10


def test_wrong_codes_lock_the_account_out(supervisor, recovery_codes, otp_enforced, settings):
    device = TOTPDevice.objects.get(user=supervisor)
    # Given AXES_FAILURE_LIMIT wrong codes from one address, each in its own
    # window past the device's own throttle delay
    responses = []
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        with later(minutes=2 + 10 * attempt):
            responses.append(post({"username": "ducha", "password": PASSWORD, "otp": wrong_code(device)}))
    assert [r.status_code for r in responses[:-1]] == [401] * (settings.AXES_FAILURE_LIMIT - 1)
    # Then the attempt that reaches the limit is answered with the lockout
    assert responses[-1].status_code == 429
    assert responses[-1].json()["code"] == "auth.locked_out"
    # And even the right code no longer gives a token from there
    with later(minutes=2 + 10 * settings.AXES_FAILURE_LIMIT):
        locked = post({"username": "ducha", "password": PASSWORD, "otp": code(device)})
    assert locked.status_code in (400, 429)
    assert "token" not in locked.json()
    assert AuditEntry.objects.filter(action="auth.locked_out", target_id=str(supervisor.pk)).exists()
    assert not Token.objects.filter(user=supervisor).exists()


def test_an_admin_superuser_needs_the_code_too(db, otp_enforced):
    from tests.factories import UserFactory

    UserFactory(username="root", is_superuser=True, is_staff=True)
    assert_error(post({"username": "root", "password": PASSWORD}), 401, "auth.otp_required")


def test_other_roles_get_a_token_with_the_password(district, otp_enforced):
    operator = staff(Role.OPERATOR, scope=district, username="op1")
    response = post({"username": "op1", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=operator).key


def test_anonymous_wrong_credentials_are_400(db, otp_enforced):
    assert_error(post({"username": "nobody", "password": "x", "otp": "123456"}), 400, "invalid")
