"""Checks and normalisation of identity data, before anything is stored or sent (R14).

Each function returns the normalised value or raises django.core.exceptions.ValidationError with a
translated message (shown next to the field).
"""

from __future__ import annotations

import io
import re
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

_SEPARATORS = re.compile(r"[\s.\-/()]")


def normalize_ktp(value: str) -> str:
    """A KTP number (NIK): 16 digits, laid out as region (6), birth date (6, women +40 on the day),
    serial (4)."""
    digits = _SEPARATORS.sub("", value or "")
    if not re.fullmatch(r"\d{16}", digits):
        raise ValidationError(_("A KTP number (NIK) has exactly 16 digits."), code="ktp_length")
    province = int(digits[0:2])
    day, month = int(digits[6:8]), int(digits[8:10])
    if day > 40:
        day -= 40
    if not (11 <= province <= 94) or not (1 <= day <= 31) or not (1 <= month <= 12) or digits[12:] == "0000":
        raise ValidationError(_("This is not a valid KTP number (NIK)."), code="ktp_invalid")
    return digits


def normalize_npwp(value: str) -> str:
    """An NPWP: 15 digits (the classic "12.345.678.9-012.345"), or the 16-digit form that prefixes
    the 15-digit one with 0. Peruri's field holds 15 digits, so the 16-digit form is shortened."""
    digits = _SEPARATORS.sub("", value or "")
    if re.fullmatch(r"\d{15}", digits):
        return digits
    if re.fullmatch(r"0\d{15}", digits):
        return digits[1:]
    if re.fullmatch(r"\d{16}", digits):
        raise ValidationError(
            _(
                "Peruri accepts a 15-digit NPWP (or the 16-digit form starting with 0). Leave it empty if your NPWP is your NIK."
            ),
            code="npwp_nik",
        )
    raise ValidationError(_("An NPWP has 15 digits (or 16 starting with 0)."), code="npwp_length")


def normalize_phone(value: str) -> str:
    """An Indonesian mobile number, returned in the local form Peruri's examples use (08…).

    Accepts +62 8…, 62 8…, 08… and 8…, with spaces, dots, dashes or parentheses.
    """
    raw = _SEPARATORS.sub("", value or "")
    if raw.startswith("+62"):
        raw = "0" + raw[3:]
    elif raw.startswith("62"):
        raw = "0" + raw[2:]
    elif raw.startswith("8"):
        raw = "0" + raw
    if not re.fullmatch(r"08[1-9]\d{7,10}", raw):
        raise ValidationError(
            _("Enter an Indonesian mobile number, for example 0812 3456 7890 or +62 812 3456 7890."), code="phone"
        )
    return raw


def validate_date_of_birth(value: date) -> date:
    """A real date in the past, of someone old enough to hold a KTP (17) and not implausibly old."""
    today = timezone.localdate()
    if value >= today:
        raise ValidationError(_("The date of birth must be in the past."), code="dob_future")
    if value.year < 1900:
        raise ValidationError(_("Enter a real date of birth."), code="dob_old")
    age = today.year - value.year - ((today.month, today.day) < (value.month, value.day))
    if age < 17:
        raise ValidationError(_("A KTP is issued from the age of 17."), code="dob_young")
    return value


def clean_photo(data: bytes, *, keep_alpha: bool = False) -> bytes:
    """Decode an uploaded image and re-encode it without its metadata (EXIF, GPS, comments).

    Rejects non-images, oversize files and decompression bombs. Identity photos come out as JPEG;
    with `keep_alpha` (a signature specimen) as PNG, keeping its transparency.
    """
    if len(data) > settings.CERTIFICATES_PHOTO_MAX_BYTES:
        limit = settings.CERTIFICATES_PHOTO_MAX_BYTES // (1024 * 1024)
        raise ValidationError(_("The image is larger than %(limit)s MB.") % {"limit": limit}, code="photo_size")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ("JPEG", "PNG", "WEBP"):
                raise ValidationError(_("Upload a JPEG, PNG or WebP image."), code="photo_format")
            if probe.width * probe.height > 40_000_000:
                raise ValidationError(_("The image has too many pixels."), code="photo_pixels")
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            image = image.convert("RGBA") if keep_alpha else image.convert("RGB")
            side = settings.CERTIFICATES_PHOTO_MAX_SIDE
            image.thumbnail((side, side))
            out = io.BytesIO()
            # A fresh image carries no info dict: nothing of the original's metadata is written.
            clean = Image.new(image.mode, image.size)
            clean.paste(image)
            if keep_alpha:
                clean.save(out, format="PNG", optimize=True)
            else:
                clean.save(out, format="JPEG", quality=85)
            return out.getvalue()
    except ValidationError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationError(_("This file is not an image we can read."), code="photo_invalid") from exc


def clean_video(data: bytes) -> bytes:
    """A face video: a WebM/Matroska or MP4 container within the size limit (Peruri answers 1045
    to other formats). Its length is limited by the recorder in the browser."""
    if len(data) > settings.CERTIFICATES_VIDEO_MAX_BYTES:
        limit = settings.CERTIFICATES_VIDEO_MAX_BYTES // (1024 * 1024)
        raise ValidationError(_("The video is larger than %(limit)s MB.") % {"limit": limit}, code="video_size")
    if len(data) < 1024:
        raise ValidationError(_("The video is empty or too short."), code="video_short")
    is_matroska = data[:4] == b"\x1a\x45\xdf\xa3"
    is_mp4 = data[4:8] == b"ftyp"
    if not (is_matroska or is_mp4):
        raise ValidationError(_("Record the video as WebM or MP4."), code="video_format")
    return data
