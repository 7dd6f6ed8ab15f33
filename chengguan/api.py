"""Shared pieces of the REST API (/api/v1/): the gate-first viewset, references
to other objects that stay inside the caller's scope, the error shape and
the `version` field of workflow actions.

Every viewset starts from `restrict(queryset, request.user, "view")`, so an
object outside the caller's scope is simply not found (404), exactly as on
the staff pages. Writes go through the services, which check the action's
permission again under a row lock.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.settings import api_settings

from chengguan.permissions import restrict


class RestrictedQuerysetMixin:
    """`queryset` narrowed by the permission gate before anything else happens."""

    queryset: QuerySet[Any]
    request: Any
    gate_action = "view"

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()  # type: ignore[misc]
        return restrict(queryset, self.request.user, self.gate_action)


class RestrictedReadOnlyViewSet(RestrictedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """List and detail of one model, through the gate."""


class RestrictedRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference by id that only accepts objects the caller may see.

    An id outside the caller's scope is reported like one that does not
    exist, so the field reveals nothing about other areas.
    """

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        request = self.context.get("request")
        return restrict(queryset, getattr(request, "user", None), "view")


class RestrictedSlugRelatedField(serializers.SlugRelatedField):
    """A reference by a natural key (a code, a case number), through the gate."""

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        request = self.context.get("request")
        return restrict(queryset, getattr(request, "user", None), "view")


class ErrorSerializer(serializers.Serializer):
    """Every error response (chengguan.api_errors)."""

    code = serializers.CharField(
        help_text=_("Stable machine-readable code, e.g. case.transition_not_allowed.")
    )
    message = serializers.CharField(help_text=_("Human-readable message in the request's language."))
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text=_("Messages per input field; empty when the error is not about one field."),
    )


class BriefSerializer(serializers.Serializer):
    """`{id, code, name}`: how one object names another in responses."""

    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class BriefUserSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    name = serializers.CharField(source="display_name", read_only=True)


class VersionedActionSerializer(serializers.Serializer):
    """Input of a workflow action: `version` is the case version the client saw.

    With it, the action fails with 409 `stale_object` when someone changed
    the case in between; without it, the action applies to the current case.
    """

    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text=_("The case version the client last saw; a newer case makes the action fail with 409."),
    )


class ObtainTokenSerializer(AuthTokenSerializer):
    """Username and password, plus the second factor for the roles that require one."""

    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=32,
        help_text=_(
            "The current code of the account's authenticator app, or one of its recovery codes: "
            "required for the roles that sign in with two factors (settings.OTP_REQUIRED_ROLES)."
        ),
    )


@extend_schema(
    summary="Obtain the API token of an account (username, password and, for some roles, a one-time code)",
    request=ObtainTokenSerializer,
    responses={200: ObtainTokenSerializer, 400: ErrorSerializer, 401: ErrorSerializer, 429: ErrorSerializer},
)
class ObtainTokenView(ObtainAuthToken):
    """DRF's token view, throttled like every other endpoint: it is where passwords are guessed.

    Supervisors and admins (the roles the sign-in pages ask for a second
    factor, chengguan.middleware.otp_required_for) must send `otp` too: without
    it the answer is 401 `auth.otp_required`, with a wrong one 401
    `auth.otp_invalid`. A wrong code counts as a failed sign-in for the
    lockout (django-axes) and the audit log, like a wrong password.
    """

    throttle_classes = api_settings.DEFAULT_THROTTLE_CLASSES
    serializer_class = ObtainTokenSerializer

    def post(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        from django.contrib.auth.signals import user_login_failed
        from rest_framework.authtoken.models import Token

        from chengguan.api_errors import error_body
        from chengguan.audit import audit
        from chengguan.middleware import otp_required_for
        from chengguan.security import client_ip, otp_matching_device

        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        if otp_required_for(user):
            code = serializer.validated_data.get("otp", "")
            if not code.strip():
                message = _("This account signs in with two factors: send the authenticator's code as `otp`.")
                return Response(error_body("auth.otp_required", message, {"otp": [str(message)]}), status=401)
            device = otp_matching_device(user=user, token=code)
            if device is None:
                from axes.handlers.proxy import AxesProxyHandler

                # The underlying HttpRequest: django-axes marks a lockout on it
                # for its middleware, which answers the reaching attempt with 429.
                django_request = request._request
                AxesProxyHandler.update_request(django_request)
                audit(actor=None, action="auth.otp_failed", target=user, ip=client_ip(django_request))
                user_login_failed.send(
                    sender=type(self),
                    credentials={"username": serializer.validated_data["username"]},
                    request=django_request,
                )
                message = _("The one-time code is not correct.")
                return Response(error_body("auth.otp_invalid", message, {"otp": [str(message)]}), status=401)
            audit(actor=user, action="auth.otp_verified", target=user, device=device.persistent_id, api=True)
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


# Bounds Django's integer fields get from the database backend (SQLite's are
# 64-bit, PostgreSQL's smaller): left out, so the schema is the same on both.
DATABASE_INTEGER_BOUNDS = frozenset({2**15 - 1, 2**31 - 1, 2**63 - 1, -(2**15), -(2**31), -(2**63)})


def drop_database_integer_bounds(result: Any, generator: Any, request: Any, public: bool) -> Any:
    """drf-spectacular postprocessing hook: remove backend-dependent integer bounds."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "integer" and node.get("maximum") in DATABASE_INTEGER_BOUNDS:
                del node["maximum"]
                if node.get("minimum") in DATABASE_INTEGER_BOUNDS:
                    del node["minimum"]
                if node.get("format") == "int64":
                    del node["format"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result


class PhotoListField(serializers.ListField):
    """Photos of a multipart request, checked as the pages check them.

    Each file must be a JPEG, PNG or WebP image within the size cap
    (liaisons.forms.check_photo, the pages' early check); the service
    re-encodes them (cases.attachments.normalise_image). A bad file is a 400
    naming the field.
    """

    def __init__(self, **kwargs: Any) -> None:
        from cases.attachments import MAX_PHOTOS_PER_UPLOAD

        kwargs.setdefault("child", serializers.FileField())
        kwargs.setdefault("max_length", MAX_PHOTOS_PER_UPLOAD)
        kwargs.setdefault("help_text", _("Photos (multipart upload); JPEG, PNG or WebP."))
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[Any]:
        from django import forms

        from liaisons.forms import check_photo

        files = super().to_internal_value(data)
        errors = []
        for upload in files:
            try:
                check_photo(upload)
            except forms.ValidationError as error:
                errors.extend(error.messages)
        if errors:
            raise serializers.ValidationError(errors)
        return files


# The error responses of a write endpoint, for its schema.
WRITE_ERRORS = dict.fromkeys((400, 401, 403, 404, 409), ErrorSerializer)
