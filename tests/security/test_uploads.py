"""Hostile uploads: not images, too large, decompression bombs, zips and polyglots.

Every way in (the resident form, the case photo API, patrol photos) goes
through cases.attachments.normalise_image: a file is kept only when its
bytes decode as a JPEG, PNG or WebP within the caps, and what is stored is
the re-encoded image, so nothing appended to a real picture survives.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.translation import gettext, override
from PIL import Image
from rest_framework.test import APIClient

from cases.attachments import normalise_image
from cases.models import Case, CaseAttachment
from chengguan.errors import InvalidInput
from chengguan.roles import Role
from liaisons.models import PatrolPhoto
from tests.factories import leaf_category, staff

pytestmark = pytest.mark.django_db

PAYLOAD = b"<html><script>alert(1)</script></html>"


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (16, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buffer, format=fmt)
    return buffer.getvalue()


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evil.html", PAYLOAD)
    return buffer.getvalue()


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A tiny PNG whose header claims a huge canvas (900 megapixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = zlib.compress(b"\x00" * (width + 1) * 4)  # a few rows; the header is what counts
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


REFUSED: dict[str, tuple[str, bytes, str]] = {
    "text": ("notes.jpg", b"just some text, not a photo", "image/jpeg"),
    "html": ("page.png", PAYLOAD, "image/png"),
    "pdf": ("receipt.jpg", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\n%%EOF", "image/jpeg"),
    "zip": ("photos.zip", zip_bytes(), "application/zip"),
    "zip named as a photo": ("photo.jpg", zip_bytes(), "image/jpeg"),
    "svg with script": (
        "logo.png",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "image/png",
    ),
    "gif header then html": ("anim.gif", b"GIF89a" + PAYLOAD, "image/gif"),
    "real gif (not an allowed format)": ("anim.gif", image_bytes("GIF"), "image/gif"),
    "jpeg header then html": ("photo.jpg", b"\xff\xd8\xff\xe0" + PAYLOAD, "image/jpeg"),
    "decompression bomb": ("bomb.png", png_bomb(), "image/png"),
}


def upload(name: str, data: bytes, content_type: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.mark.parametrize("kind", list(REFUSED))
def test_hostile_files_are_refused_with_a_code(kind):
    # Given a file that is not a usable photo
    name, data, content_type = REFUSED[kind]

    # When it is validated
    with pytest.raises(InvalidInput) as refused:
        normalise_image(upload(name, data, content_type))

    # Then it is refused with a stable code and a message naming the file
    assert refused.value.code in {"attachment.not_an_image", "attachment.too_many_pixels"}
    assert name in str(refused.value.message)


def test_a_bomb_is_refused_for_its_pixels_not_its_bytes():
    with pytest.raises(InvalidInput) as refused:
        normalise_image(upload("bomb.png", png_bomb(), "image/png"))
    assert len(png_bomb()) < 200_000
    assert refused.value.code == "attachment.too_many_pixels"


def test_a_file_over_the_size_cap_is_refused(settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    with pytest.raises(InvalidInput) as refused:
        normalise_image(upload("big.png", image_bytes(size=(200, 200)) + b"\x00" * 2048, "image/png"))
    assert refused.value.code == "attachment.too_large"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_polyglot_keeps_the_picture_and_loses_the_payload(fmt):
    # Given a real image with HTML and a ZIP archive appended (a polyglot)
    data = image_bytes(fmt) + PAYLOAD + zip_bytes()

    # When it is validated
    stored = normalise_image(upload(f"photo.{fmt.lower()}", data, f"image/{fmt.lower()}")).read()

    # Then what is stored is the re-encoded picture only
    assert b"<script>" not in stored
    assert b"PK\x03\x04" not in stored
    assert Image.open(io.BytesIO(stored)).format == fmt


def test_exif_metadata_is_stripped():
    # Given a JPEG carrying the phone's GPS position in its EXIF
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {2: (30.0, 0.0, 0.0)}  # GPSInfo: latitude
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buffer, format="JPEG", exif=exif)

    # When it is validated
    stored = normalise_image(upload("gps.jpg", buffer.getvalue(), "image/jpeg")).read()

    # Then no metadata is left
    assert not Image.open(io.BytesIO(stored)).getexif()
    assert b"PhoneMaker" not in stored


def zh(message: str) -> str:
    with override("zh-hans"):
        return gettext(message)


@pytest.mark.parametrize("kind", ["zip named as a photo", "gif header then html", "decompression bomb"])
def test_the_resident_form_refuses_them_in_chinese(client, community, kind):
    # Given a resident filing a report with a hostile "photo"
    name, data, content_type = REFUSED[kind]
    form = {
        "category": str(leaf_category().pk),
        "description": "小区东门有流动摊贩占道经营",
        "address": "红星路12号",
        "reporter_name": "李四",
        "reporter_phone": "13900001111",
        "consent": "on",
        "lat": "30.005",
        "lng": "120.005",
        "photos": upload(name, data, content_type),
    }

    # When they submit the form
    response = client.post("/report/", form, HTTP_ACCEPT_LANGUAGE="zh-hans")

    # Then the form comes back (400) with the reason, and no case or file was kept
    assert response.status_code == 400
    html = response.content.decode()
    message = (
        zh("The photo %(name)s has too many pixels.")
        if kind == "decompression bomb"
        else zh("%(name)s is not a JPEG, PNG or WebP photo.")
    ) % {"name": name}
    assert message in html or message.replace("“", "&ldquo;") in html
    assert not Case.objects.exists()
    assert not CaseAttachment.objects.exists()


@pytest.fixture
def scoped_case(community, district):  # type: ignore[no-untyped-def]
    from cases import services
    from cases.choices import CaseSource

    root = staff(Role.SUPERVISOR, scope="city", username="upload-root")
    return services.case_report(
        source=CaseSource.WEB,
        actor=root,
        description="井盖缺失",
        category=leaf_category(),
        lat=30.005,
        lng=120.005,
        community=community,
    )


@pytest.mark.parametrize("kind", ["zip", "jpeg header then html", "decompression bomb"])
def test_the_api_answers_a_structured_400(scoped_case, district, kind):
    # Given a scoped supervisor adding photos to a case through the API
    client = APIClient()
    client.force_login(staff(Role.SUPERVISOR, scope=district, username="upload-supervisor"))
    name, data, content_type = REFUSED[kind]

    # When the upload is hostile
    response = client.post(
        reverse("api:case-photos", kwargs={"number": scoped_case.number}),
        {"photos": [upload(name, data, content_type)]},
        format="multipart",
    )

    # Then the answer is a structured 400, and nothing was stored
    assert response.status_code == 400, response.content
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"].startswith(("attachment.", "invalid"))
    assert not CaseAttachment.objects.filter(case=scoped_case).exists()


@pytest.mark.parametrize("kind", ["zip named as a photo", "gif header then html", "decompression bomb"])
def test_patrol_photos_refuse_them_too(community, kind):
    from datetime import timedelta

    from django.utils import timezone

    from liaisons.services import liaison_assign, patrol_log

    # Given a liaison logging a patrol with a hostile photo
    root = staff(Role.SUPERVISOR, scope="city", username="patrol-root")
    root.is_superuser = True
    root.save()
    liaison = staff(Role.LIAISON, username="patrol-liaison")
    liaison_assign(community=community, liaison=liaison, actor=root)
    name, data, content_type = REFUSED[kind]
    now = timezone.now()

    # When the patrol is logged, it is refused and nothing is stored
    with pytest.raises(InvalidInput):
        patrol_log(
            liaison=type(liaison).objects.get(pk=liaison.pk),
            community=community,
            started_at=now - timedelta(hours=2),
            ended_at=now - timedelta(hours=1),
            notes="沿街巡查",
            photos=[upload(name, data, content_type)],
        )
    assert not PatrolPhoto.objects.exists()
