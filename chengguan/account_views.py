"""Two-factor sign-in pages: enrol an authenticator app, verify after the password, manage.

Thin views over chengguan.security; RequireOTPMiddleware sends supervisors
and admins here until their session is verified.
"""

from typing import cast

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from chengguan import security
from chengguan.errors import DomainError
from chengguan.forms.accounts import OTPTokenForm
from chengguan.models import User


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("home")


def _user(request: HttpRequest) -> User:
    # login_required ran: a signed-in User behind OTPMiddleware's lazy wrapper.
    return cast(User, request.user)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def otp_setup(request: HttpRequest) -> HttpResponse:
    """Enrol: show a QR code and the key, confirm with the first code, show recovery codes once."""
    user = _user(request)
    if security.otp_confirmed_device(user) is not None:
        return redirect("otp_manage")
    form = OTPTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = security.otp_enrolment_confirm(user=user, token=form.cleaned_data["token"])
        except DomainError as error:
            form.add_error("token", str(error))
        else:
            security.otp_verify_after_enrolment(request=request, user=user)
            return render(
                request,
                "registration/otp_recovery_codes.html",
                {"codes": codes, "next": _next_url(request), "enrolled": True},
            )
    device = security.otp_pending_device(user) if request.method == "POST" else None
    if device is None:
        device = security.otp_enrolment_start(user=user)
    uri = security.otp_provisioning_uri(device)
    qr_svg = segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff")
    return render(
        request,
        "registration/otp_setup.html",
        {
            "form": form,
            "qr_svg": qr_svg,
            "secret": security.otp_secret(device),
            "required": security.otp_is_required(user),
            "next": request.POST.get("next") or request.GET.get("next", ""),
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def otp_verify(request: HttpRequest) -> HttpResponse:
    """The step after the password for an account with an authenticator."""
    user = _user(request)
    if security.otp_confirmed_device(user) is None:
        return redirect(f"{reverse('otp_setup')}?next={_next_url(request)}")
    if request.user.is_verified():  # type: ignore[union-attr]
        return redirect(_next_url(request))
    form = OTPTokenForm(request.POST or None, allow_recovery=True)
    if request.method == "POST" and form.is_valid():
        if security.otp_verify(request=request, user=user, token=form.cleaned_data["token"]):
            return redirect(_next_url(request))
        form.add_error("token", _("The code is not correct or has been used. Try again."))
    return render(
        request,
        "registration/otp_verify.html",
        {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")},
        status=200 if not form.errors else 400,
    )


@never_cache
@login_required
def otp_manage(request: HttpRequest) -> HttpResponse:
    """Status of the account's second factor, with renew and turn-off actions."""
    user = _user(request)
    device = security.otp_confirmed_device(user)
    return render(
        request,
        "registration/otp_manage.html",
        {
            "enrolled": device is not None,
            "required": security.otp_is_required(user),
            "recovery_left": security.otp_recovery_codes_left(user),
            "verified": request.user.is_verified(),  # type: ignore[union-attr]
        },
    )


@never_cache
@login_required
@require_POST
def otp_recovery_renew(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not request.user.is_verified():  # type: ignore[union-attr]
        return redirect(f"{reverse('otp_verify')}?next={reverse('otp_manage')}")
    try:
        codes = security.otp_recovery_codes_renew(user=user)
    except DomainError as error:
        messages.error(request, str(error))
        return redirect("otp_manage")
    return render(
        request, "registration/otp_recovery_codes.html", {"codes": codes, "next": reverse("otp_manage")}
    )


@never_cache
@login_required
@require_POST
def otp_turn_off(request: HttpRequest) -> HttpResponse:
    """Turn two-factor sign-in off (optional roles only); asks for a current code."""
    user = _user(request)
    form = OTPTokenForm(request.POST, allow_recovery=True)
    if not form.is_valid() or not security.otp_verify(
        request=request, user=user, token=form.cleaned_data["token"]
    ):
        messages.error(request, _("The code is not correct. Two-factor sign-in stays on."))
        return redirect("otp_manage")
    try:
        security.otp_disable(user=user, actor=user)
    except DomainError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Two-factor sign-in is off."))
    return redirect("otp_manage")
