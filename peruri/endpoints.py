"""Peruri operations: default paths, envelopes, and how each one may be retried.

Every URL is ``{base_url}{path}``; each path can be overridden on its own through
``PeruriConfig.endpoints`` (keys are the names below), because partners get their own namespaces
and the JWT path differs between sandbox and production (without an override, ``PeruriConfig``
uses :data:`PRODUCTION_JWT_PATH` on the production host).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

NAMESPACE = "digitalSignatureFullJwtSandbox"


class Envelope(StrEnum):
    PARAM = "param"
    REQUEST_SIGNING = "requestSigning"
    REQUEST_SET_SIGNATURE = "requestSetSignature"
    REQUEST_GET_OTP_BULK = "requestGetOtpBulk"


class TimeoutClass(StrEnum):
    QUICK = "quick"  # status checks, OTP, JWT: seconds
    SIGN = "sign"  # the signing worker can take a while
    UPLOAD = "upload"  # documents: scaled by payload size
    VIDEO = "video"  # e-KYC against Dukcapil: minutes


@dataclass(frozen=True)
class Operation:
    name: str
    default_path: str
    envelope: Envelope
    # True for operations that only read: they may be retried automatically with backoff.
    # Everything else creates or signs something and is never re-sent by the client.
    read_only: bool
    timeout_class: TimeoutClass
    authenticated: bool = True


def _fjs(operation: str) -> str:
    return f"{NAMESPACE}/1.0/{operation}/v1"


_P = Envelope.PARAM
_OPERATIONS = (
    # The JWT call has no side effect worth protecting, so it may be retried like a read.
    Operation("get_jwt", "jwtSandbox/1.0/getJsonWebToken/v1", _P, True, TimeoutClass.QUICK, False),
    Operation("register", _fjs("registration"), _P, False, TimeoutClass.UPLOAD),
    Operation("activate", _fjs("activation"), _P, False, TimeoutClass.QUICK),
    Operation("verify_video", _fjs("videoVerification"), _P, False, TimeoutClass.VIDEO),
    Operation("send_specimen", _fjs("sendSpeciment"), _P, False, TimeoutClass.UPLOAD),
    Operation("check_certificate", _fjs("checkCertificate"), _P, True, TimeoutClass.QUICK),
    Operation("send_document", _fjs("sendDocument"), _P, False, TimeoutClass.UPLOAD),
    Operation("view_document", _fjs("viewDocument"), _P, True, TimeoutClass.UPLOAD),
    Operation("get_otp", _fjs("getOtp"), _P, False, TimeoutClass.QUICK),
    Operation("sign", _fjs("signing"), Envelope.REQUEST_SIGNING, False, TimeoutClass.SIGN),
    Operation("check_document_status", _fjs("checkDocumentStatus"), _P, True, TimeoutClass.QUICK),
    Operation("download_document", _fjs("downloadDocument"), _P, True, TimeoutClass.UPLOAD),
    Operation("send_document_tier", _fjs("sendDocumentTier"), _P, False, TimeoutClass.UPLOAD),
    Operation("sign_tier", _fjs("signingTier"), Envelope.REQUEST_SIGNING, False, TimeoutClass.SIGN),
    Operation("send_document_bulk", _fjs("sendDocumentBulk"), _P, False, TimeoutClass.UPLOAD),
    Operation("set_signature", _fjs("setSignature"), Envelope.REQUEST_SET_SIGNATURE, False, TimeoutClass.QUICK),
    Operation("get_otp_bulk", _fjs("getOtpBulk"), Envelope.REQUEST_GET_OTP_BULK, False, TimeoutClass.QUICK),
    Operation("sign_bulk", _fjs("signingBulk"), Envelope.REQUEST_SIGNING, False, TimeoutClass.SIGN),
    Operation("set_key", _fjs("setKey"), _P, False, TimeoutClass.QUICK),
    Operation("sign_system", _fjs("signingSystem"), _P, False, TimeoutClass.SIGN),
)

OPERATIONS: dict[str, Operation] = {op.name: op for op in _OPERATIONS}

DEFAULT_PATHS: dict[str, str] = {op.name: op.default_path for op in _OPERATIONS}

PRODUCTION_JWT_PATH = "jwt/1.0/getJsonWebToken/v1"
