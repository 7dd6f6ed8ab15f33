"""API keys of machine clients (12345 platforms) on the REST API, and the log of their calls.

A key belongs to an Open311Client (cases.models), the same key its holder
uses on /open311/v2/. On /api/v1/ it signs in as the client's account, with
`Authorization: Api-Key <key>` or the Open311 `api_key` parameter:

* scope: the account's scope, narrowed to the key's districts and
  communities when it names any (`narrowed_scope`), so every viewset and
  service behind the permission gate sees no more than the key allows;
* read or write: a key without `can_write` may only use safe methods
  (`ApiKeyWritePermission`, one of the API's default permission classes);
* revocation and expiry: a key that is inactive, revoked or expired is
  refused with 401 at its next call;
* `last_used_at` is refreshed at most once a minute per key.

Every call made with a key is logged by `ApiCallLogMiddleware`: one INSERT
after the response, from what the request already carries (no extra read).

Why not djangorestframework-api-key: its keys are a permission on their own,
not an account, so the permission gate (which scopes users) would not apply
to them; the Open311 clients already hold an account, a source and a
jurisdiction, and their keys must keep working on /open311/v2/. Extending
Open311Client keeps one key per client for both APIs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from chengguan import clock
from chengguan.permissions import _SCOPE_ATTR, Scope, scope_for

if TYPE_CHECKING:
    from cases.models import Open311Client

KEYWORD = "Api-Key"
QUERY_PARAMETER = "api_key"
LAST_USED_GRANULARITY = timedelta(minutes=1)
# The attribute of the Django request naming the key a call was made with.
CALL_ATTR = "_api_call_client"


def mark_api_call(request: Any, client: Open311Client, *, used: bool = True) -> None:
    """Have the call logged under `client` once answered (DRF or Django request).

    `used`: the key was accepted, so its `last_used_at` moves (at most once a minute).
    """
    django_request = getattr(request, "_request", request)
    setattr(django_request, CALL_ATTR, client)
    if not used:
        return
    now = clock.now()
    if client.last_used_at is None or client.last_used_at < now - LAST_USED_GRANULARITY:
        type(client).objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now


def narrowed_scope(base: Scope, *, district_ids: set[int], community_ids: set[int]) -> Scope:
    """`base` limited to the given districts and communities (both empty: `base` unchanged).

    A district keeps district-wide oversight only where the account has it
    (or is city-wide); a community stays reachable where the account works
    in it or oversees its district. Handling units stay in scope when they
    belong to an allowed district.
    """
    if not district_ids and not community_ids:
        return base
    from communities.models import Community, HandlingUnit

    districts = set(district_ids) if base.city_wide else base.district_ids & district_ids
    allowed: set[int] = set()
    if community_ids:
        for pk, district_id in Community.objects.filter(pk__in=community_ids).values_list(
            "pk", "street__district_id"
        ):
            if base.city_wide or pk in base.community_ids or district_id in base.district_ids:
                allowed.add(pk)
    if base.community_ids and district_ids:
        allowed |= set(
            Community.objects.filter(
                pk__in=base.community_ids, street__district_id__in=district_ids
            ).values_list("pk", flat=True)
        )
    placement = list(Community.objects.filter(pk__in=allowed).values_list("street_id", "street__district_id"))
    units: frozenset[int] = frozenset()
    if base.unit_ids and districts:
        units = frozenset(
            HandlingUnit.objects.filter(pk__in=base.unit_ids, district_id__in=districts).values_list(
                "pk", flat=True
            )
        )
    return replace(
        base,
        city_wide=False,
        district_ids=frozenset(districts),
        community_ids=frozenset(allowed),
        unit_ids=units,
        community_district_ids=frozenset(d for _, d in placement),
        community_street_ids=frozenset(s for s, _ in placement),
    )


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>` (or `?api_key=<key>`): the key's account, within the key's scope."""

    def authenticate(self, request: Any) -> tuple[Any, Open311Client] | None:
        key = self._key(request)
        if key is None:
            return None
        from cases.open311.selectors import api_key_holder

        client = api_key_holder(key)
        if client is None:
            raise exceptions.AuthenticationFailed(_("This API key is not valid."))
        if not client.is_usable(clock.now()):
            # Logged too: attempts with a revoked key are worth seeing.
            mark_api_call(request, client, used=False)
            raise exceptions.AuthenticationFailed(_("This API key was revoked or has expired."))
        account = client.account
        if not account.is_active:
            raise exceptions.AuthenticationFailed(_("The account of this API key is disabled."))
        scope = narrowed_scope(
            scope_for(account),
            district_ids=set(client.districts.values_list("pk", flat=True)),
            community_ids=set(client.communities.values_list("pk", flat=True)),
        )
        setattr(account, _SCOPE_ATTR, scope)
        mark_api_call(request, client)
        return account, client

    def authenticate_header(self, request: Any) -> str:
        return KEYWORD

    @staticmethod
    def _key(request: Any) -> str | None:
        header = authentication.get_authorization_header(request).split()
        if header and header[0].lower() == KEYWORD.lower().encode():
            if len(header) != 2:
                raise exceptions.AuthenticationFailed(_("Give the API key after Api-Key, without spaces."))
            try:
                return str(header[1].decode())
            except UnicodeError:
                raise exceptions.AuthenticationFailed(_("This API key is not valid.")) from None
        value = request.query_params.get(QUERY_PARAMETER)
        return str(value) if value else None


class ApiKeyWritePermission(permissions.BasePermission):
    """A read-only key (`can_write` off) may only read."""

    message = _("This API key may only read.")

    def has_permission(self, request: Any, view: Any) -> bool:
        from cases.models import Open311Client

        if isinstance(request.auth, Open311Client) and request.method not in permissions.SAFE_METHODS:
            return bool(request.auth.can_write)
        return True


class ApiKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """The key as drf-spectacular documents it."""

    target_class = "chengguan.api_keys.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>` (or the `api_key` query parameter), issued in the admin.",
        }


class ApiCallLogMiddleware:
    """Logs each request made with an API key: one INSERT once the response is ready."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        response = self.get_response(request)
        client = getattr(request, CALL_ATTR, None)
        if client is not None:
            from cases.models import ApiCallLog

            ApiCallLog.objects.create(
                client_id=client.pk,
                at=clock.now(),
                method=(request.method or "")[:8],
                path=request.path[:300],
                status=response.status_code,
                duration_ms=int((time.monotonic() - started) * 1000),
                remote_addr=request.META.get("REMOTE_ADDR") or None,
            )
        return response
