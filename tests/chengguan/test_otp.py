"""Two-factor sign-in: required for supervisors and admins, optional for other roles."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from chengguan.errors import ActionNotPermitted
from chengguan.models import AuditEntry
from chengguan.roles import Role
from chengguan.security import otp_disable, otp_enrolment_confirm, otp_enrolment_start
from tests.factories import staff

PASSWORD = "pass-1234-word"


def code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def enrolled(user) -> list[str]:  # type: ignore[no-untyped-def]
    device = otp_enrolment_start(user=user)
    return otp_enrolment_confirm(user=user, token=code(device))


def later():  # type: ignore[no-untyped-def]
    """A later 30-second window: a TOTP code is accepted once per window."""
    return time_machine.travel(timezone.now() + timedelta(minutes=2))


@pytest.fixture
def supervisor(district):  # type: ignore[no-untyped-def]
    return staff(Role.SUPERVISOR, scope=district, username="ducha")


def test_the_requirement_is_on_by_default_for_supervisors_and_admins(otp_enforced):
    assert set(otp_enforced) == {Role.SUPERVISOR.value, Role.ADMIN.value}


def test_a_supervisor_without_an_authenticator_is_sent_to_set_one_up(client, supervisor, otp_enforced):
    # Given a supervisor who signed in with the password
    client.post(reverse("login"), {"username": "ducha", "password": PASSWORD})
    # When they open the case list
    response = client.get("/cases/")
    # Then they must enrol first
    assert response.status_code == 302
    assert response.url == f"{reverse('otp_setup')}?next=%2Fcases%2F"


def test_enrolment_shows_a_qr_code_and_key_then_recovery_codes(client, supervisor, otp_enforced):
    client.force_login(supervisor)
    # Given the set-up page
    page = client.get(reverse("otp_setup"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html
    device = TOTPDevice.objects.get(user=supervisor, confirmed=False)
    assert page.context["secret"] in html
    # When a wrong code is entered
    wrong = client.post(reverse("otp_setup"), {"token": "000000" if code(device) != "000000" else "111111"})
    # Then nothing is confirmed and the same key is shown again
    assert wrong.status_code == 200 and wrong.context["form"].errors
    assert TOTPDevice.objects.get(user=supervisor).confirmed is False
    # When the app's code is entered
    done = client.post(reverse("otp_setup"), {"token": code(device), "next": "/cases/"})
    # Then recovery codes are shown once, the session is verified and it is audited
    assert done.status_code == 200
    assert len(done.context["codes"]) == 10
    assert TOTPDevice.objects.get(user=supervisor).confirmed is True
    assert AuditEntry.objects.filter(action="auth.otp_enrolled", target_id=str(supervisor.pk)).exists()
    assert client.get("/cases/").status_code == 200


def test_an_enrolled_supervisor_verifies_after_the_password(client, supervisor, otp_enforced):
    enrolled(supervisor)
    device = TOTPDevice.objects.get(user=supervisor)
    with later():
        client.post(reverse("login"), {"username": "ducha", "password": PASSWORD})
        response = client.get("/cases/")
        assert response.url == f"{reverse('otp_verify')}?next=%2Fcases%2F"
        # A wrong code is refused
        refused = client.post(reverse("otp_verify"), {"token": "12345x", "next": "/cases/"})
        assert refused.status_code == 400
        assert AuditEntry.objects.filter(action="auth.otp_failed").count() == 1
        assert client.get("/cases/").status_code == 302
    # The right one, once the device's throttle delay after a failure has passed,
    # lets them through to where they were going
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        accepted = client.post(reverse("otp_verify"), {"token": code(device), "next": "/cases/"})
        assert accepted.status_code == 302 and accepted.url == "/cases/"
        assert client.get("/cases/").status_code == 200


def test_a_recovery_code_works_once(client, supervisor, otp_enforced):
    codes = enrolled(supervisor)
    client.force_login(supervisor)
    response = client.post(reverse("otp_verify"), {"token": codes[0], "next": "/cases/"})
    assert response.status_code == 302 and response.url == "/cases/"
    assert StaticToken.objects.filter(device__user=supervisor).count() == 9
    # A new session cannot reuse it
    client.logout()
    client.force_login(supervisor)
    assert client.post(reverse("otp_verify"), {"token": codes[0]}).status_code == 400


def test_an_external_next_url_is_ignored(client, supervisor, otp_enforced):
    codes = enrolled(supervisor)
    client.force_login(supervisor)
    response = client.post(reverse("otp_verify"), {"token": codes[1], "next": "https://evil.example/"})
    assert response.url == reverse("home")


def test_the_api_refuses_an_unverified_supervisor_session(client, supervisor, otp_enforced):
    client.force_login(supervisor)
    response = client.get("/api/v1/cases/")
    assert response.status_code == 403
    assert response.json()["code"] == "auth.otp_required"


def test_other_roles_are_not_asked_for_a_second_factor(client, community, otp_enforced):
    liaison = staff(Role.LIAISON, scope=community)
    client.force_login(liaison)
    assert client.get("/cases/").status_code == 200


def test_an_optional_role_can_enrol_and_turn_it_off(client, community, otp_enforced):
    liaison = staff(Role.LIAISON, scope=community)
    enrolled(liaison)
    client.force_login(liaison)
    # Enrolled: a liaison must now verify too, since they chose a second factor
    device = TOTPDevice.objects.get(user=liaison)
    with later():
        response = client.post(reverse("otp_turn_off"), {"token": code(device)})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=liaison).exists()
    assert AuditEntry.objects.filter(action="auth.otp_disabled", target_id=str(liaison.pk)).exists()


def test_a_supervisor_cannot_turn_it_off(supervisor, otp_enforced):
    enrolled(supervisor)
    with pytest.raises(ActionNotPermitted):
        otp_disable(user=supervisor, actor=supervisor)
    assert TOTPDevice.objects.filter(user=supervisor, confirmed=True).exists()


def test_a_superuser_can_reset_a_lost_phone(supervisor, otp_enforced):
    from tests.factories import UserFactory

    root = UserFactory(is_superuser=True, is_staff=True)
    enrolled(supervisor)
    otp_disable(user=supervisor, actor=root)
    assert not TOTPDevice.objects.filter(user=supervisor).exists()
    assert AuditEntry.objects.get(action="auth.otp_disabled").actor == root


def test_pages_need_a_login(client, db):
    for name in ("otp_manage", "otp_setup", "otp_verify"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response.url.startswith(reverse("login")), name


def test_the_manage_page_shows_the_state(client, supervisor, otp_enforced):
    codes = enrolled(supervisor)
    client.force_login(supervisor)
    client.post(reverse("otp_verify"), {"token": codes[0]})
    page = client.get(reverse("otp_manage"))
    assert page.status_code == 200
    assert page.context["enrolled"] and page.context["required"]
    assert page.context["recovery_left"] == 9
    renewed = client.post(reverse("otp_recovery_renew"))
    assert len(renewed.context["codes"]) == 10
    assert StaticToken.objects.filter(device__user=supervisor).count() == 10


def test_tests_sign_in_without_a_second_factor_unless_asked(client, supervisor):
    # The suite's autouse fixture lifts the requirement for force_login users.
    client.force_login(supervisor)
    assert client.get("/cases/").status_code == 200
