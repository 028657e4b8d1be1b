"""Signer objects (coordinates) and real PAdES signatures with pyHanko."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from sandbox import errors
from sandbox.errors import Rejected
from sandbox.validation import PageBox

JAKARTA = ZoneInfo("Asia/Jakarta")
NOT_CERTIFIED = "NOT_CERTIFIED"
NO_CHANGES_ALLOWED = "NO_CHANGES_ALLOWED"
CERTIFICATION_LEVELS = (NOT_CERTIFIED, NO_CHANGES_ALLOWED)
COORDINATES = ("lowerLeftX", "lowerLeftY", "upperRightX", "upperRightY")
COORDINATE_MAX_LEN = 3
_INTEGER = re.compile(r"^[0-9]+$")
_DECIMAL = re.compile(r"^-?[0-9]*[.,][0-9]+$|^-?[0-9]+[.,][0-9]*$")
T = TypeVar("T")


def outside_event_loop(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)`, moved to a helper thread when this thread runs an asyncio loop.

    pyHanko's synchronous API wraps its coroutines in asyncio.run(), which refuses to start in a
    thread whose event loop is already running (an ASGI server, or Playwright's sync API in the
    test process). The sandbox's services are called in-process too (web views, Paraf's tests),
    so a signature must not depend on which thread asks for it.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn(*args, **kwargs)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-pyhanko") as pool:
        return pool.submit(fn, *args, **kwargs).result()


@dataclass(frozen=True)
class SignerBox:
    """Where and how one signature goes. Integers in PDF points from the page's bottom-left."""

    lower_left_x: int = 0
    lower_left_y: int = 0
    upper_right_x: int = 0
    upper_right_y: int = 0
    page: int = 1  # 1-based
    visible: bool = True
    certification_level: str = NOT_CERTIFIED
    location: str = ""
    reason: str = ""

    @property
    def rect(self) -> tuple[int, int, int, int]:
        return (self.lower_left_x, self.lower_left_y, self.upper_right_x, self.upper_right_y)

    @property
    def locks_document(self) -> bool:
        return self.certification_level == NO_CHANGES_ALLOWED

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SignerBox:
        return cls(**data)


def _string(raw: Mapping[str, Any], name: str, *, required: bool, max_len: int) -> str | None:
    if name not in raw or raw[name] is None:
        if required:
            raise Rejected(errors.INVALID_DATA, f"Parameter signer.{name} wajib diisi")
        return None
    value = raw[name]
    if not isinstance(value, str):
        raise Rejected(errors.INVALID_DATA, f"Parameter signer.{name} harus berupa string")
    if len(value) > max_len:
        raise Rejected(errors.INVALID_DATA, f"Parameter signer.{name} maksimal {max_len} karakter")
    return value


def _integer(name: str, value: str) -> int:
    value = value.strip()
    if _DECIMAL.match(value):
        raise Rejected(errors.SIGNING_FAILED, f"Gagal tanda tangan: {name} harus bilangan bulat ({value!r})")
    if not _INTEGER.match(value):
        raise Rejected(errors.SIGNING_FAILED, f"Gagal tanda tangan: {name} tidak valid ({value!r})")
    # The field tables give coordinates and page a length of 3: at most "999".
    if len(value) > COORDINATE_MAX_LEN:
        raise Rejected(errors.INVALID_DATA, f"Parameter signer.{name} maksimal {COORDINATE_MAX_LEN} karakter")
    return int(value)


def signer_box_parse(*, raw: Any, require_all: bool = False) -> SignerBox:
    """A Peruri signer object (every value a string) as a SignerBox.

    `require_all` is Signing Tier's table, where every field is mandatory. Raises Rejected:
    1008 not an object / not strings / too long / bad enum, 4014 no coordinates,
    4012 coordinates not whole numbers or not a box.
    """
    if not isinstance(raw, Mapping):
        raise Rejected(errors.INVALID_DATA, "Parameter signer harus berupa object")
    visual = _string(raw, "isVisualSign", required=require_all, max_len=3) or "YES"
    if visual not in ("YES", "NO"):
        raise Rejected(errors.INVALID_DATA, 'Parameter signer.isVisualSign harus "YES" atau "NO"')
    level = _string(raw, "certificateLevel", required=require_all, max_len=50) or NOT_CERTIFIED
    if level not in CERTIFICATION_LEVELS:
        raise Rejected(
            errors.INVALID_DATA, 'Parameter signer.certificateLevel harus "NOT_CERTIFIED" atau "NO_CHANGES_ALLOWED"'
        )
    location = _string(raw, "varLocation", required=require_all, max_len=100) or ""
    reason = _string(raw, "varReason", required=False, max_len=100) or ""

    coords: dict[str, str] = {}
    for name in (*COORDINATES, "page"):
        value = _string(raw, name, required=False, max_len=100)
        if value is not None and value.strip() != "":
            coords[name] = value
    visible = visual == "YES"
    missing = [name for name in COORDINATES if name not in coords]
    if missing and (visible or require_all or len(missing) < len(COORDINATES)):
        raise Rejected(errors.NO_COORDINATES, "Koordinat tanda tangan belum diatur: " + ", ".join(missing))
    if "page" not in coords and require_all:
        raise Rejected(errors.NO_COORDINATES, "Koordinat tanda tangan belum diatur: page")

    values = {name: _integer(name, value) for name, value in coords.items()}
    page = values.get("page", 1)
    if page < 1:
        raise Rejected(errors.SIGNING_FAILED, "Gagal tanda tangan: page tidak valid")
    box = SignerBox(
        lower_left_x=values.get("lowerLeftX", 0),
        lower_left_y=values.get("lowerLeftY", 0),
        upper_right_x=values.get("upperRightX", 0),
        upper_right_y=values.get("upperRightY", 0),
        page=page,
        visible=visible,
        certification_level=level,
        location=location,
        reason=reason,
    )
    if (visible or not missing) and not (box.lower_left_x < box.upper_right_x and box.lower_left_y < box.upper_right_y):
        raise Rejected(errors.SIGNING_FAILED, "Gagal tanda tangan: lowerLeft harus lebih kecil dari upperRight")
    return box


def signer_box_check(*, box: SignerBox, pages: list[PageBox]) -> None:
    """Raises Rejected 4012 when the page does not exist or the box is not inside the page."""
    if not 1 <= box.page <= len(pages):
        raise Rejected(
            errors.SIGNING_FAILED, f"Gagal tanda tangan: halaman {box.page} tidak ada (dokumen {len(pages)} halaman)"
        )
    if not box.visible:
        return
    if not (box.lower_left_x < box.upper_right_x and box.lower_left_y < box.upper_right_y):
        raise Rejected(errors.SIGNING_FAILED, "Gagal tanda tangan: lowerLeft harus lebih kecil dari upperRight")
    pg = pages[box.page - 1]
    if not (
        pg.x0 <= box.lower_left_x
        and pg.y0 <= box.lower_left_y
        and box.upper_right_x <= pg.x1
        and box.upper_right_y <= pg.y1
    ):
        raise Rejected(
            errors.SIGNING_FAILED,
            f"Gagal tanda tangan: koordinat di luar halaman {box.page} ({pg.x0:g},{pg.y0:g})-({pg.x1:g},{pg.y1:g})",
        )


def _ascii(text: str) -> str:
    # pyHanko's built-in Courier font is WinAnsi; keep the stamp text printable everywhere.
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _stamp_style(*, box: SignerBox, specimen_png: bytes | None) -> TextStampStyle:
    height = box.upper_right_y - box.lower_left_y
    text_top = layout.Margins(top=int(height * 0.55))
    background = None
    background_layout = layout.SimpleBoxLayoutRule(
        x_align=layout.AxisAlignment.ALIGN_MID,
        y_align=layout.AxisAlignment.ALIGN_MAX,
        margins=layout.Margins(bottom=int(height * 0.45)),
    )
    if specimen_png:
        from PIL import Image

        background = PdfImage(Image.open(io.BytesIO(specimen_png)))
    return TextStampStyle(
        stamp_text="Ditandatangani secara elektronik oleh\n%(signer)s\n%(date)s",
        text_box_style=TextBoxStyle(font_size=8),
        border_width=0,
        background=background,
        background_opacity=1.0,
        background_layout=background_layout,
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MIN,
            margins=text_top,
        ),
    )


def sign_pdf(
    *,
    pdf: bytes,
    box: SignerBox,
    field_name: str,
    certificate_pem: str,
    key_pem: str,
    ca_certificate_pem: bytes,
    signer_name: str,
    specimen_png: bytes | None,
    has_signatures: bool,
    when: dt.datetime,
) -> bytes:
    """`pdf` with one more PAdES signature (an incremental update).

    NO_CHANGES_ALLOWED on an unsigned document makes a certification signature (DocMDP P=1);
    on a document that already carries signatures (a tier's last signer) a certification signature
    is not allowed by ISO 32000, so the approval signature's field gets a /Lock with P=1 instead.
    """
    signing_cert = asn1_x509.Certificate.load(_pem_to_der(certificate_pem.encode("ascii"), "CERTIFICATE"))
    ca_cert = asn1_x509.Certificate.load(_pem_to_der(ca_certificate_pem, "CERTIFICATE"))
    signing_key = asn1_keys.PrivateKeyInfo.load(_pem_to_der(key_pem.encode("ascii"), "PRIVATE KEY"))
    signer = signers.SimpleSigner(
        signing_cert=signing_cert,
        signing_key=signing_key,
        cert_registry=SimpleCertificateStore.from_certs([ca_cert]),
    )
    certify = box.locks_document and not has_signatures
    lock_later = box.locks_document and has_signatures
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        location=box.location or None,
        reason=box.reason or None,
        name=signer_name,
        certify=certify,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES if box.locks_document else fields.MDPPerm.FILL_FORMS,
    )
    field_spec = fields.SigFieldSpec(
        sig_field_name=field_name,
        on_page=box.page - 1,
        box=box.rect if box.visible else None,
        field_mdp_spec=fields.FieldMDPSpec(action=fields.FieldMDPAction.ALL) if lock_later else None,
        doc_mdp_update_value=fields.MDPPerm.NO_CHANGES if lock_later else None,
    )
    pdf_signer = signers.PdfSigner(
        meta,
        signer,
        stamp_style=_stamp_style(box=box, specimen_png=specimen_png) if box.visible else None,
        new_field_spec=field_spec,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    out = io.BytesIO()
    outside_event_loop(
        pdf_signer.sign_pdf,
        writer,
        appearance_text_params={
            "signer": _ascii(signer_name),
            "date": when.astimezone(JAKARTA).strftime("%d/%m/%Y %H:%M:%S WIB"),
        },
        output=out,
    )
    return out.getvalue()


def _pem_to_der(data: bytes, label: str) -> bytes:
    import base64

    begin = f"-----BEGIN {label}-----".encode()
    end = f"-----END {label}-----".encode()
    start = data.index(begin) + len(begin)
    return base64.b64decode(data[start : data.index(end, start)])
