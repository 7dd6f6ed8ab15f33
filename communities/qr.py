"""QR service codes (城市服务码): the URLs they hold and their images (segno)."""

from __future__ import annotations

import io
from urllib.parse import urlencode

import segno
from django.http import HttpRequest
from django.urls import reverse

from communities.models import Community, Facility

# The value the complaint form reads as "came from a QR code" (cases.forms.public.QR_SOURCE).
QR_SOURCE = "qr"
# Medium error correction survives a scratched or weathered sticker.
ERROR_LEVEL = "m"


def facility_report_path(facility: Facility) -> str:
    return f"{reverse('public:report')}?{urlencode({'facility': facility.code, 'source': QR_SOURCE})}"


def community_report_path(community: Community) -> str:
    return f"{reverse('public:report')}?{urlencode({'community': community.code, 'source': QR_SOURCE})}"


def absolute(request: HttpRequest, path: str) -> str:
    return request.build_absolute_uri(path)


def qr_svg(url: str, *, scale: int = 4) -> str:
    """An inline <svg> of the code, sized by `scale` (CSS makes it fit the label)."""
    return str(segno.make(url, error=ERROR_LEVEL).svg_inline(scale=scale, border=2))


def qr_svg_document(url: str, *, scale: int = 10) -> bytes:
    out = io.BytesIO()
    segno.make(url, error=ERROR_LEVEL).save(out, kind="svg", scale=scale, border=4, xmldecl=True)
    return out.getvalue()


def qr_png(url: str, *, scale: int = 10) -> bytes:
    out = io.BytesIO()
    segno.make(url, error=ERROR_LEVEL).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
