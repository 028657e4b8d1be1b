"""Raw-HTTP helpers for the sandbox tests: no Peruri client, just `requests` and JSON."""

from __future__ import annotations

import base64
import io
import itertools
import random
from typing import Any

import requests
from django.conf import settings

FJS = "digitalSignatureFullJwtSandbox"
_ktp_counter = itertools.count(1)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def png(width: int = 200, height: int = 80, color: tuple[int, int, int, int] = (20, 40, 160, 255)) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    draw = ImageDraw.Draw(img)
    draw.line([(10, height - 10), (width // 3, 10), (width // 2, height - 20), (width - 10, 15)], fill=color, width=4)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def jpeg(width: int = 320, height: int = 200) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 180, 150)).save(out, format="JPEG")
    return out.getvalue()


# The first bytes of a WebM file as Chromium's MediaRecorder writes them (EBML header, DocType webm).
WEBM = bytes.fromhex("1a45dfa39f4286810142f7810142f2810442f381084282847765626d42878104428581021853806701ffffffffffffff")
# An MP4 `ftyp` box (isom brand) followed by an empty `free` box.
MP4 = bytes.fromhex("00000020667479706973") + b"om\x00\x00\x02\x00isomiso2avc1mp41" + bytes.fromhex("0000000866726565")


def pdf(pages: int = 2, size: tuple[float, float] = (595, 842)) -> bytes:
    """A small A4 PDF with some text on every page."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    for number in range(1, pages + 1):
        page = writer.add_blank_page(width=size[0], height=size[1])
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 18 Tf 72 760 Td (Dokumen uji - halaman {number}) Tj ET".encode())
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf(1))))
    writer.encrypt("rahasia")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def new_ktp() -> str:
    return f"3174{random.randint(10**7, 10**8 - 1)}{next(_ktp_counter):04d}"[:16]


def registration(mail: str, /, **overrides: Any) -> dict[str, Any]:
    """A Registration `param` built from the document's field table (its example is a screenshot)."""
    param = {
        "name": "Fitri Febriana",
        "phone": "082326068898",
        "email": mail,
        "password": "",
        "type": "INDIVIDUAL",
        "ktp": new_ktp(),
        "ktpPhoto": b64(jpeg()),
        "npwp": "123456789012345",
        "npwpPhoto": b64(jpeg()),
        "address": "Jl. Palatehan No. 4, Kebayoran Baru",
        "city": "Jakarta Selatan",
        "province": "DKI Jakarta",
        "gender": "F",
        "placeOfBirth": "Bandung",
        "dateOfBirth": "22/02/1990",
        "orgUnit": "",
        "workUnit": "",
        "position": "",
        "systemId": settings.SANDBOX_SYSTEM_ID,
    }
    param.update(overrides)
    return {k: v for k, v in param.items() if v is not ...}


class Api:
    """Speaks to the sandbox's gateway the way a partner does, over real HTTP."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self._jwt: str | None = None

    @property
    def system_id(self) -> str:
        return str(settings.SANDBOX_SYSTEM_ID)

    def url(self, operation: str) -> str:
        return f"{self.base}/gateway/{FJS}/1.0/{operation}/v1"

    def headers(self, *, jwt: bool = True) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "x-Gateway-APIKey": str(settings.SANDBOX_API_KEY)}
        if jwt:
            headers["Authorization"] = f"Bearer {self.jwt}"
        return headers

    @property
    def jwt(self) -> str:
        if self._jwt is None:
            response = self.http.post(
                f"{self.base}/gateway/jwtSandbox/1.0/getJsonWebToken/v1",
                json={"param": {"systemId": self.system_id}},
                headers=self.headers(jwt=False),
                timeout=10,
            )
            body = response.json()
            assert body["resultCode"] == "0", body
            self._jwt = body["data"]["jwt"]
        return self._jwt

    def post(self, operation: str, body: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        if "headers" not in kwargs:
            kwargs["headers"] = self.headers()
        return self.http.post(self.url(operation), json=body, **kwargs)

    def call(self, operation: str, body: Any) -> dict[str, Any]:
        response = self.post(operation, body)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        reply = response.json()
        assert isinstance(reply["resultCode"], str) and isinstance(reply["resultDesc"], str), reply
        return reply

    def ok(self, operation: str, body: Any) -> dict[str, Any]:
        reply = self.call(operation, body)
        assert reply["resultCode"] == "0", reply
        return reply

    # --- flows ------------------------------------------------------------------------------

    def enrol(self, email: str, name: str = "Fitri Febriana", **overrides: Any) -> str:
        """Registration -> Activation -> Video -> Specimen -> certificate (SANDBOX_CERT_DELAY=0)."""
        self.ok("registration", {"param": registration(email, name=name, **overrides)})
        who = {"email": email, "systemId": self.system_id}
        self.ok("activation", {"param": who})
        self.ok("videoVerification", {"param": {**who, "videoStream": b64(WEBM)}})
        self.ok("sendSpeciment", {"param": {**who, "speciment": b64(png())}})
        self.ok("checkCertificate", {"param": who})
        return email

    def send_document(
        self, email: str, document: bytes | None = None, signer: list[dict[str, str]] | None = None, **extra: str
    ) -> str:
        payload: dict[str, Any] = {"fileName": "sample-dok.pdf", "base64Document": b64(document or pdf())}
        if signer is not None:
            payload["signer"] = signer
        reply = self.ok(
            "sendDocument", {"param": {"email": email, "payload": payload, "systemId": self.system_id, **extra}}
        )
        return str(reply["data"]["orderId"])

    def outbox(self, to: str) -> list[dict[str, Any]]:
        response = self.http.get(f"{self.base}/sandbox/outbox.json", params={"to": to}, timeout=10)
        assert response.status_code == 200
        return list(response.json()["messages"])

    def latest_otp(self, to: str) -> str:
        return next(m["otp"] for m in self.outbox(to) if m.get("otp"))

    def get_otp(self, order_id: str, email: str) -> tuple[str, str]:
        reply = self.ok("getOtp", {"param": {"orderId": order_id}})
        return reply["data"]["token"], self.latest_otp(email)

    def sign(self, order_id: str, email: str, signer: list[dict[str, str]] | None = None) -> dict[str, Any]:
        token, code = self.get_otp(order_id, email)
        request: dict[str, Any] = {"orderId": order_id, "otpCode": code, "token": token}
        if signer is not None:
            request["signer"] = signer
        return self.ok("signing", {"requestSigning": request})

    def download(self, order_id: str) -> bytes:
        reply = self.ok("downloadDocument", {"param": {"orderId": order_id}})
        return base64.b64decode(reply["data"]["base64Document"])


def signer(
    llx: str = "454",
    lly: str = "45",
    urx: str = "529",
    ury: str = "116",
    page: str = "1",
    level: str = "NOT_CERTIFIED",
    **extra: str,
) -> dict[str, str]:
    """The document's signer object example (Send Document, page 2 of 66 -> here `page`)."""
    obj = {
        "isVisualSign": "YES",
        "lowerLeftX": llx,
        "lowerLeftY": lly,
        "upperRightX": urx,
        "upperRightY": ury,
        "page": page,
        "certificateLevel": level,
        "varLocation": "JAKARTA",
        "varReason": "Biodata",
    }
    obj.update(extra)
    return obj


# --- verifying signed PDFs (pyHanko), trusting the sandbox CA only ---------------------------------


def sandbox_ca(base: str) -> Any:
    from asn1crypto import pem, x509

    response = requests.get(f"{base}/sandbox/ca.pem", timeout=10)
    assert response.status_code == 200
    _type, _headers, der = pem.unarmor(response.content)
    return x509.Certificate.load(der)


def validate_signatures(data: bytes, ca: Any) -> list[Any]:
    """pyHanko's status of every embedded signature, validated against the sandbox CA alone."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from sandbox.signing import outside_event_loop

    reader = PdfFileReader(io.BytesIO(data))
    statuses = []
    for embedded in reader.embedded_signatures:
        context = ValidationContext(trust_roots=[ca], allow_fetching=False, revocation_mode="soft-fail")
        # pyHanko's sync API calls asyncio.run(): not from a thread whose loop runs (Playwright's).
        statuses.append(outside_event_loop(validate_pdf_signature, embedded, context))
    return statuses


def embedded_signatures(data: bytes) -> list[Any]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return list(PdfFileReader(io.BytesIO(data)).embedded_signatures)


def signature_widgets(data: bytes) -> dict[str, tuple[int, tuple[int, int, int, int]]]:
    """Field name -> (1-based page, widget rectangle) of every signature field, read with pypdf."""
    from pypdf import PdfReader

    found: dict[str, tuple[int, tuple[int, int, int, int]]] = {}
    for number, page in enumerate(PdfReader(io.BytesIO(data)).pages, start=1):
        for annot_ref in page.get("/Annots") or []:
            annot = annot_ref.get_object()
            field = annot if "/T" in annot else annot.get("/Parent", {}).get_object()
            if field.get("/FT") == "/Sig":
                rect = tuple(round(float(v)) for v in annot["/Rect"])
                found[str(field["/T"])] = (number, rect)  # type: ignore[assignment]
    return found
