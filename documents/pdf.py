"""Checking an uploaded PDF for real: it parses, is not encrypted, has pages; what each page looks like.

Nothing here trusts the file name or the browser's content type.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from typing import IO, Any

from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

# Peruri's signer object gives coordinates and the page number 3 characters: 0..999.
MAX_PERURI_COORDINATE = 999
MAX_PERURI_PAGES = 999
_CHUNK = 1024 * 1024


class PdfInvalid(Exception):
    """The upload is not a PDF we can send. ``message`` is translated and safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class PageInfo:
    """One page, as a signer sees it: the crop box (PDF points) and the page rotation."""

    width: int
    height: int
    rotate: int
    crop: tuple[float, float, float, float]

    def as_json(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "rotate": self.rotate, "crop": list(self.crop)}


@dataclass(frozen=True)
class PdfInfo:
    sha256: str
    size: int
    pages: list[PageInfo] = field(default_factory=list)

    @property
    def page_count(self) -> int:
        return len(self.pages)


def _sha256(stream: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    stream.seek(0)
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    return digest.hexdigest(), size


def pdf_inspect(*, stream: IO[bytes], max_bytes: int) -> PdfInfo:
    """Check that ``stream`` is a PDF Paraf can send for signing and describe its pages.

    Raises PdfInvalid with a message for the user when the file is too big, not a PDF, damaged,
    encrypted, empty, or has pages Peruri's coordinates cannot address.
    """
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    if size == 0:
        raise PdfInvalid(_("The file is empty."))
    if size > max_bytes:
        raise PdfInvalid(
            _("The file is too large (%(size)s MB). The limit is %(limit)s MB.")
            % {"size": f"{size / 1024 / 1024:.1f}", "limit": f"{max_bytes / 1024 / 1024:.0f}"}
        )
    head = stream.read(1024)
    stream.seek(0)
    # Peruri (and the client) require the bytes to start with %PDF-; tolerate nothing before it.
    if not head.startswith(b"%PDF-"):
        raise PdfInvalid(_("This file is not a PDF."))

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(stream, strict=False)
        if reader.is_encrypted:
            raise PdfInvalid(_("This PDF is password-protected or encrypted. Upload a copy without protection."))
        count = len(reader.pages)
        pages: list[PageInfo] = []
        for page in reader.pages:
            crop = page.cropbox
            x0, y0, x1, y1 = (float(v) for v in (crop.left, crop.bottom, crop.right, crop.top))
            rotate = int(page.rotation or 0) % 360
            if rotate not in (0, 90, 180, 270):
                raise PdfInvalid(_("This PDF has a page with an unusual rotation."))
            pages.append(
                PageInfo(width=round(abs(x1 - x0)), height=round(abs(y1 - y0)), rotate=rotate, crop=(x0, y0, x1, y1))
            )
    except PdfInvalid:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError, OSError) as exc:
        logger.info("upload rejected: unreadable PDF (%s)", type(exc).__name__)
        raise PdfInvalid(_("This PDF is damaged and cannot be read.")) from exc
    if count == 0:
        raise PdfInvalid(_("This PDF has no pages."))
    if count > MAX_PERURI_PAGES:
        raise PdfInvalid(_("This PDF has more than %(max)s pages.") % {"max": MAX_PERURI_PAGES})

    # Signing appends an incremental update with pyHanko-like tools; make sure that works on this
    # file too, so a file that would fail at Peruri is refused now, not after sending.
    try:
        from pyhanko.pdf_utils.reader import PdfFileReader

        PdfFileReader(stream, strict=False)
    except Exception as exc:  # noqa: BLE001 - any parser failure means "we cannot sign this"
        logger.info("upload rejected: PDF structure not usable for signing (%s)", type(exc).__name__)
        raise PdfInvalid(_("This PDF is damaged and cannot be read.")) from exc
    finally:
        stream.seek(0)

    sha256, measured = _sha256(stream)
    return PdfInfo(sha256=sha256, size=measured, pages=pages)


_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()-]+")


def file_name_sanitize(name: str, *, max_length: int = 100) -> str:
    """A file name safe to store and to send to Peruri (fileName ≤ 100 chars), ending in .pdf.

    Keeps letters, digits, spaces and ``. _ - ( )``; folds accents; drops any path part.
    """
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    stem = name[:-4] if name.lower().endswith(".pdf") else name
    stem = _UNSAFE.sub("_", stem).strip(" ._-")
    stem = re.sub(r"_+", "_", stem)
    if not stem:
        stem = "document"
    return stem[: max_length - 4].rstrip(" ._-") + ".pdf"
