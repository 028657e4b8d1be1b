"""Configuration, request value objects and typed results of the Peruri client."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Final, Literal
from urllib.parse import urlsplit

from .endpoints import DEFAULT_PATHS, OPERATIONS, PRODUCTION_JWT_PATH, TimeoutClass
from .errors import PeruriConfigError

SANDBOX_BASE_URL: Final = "https://apgdev.peruri.co.id:19044/gateway/"
PRODUCTION_BASE_URL: Final = "https://apg.peruri.co.id:9055/gateway/"

# Peruri writes timestamps such as expiredDate as "YYYY-MM-DD HH:MM:SS" in Jakarta time (WIB).
# WIB has been a fixed UTC+7 since 1964, so a fixed offset avoids depending on tzdata.
JAKARTA: Final = timezone(timedelta(hours=7), "WIB")

DEFAULT_READ_TIMEOUTS: Final[Mapping[TimeoutClass, float]] = MappingProxyType(
    {
        TimeoutClass.QUICK: 30.0,
        TimeoutClass.SIGN: 60.0,
        TimeoutClass.UPLOAD: 60.0,  # plus read_timeout_per_mb for the payload
        TimeoutClass.VIDEO: 300.0,  # a documented e-KYC call took 14.6 s; Dukcapil can be slow
    }
)

CertificationLevel = Literal["NOT_CERTIFIED", "NO_CHANGES_ALLOWED"]
_CERTIFICATION_LEVELS = ("NOT_CERTIFIED", "NO_CHANGES_ALLOWED")


def _default_user_agent() -> str:
    from . import __version__

    return f"paraf-peruri/{__version__}"


@dataclass(frozen=True, kw_only=True)
class PeruriConfig:
    """Everything the client needs to reach Peruri. ``repr()`` never shows the API key.

    ``endpoints`` overrides paths per operation (keys: the names in :data:`peruri.endpoints.OPERATIONS`,
    e.g. ``{"send_document": "partnerNs/1.0/sendDocument/v1"}``). Without an override the JWT path is
    production's ``jwt/1.0/getJsonWebToken/v1`` on the production host and ``jwtSandbox/...`` elsewhere.
    ``read_timeouts`` overrides the read timeout (seconds) per operation name; uploads add
    ``read_timeout_per_mb`` per MiB sent.
    """

    api_key: str = field(repr=False)
    system_id: str
    base_url: str = SANDBOX_BASE_URL
    endpoints: Mapping[str, str] = field(default_factory=dict)
    connect_timeout: float = 5.0
    read_timeouts: Mapping[str, float] = field(default_factory=dict)
    read_timeout_per_mb: float = 2.0
    user_agent: str = field(default_factory=_default_user_agent)
    # Automatic retries of read-only operations (status/certificate checks, view, download) only.
    read_retries: int = 2
    retry_backoff: float = 0.5
    retry_backoff_max: float = 5.0
    # Refresh the JWT this long before its expiredDate.
    token_refresh_margin: timedelta = timedelta(minutes=5)
    # A reply larger than this is refused (base64 of a 100 MB PDF is ~134 MB).
    max_response_bytes: int = 256 * 1024 * 1024

    def __post_init__(self) -> None:
        if not self.api_key or not self.api_key.strip():
            raise PeruriConfigError("PeruriConfig.api_key is empty")
        if not self.system_id or not self.system_id.strip():
            raise PeruriConfigError("PeruriConfig.system_id is empty")
        if not re.match(r"^https?://[^/\s]+", self.base_url):
            raise PeruriConfigError(f"PeruriConfig.base_url is not an http(s) URL: {self.base_url!r}")
        if not self.base_url.endswith("/"):
            object.__setattr__(self, "base_url", self.base_url + "/")
        unknown = sorted(set(self.endpoints) - set(OPERATIONS))
        if unknown:
            raise PeruriConfigError(f"PeruriConfig.endpoints has unknown operations: {', '.join(unknown)}")
        for name, path in self.endpoints.items():
            if not isinstance(path, str) or not path.strip("/"):
                raise PeruriConfigError(f"PeruriConfig.endpoints[{name!r}] is empty")
        unknown = sorted(set(self.read_timeouts) - set(OPERATIONS))
        if unknown:
            raise PeruriConfigError(f"PeruriConfig.read_timeouts has unknown operations: {', '.join(unknown)}")
        # A zero timeout makes the socket non-blocking (every call fails at once); a string from a
        # settings file would only fail at the first call. Both are configuration errors.
        if not all(_seconds(t) and t > 0 for t in (self.connect_timeout, *self.read_timeouts.values())):
            raise PeruriConfigError("PeruriConfig timeouts must be positive numbers of seconds")
        if not (_seconds(self.read_timeout_per_mb) and self.read_timeout_per_mb >= 0):
            raise PeruriConfigError("PeruriConfig.read_timeout_per_mb must be a number >= 0")
        if self.read_retries < 0:
            raise PeruriConfigError("PeruriConfig.read_retries must be >= 0")
        # Freeze the mappings so a shared config cannot be changed behind the client's back.
        object.__setattr__(self, "endpoints", MappingProxyType(dict(self.endpoints)))
        object.__setattr__(self, "read_timeouts", MappingProxyType(dict(self.read_timeouts)))

    def url(self, operation: str) -> str:
        path = self.endpoints.get(operation) or self.default_path(operation)
        return self.base_url + path.lstrip("/")

    def default_path(self, operation: str) -> str:
        """The spec's path for ``operation`` on this gateway. The JWT path is the one default that
        depends on the host: ``jwtSandbox/...`` on the sandbox gateway, ``jwt/...`` on production's."""
        if operation == "get_jwt" and urlsplit(self.base_url).hostname == urlsplit(PRODUCTION_BASE_URL).hostname:
            return PRODUCTION_JWT_PATH
        return DEFAULT_PATHS[operation]

    def read_timeout(self, operation: str, payload_bytes: int = 0) -> float:
        op = OPERATIONS[operation]
        base = self.read_timeouts.get(operation, DEFAULT_READ_TIMEOUTS[op.timeout_class])
        return base + self.read_timeout_per_mb * payload_bytes / (1024 * 1024)


def _seconds(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    # bool is an int subclass: True would silently become "1".
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"Signer.{name} must be an int, not {type(value).__name__} ({value!r})")
    if not low <= value <= high:
        raise ValueError(f"Signer.{name} must be between {low} and {high}, got {value}")


@dataclass(frozen=True)
class Signer:
    """Where and how one signature is placed. Coordinates are whole PDF points from the
    bottom-left of the page (Peruri fails decimals with 4012); ``page`` is 1-based.

    Raises TypeError/ValueError on construction, before anything is sent.
    """

    page: int
    lower_left_x: int
    lower_left_y: int
    upper_right_x: int
    upper_right_y: int
    visible: bool = True
    certification_level: CertificationLevel = "NOT_CERTIFIED"
    location: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        # The field tables give these values a length of 3 characters.
        _check_int("page", self.page, 1, 999)
        for name in ("lower_left_x", "lower_left_y", "upper_right_x", "upper_right_y"):
            _check_int(name, getattr(self, name), 0, 999)
        if self.lower_left_x >= self.upper_right_x:
            raise ValueError("Signer.lower_left_x must be smaller than upper_right_x")
        if self.lower_left_y >= self.upper_right_y:
            raise ValueError("Signer.lower_left_y must be smaller than upper_right_y")
        if not isinstance(self.visible, bool):
            raise TypeError("Signer.visible must be a bool")
        if self.certification_level not in _CERTIFICATION_LEVELS:
            raise ValueError(f"Signer.certification_level must be one of {_CERTIFICATION_LEVELS}")
        for name in ("location", "reason"):
            value = getattr(self, name)
            if not isinstance(value, str) or len(value) > 100:
                raise ValueError(f"Signer.{name} must be a string of at most 100 characters")

    def to_wire(self) -> dict[str, str]:
        """The signer object of the spec, every value a string."""
        return {
            "isVisualSign": "YES" if self.visible else "NO",
            "lowerLeftX": str(self.lower_left_x),
            "lowerLeftY": str(self.lower_left_y),
            "upperRightX": str(self.upper_right_x),
            "upperRightY": str(self.upper_right_y),
            "page": str(self.page),
            "certificateLevel": self.certification_level,
            "varLocation": self.location,
            "varReason": self.reason,
        }


# ---------------------------------------------------------------------------------------------
# Token store values


@dataclass(frozen=True)
class StoredToken:
    token: str = field(repr=False)
    expires_at: datetime


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Ack:
    """A reply that carries only resultCode "0" and its description."""

    description: str


@dataclass(frozen=True)
class CertificateStatus:
    """Check Certificate answered "0": a certificate was issued.

    ``is_expired`` keeps Peruri's raw value: "0" valid; "1"/"2" expired or about to expire
    (sources disagree on which is which).
    """

    description: str
    email: str | None = None
    phone: str | None = None
    nik: str | None = None
    is_expired: str | None = None

    @property
    def valid(self) -> bool:
        return self.is_expired in (None, "0")


@dataclass(frozen=True)
class SentDocument:
    order_id: str


@dataclass(frozen=True)
class SentBulk:
    order_ids: tuple[str, ...]  # one per file, in the order the files were sent


@dataclass(frozen=True)
class ViewedDocument:
    pdf: bytes = field(repr=False)
    # "1" coordinates set, "0" not yet (raw value kept; None when Peruri left it out).
    signer: str | None = None

    @property
    def coordinates_set(self) -> bool:
        return self.signer == "1"


@dataclass(frozen=True)
class OtpChallenge:
    """Get OTP: the OTP itself went to the user's e-mail and phone; ``token`` goes with it to sign()."""

    token: str = field(repr=False)
    system_id: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class BulkOtpChallenge:
    token: str = field(repr=False)
    order_id_bulk: str
    system_id: str | None = None
    phone: str | None = None


KNOWN_DOCUMENT_STATUSES: Final = frozenset({"WAITING_SIGNATURE", "WAITING_NEXT_SIGNER", "SIGNED", "FAILED", "EXPIRED"})
FINAL_DOCUMENT_STATUSES: Final = frozenset({"SIGNED", "FAILED", "EXPIRED"})


@dataclass(frozen=True)
class DocumentStatus:
    """Check Document Status. The reply is undocumented: an unknown or missing ``status`` means
    "not final yet — keep polling". Only a downloaded, validated PDF proves "signed"."""

    order_id: str
    status: str | None
    description: str

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_DOCUMENT_STATUSES


@dataclass(frozen=True)
class SignedTier:
    description: str
    next_order_id: str | None = None  # orderIdNextSigner, when more signers remain


@dataclass(frozen=True)
class BulkSignedDocument:
    order_id: str
    file_name: str | None = None


@dataclass(frozen=True)
class SignedBulk:
    description: str
    documents: tuple[BulkSignedDocument, ...] = ()


@dataclass(frozen=True)
class KeySet:
    """Set Key: ``expires_at`` is parsed from expiredDate (Jakarta time) when present."""

    description: str
    expired_date: str | None = None
    expires_at: datetime | None = None


# ---------------------------------------------------------------------------------------------
# Audit


Outcome = Literal["ok", "rejected", "pending", "transient", "unknown", "auth", "contract", "config", "unavailable"]


@dataclass(frozen=True)
class CallRecord:
    """One HTTP call to Peruri, handed to the client's ``on_call`` hook.

    ``outcome``: "ok"; "rejected"/"pending" (a non-"0" resultCode); "transient" (failed, not applied);
    "unknown" (may have been applied: reconcile); "auth"; "contract"; "config"; "unavailable"
    (breaker open, nothing sent). Carries no secret and no payload, only sizes.
    """

    operation: str
    order_id: str | None
    email: str | None
    duration_ms: int
    http_status: int | None
    result_code: str | None
    outcome: Outcome
    error: str | None = None  # exception class name
    request_bytes: int = 0
    response_bytes: int = 0
    attempt: int = 1


def parse_peruri_datetime(value: object) -> datetime | None:
    """Parse "YYYY-MM-DD HH:MM:SS" (Jakarta time) into an aware datetime; None if unparseable."""
    if not isinstance(value, str):
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=JAKARTA)
        except ValueError:
            continue
    return None
