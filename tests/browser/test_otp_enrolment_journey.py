"""A supervisor's first sign-in in real headless Chromium: enrol an authenticator app.

The set-up page carries the desk menu, whose script loads the worklist counts after
the page. For a session still owing its second factor that request is redirected to
the set-up page; following it would start a new enrolment and replace the key the
page shows, so the code the app then displays would never be accepted.
"""

from base64 import b32decode

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from chengguan.roles import Role
from tests.browser.conftest import DESKTOP, sign_in
from tests.factories import DistrictFactory, staff

pytestmark = pytest.mark.browser


def test_a_supervisor_enrols_with_the_key_the_set_up_page_shows(new_page, reference_data, otp_enforced):
    # Given a supervisor without an authenticator, who has worklists in the desk menu
    staff(Role.SUPERVISOR, scope=DistrictFactory(name="示范区"), username="ducha")
    page = new_page(viewport=DESKTOP)
    # When they sign in, land on the set-up page and let its scripts run
    with page.expect_response(lambda response: "/desk/nav-counts/" in response.url):
        sign_in(page, "ducha")
    assert "/accounts/2fa/setup/" in page.url
    page.wait_for_load_state("networkidle")
    secret = page.inner_text("#otp-secret").strip()
    # Then the key on the page is still the one being enrolled
    pending = TOTPDevice.objects.get(user__username="ducha", confirmed=False)
    assert b32decode(secret + "=" * (-len(secret) % 8)) == pending.bin_key
    # And the code an app computes from it finishes the enrolment
    page.fill("input[name=token]", f"{totp(pending.bin_key):06d}")
    page.click("form:has(input[name=token]) button[type=submit]")
    page.wait_for_selector("#recovery-codes")
    assert TOTPDevice.objects.get(user__username="ducha").confirmed
