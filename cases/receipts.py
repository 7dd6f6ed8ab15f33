"""What a resident's browser remembers of its own reports: a signed cookie, no session.

Residents have no account. The browser that filed a report may see its
confirmation page, and a browser that filed, tracked with the reporter's
phone number or rated a case may rate it without typing the phone again.
Both are lists of tracking codes kept in one signed, HttpOnly cookie, so a
complaint writes no session row (one INSERT and a lookup fewer on the
busiest public write) and nothing of the resident stays on the server.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

COOKIE = "cg_reports"
SALT = "cases.receipts"
MAX_CODES = 20
MAX_AGE = 90 * 24 * 3600
FILED = "f"
VERIFIED = "v"


def _read(request: HttpRequest) -> dict[str, list[str]]:
    cached = getattr(request, "_receipts", None)
    if cached is not None:
        return cached
    receipts: dict[str, list[str]] = {FILED: [], VERIFIED: []}
    raw = request.COOKIES.get(COOKIE)
    if raw:
        try:
            stored: Any = signing.loads(raw, salt=SALT, max_age=MAX_AGE)
        except signing.BadSignature:
            stored = {}
        if isinstance(stored, dict):
            for kind in receipts:
                codes = stored.get(kind)
                if isinstance(codes, list):
                    receipts[kind] = [str(code) for code in codes][-MAX_CODES:]
    request._receipts = receipts  # type: ignore[attr-defined]
    return receipts


def filed(request: HttpRequest, code: str) -> bool:
    """This browser filed the report (its confirmation page is for it)."""
    return code in _read(request)[FILED]


def verified(request: HttpRequest, code: str) -> bool:
    """This browser proved it belongs to the reporter (filed it, or gave the phone)."""
    return code in _read(request)[VERIFIED]


def remember(request: HttpRequest, response: HttpResponse, code: str, *, as_filer: bool = False) -> None:
    """Keep `code` as verified (and filed, for the browser that filed it) in the response's cookie."""
    receipts = _read(request)
    kinds = (FILED, VERIFIED) if as_filer else (VERIFIED,)
    for kind in kinds:
        receipts[kind] = [*(c for c in receipts[kind] if c != code), code][-MAX_CODES:]
    response.set_cookie(
        COOKIE,
        signing.dumps(receipts, salt=SALT, compress=True),
        max_age=MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
