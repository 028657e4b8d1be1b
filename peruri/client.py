"""The Peruri digital-signature API client: the only code that knows Peruri's paths, headers and
envelopes.

Contracts that hold for every public method:

* Arguments are keyword-only and checked against the spec's field tables before anything is sent
  (TypeError / ValueError).
* Every value goes over the wire as a string, inside the operation's envelope.
* Binary arguments (bytes or a binary file object) are streamed into the request body as base64:
  the full base64 text is never held in memory.
* A method returns a frozen dataclass, or raises a :class:`peruri.PeruriError` subclass that says
  whether a retry can help (see :mod:`peruri.errors`). Calls that create or sign something are never
  re-sent by the client; read-only calls are retried ``config.read_retries`` times with jittered backoff.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import io
import json
import logging
import random
import re
import secrets
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import IO, Any, Final, TypeAlias

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError
from urllib3.util.ssl_match_hostname import CertificateError

from .endpoints import OPERATIONS, Envelope, Operation
from .errors import (
    PeruriAuthError,
    PeruriConfigError,
    PeruriContractError,
    PeruriError,
    PeruriPending,
    PeruriRejected,
    PeruriTransient,
    PeruriUnavailable,
)
from .session import CircuitBreaker, MemoryTokenStore, TokenStore
from .types import (
    Ack,
    BulkOtpChallenge,
    BulkSignedDocument,
    CallRecord,
    CertificateStatus,
    DocumentStatus,
    KeySet,
    OtpChallenge,
    Outcome,
    PeruriConfig,
    SentBulk,
    SentDocument,
    SignedBulk,
    SignedTier,
    Signer,
    StoredToken,
    ViewedDocument,
    parse_peruri_datetime,
)

logger = logging.getLogger("peruri")

BinaryInput: TypeAlias = bytes | bytearray | memoryview | IO[bytes]
OnCall: TypeAlias = Callable[[CallRecord], None]

PENDING_CODES: Final = frozenset({"1040"})  # e-KYC still being verified
TRANSIENT_CODES: Final = frozenset({"4003", "4004"})  # signing worker unavailable
_MAX_DESCRIPTION = 500


def signing_session(order_ids: Sequence[str], key: str) -> str:
    """The ``session`` of Signing System: lowercase hex HMAC-SHA256, keyed with the Set Key key,
    over the order ids concatenated without separator, in request order.

    The concatenation is ambiguous ("12"+"345" == "123"+"45"): order ids must come from our own
    database, never from user input.
    """
    message = "".join(order_ids).encode("utf-8")
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------------------------
# Argument checks (the spec's field tables)


def _text(name: str, value: object, max_len: int, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if required and not value.strip():
        raise ValueError(f"{name} is required")
    if len(value) > max_len:
        raise ValueError(f"{name} is longer than {max_len} characters")
    return value


def _email(name: str, value: object) -> str:
    email = _text(name, value, 75)
    if "@" not in email or any(c.isspace() for c in email):
        raise ValueError(f"{name} is not an e-mail address")
    return email


def _digits(name: str, value: object, length: int) -> str:
    text = _text(name, value, length)
    if len(text) != length or not text.isascii() or not text.isdigit():
        raise ValueError(f"{name} must be exactly {length} digits")
    return text


def _order_id(name: str, value: object) -> str:
    order_id = _text(name, value, 100)
    if order_id != order_id.strip():
        raise ValueError(f"{name} has surrounding whitespace")
    return order_id


def _order_ids(name: str, values: object) -> list[str]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of order ids")
    ids = [_order_id(f"{name}[{i}]", v) for i, v in enumerate(values)]
    if not ids:
        raise ValueError(f"{name} is empty")
    return ids


def _signers(name: str, values: object) -> list[dict[str, str]]:
    if isinstance(values, Signer):
        values = [values]
    if not isinstance(values, Sequence) or isinstance(values, str | bytes):
        raise TypeError(f"{name} must be a sequence of Signer")
    wire = []
    for i, signer in enumerate(values):
        if not isinstance(signer, Signer):
            raise TypeError(f"{name}[{i}] must be a Signer")
        wire.append(signer.to_wire())
    return wire


def _date_of_birth(value: object) -> str:
    if isinstance(value, datetime):
        raise TypeError("date_of_birth must be a date or a dd/mm/yyyy string, not a datetime")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    text = _text("date_of_birth", value, 10)
    try:
        datetime.strptime(text, "%d/%m/%Y").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError("date_of_birth must be dd/mm/yyyy") from None
    if len(text) != 10:
        raise ValueError("date_of_birth must be dd/mm/yyyy")
    return text


# ---------------------------------------------------------------------------------------------
# Request body: JSON with base64 values streamed in


_RAW_CHUNK = 3 * 256 * 1024  # 768 KiB of input -> 1 MiB of base64 per socket write


class _Blob:
    """A binary argument, sent as a base64 JSON string without ever holding all of its base64 text."""

    def __init__(self, name: str, source: object) -> None:
        self.name = name
        self._view: memoryview | None = None
        self._file: IO[bytes] | None = None
        self._start = 0
        if isinstance(source, bytes | bytearray | memoryview):
            self._view = memoryview(source).cast("B")
            self.size = self._view.nbytes
        elif hasattr(source, "read"):
            file: IO[bytes] = source  # type: ignore[assignment]
            # A text-mode file would only fail while the body is being sent, half a request later.
            if not isinstance(file.read(0), bytes):
                raise TypeError(f"{name} must be opened in binary mode")
            if _seekable(file):
                self._file = file
                self._start = file.tell()
                self.size = file.seek(0, io.SEEK_END) - self._start
                file.seek(self._start)
            else:
                # The body needs a Content-Length: an unseekable stream has to be read first.
                data = file.read()
                if not isinstance(data, bytes):
                    raise TypeError(f"{name} must be opened in binary mode")
                self._view = memoryview(data)
                self.size = len(data)
        else:
            raise TypeError(f"{name} must be bytes or a binary file object, not {type(source).__name__}")
        if self.size <= 0:
            raise ValueError(f"{name} is empty")
        self.encoded_size = 4 * ((self.size + 2) // 3)

    def head(self, n: int) -> bytes:
        if self._view is not None:
            return bytes(self._view[:n])
        assert self._file is not None
        self._file.seek(self._start)
        data = self._file.read(n)
        self._file.seek(self._start)
        return data

    def iter_base64(self) -> Iterator[bytes]:
        if self._view is not None:
            for offset in range(0, self.size, _RAW_CHUNK):
                yield binascii.b2a_base64(self._view[offset : offset + _RAW_CHUNK], newline=False)
            return
        assert self._file is not None
        self._file.seek(self._start)
        remaining = self.size
        carry = b""
        while remaining > 0:
            chunk = self._file.read(min(_RAW_CHUNK, remaining))
            if not chunk:
                raise ValueError(f"{self.name} got shorter while it was being sent")
            remaining -= len(chunk)
            if carry:
                chunk = carry + chunk
            # base64 must be cut on 3-byte boundaries, except at the very end.
            cut = len(chunk) - len(chunk) % 3 if remaining else len(chunk)
            carry = chunk[cut:]
            if cut:
                yield binascii.b2a_base64(memoryview(chunk)[:cut], newline=False)


def _seekable(file: object) -> bool:
    try:
        return bool(file.seekable())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False


class _JsonBody:
    """A JSON request body that requests sends with a Content-Length, streaming base64 values.

    Iterable more than once (the one retry after a 401 sends it again).
    """

    def __init__(self, document: Mapping[str, object]) -> None:
        nonce = secrets.token_hex(8)
        self.blobs: list[_Blob] = []

        def swap(value: object) -> object:
            if isinstance(value, _Blob):
                self.blobs.append(value)
                return f"\x00peruri-blob-{nonce}-{len(self.blobs) - 1}\x00"
            if isinstance(value, Mapping):
                return {k: swap(v) for k, v in value.items()}
            if isinstance(value, list):
                return [swap(v) for v in value]
            return value

        text = json.dumps(swap(document), separators=(",", ":"))
        self._parts: list[bytes | _Blob] = []
        for index, blob in enumerate(self.blobs):
            marker = json.dumps(f"\x00peruri-blob-{nonce}-{index}\x00")
            before, found, text = text.partition(marker)
            assert found, "blob marker lost in JSON encoding"
            self._parts += [before.encode("utf-8") + b'"', blob, b'"']
        self._parts.append(text.encode("utf-8"))
        self._length = sum(p.encoded_size if isinstance(p, _Blob) else len(p) for p in self._parts)

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        for part in self._parts:
            if isinstance(part, _Blob):
                yield from part.iter_base64()
            elif part:
                yield part

    @property
    def binary_bytes(self) -> int:
        return sum(b.size for b in self.blobs)


# ---------------------------------------------------------------------------------------------
# Reply parsing


@dataclass(frozen=True)
class _Reply:
    http_status: int
    result_code: str
    description: str
    data: Any
    blob: bytes | None  # data.base64Document, decoded, for view/download
    size: int


class _Unauthorized(Exception):
    """The gateway refused the JWT (or the API key). Internal: triggers the one refresh."""

    def __init__(self, http_status: int, text: str) -> None:
        super().__init__(text)
        self.http_status = http_status
        self.text = text


_BLOB_KEY_RE = re.compile(rb'"base64Document"\s*:\s*"')


def _loads_with_blob(buf: bytearray) -> tuple[Any, tuple[int, int] | None]:
    """Parse a reply that carries ``data.base64Document`` without copying the base64 text.

    Returns the parsed JSON (with the base64 value replaced by a marker) and the value's span in
    ``buf``; falls back to a plain parse (span None) whenever the fast path cannot prove itself.
    """
    match = _BLOB_KEY_RE.search(buf)
    if match:
        start = match.end()
        end = buf.find(b'"', start)
        if end != -1 and buf.find(b"\\", start, end) == -1:
            marker = "peruri-blob-" + secrets.token_hex(8)
            small = bytes(buf[:start]) + marker.encode() + bytes(buf[end:])
            try:
                parsed = json.loads(small)
            except ValueError:
                parsed = None
            data = parsed.get("data") if isinstance(parsed, dict) else None
            if isinstance(data, dict) and data.get("base64Document") == marker:
                data["base64Document"] = None
                return parsed, (start, end)
    return json.loads(buf), None


def _decode_base64(value: object) -> bytes:
    """Strict base64 (no whitespace, no stray characters, correct padding)."""
    return binascii.a2b_base64(value, strict_mode=True)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# The client


class PeruriClient:
    """A client for one Peruri partner account (``system_id``), meant to be long-lived and shared by
    the threads of a process: one HTTP connection pool per client, reused across calls (keep-alive).

    ``token_store`` keeps the JWT (default: in memory); a store with a ``lock()`` shares one JWT
    between processes. ``on_call`` receives a :class:`CallRecord` after every HTTP call (exceptions
    it raises are logged and ignored). ``circuit_breaker`` may stop calls while Peruri is down.
    """

    def __init__(
        self,
        config: PeruriConfig,
        *,
        token_store: TokenStore | None = None,
        on_call: OnCall | None = None,
        circuit_breaker: CircuitBreaker | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if not isinstance(config, PeruriConfig):
            raise PeruriConfigError("PeruriClient needs a PeruriConfig")
        self.config = config
        self.token_store: TokenStore = token_store if token_store is not None else MemoryTokenStore()
        self.on_call = on_call
        self.circuit_breaker = circuit_breaker
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep or time.sleep
        self._local_lock = threading.Lock()
        self._random = random.Random()  # noqa: S311 - backoff jitter, not cryptography
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=10, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self._session = session

    def __repr__(self) -> str:
        return f"PeruriClient(base_url={self.config.base_url!r}, system_id={self.config.system_id!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> PeruriClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- Certificate -----------------------------------------------------------------------

    def register(
        self,
        *,
        name: str,
        phone: str,
        email: str,
        ktp: str,
        ktp_photo: BinaryInput,
        address: str,
        city: str,
        province: str,
        gender: str,
        place_of_birth: str,
        date_of_birth: str | date,
        type: str = "INDIVIDUAL",  # noqa: A002 - the spec's field name
        password: str | None = None,
        npwp: str | None = None,
        npwp_photo: BinaryInput | None = None,
        org_unit: str | None = None,
        work_unit: str | None = None,
        position: str | None = None,
    ) -> Ack:
        """Registration. Fill ``org_unit``, ``work_unit`` and ``position`` for the partner's own staff
        (Corporate User License); leave them None for customers (Corporate Client License).
        Optional fields left None are not sent. Raises PeruriRejected (e.g. 1002 e-mail already
        registered, 1004 invalid NIK)."""
        if gender not in ("M", "F"):
            raise ValueError('gender must be "M" or "F"')
        param: dict[str, object] = {
            "name": _text("name", name, 100),
            "phone": _text("phone", phone, 50),
            "email": _email("email", email),
            "type": _text("type", type, 50),
            "ktp": _digits("ktp", ktp, 16),
            "ktpPhoto": _Blob("ktp_photo", ktp_photo),
            "address": _text("address", address, 255),
            "city": _text("city", city, 255),
            "province": _text("province", province, 255),
            "gender": gender,
            "placeOfBirth": _text("place_of_birth", place_of_birth, 255),
            "dateOfBirth": _date_of_birth(date_of_birth),
            "systemId": self.config.system_id,
        }
        if password is not None:
            param["password"] = _text("password", password, 255)
        if npwp is not None:
            param["npwp"] = _digits("npwp", npwp, 15)
        if npwp_photo is not None:
            param["npwpPhoto"] = _Blob("npwp_photo", npwp_photo)
        for key, arg, value in (
            ("orgUnit", "org_unit", org_unit),
            ("workUnit", "work_unit", work_unit),
            ("position", "position", position),
        ):
            if value is not None:
                param[key] = _text(arg, value, 255, required=False)
        personal = (name, phone, ktp, address, password or "", npwp or "")
        reply = self._call("register", param, email=email, secrets_=personal)
        return Ack(description=reply.description)

    def activate(self, *, email: str) -> Ack:
        """Activation of a registered account."""
        param = {"email": _email("email", email), "systemId": self.config.system_id}
        return Ack(description=self._call("activate", param, email=email).description)

    def verify_video(self, *, email: str, video: BinaryInput) -> Ack:
        """Video Verification (e-KYC) against Dukcapil; can take minutes.

        Raises PeruriPending (code 1040) while Peruri is still verifying: do not re-send the video,
        poll check_certificate() later. 1045 = invalid video format (MP4 H.264 or WEBM)."""
        param = {
            "email": _email("email", email),
            "systemId": self.config.system_id,
            "videoStream": _Blob("video", video),
        }
        return Ack(description=self._call("verify_video", param, email=email).description)

    def send_specimen(self, *, email: str, image: BinaryInput) -> Ack:
        """Send Speciment (sic): the image of the user's handwritten signature."""
        param = {
            "email": _email("email", email),
            "systemId": self.config.system_id,
            "speciment": _Blob("image", image),
        }
        return Ack(description=self._call("send_specimen", param, email=email).description)

    def check_certificate(self, *, email: str) -> CertificateStatus:
        """Check Certificate. Returns when a certificate was issued ("0"); raises PeruriRejected
        otherwise (keep the code: it tells how far the user got)."""
        param = {"email": _email("email", email), "systemId": self.config.system_id}
        reply = self._call("check_certificate", param, email=email)
        data = reply.data if isinstance(reply.data, dict) else {}
        return CertificateStatus(
            description=reply.description,
            email=_opt_str(data.get("email")),
            phone=_opt_str(data.get("phone")),
            nik=_opt_str(data.get("nik")),
            is_expired=_opt_str(data.get("isExpired")),
        )

    # --- Single document -------------------------------------------------------------------

    def send_document(
        self,
        *,
        email: str,
        file_name: str,
        pdf: BinaryInput,
        signers: Sequence[Signer] | None = None,
        order_type: str | None = None,
    ) -> SentDocument:
        """Send Document. ``order_type="SYSTEM"`` for Signing System. Raises PeruriContractError
        (outcome_unknown) when "0" comes back without an orderId. Never retried."""
        payload: dict[str, object] = {
            "fileName": _text("file_name", file_name, 100),
            "base64Document": self._pdf_blob("pdf", pdf),
        }
        if signers:
            payload["signer"] = _signers("signers", signers)
        param: dict[str, object] = {
            "email": _email("email", email),
            "payload": payload,
            "systemId": self.config.system_id,
        }
        if order_type is not None:
            param["orderType"] = _text("order_type", order_type, 50)
        reply = self._call("send_document", param, email=email)
        return SentDocument(order_id=self._require_order_id(reply, "send_document"))

    def view_document(self, *, order_id: str) -> ViewedDocument:
        """View Document: the document as uploaded, before signing."""
        reply = self._call("view_document", {"orderId": _order_id("order_id", order_id)}, order_id=order_id)
        pdf = self._require_pdf(reply, "view_document")
        data = reply.data if isinstance(reply.data, dict) else {}
        return ViewedDocument(pdf=pdf, signer=_opt_str(data.get("signer")))

    def get_otp(self, *, order_id: str) -> OtpChallenge:
        """Get OTP: Peruri sends the OTP to the signer's e-mail and phone. Not retried (each call
        sends a new OTP)."""
        reply = self._call("get_otp", {"orderId": _order_id("order_id", order_id)}, order_id=order_id)
        data = self._require_data(reply, "get_otp")
        return OtpChallenge(
            token=self._require_str(data, "token", "get_otp"),
            system_id=_opt_str(data.get("systemId")),
            phone=_opt_str(data.get("phone")),
        )

    def sign(self, *, order_id: str, otp_code: str, token: str, signers: Sequence[Signer] | None = None) -> Ack:
        """Signing. ``signers`` only when they were not given to send_document(). Never retried:
        after PeruriTransient with outcome_unknown, check the document status first."""
        request: dict[str, object] = {
            "orderId": _order_id("order_id", order_id),
            "otpCode": _digits("otp_code", otp_code, 6),
            "token": _text("token", token, 64),
        }
        if signers:
            request["signer"] = _signers("signers", signers)
        reply = self._call("sign", request, order_id=order_id, secrets_=(otp_code, token))
        return Ack(description=reply.description)

    def check_document_status(self, *, order_id: str) -> DocumentStatus:
        """Check Document Status (reply undocumented): an unknown or missing status is "not final"."""
        reply = self._call("check_document_status", {"orderId": _order_id("order_id", order_id)}, order_id=order_id)
        data = reply.data if isinstance(reply.data, dict) else {}
        return DocumentStatus(
            order_id=_opt_str(data.get("orderId")) or order_id,
            status=_opt_str(data.get("status")),
            description=reply.description,
        )

    def download_document(self, *, order_id: str) -> bytes:
        """Download Document: the signed PDF's bytes, strictly base64-decoded and starting with
        ``%PDF-`` (else PeruriContractError). Validating the signatures is the caller's job."""
        reply = self._call("download_document", {"orderId": _order_id("order_id", order_id)}, order_id=order_id)
        return self._require_pdf(reply, "download_document")

    # --- Tier (signers one after another) ---------------------------------------------------

    def send_document_tier(
        self, *, uploader: str, file_name: str, pdf: BinaryInput, signer_emails: Sequence[str]
    ) -> SentDocument:
        """Send Document Tier: ``signer_emails`` in signing order. Never retried."""
        if isinstance(signer_emails, str) or not signer_emails:
            raise ValueError("signer_emails must be a non-empty sequence of e-mail addresses")
        param = {
            "uploader": _email("uploader", uploader),
            "payload": {
                "fileName": _text("file_name", file_name, 100),
                "base64Document": self._pdf_blob("pdf", pdf),
                "signer": [{"email": _email(f"signer_emails[{i}]", e)} for i, e in enumerate(signer_emails)],
            },
            "systemId": self.config.system_id,
        }
        reply = self._call("send_document_tier", param, email=uploader, secrets_=tuple(signer_emails))
        return SentDocument(order_id=self._require_order_id(reply, "send_document_tier"))

    def sign_tier(self, *, order_id: str, otp_code: str, token: str, signer: Signer) -> SignedTier:
        """Signing Tier. ``next_order_id`` is set when more signers remain. Never retried."""
        request = {
            "orderId": _order_id("order_id", order_id),
            "otpCode": _digits("otp_code", otp_code, 6),
            "token": _text("token", token, 64),
            "signer": _signers("signer", [signer]),
        }
        reply = self._call("sign_tier", request, order_id=order_id, secrets_=(otp_code, token))
        data = reply.data if isinstance(reply.data, dict) else {}
        return SignedTier(description=reply.description, next_order_id=_opt_str(data.get("orderIdNextSigner")))

    # --- Bulk (one OTP for many documents) --------------------------------------------------

    def send_document_bulk(
        self, *, email: str, files: Sequence[tuple[str, BinaryInput]], signers: Sequence[Signer] | None = None
    ) -> SentBulk:
        """Send Document Bulk: ``files`` is a list of (file_name, pdf). Returns one order id per file,
        in order; a "0" reply whose order ids do not match the files raises PeruriContractError
        (outcome_unknown). Never retried."""
        if isinstance(files, str | bytes) or not files:
            raise ValueError("files must be a non-empty list of (file_name, pdf) pairs")
        file_list = []
        for i, item in enumerate(files):
            if not isinstance(item, tuple | list) or len(item) != 2:
                raise TypeError(f"files[{i}] must be a (file_name, pdf) pair")
            file_list.append(
                {
                    "fileName": _text(f"files[{i}] file_name", item[0], 100),
                    "base64Document": self._pdf_blob(f"files[{i}] pdf", item[1]),
                }
            )
        payload: dict[str, object] = {"file": file_list}
        if signers:
            payload["signer"] = _signers("signers", signers)
        param = {"email": _email("email", email), "payload": payload, "systemId": self.config.system_id}
        reply = self._call("send_document_bulk", param, email=email)
        items = reply.data if isinstance(reply.data, list) else None
        order_ids = [_opt_str(item.get("orderId")) if isinstance(item, dict) else None for item in items or []]
        if items is None or len(order_ids) != len(files) or not all(order_ids):
            raise PeruriContractError(
                f"Peruri send_document_bulk answered 0 without one orderId per file ({len(files)} sent)",
                operation="send_document_bulk",
                http_status=reply.http_status,
                code=reply.result_code,
                outcome_unknown=True,
            )
        return SentBulk(order_ids=tuple(o for o in order_ids if o))

    def set_signature(self, *, order_id: str, signer: Signer) -> Ack:
        """Set Signature: the coordinates of an order sent without them. ``signer`` is ONE object."""
        if not isinstance(signer, Signer):
            raise TypeError("signer must be a Signer")
        request = {"orderId": _order_id("order_id", order_id), "signer": signer.to_wire()}
        return Ack(description=self._call("set_signature", request, order_id=order_id).description)

    def get_otp_bulk(self, *, order_ids: Sequence[str]) -> BulkOtpChallenge:
        """Get OTP Bulk: every order must already have coordinates. Not retried."""
        ids = _order_ids("order_ids", order_ids)
        request = {"data": [{"orderId": o} for o in ids], "systemId": self.config.system_id}
        reply = self._call("get_otp_bulk", request, order_id=",".join(ids))
        data = self._require_data(reply, "get_otp_bulk")
        return BulkOtpChallenge(
            token=self._require_str(data, "token", "get_otp_bulk"),
            order_id_bulk=self._require_str(data, "orderIdBulk", "get_otp_bulk"),
            system_id=_opt_str(data.get("systemId")),
            phone=_opt_str(data.get("phone")),
        )

    def sign_bulk(self, *, order_id_bulk: str, otp_code: str, token: str) -> SignedBulk:
        """Signing Bulk. Never retried."""
        request = {
            "orderIdBulk": _order_id("order_id_bulk", order_id_bulk),
            "otpCodeBulk": _digits("otp_code", otp_code, 6),
            "tokenBulk": _text("token", token, 64),
        }
        reply = self._call("sign_bulk", request, order_id=order_id_bulk, secrets_=(otp_code, token))
        documents = tuple(
            BulkSignedDocument(order_id=str(item["orderId"]), file_name=_opt_str(item.get("fileName")))
            for item in (reply.data if isinstance(reply.data, list) else [])
            if isinstance(item, dict) and item.get("orderId") not in (None, "")
        )
        return SignedBulk(description=reply.description, documents=documents)

    # --- Signing System (automatic, no OTP) -------------------------------------------------

    def set_key(self, *, key: str, minutes: int) -> KeySet:
        """Set Key: the HMAC key for Signing System and its lifetime. The key is never logged."""
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
            raise ValueError("minutes must be a positive int")
        param = {"key": _text("key", key, 100), "minutes": str(minutes), "systemId": self.config.system_id}
        reply = self._call("set_key", param, secrets_=(key,))
        data = reply.data if isinstance(reply.data, dict) else {}
        expired_date = _opt_str(data.get("expiredDate"))
        return KeySet(
            description=reply.description, expired_date=expired_date, expires_at=parse_peruri_datetime(expired_date)
        )

    def sign_system(self, *, order_ids: Sequence[str], key: str) -> Ack:
        """Signing System for documents sent with ``order_type="SYSTEM"``; computes the session
        (see :func:`signing_session`). Never retried."""
        ids = _order_ids("order_ids", order_ids)
        _text("key", key, 100)
        param = {
            "data": [{"orderId": o} for o in ids],
            "session": signing_session(ids, key),
            "systemId": self.config.system_id,
        }
        reply = self._call("sign_system", param, order_id=",".join(ids), secrets_=(key,))
        return Ack(description=reply.description)

    # --- Token ----------------------------------------------------------------------------

    def _token_lock(self) -> AbstractContextManager[object]:
        lock = getattr(self.token_store, "lock", None)
        if callable(lock):
            result: AbstractContextManager[object] = lock()
            return result
        return self._local_lock

    def _fresh(self, stored: StoredToken | None) -> bool:
        return (
            stored is not None
            and bool(stored.token)
            and stored.expires_at - self.config.token_refresh_margin > self._clock()
        )

    def _current_token(self) -> str:
        stored = self.token_store.get()
        if stored is not None and self._fresh(stored):
            return stored.token
        with self._token_lock():
            # Another thread or process may have fetched one while we waited for the lock.
            stored = self.token_store.get()
            if stored is not None and self._fresh(stored):
                return stored.token
            return self._fetch_token()

    def _refresh_token(self, rejected: str) -> str:
        with self._token_lock():
            stored = self.token_store.get()
            if stored is not None and stored.token != rejected and self._fresh(stored):
                return stored.token  # someone else already replaced the rejected token
            return self._fetch_token()

    def _fetch_token(self) -> str:
        reply = self._call("get_jwt", {"systemId": self.config.system_id})
        data = self._require_data(reply, "get_jwt")
        token = self._require_str(data, "jwt", "get_jwt")
        now = self._clock()
        expires_at = parse_peruri_datetime(data.get("expiredDate"))
        if expires_at is None:
            expires_at = now + timedelta(days=1)  # the document: a JWT is valid one day
        floor = now + self.config.token_refresh_margin + timedelta(minutes=10)
        if expires_at < floor:
            # A clock skew or odd expiredDate must not turn into a JWT fetch on every call; a
            # really expired token costs one 401 and one refresh.
            logger.warning("peruri get_jwt expiredDate is too close or in the past; caching for 10 minutes")
            expires_at = floor
        self.token_store.set(token, expires_at)
        return token

    # --- Transport ------------------------------------------------------------------------

    def _call(
        self,
        operation: str,
        fields: Mapping[str, object],
        *,
        order_id: str | None = None,
        email: str | None = None,
        secrets_: Sequence[str] = (),
    ) -> _Reply:
        op = OPERATIONS[operation]
        body = _JsonBody({op.envelope.value: fields})
        attempts = 1 + (self.config.read_retries if op.read_only else 0)
        for attempt in range(1, attempts + 1):
            try:
                return self._authenticated_send(op, body, order_id, email, secrets_, attempt)
            except PeruriUnavailable:
                raise
            except PeruriTransient as exc:
                # Only read-only operations get here more than once (attempts == 1 otherwise). A
                # failed JWT fetch was already retried by its own call: do not multiply attempts.
                if attempt >= attempts or exc.outcome_unknown or exc.operation != operation:
                    raise
                delay = self._random.uniform(
                    0, min(self.config.retry_backoff_max, self.config.retry_backoff * 2 ** (attempt - 1))
                )
                logger.info("peruri %s retry %d/%d in %.2fs", operation, attempt, attempts - 1, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _authenticated_send(
        self,
        op: Operation,
        body: _JsonBody,
        order_id: str | None,
        email: str | None,
        secrets_: Sequence[str],
        attempt: int,
    ) -> _Reply:
        if not op.authenticated:
            try:
                return self._send(op, body, None, order_id, email, secrets_, attempt)
            except _Unauthorized as exc:
                raise self._auth_error(op, exc) from None
        token = self._current_token()
        try:
            return self._send(op, body, token, order_id, email, secrets_, attempt)
        except _Unauthorized:
            # The gateway rejected the request before the operation ran, so sending it once more
            # with a fresh JWT is safe even for create/sign operations.
            token = self._refresh_token(rejected=token)
        try:
            return self._send(op, body, token, order_id, email, secrets_, attempt)
        except _Unauthorized as exc:
            raise self._auth_error(op, exc) from None

    def _auth_error(self, op: Operation, exc: _Unauthorized) -> PeruriAuthError:
        return PeruriAuthError(
            f"Peruri gateway refused {op.name} (HTTP {exc.http_status}): {exc.text}",
            operation=op.name,
            http_status=exc.http_status,
        )

    def _send(
        self,
        op: Operation,
        body: _JsonBody,
        token: str | None,
        order_id: str | None,
        email: str | None,
        secrets_: Sequence[str],
        attempt: int,
    ) -> _Reply:
        # Values Peruri might echo back in a description or gateway message, longest first.
        redact = sorted({self.config.api_key, token or "", email or "", *secrets_} - {""}, key=len, reverse=True)
        if self.circuit_breaker is not None and not self.circuit_breaker.allow(op.name):
            error = PeruriUnavailable(
                f"Peruri is unavailable (circuit open); {op.name} was not sent", operation=op.name
            )
            self._record(op, order_id, email, 0, None, None, "unavailable", error, len(body), 0, attempt)
            raise error
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "x-Gateway-APIKey": self.config.api_key,
            "User-Agent": self.config.user_agent,
        }
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        timeout = (self.config.connect_timeout, self.config.read_timeout(op.name, body.binary_bytes))
        started = time.monotonic()
        http_status: int | None = None
        size = 0
        try:
            try:
                with self._session.post(
                    self.config.url(op.name),
                    data=body,
                    headers=headers,
                    timeout=timeout,
                    stream=True,
                    allow_redirects=False,
                ) as response:
                    http_status = response.status_code
                    buf = self._read_body(op, response)
                    size = len(buf)
                    reply = self._interpret(op, http_status, buf, redact)
            except requests.RequestException as exc:
                raise self._transport_error(op, exc, http_status) from exc
        except (PeruriError, _Unauthorized) as exc:
            elapsed = int((time.monotonic() - started) * 1000)
            outcome, transport = _classify(exc)
            if self.circuit_breaker is not None:
                if transport:
                    self.circuit_breaker.record_failure(op.name)
                else:
                    self.circuit_breaker.record_success(op.name)
            code = exc.code if isinstance(exc, PeruriError) else None
            self._record(op, order_id, email, elapsed, http_status, code, outcome, exc, len(body), size, attempt)
            raise
        elapsed = int((time.monotonic() - started) * 1000)
        if self.circuit_breaker is not None:
            self.circuit_breaker.record_success(op.name)
        order_ref = order_id or _order_ref(reply.data)
        self._record(
            op, order_ref, email, elapsed, http_status, reply.result_code, "ok", None, len(body), size, attempt
        )
        return reply

    def _read_body(self, op: Operation, response: requests.Response) -> bytearray:
        limit = self.config.max_response_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise PeruriContractError(
                f"Peruri {op.name} reply is too large ({declared} bytes)",
                operation=op.name,
                http_status=response.status_code,
                outcome_unknown=not op.read_only,
            )
        buf = bytearray()
        for chunk in response.iter_content(chunk_size=1 << 20):
            buf += chunk
            if len(buf) > limit:
                raise PeruriContractError(
                    f"Peruri {op.name} reply is larger than {limit} bytes",
                    operation=op.name,
                    http_status=response.status_code,
                    outcome_unknown=not op.read_only,
                )
        return buf

    def _transport_error(self, op: Operation, exc: requests.RequestException, status: int | None) -> PeruriTransient:
        # Failures that happen before the request leaves this machine cannot have been applied.
        not_sent = isinstance(exc, requests.ConnectTimeout | requests.exceptions.ProxyError)
        if not not_sent and isinstance(exc, requests.exceptions.SSLError) and status is None:
            # requests raises SSLError for any TLS failure, also one after the request was sent (an
            # abrupt close while waiting for the reply is SSLEOFError). Only a refused certificate
            # proves that the handshake, and so the request, never happened.
            not_sent = _is_certificate_error(exc)
        elif not not_sent and isinstance(exc, requests.ConnectionError) and status is None:
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            not_sent = isinstance(reason, NewConnectionError)
        kind = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
        if isinstance(exc, requests.ConnectionError) and "Read timed out" in str(exc):
            kind = "timed out"
        unknown = not op.read_only and not not_sent
        message = f"Peruri {op.name} {kind} ({type(exc).__name__})"
        if unknown:
            message += "; the request may have been applied: reconcile before sending it again"
        return PeruriTransient(message, operation=op.name, http_status=status, outcome_unknown=unknown)

    def _interpret(self, op: Operation, status: int, buf: bytearray, redact: Sequence[str]) -> _Reply:
        may_be_applied = not op.read_only
        if status in (401, 403):
            # The gateway refused the credentials before the operation ran, whatever the body says.
            raise _Unauthorized(status, _gateway_text(_try_json(buf), redact) or f"HTTP {status}")
        span: tuple[int, int] | None = None
        try:
            if op.name in ("view_document", "download_document") and status < 300:
                parsed, span = _loads_with_blob(buf)
            else:
                parsed = json.loads(buf) if buf.strip() else None
        except ValueError:
            parsed = None

        if isinstance(parsed, dict) and "resultCode" in parsed:
            code = str(parsed["resultCode"]).strip()
            description = _clean(parsed.get("resultDesc"), redact)
            if code == "0":
                if not 200 <= status < 300:
                    raise PeruriTransient(
                        f"Peruri {op.name} answered resultCode 0 with HTTP {status}",
                        operation=op.name,
                        http_status=status,
                        code=code,
                        outcome_unknown=may_be_applied,
                    )
                blob = None
                if span is not None:
                    try:
                        with memoryview(buf) as view:
                            blob = _decode_base64(view[span[0] : span[1]])
                    except (binascii.Error, ValueError):
                        raise PeruriContractError(
                            f"Peruri {op.name} base64Document is not valid base64",
                            operation=op.name,
                            http_status=status,
                            code=code,
                        ) from None
                return _Reply(status, code, description, parsed.get("data"), blob, len(buf))
            message = f"Peruri {op.name} failed: resultCode {code}: {description}"
            if code in PENDING_CODES:
                raise PeruriPending(
                    f"Peruri {op.name} is still being verified (resultCode {code}: {description})",
                    code=code,
                    description=description,
                    operation=op.name,
                    http_status=status,
                )
            if code in TRANSIENT_CODES:
                raise PeruriTransient(
                    message + " (temporary)",
                    operation=op.name,
                    http_status=status,
                    code=code,
                    description=description,
                )
            raise PeruriRejected(message, code=code, description=description, operation=op.name, http_status=status)

        gateway_text = _gateway_text(parsed, redact)
        if gateway_text is not None and "unauthorized" in gateway_text.lower():
            raise _Unauthorized(status, gateway_text or f"HTTP {status}")
        detail = f": {gateway_text}" if gateway_text else ("" if parsed is not None else " (not JSON)")
        # 4xx: the gateway refused the request, it never reached the operation. 2xx without
        # Peruri's format or 5xx: we cannot tell what happened.
        unknown = may_be_applied and not 300 <= status < 500
        message = f"Peruri {op.name} gateway error HTTP {status}{detail}"
        if unknown:
            message += "; the request may have been applied: reconcile before sending it again"
        raise PeruriTransient(message, operation=op.name, http_status=status, outcome_unknown=unknown)

    def _record(
        self,
        op: Operation,
        order_id: str | None,
        email: str | None,
        duration_ms: int,
        http_status: int | None,
        result_code: str | None,
        outcome: Outcome,
        error: BaseException | None,
        request_bytes: int,
        response_bytes: int,
        attempt: int,
    ) -> None:
        error_name = None
        if isinstance(error, _Unauthorized):
            error_name = "PeruriAuthError"
        elif error is not None:
            error_name = type(error).__name__
        # Never the e-mail, the JWT, the key, an OTP or a payload: an order id or a hashed e-mail.
        ref = order_id or (_email_ref(email) if email else "-")
        logger.log(
            logging.INFO if outcome == "ok" else logging.WARNING,
            "peruri %s ref=%s http=%s code=%s outcome=%s %dms sent=%dB received=%dB attempt=%d%s",
            op.name,
            ref,
            http_status if http_status is not None else "-",
            result_code if result_code is not None else "-",
            outcome,
            duration_ms,
            request_bytes,
            response_bytes,
            attempt,
            f" error={error_name}" if error_name else "",
            extra={
                "peruri_operation": op.name,
                "peruri_ref": ref,
                "peruri_http_status": http_status,
                "peruri_result_code": result_code,
                "peruri_outcome": outcome,
                "peruri_duration_ms": duration_ms,
            },
        )
        if self.on_call is None:
            return
        record = CallRecord(
            operation=op.name,
            order_id=order_id,
            email=email,
            duration_ms=duration_ms,
            http_status=http_status,
            result_code=result_code,
            outcome=outcome,
            error=error_name,
            request_bytes=request_bytes,
            response_bytes=response_bytes,
            attempt=attempt,
        )
        try:
            self.on_call(record)
        except Exception:
            logger.exception("peruri on_call hook failed for %s", op.name)

    # --- Reply checks -----------------------------------------------------------------------

    def _pdf_blob(self, name: str, pdf: object) -> _Blob:
        blob = _Blob(name, pdf)
        if blob.head(5) != b"%PDF-":
            raise ValueError(f"{name} is not a PDF (it does not start with %PDF-)")
        return blob

    @staticmethod
    def _contract(reply: _Reply, operation: str, what: str) -> PeruriContractError:
        return PeruriContractError(
            f"Peruri {operation} answered resultCode 0 without {what}",
            operation=operation,
            http_status=reply.http_status,
            code=reply.result_code,
            outcome_unknown=not OPERATIONS[operation].read_only,
        )

    def _require_data(self, reply: _Reply, operation: str) -> dict[str, Any]:
        if not isinstance(reply.data, dict):
            raise self._contract(reply, operation, "data")
        return reply.data

    def _require_str(self, data: Mapping[str, Any], key: str, operation: str) -> str:
        value = _opt_str(data.get(key))
        if not value:
            raise PeruriContractError(
                f"Peruri {operation} answered resultCode 0 without data.{key}",
                operation=operation,
                outcome_unknown=not OPERATIONS[operation].read_only,
            )
        return value

    def _require_order_id(self, reply: _Reply, operation: str) -> str:
        data = reply.data
        # The document's examples show data as an object; tolerate a one-element list too.
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        order_id = _opt_str(data.get("orderId")) if isinstance(data, dict) else None
        if not order_id:
            raise self._contract(reply, operation, "data.orderId")
        return order_id

    def _require_pdf(self, reply: _Reply, operation: str) -> bytes:
        pdf = reply.blob
        if pdf is None:
            data = reply.data if isinstance(reply.data, dict) else {}
            encoded = data.get("base64Document")
            if not isinstance(encoded, str) or not encoded:
                raise self._contract(reply, operation, "data.base64Document")
            try:
                pdf = _decode_base64(encoded)
            except (binascii.Error, ValueError):
                raise PeruriContractError(
                    f"Peruri {operation} base64Document is not valid base64", operation=operation
                ) from None
        if not pdf.startswith(b"%PDF-"):
            raise PeruriContractError(f"Peruri {operation} returned a document that is not a PDF", operation=operation)
        return pdf


# ---------------------------------------------------------------------------------------------
# Helpers


def _opt_str(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


def _clean(value: object, redact: Sequence[str]) -> str:
    text = "" if value is None else str(value)
    for secret in redact:
        if secret:
            text = text.replace(secret, "***")
    return text[:_MAX_DESCRIPTION]


def _try_json(buf: bytearray) -> object:
    try:
        return json.loads(buf)
    except ValueError:
        return None


def _gateway_text(parsed: object, redact: Sequence[str]) -> str | None:
    if isinstance(parsed, dict):
        for key in ("Exception", "exception", "message", "error", "fault"):
            if key in parsed:
                return _clean(parsed[key], redact)
    return None


def outcome_of(exc: BaseException) -> Outcome:
    """How a failed call ended, in the words of CallRecord.outcome: "rejected", "pending",
    "transient" (not applied), "unknown" (may have been applied: reconcile), "auth",
    "unavailable" (breaker open, not sent), "contract" or "config"."""
    return _classify(exc)[0]


def _classify(exc: BaseException) -> tuple[Outcome, bool]:
    """(outcome for the call record, whether it is a transport-level failure for the breaker)."""
    if isinstance(exc, _Unauthorized | PeruriAuthError):
        return "auth", False
    if isinstance(exc, PeruriUnavailable):
        return "unavailable", False
    if isinstance(exc, PeruriPending):
        return "pending", False
    if isinstance(exc, PeruriRejected):
        return "rejected", False
    if isinstance(exc, PeruriTransient):
        # 4003/4004 are Peruri answering that its signing worker is busy: Peruri is up.
        transport = exc.code is None
        return ("unknown" if exc.outcome_unknown else "transient"), transport
    if isinstance(exc, PeruriContractError):
        return "contract", False
    return "config", False


def _is_certificate_error(error: object) -> bool:
    """True when a TLS failure is a refused server certificate: requests' SSLError wraps urllib3's
    MaxRetryError, whose ``reason`` is urllib3's SSLError around the ssl module's error."""
    for _ in range(6):
        if isinstance(error, ssl.SSLCertVerificationError | CertificateError):
            return True
        cause = getattr(error, "reason", None)
        if cause is None and isinstance(error, BaseException) and error.args:
            cause = error.args[0]
        error = cause
    return False


def _order_ref(data: object) -> str | None:
    if isinstance(data, dict) and data.get("orderId") not in (None, ""):
        return str(data["orderId"])
    if isinstance(data, list):
        ids = [str(i["orderId"]) for i in data if isinstance(i, dict) and i.get("orderId") not in (None, "")]
        return ",".join(ids)[:255] or None
    return None


def _email_ref(email: str) -> str:
    return "email#" + hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:12]


__all__ = ["BinaryInput", "Envelope", "OnCall", "PeruriClient", "signing_session"]
