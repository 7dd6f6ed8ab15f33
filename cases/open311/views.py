"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) under /open311/v2/.

discovery, services, services/{code}, requests (GET and POST),
requests/{id} and tokens/{token}, each as `.json` or `.xml`. Categories are
the services; cases are the service requests, with the internal status in
the `status_internal` extension. Posting needs an api_key (Open311Client);
reading requests too unless settings.OPEN311_PUBLIC_READS. Errors are the
specification's list of {code, description}.

The token returned with a new request is the case's tracking code: the
client can pass it on to the resident for the public tracking page.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle
from rest_framework.views import APIView, set_rollback

from cases.models import Open311Client
from cases.open311 import serializers
from cases.open311.renderers import Open311JSONRenderer, Open311XMLRenderer
from cases.open311.selectors import api_key_holder, open311_requests, open311_services
from cases.open311.services import open311_request_create
from chengguan import clock
from chengguan.api_keys import mark_api_call
from chengguan.errors import ActionNotPermitted, DomainError

logger = logging.getLogger("chengguan.open311")

MAX_REQUESTS = 1000
DEFAULT_DAYS = 90
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this endpoint last changed in a way clients should know about.
CHANGESET = "2026-11-30T00:00:00+08:00"


class Open311Error(exceptions.APIException):
    """An error in the specification's terms: an HTTP status and a description."""

    def __init__(self, status_code: int, description: Any) -> None:
        self.status_code = status_code
        super().__init__(str(description))


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Every error as [{"code": <HTTP status>, "description": ...}]."""
    set_rollback()
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, DomainError):
        code, description = exc.http_status, str(exc.message)
    elif isinstance(exc, exceptions.ValidationError):
        code, description = 400, "; ".join(_messages(exc.detail))
    elif isinstance(exc, exceptions.APIException):
        code, description = exc.status_code, str(exc.detail)
    else:
        logger.exception("Unexpected error in the Open311 endpoint")
        code, description = 500, _("Something went wrong on our side. Please try again later.")
    wait = getattr(exc, "wait", None)
    headers = {"Retry-After": str(int(wait))} if wait else None
    return Response([{"code": code, "description": description}], status=code, headers=headers)


def _messages(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        found = []
        for key, value in detail.items():
            label = "" if key == "non_field_errors" else f"{key}: "
            found += _messages(value, label)
        return found
    if isinstance(detail, list):
        return [message for item in detail for message in _messages(item, prefix)]
    return [f"{prefix}{detail}"]


class Open311ClientThrottle(SimpleRateThrottle):
    """Requests with a valid api_key are counted per client, at the client rate."""

    scope = "open311_client"

    def get_rate(self) -> str:
        return str(settings.OPEN311_CLIENT_RATE)

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        client = view.client(request)
        return self.cache_format % {"scope": self.scope, "ident": client.pk} if client else None


@extend_schema(exclude=True)
class Open311View(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    renderer_classes = [Open311JSONRenderer, Open311XMLRenderer]
    parser_classes = [FormParser, MultiPartParser, JSONParser]
    xml_root = "response"
    xml_item = "item"

    def get_exception_handler(self) -> Any:
        return exception_handler

    def get_throttles(self) -> list[Any]:
        if self.client(self.request) is not None:
            return [Open311ClientThrottle()]
        return [AnonRateThrottle()]

    def client(self, request: Any) -> Open311Client | None:
        """The client named by the api_key parameter, looked up once per request."""
        if not hasattr(request, "_open311_client"):
            key = request.query_params.get("api_key") or _form_value(request, "api_key")
            holder = api_key_holder(key)
            usable = holder is not None and holder.is_usable(clock.now())
            if holder is not None:
                # Logged with its key, even when refused (chengguan.api_keys.ApiCallLogMiddleware).
                mark_api_call(request, holder, used=usable)
            request._open311_client = holder if usable else None
        return request._open311_client

    def check_jurisdiction(self, request: Request, client: Open311Client | None = None) -> None:
        given = request.query_params.get("jurisdiction_id") or _form_value(request, "jurisdiction_id")
        expected = (client.jurisdiction_id if client else "") or settings.OPEN311_JURISDICTION_ID
        if given and expected and given != expected:
            raise Open311Error(404, _("jurisdiction_id %(id)s was not found.") % {"id": given})

    def reader(self, request: Request) -> Open311Client | None:
        """Who reads service requests: a client, or anyone when reads are public."""
        client = self.client(request)
        if client is None and not settings.OPEN311_PUBLIC_READS:
            raise Open311Error(403, _("An api_key is required to read service requests."))
        return None if settings.OPEN311_PUBLIC_READS else client


def _form_value(request: Any, name: str) -> str:
    # The body is read only for POST; GET parameters are in the query string.
    if request.method != "POST":
        return ""
    try:
        return str(request.data.get(name) or "")
    except exceptions.ParseError:
        return ""


class DiscoveryView(Open311View):
    xml_root = "discovery"

    def get(self, request: Request, format: str | None = None) -> Response:
        base = request.build_absolute_uri(reverse("open311:discovery")).rsplit("discovery", 1)[0]
        return Response(
            {
                "changeset": CHANGESET,
                "contact": settings.OPEN311_CONTACT,
                "key_service": _("API keys are issued by the city-management bureau."),
                "endpoints": [
                    {
                        "specification": SPECIFICATION,
                        "url": base.rstrip("/"),
                        "changeset": CHANGESET,
                        "type": "production",
                        "formats": ["application/json", "text/xml"],
                    }
                ],
            }
        )


class ServiceListView(Open311View):
    xml_root, xml_item = "services", "service"

    def get(self, request: Request, format: str | None = None) -> Response:
        self.check_jurisdiction(request)
        return Response([serializers.service(category) for category in open311_services()])


class ServiceDefinitionView(Open311View):
    xml_root = "service_definition"

    def get(self, request: Request, service_code: str, format: str | None = None) -> Response:
        self.check_jurisdiction(request)
        category = open311_services().filter(code=service_code).first()
        if category is None:
            raise Open311Error(404, _("service_code %(code)s was not found.") % {"code": service_code})
        return Response(serializers.service_definition(category))


class RequestListView(Open311View):
    xml_root, xml_item = "service_requests", "request"

    def get(self, request: Request, format: str | None = None) -> Response:
        self.check_jurisdiction(request, self.client(request))
        cases = open311_requests(self.reader(request))
        params = request.query_params
        numbers = _split(params.get("service_request_id"))
        # With explicit ids the other filters do not apply (GeoReport v2).
        cases = cases.filter(number__in=numbers) if numbers else self._filtered(cases, params)
        rows = cases.order_by("-reported_at", "-id")[:MAX_REQUESTS]
        return Response([serializers.service_request(case, request) for case in rows])

    def _filtered(self, cases: Any, params: Any) -> Any:
        codes = _split(params.get("service_code"))
        if codes:
            cases = cases.filter(category__code__in=codes)
        wanted = _split(params.get("status"))
        if wanted:
            if not set(wanted) <= {"open", "closed"}:
                raise Open311Error(400, _("status must be open or closed."))
            cases = cases.filter(status__in=[s for w in wanted for s in serializers.statuses_for(w)])
        end = _moment(params.get("end_date"), "end_date") or clock.now()
        start = _moment(params.get("start_date"), "start_date") or end - timedelta(days=DEFAULT_DAYS)
        return cases.filter(reported_at__gte=start, reported_at__lte=end)

    def post(self, request: Request, format: str | None = None) -> Response:
        client = self.client(request)
        if client is None:
            raise Open311Error(403, _("A valid api_key is required to post a service request."))
        if not client.can_write:
            raise Open311Error(403, _("This api_key may not post service requests."))
        self.check_jurisdiction(request, client)
        data = serializers.ServiceRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        category = open311_services().filter(code=values["service_code"]).first()
        if category is None:
            raise Open311Error(
                400, _("service_code %(code)s was not found.") % {"code": values["service_code"]}
            )
        try:
            case = open311_request_create(
                client=client,
                category=category,
                description=values["description"],
                lat=values.get("lat"),
                lng=values.get("long"),
                address=values.get("address_string", ""),
                reporter_name=serializers.reporter_name(
                    values.get("first_name", ""), values.get("last_name", "")
                ),
                reporter_phone=values.get("phone", ""),
                media_url=values.get("media_url", ""),
                attributes=_attributes(request),
            )
        except ActionNotPermitted as error:
            raise Open311Error(403, _("This api_key may not post service requests.")) from error
        body = [
            {
                "service_request_id": case.number,
                "token": case.tracking_code,
                "service_notice": category.notice,
                "account_id": None,
            }
        ]
        return Response(body, status=status.HTTP_201_CREATED)


class RequestDetailView(Open311View):
    xml_root, xml_item = "service_requests", "request"

    def get(self, request: Request, service_request_id: str, format: str | None = None) -> Response:
        self.check_jurisdiction(request, self.client(request))
        case = open311_requests(self.reader(request)).filter(number=service_request_id).first()
        if case is None:
            raise Open311Error(
                404, _("service_request_id %(id)s was not found.") % {"id": service_request_id}
            )
        return Response([serializers.service_request(case, request)])


class TokenView(Open311View):
    xml_root, xml_item = "service_requests", "request"

    def get(self, request: Request, token: str, format: str | None = None) -> Response:
        self.check_jurisdiction(request, self.client(request))
        number = (
            open311_requests(self.reader(request))
            .filter(tracking_code=token.strip().upper())
            .values_list("number", flat=True)
            .first()
        )
        if number is None:
            raise Open311Error(404, _("token %(token)s was not found.") % {"token": token})
        return Response([{"service_request_id": number, "token": token}])


class NotFoundView(Open311View):
    """Any other path under /open311/v2/."""

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise Open311Error(404, _("Not found."))

    post = get


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _moment(value: str | None, name: str) -> Any:
    if not value:
        return None
    moment = parse_datetime(value.replace(" ", "+"))
    if moment is None:
        day = parse_date(value)
        if day is not None:
            moment = datetime.combine(day, time.min)
    if moment is None:
        raise Open311Error(400, _("%(name)s must be an ISO 8601 date and time.") % {"name": name})
    moment = moment if timezone.is_aware(moment) else timezone.make_aware(moment)
    # In UTC: ISO 8601 allows offsets PostgreSQL refuses (beyond ±15:59).
    return moment.astimezone(UTC)


def _attributes(request: Request) -> dict[str, Any]:
    """attribute[code]=value pairs of the form (GeoReport v2 style)."""
    found = {}
    for key in request.data:
        if key.startswith("attribute[") and key.endswith("]"):
            found[key[len("attribute[") : -1]] = request.data.get(key)
    if isinstance(request.data.get("attribute"), dict):
        found.update(request.data["attribute"])
    return found
