"""Cross-cutting middleware: health probes, request ids, the two-factor requirement."""

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from chengguan import health
from chengguan.logging import clean_request_id, current_request, request_id

GetResponse = Callable[[HttpRequest], HttpResponse]

PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": health.healthz,
    "/healthz/": health.healthz,
    "/livez": health.livez,
    "/livez/": health.livez,
}


class HealthCheckMiddleware:
    """Answers /healthz and /livez before anything else runs.

    First in MIDDLEWARE, so a probe over plain HTTP to an internal address is
    not redirected to HTTPS, not refused by ALLOWED_HOSTS and opens no session.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)


class RequestIdMiddleware:
    """Binds the request id (X-Request-ID, or a new one) for logs and tasks; returns it."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        value = clean_request_id(request.META.get(settings.REQUEST_ID_HEADER))
        request.request_id = value  # type: ignore[attr-defined]
        id_token = request_id.set(value)
        request_token = current_request.set(request)
        try:
            response = self.get_response(request)
        finally:
            current_request.reset(request_token)
            request_id.reset(id_token)
        response["X-Request-ID"] = value
        return response


def otp_required_for(user: object) -> bool:
    """Whether the user's roles require a second factor (settings.OTP_REQUIRED_ROLES)."""
    roles = settings.OTP_REQUIRED_ROLES
    if not roles or not getattr(user, "is_authenticated", False):
        return False
    if "admin" in roles and getattr(user, "is_superuser", False):
        return True
    return user.groups.filter(name__in=roles).exists()  # type: ignore[attr-defined]


class RequireOTPMiddleware:
    """Sends a signed-in supervisor or admin without a verified second factor to
    enrol or verify one; the API answers 403 with a stable code instead.

    Token-authenticated API calls are not seen here (DRF authenticates them in
    the view), so API tokens of these roles are a second factor of their own
    and should be issued deliberately (see README, Production).
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def exempt_prefixes(self) -> tuple[str, ...]:
        return (
            reverse("otp_setup"),
            reverse("otp_verify"),
            reverse("logout"),
            reverse("login"),
            "/i18n/",
            "/" + settings.STATIC_URL.lstrip("/"),
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            settings.OTP_REQUIRED_ROLES
            and user.is_authenticated
            and not user.is_verified()  # type: ignore[union-attr,attr-defined]
            and not request.path_info.startswith(self.exempt_prefixes())
            and otp_required_for(user)
        ):
            if request.path_info.startswith("/api/"):
                return JsonResponse(
                    {
                        "code": "auth.otp_required",
                        "message": _("Two-factor sign-in is required for this account."),
                        "fields": {},
                    },
                    status=403,
                )
            from django_otp import user_has_device

            target = "otp_verify" if user_has_device(user) else "otp_setup"
            return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
