"""Validation and normalisation of uploaded photos.

Only real images are kept: the bytes must decode as JPEG, PNG or WebP within
the size and pixel caps. The image is re-encoded with its EXIF orientation
applied, which also drops metadata such as the GPS position of the phone.
"""

import io
import uuid
import warnings

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from chengguan.errors import InvalidInput

ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
MAX_PHOTOS_PER_UPLOAD = 6


def normalise_image(upload: UploadedFile) -> ContentFile:
    max_bytes = settings.ATTACHMENT_MAX_BYTES
    if upload.size is not None and upload.size > max_bytes:
        raise InvalidInput(
            _("The photo %(name)s is larger than %(limit)d MB.")
            % {"name": upload.name, "limit": max_bytes // (1024 * 1024)},
            code="attachment.too_large",
        )
    upload.seek(0)
    raw = upload.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise InvalidInput(
            _("The photo %(name)s is larger than %(limit)d MB.")
            % {"name": upload.name, "limit": max_bytes // (1024 * 1024)},
            code="attachment.too_large",
        )
    not_an_image = InvalidInput(
        _("%(name)s is not a JPEG, PNG or WebP photo.") % {"name": upload.name},
        code="attachment.not_an_image",
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as probe:
                if probe.format not in ALLOWED_FORMATS:
                    raise not_an_image
                if probe.width * probe.height > settings.ATTACHMENT_MAX_PIXELS:
                    raise InvalidInput(
                        _("The photo %(name)s has too many pixels.") % {"name": upload.name},
                        code="attachment.too_many_pixels",
                    )
                probe.verify()
            with Image.open(io.BytesIO(raw)) as opened:
                opened.load()
                fmt = opened.format or "JPEG"
                image: Image.Image = ImageOps.exif_transpose(opened)
                if fmt == "JPEG" and image.mode not in ("RGB", "L"):
                    image = image.convert("RGB")
                out = io.BytesIO()
                save_kwargs = {"quality": 85, "optimize": True} if fmt in ("JPEG", "WEBP") else {}
                image.save(out, format=fmt, **save_kwargs)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow refuses such images while reading the header, before the pixel cap above.
        raise InvalidInput(
            _("The photo %(name)s has too many pixels.") % {"name": upload.name},
            code="attachment.too_many_pixels",
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise not_an_image from None
    return ContentFile(out.getvalue(), name=f"{uuid.uuid4().hex}.{ALLOWED_FORMATS[fmt]}")
