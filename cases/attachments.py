"""Validation and normalisation of uploaded photos.

Only real images are kept: the bytes must decode as JPEG, PNG or WebP within
the size and pixel caps. The image is re-encoded with its EXIF orientation
applied, which also drops metadata such as the GPS position of the phone.
"""

import io
import uuid
import warnings
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import models
from django.db.models.fields.files import FieldFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from chengguan.errors import InvalidInput

ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
MAX_PHOTOS_PER_UPLOAD = 6


class PhotoField(models.ImageField):
    """An ImageField that measures a photo when new content is stored in it, never on loading.

    Django's ImageField with width_field/height_field also measures when a
    row whose size columns are empty is loaded, and whenever a stored name
    is assigned again, which refresh_from_db() does: that opened the file in
    the media storage, where a hidden photo no longer is (it lives in
    private_storage() below), and failed. The size measured at upload is
    kept in the row; a row without one stays without rather than reading
    the file, wherever it is.
    """

    def update_dimension_fields(
        self, instance: models.Model, force: bool = False, *args: Any, **kwargs: Any
    ) -> None:
        value = instance.__dict__.get(self.attname)
        # A name (from the database, or put back by FieldFile.save) or a file
        # already in storage: its size is in the row. New content is measured.
        stored = isinstance(value, str) or (
            isinstance(value, FieldFile) and value._committed  # type: ignore[attr-defined]
        )
        if not stored:
            super().update_dimension_fields(instance, force, *args, **kwargs)


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


# --- hidden photos ----------------------------------------------------------------
#
# Uploaded files are public: whoever knows a media URL can fetch it (the web
# server or the object store serves MEDIA_URL without asking Django). A photo
# hidden by moderation therefore moves out of the media storage into a
# private one that has no URL at all; staff read it through a view that
# passes the permission gate (cases.views.staff.photo).


def private_storage() -> Storage:
    """The storage for hidden photos: STORAGES["private"] when configured
    (e.g. a private bucket), else the directory PRIVATE_MEDIA_ROOT (default
    var/private), which is never served."""
    from django.core.files.storage import FileSystemStorage, InvalidStorageError, storages

    try:
        return storages["private"]
    except InvalidStorageError:
        location = getattr(settings, "PRIVATE_MEDIA_ROOT", None) or str(settings.VAR_DIR / "private")
        return FileSystemStorage(location=location, base_url=None)


def move_to_private(attachment: Any) -> None:
    """Copy a hidden photo's file to private storage under the same name.

    The public copy is deleted when the surrounding transaction commits, so
    a rollback leaves the photo where it was (and only a stray private copy).
    """
    from django.db import transaction

    name = attachment.file.name
    public = attachment.file.storage
    if not name or not public.exists(name):
        return
    private = private_storage()
    if private.exists(name):
        private.delete(name)
    with public.open(name, "rb") as source:
        private.save(name, source)
    transaction.on_commit(lambda: public.delete(name))


def move_to_public(attachment: Any) -> None:
    """Put a photo shown again back in the media storage, once the transaction commits.

    The copy waits for the commit, so a rollback never leaves a photo that is
    still hidden reachable by its media URL. The private copy is deleted
    only after the public one is written; if that fails, the error is
    logged and staff still read the photo from the private copy
    (open_attachment) until someone copies it back.
    If the storage had to choose another name, the row is updated to it.
    """
    import logging

    from django.db import transaction

    name = attachment.file.name
    if not name:
        return
    pk = attachment.pk
    model = type(attachment)

    def copy_back() -> None:
        public = attachment.file.storage
        private = private_storage()
        try:
            if model.objects.filter(pk=pk, is_hidden=True).exists():
                return  # hidden again meanwhile: the private copy is the one to keep
            if not public.exists(name):
                if not private.exists(name):
                    return
                with private.open(name, "rb") as source:
                    saved = public.save(name, source)
                if saved != name:
                    model.objects.filter(pk=pk).update(file=saved)
            if private.exists(name):
                private.delete(name)
        except Exception:  # committed already: the photo is shown from the private copy meanwhile
            logging.getLogger(__name__).exception("photo %s: copy back to public storage failed", pk)

    transaction.on_commit(copy_back)


def open_attachment(attachment: Any) -> Any:
    """The file of a photo, from wherever it lives now (private when hidden).

    A photo shown again whose public copy is missing (its copy back failed)
    is read from the private copy.
    """
    name = attachment.file.name
    if attachment.is_hidden:
        return private_storage().open(name, "rb")
    try:
        return attachment.file.storage.open(name, "rb")
    except FileNotFoundError:
        return private_storage().open(name, "rb")
