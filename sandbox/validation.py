"""Field checks from the document's tables, each failing with Peruri's result code."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox import errors
from sandbox.errors import Rejected

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9]{8,15}$")
KTP = re.compile(r"^[0-9]{16}$")
NPWP = re.compile(r"^[0-9]{15}$")
DATE = re.compile(r"^[0-9]{2}/[0-9]{2}/[0-9]{4}$")
IMAGE_FORMATS = ("JPEG", "PNG")
MAX_IMAGE_PIXELS = 40_000_000


@dataclass(frozen=True)
class PageBox:
    """A page's visible box (CropBox) in PDF points; `number` is 1-based."""

    number: int
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0


def text(
    params: Mapping[str, Any],
    name: str,
    *,
    required: bool = True,
    max_len: int | None = None,
    prefix: str = "",
) -> str:
    """A string field. Missing/empty mandatory, a non-string value or too long: 1008."""
    label = f"{prefix}{name}"
    value = params.get(name)
    if value is None:
        if required:
            raise Rejected(errors.INVALID_DATA, f"Parameter {label} wajib diisi")
        return ""
    if not isinstance(value, str):
        raise Rejected(errors.INVALID_DATA, f"Parameter {label} harus berupa string")
    if required and value.strip() == "":
        raise Rejected(errors.INVALID_DATA, f"Parameter {label} wajib diisi")
    if max_len is not None and len(value) > max_len:
        raise Rejected(errors.INVALID_DATA, f"Parameter {label} maksimal {max_len} karakter")
    return value


def obj(params: Mapping[str, Any], name: str, *, prefix: str = "") -> Mapping[str, Any]:
    value = params.get(name)
    if not isinstance(value, Mapping):
        raise Rejected(errors.INVALID_DATA, f"Parameter {prefix}{name} wajib berupa object")
    return value


def array(params: Mapping[str, Any], name: str, *, required: bool = True, prefix: str = "") -> list[Any]:
    value = params.get(name)
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        raise Rejected(errors.INVALID_DATA, f"Parameter {prefix}{name} wajib berupa array yang tidak kosong")
    return value


def email(params: Mapping[str, Any], name: str = "email", *, prefix: str = "") -> str:
    value = text(params, name, max_len=75, prefix=prefix).strip()
    if not EMAIL.match(value):
        raise Rejected(errors.INVALID_DATA, f"Parameter {prefix}{name} bukan alamat email yang valid")
    return value.lower()


def base64_bytes(value: str, label: str) -> bytes:
    """Strict base64 without a `data:...;base64,` prefix (the document says to strip it)."""
    if value.startswith("data:"):
        raise Rejected(errors.INVALID_DATA, f"Parameter {label} harus base64 tanpa MIME data (data:...;base64,)")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Rejected(errors.INVALID_DATA, f"Parameter {label} bukan base64 yang valid") from exc
    if not data:
        raise Rejected(errors.INVALID_DATA, f"Parameter {label} wajib diisi")
    return data


def image(data: bytes, label: str) -> str:
    """The image's format (JPEG/PNG). Anything Pillow cannot fully decode: 1008."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise Rejected(errors.INVALID_DATA, f"Gambar {label} terlalu besar")
            img.load()
    except Rejected:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise Rejected(errors.INVALID_DATA, f"Parameter {label} bukan gambar yang valid (JPG/PNG)") from exc
    if fmt not in IMAGE_FORMATS:
        raise Rejected(errors.INVALID_DATA, f"Parameter {label} harus gambar JPG atau PNG (diterima: {fmt or '?'})")
    return fmt


def to_png(data: bytes) -> bytes:
    """A specimen normalised to PNG (RGBA), ready to be stamped."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        out = io.BytesIO()
        img.convert("RGBA").save(out, format="PNG")
        return out.getvalue()


def video_container(data: bytes) -> str:
    """ "webm" or "mp4" by the container's magic bytes; anything else: 1045."""
    # EBML header; Matroska's DocType is "matroska", WebM's is "webm".
    if len(data) >= 16 and data[:4] == b"\x1a\x45\xdf\xa3" and b"webm" in data[:64]:
        return "webm"
    if len(data) >= 16 and data[4:8] == b"ftyp":
        return "mp4"
    raise Rejected(errors.INVALID_VIDEO, "Format video tidak valid (harus MP4 H.264 atau WEBM)")


def date_dmy(value: str, label: str) -> dt.date:
    if not DATE.match(value):
        raise Rejected(errors.INVALID_DATA, f"Parameter {label} harus berformat dd/mm/yyyy")
    try:
        parsed = dt.datetime.strptime(value, "%d/%m/%Y").date()  # noqa: DTZ007 - a date, no time zone
    except ValueError as exc:
        raise Rejected(errors.INVALID_DATA, f"Parameter {label} bukan tanggal yang valid") from exc
    if parsed.year < 1900 or parsed > dt.date.today():  # noqa: DTZ011 - a birth date
        raise Rejected(errors.INVALID_DATA, f"Parameter {label} bukan tanggal lahir yang valid")
    return parsed


def pdf_pages(data: bytes, label: str = "base64Document") -> list[PageBox]:
    """The pages of a PDF that parses and is not encrypted; otherwise 1008."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if b"%PDF-" not in data[:1024]:
        raise Rejected(errors.INVALID_DATA, f"Parameter {label} bukan dokumen PDF")
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise Rejected(errors.INVALID_DATA, f"Dokumen {label} terenkripsi / dilindungi password")
        pages = []
        for number, page in enumerate(reader.pages, start=1):
            box = page.cropbox
            pages.append(
                PageBox(
                    number=number,
                    x0=float(min(box.left, box.right)),
                    y0=float(min(box.bottom, box.top)),
                    x1=float(max(box.left, box.right)),
                    y1=float(max(box.bottom, box.top)),
                )
            )
    except Rejected:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        raise Rejected(errors.INVALID_DATA, f"Parameter {label} bukan dokumen PDF yang valid") from exc
    if not pages:
        raise Rejected(errors.INVALID_DATA, f"Dokumen {label} tidak memiliki halaman")
    return pages
