"""Structured errors for the REST API.

Every error a client of /api/ receives is one JSON shape:

    {"code": "case.transition_not_allowed", "message": "…", "fields": {}}

`code` is stable (clients branch on it), `message` is translated into the
request's language, `fields` maps input fields to their messages (empty
when the error is not about one field). Domain errors (chengguan.errors)
keep their code and HTTP status; a forbidden transition is 409. An
unexpected exception is logged and answered with a JSON 500: no HTML page
ever reaches an API client.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from chengguan.errors import DomainError

logger = logging.getLogger("chengguan.api")

API_PATH_PREFIXES = ("/api/", "/open311/")

# DRF's exception classes → the stable code the API returns for them.
CODES: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.ValidationError, "invalid"),
    (exceptions.ParseError, "parse_error"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "authentication_failed"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "throttled"),
]


def error_body(code: str, message: Any, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": str(message), "fields": fields or {}}


def _flatten(detail: Any) -> Any:
    """DRF's nested ErrorDetail structure as plain strings, keeping its shape."""
    if isinstance(detail, dict):
        return {str(key): _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list | tuple):
        return [_flatten(item) for item in detail]
    return str(detail)


def _field_errors(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return _flatten(detail)
    # A list of messages not tied to a field (serializer-level validation).
    return {"non_field_errors": _flatten(detail if isinstance(detail, list) else [detail])}


def _code_for(exc: exceptions.APIException) -> str:
    for klass, code in CODES:
        if isinstance(exc, klass):
            return code
    return str(getattr(exc, "default_code", "error"))


def _domain_error(exc: DomainError) -> Response:
    fields: dict[str, Any] = {}
    field = exc.params.get("field")
    if field:
        fields[str(field)] = [str(exc.message)]
    return Response(error_body(exc.code, exc.message, fields), status=exc.http_status)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception becomes the structured error."""
    set_rollback()
    if isinstance(exc, DomainError):
        return _domain_error(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, exceptions.APIException):
        headers: dict[str, str] = {}
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        wait = getattr(exc, "wait", None)
        if wait:
            headers["Retry-After"] = str(int(wait))
        if isinstance(exc, exceptions.ValidationError):
            body = error_body("invalid", _("The data you entered is not valid."), _field_errors(exc.detail))
        elif isinstance(exc.detail, dict | list):
            body = error_body(_code_for(exc), _("The request could not be completed."), _flatten(exc.detail))
        else:
            body = error_body(_code_for(exc), exc.detail)
        return Response(body, status=exc.status_code, headers=headers)

    view = context.get("view")
    if isinstance(exc, DataError):
        # Input the database refuses as data (a NUL byte in a text or slug,
        # a number out of the column's range) that no field validator caught.
        logger.warning(
            "data refused by the database in %s: %s", type(view).__name__ if view else "an API view", exc
        )
        return Response(
            error_body("invalid", _("The data you entered is not valid.")), status=status.HTTP_400_BAD_REQUEST
        )
    if database_unavailable(exc):
        logger.warning("database unavailable in %s: %s", type(view).__name__ if view else "an API view", exc)
        return Response(
            service_unavailable_body(),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "30"},
        )
    logger.exception("Unexpected error in %s", type(view).__name__ if view else "an API view")
    return Response(server_error_body(), status=status.HTTP_500_INTERNAL_SERVER_ERROR)


def server_error_body() -> dict[str, Any]:
    return error_body("server_error", _("Something went wrong on our side. Please try again later."))


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PATH_PREFIXES)


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """A path under /api/ that names no endpoint."""
    return JsonResponse(error_body("not_found", _("Not found.")), status=404)


def server_error(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """The project's handler500: JSON for API clients, Django's page for everyone else.

    Errors inside API views never get here (exception_handler answers them);
    this catches what fails around a view, e.g. in middleware or rendering.
    """
    if database_unavailable():
        return service_unavailable(request)
    if is_api_request(request):
        return JsonResponse(server_error_body(), status=500)
    from django.views.defaults import server_error as html_server_error

    return html_server_error(request)


def database_unavailable(exc: BaseException | None = None) -> bool:
    """Whether `exc` (by default the exception being handled) is the database not answering."""
    import sys

    from django.db import InterfaceError, OperationalError

    return isinstance(exc if exc is not None else sys.exc_info()[1], OperationalError | InterfaceError)


def service_unavailable_body() -> dict[str, Any]:
    return error_body(
        "service_unavailable", _("The service is briefly unavailable. Please try again in a minute.")
    )


def service_unavailable(request: HttpRequest) -> HttpResponse:
    """503 while the database is away: JSON for API clients, a page that needs no database otherwise.

    The next request reconnects by itself (CONN_HEALTH_CHECKS), so nothing
    has to be restarted once the database is back.
    """
    body = service_unavailable_body()
    if is_api_request(request):
        response: HttpResponse = JsonResponse(body, status=503)
    else:
        from django.template import loader

        response = HttpResponse(loader.render_to_string("503.html", {"message": body["message"]}), status=503)
    response["Retry-After"] = "30"
    return response
