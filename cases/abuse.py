"""Abuse limits of the public pages: rate limits per IP and per phone, and when to ask for a CAPTCHA.

Counters live in the Django cache (Redis in production), so every web
worker sees the same counts. Rates are django-ratelimit strings ("20/h").
Behind a reverse proxy set RATELIMIT_IP_META_KEY (e.g. "HTTP_X_REAL_IP")
so that the client's address, not the proxy's, is counted.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django_ratelimit import UNSAFE
from django_ratelimit.core import get_usage, is_ratelimited

REPORT_GROUP = "public.report"
REPORT_PHONE_GROUP = "public.report.phone"
CO_REPORT_GROUP = "public.co_report"
NEARBY_GROUP = "public.nearby"
TRACK_MISS_GROUP = "public.track.miss"

CAPTCHA_WINDOW_SECONDS = 3600


def client_ip(request: HttpRequest) -> str:
    meta_key = getattr(settings, "RATELIMIT_IP_META_KEY", None)
    value = request.META.get(meta_key) if isinstance(meta_key, str) and meta_key else None
    value = value or request.META.get("REMOTE_ADDR") or "unknown"
    # In an X-Forwarded-For list only the last entry, added by our own proxy,
    # cannot be made up by the client.
    return str(value).split(",")[-1].strip()


def _ip_key(group: str, request: HttpRequest) -> str:
    return client_ip(request)


def _rate(name: str, default: str) -> str:
    return str(getattr(settings, name, default))


def report_rate_limited(request: HttpRequest) -> bool:
    """Count one submission of the complaint form from this address; True when over the limit."""
    return is_ratelimited(
        request,
        group=REPORT_GROUP,
        key=_ip_key,
        rate=_rate("PUBLIC_REPORT_RATE_PER_IP", "20/h"),
        method=UNSAFE,
        increment=True,
    )


def phone_rate_limited(request: HttpRequest, phone: str, *, group: str = REPORT_PHONE_GROUP) -> bool:
    """Count one submission with this phone number; True when over the limit."""
    if not phone:
        return False
    digest = hashlib.sha256(phone.encode()).hexdigest()
    return is_ratelimited(
        request,
        group=group,
        key=lambda _group, _request: digest,
        rate=_rate("PUBLIC_REPORT_RATE_PER_PHONE", "10/d"),
        method=UNSAFE,
        increment=True,
    )


def co_report_rate_limited(request: HttpRequest) -> bool:
    return is_ratelimited(
        request,
        group=CO_REPORT_GROUP,
        key=_ip_key,
        rate=_rate("PUBLIC_REPORT_RATE_PER_IP", "20/h"),
        method=UNSAFE,
        increment=True,
    )


def nearby_rate_limited(request: HttpRequest) -> bool:
    return is_ratelimited(
        request,
        group=NEARBY_GROUP,
        key=_ip_key,
        rate=_rate("PUBLIC_NEARBY_RATE_PER_IP", "120/h"),
        increment=True,
    )


def _track_miss_usage(request: HttpRequest, *, increment: bool) -> dict[str, Any] | None:
    # Only look-ups that find nothing count: guessing codes is what is limited,
    # not a resident who reloads their own tracking page.
    return get_usage(
        request,
        group=TRACK_MISS_GROUP,
        key=_ip_key,
        rate=_rate("PUBLIC_TRACK_MISSES_PER_IP", "30/h"),
        increment=increment,
    )


def tracking_blocked(request: HttpRequest) -> bool:
    """True once this address has used up its misses for the period."""
    usage = _track_miss_usage(request, increment=False)
    return usage is not None and usage["count"] >= usage["limit"]


def count_tracking_miss(request: HttpRequest) -> None:
    _track_miss_usage(request, increment=True)


def _report_count_key(request: HttpRequest) -> str:
    return f"public.report.count:{hashlib.sha256(client_ip(request).encode()).hexdigest()}"


def captcha_required(request: HttpRequest) -> bool:
    """True once this address has filed PUBLIC_REPORT_CAPTCHA_AFTER reports within the hour."""
    threshold = _captcha_threshold()
    return bool(threshold) and int(cache.get(_report_count_key(request), 0)) >= threshold


def _captcha_threshold() -> int:
    # 0: the CAPTCHA is off, and nothing is counted for it.
    return int(getattr(settings, "PUBLIC_REPORT_CAPTCHA_AFTER", 3))


def count_report(request: HttpRequest) -> None:
    """Note one filed report from this address (the window starts with the first one)."""
    if not _captcha_threshold():
        return
    key = _report_count_key(request)
    cache.add(key, 0, CAPTCHA_WINDOW_SECONDS)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, CAPTCHA_WINDOW_SECONDS)
