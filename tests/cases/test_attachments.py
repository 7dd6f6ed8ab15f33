"""Uploaded photos: only real images are kept, re-encoded upright and without metadata."""

import io
import os
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from cases import services
from cases.attachments import MAX_PHOTOS_PER_UPLOAD, normalise_image
from cases.choices import AttachmentKind, CaseAction, CaseSource, CaseStatus
from cases.models import CaseAttachment
from chengguan.errors import InvalidInput

ORIENTATION = 0x0112
MAKE = 0x010F
GPS_IFD = 0x8825


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (40, 20), exif: Image.Exif | None = None) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    # a marker in the top-left corner to tell rotations apart
    image.paste((0, 0, 255), (0, 0, 4, 4))
    out = io.BytesIO()
    kwargs = {"exif": exif.tobytes()} if exif is not None else {}
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def upload(content: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def phone_exif(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = "Phone"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (30.0, 0.0, 18.0), 3: "E", 4: (120.0, 0.0, 18.0)})
    return exif


def reopen(content) -> Image.Image:  # type: ignore[no-untyped-def]
    content.seek(0)
    return Image.open(io.BytesIO(content.read()))


class TestAccepted:
    @pytest.mark.parametrize(("fmt", "ext"), [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp")])
    def test_real_images_are_kept_in_their_format(self, fmt, ext):
        content = normalise_image(upload(image_bytes(fmt), name=f"x.{ext}"))
        assert content.name.endswith(f".{ext}")
        assert content.name != f"x.{ext}"  # the client's file name is not kept
        image = reopen(content)
        assert (image.format, image.size) == (fmt, (40, 20))

    def test_the_file_name_does_not_decide_the_format(self):
        content = normalise_image(upload(image_bytes("PNG"), name="photo.jpg"))
        assert content.name.endswith(".png")

    def test_exif_orientation_is_applied(self):
        # given a phone photo stored landscape with "rotate 90° clockwise" in its EXIF
        raw = image_bytes("JPEG", size=(40, 20), exif=phone_exif(orientation=6))
        assert Image.open(io.BytesIO(raw)).getexif()[ORIENTATION] == 6
        # when it is normalised
        image = reopen(normalise_image(upload(raw)))
        # then it is stored upright: width and height swap
        assert image.size == (20, 40)
        # and the marker moved from the top-left to the top-right corner
        red, _green, blue = image.convert("RGB").getpixel((18, 1))
        assert blue > 200 and red < 60

    @pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
    def test_metadata_is_stripped(self, fmt):
        raw = image_bytes(fmt, exif=phone_exif(orientation=1))
        assert Image.open(io.BytesIO(raw)).getexif()[MAKE] == "Phone"
        image = reopen(normalise_image(upload(raw)))
        assert dict(image.getexif()) == {}
        assert "exif" not in image.info

    def test_size_is_the_stored_size(self):
        content = normalise_image(upload(image_bytes()))
        assert content.size == len(content.read())

    def test_grayscale_and_transparent_images(self):
        out = io.BytesIO()
        Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(out, format="PNG")
        assert reopen(normalise_image(upload(out.getvalue(), "a.png"))).mode == "RGBA"
        out = io.BytesIO()
        Image.new("L", (10, 10), 128).save(out, format="JPEG")
        assert reopen(normalise_image(upload(out.getvalue()))).mode == "L"


def pdf_bytes() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG announcing a huge size, as a decompression bomb does."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"IDAT", zlib.compress(b"")) + png_chunk(b"IEND", b"")


class TestRefused:
    @pytest.mark.parametrize(
        ("content", "name"),
        [
            pytest.param(pdf_bytes(), "scan.jpg", id="pdf-renamed-jpg"),
            pytest.param(image_bytes("GIF"), "anim.gif", id="gif"),
            pytest.param(image_bytes("BMP"), "paint.bmp", id="bmp"),
            pytest.param(image_bytes("TIFF"), "scan.tif", id="tiff"),
            pytest.param(os.urandom(2048), "noise.jpg", id="random-bytes"),
            pytest.param(b"", "empty.jpg", id="empty"),
            pytest.param(image_bytes("JPEG", size=(400, 300))[:600], "cut.jpg", id="truncated-jpeg"),
            pytest.param(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "x.jpg", id="svg"),
        ],
    )
    def test_what_is_not_a_jpeg_png_or_webp(self, content, name):
        with pytest.raises(InvalidInput) as caught:
            normalise_image(upload(content, name))
        assert caught.value.code == "attachment.not_an_image"
        assert name in caught.value.message

    def test_a_file_over_the_byte_limit(self, settings):
        settings.ATTACHMENT_MAX_BYTES = 1024
        big = image_bytes("PNG", size=(300, 300))
        noisy = Image.frombytes("RGB", (100, 100), os.urandom(30000))
        out = io.BytesIO()
        noisy.save(out, format="PNG")
        assert len(out.getvalue()) > 1024
        with pytest.raises(InvalidInput) as caught:
            normalise_image(upload(out.getvalue(), "big.png"))
        assert caught.value.code == "attachment.too_large"
        # also when the upload does not announce its size
        unsized = upload(out.getvalue(), "big.png")
        unsized.size = None
        with pytest.raises(InvalidInput) as caught:
            normalise_image(unsized)
        assert caught.value.code == "attachment.too_large"
        assert big  # a plain image well under the limit is small because it compresses

    def test_an_image_over_the_pixel_limit(self, settings):
        settings.ATTACHMENT_MAX_PIXELS = 40 * 20 - 1
        with pytest.raises(InvalidInput) as caught:
            normalise_image(upload(image_bytes(size=(40, 20))))
        assert caught.value.code == "attachment.too_many_pixels"
        settings.ATTACHMENT_MAX_PIXELS = 40 * 20
        normalise_image(upload(image_bytes(size=(40, 20))))

    @pytest.mark.parametrize("side", [12_000, 60_000], ids=["over-pillow-warning", "over-pillow-error"])
    def test_a_decompression_bomb_is_refused_as_too_many_pixels(self, settings, side):
        # Pillow itself objects to these sizes while reading the header
        settings.ATTACHMENT_MAX_PIXELS = 10**12
        with pytest.raises(InvalidInput) as caught:
            normalise_image(upload(png_header_only(side, side), "bomb.png"))
        assert caught.value.code == "attachment.too_many_pixels"


# --- photos through the services ------------------------------------------------------


def test_report_photos_are_stored_as_before(superuser, community):
    # given a resident's report with two photos
    photos = [upload(image_bytes(), "a.jpg"), upload(image_bytes("PNG"), "b.png", "image/png")]
    # when it is filed
    case = services.case_report(
        source=CaseSource.WEB, description="垃圾乱堆", lat=30.005, lng=120.005, photos=photos
    )
    # then both are kept as "before" photos with their sizes, linked to the report event
    attachments = list(case.attachments.all())
    assert [a.kind for a in attachments] == [AttachmentKind.BEFORE] * 2
    report_event = case.events.get(action=CaseAction.REPORT)
    for attachment in attachments:
        assert (attachment.width, attachment.height) == (40, 20)
        assert attachment.size == attachment.file.size
        assert attachment.uploaded_by is None
        assert attachment.event == report_event
        assert case.number in attachment.file.name


def test_report_with_a_bad_photo_files_nothing(community):
    with pytest.raises(InvalidInput):
        services.case_report(
            source=CaseSource.WEB,
            description="垃圾乱堆",
            lat=30.005,
            lng=120.005,
            photos=[upload(image_bytes()), upload(pdf_bytes(), "x.jpg")],
        )
    from cases.models import Case

    assert not Case.objects.exists()
    assert not CaseAttachment.objects.exists()


def test_too_many_photos_at_once(community):
    with pytest.raises(InvalidInput) as caught:
        services.case_report(
            source=CaseSource.WEB,
            description="垃圾乱堆",
            photos=[upload(image_bytes()) for _ in range(MAX_PHOTOS_PER_UPLOAD + 1)],
        )
    assert caught.value.code == "attachment.too_many"


def test_result_photos_are_stored_as_after_and_linked_to_the_event(make_case, unit_member):
    case = make_case(CaseStatus.IN_PROGRESS)
    case = services.case_submit_result(
        case=case,
        actor=unit_member,
        result="已清运",
        photos=[upload(image_bytes("JPEG", exif=phone_exif(6)))],
    )
    event = case.events.get(action=CaseAction.SUBMIT_RESULT)
    after = case.attachments.get(kind=AttachmentKind.AFTER)
    assert after.event == event
    assert after.uploaded_by == unit_member
    assert (after.width, after.height) == (20, 40)
    assert event.data["attachments"] == [after.pk]


def test_result_photos_are_not_stored_when_the_move_is_refused(make_case, superuser):
    case = make_case(CaseStatus.DISPATCHED)
    from chengguan.errors import TransitionNotAllowed

    with pytest.raises(TransitionNotAllowed):
        services.case_submit_result(
            case=case, actor=superuser, result="已清运", photos=[upload(image_bytes())]
        )
    assert not case.attachments.exists()


def test_add_photos_to_a_visible_case(make_case, superuser):
    case = make_case(CaseStatus.DISPATCHED)
    stored = services.case_add_photos(case=case, actor=superuser, photos=[upload(image_bytes())])
    event = case.events.get(action=CaseAction.ATTACHMENT_ADDED)
    assert CaseAttachment.objects.get(pk=stored[0].pk).event == event
    with pytest.raises(InvalidInput) as caught:
        services.case_add_photos(case=case, actor=superuser, photos=[])
    assert caught.value.code == "attachment.none"
