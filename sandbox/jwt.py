"""The gateway's JSON Web Tokens: HS256, valid one day, signed with a key derived from settings.

Hand-rolled (a dozen lines of HMAC) rather than a dependency: the sandbox only ever verifies
tokens it issued itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from django.conf import settings

LIFETIME_SECONDS = 24 * 3600  # "JWT berlaku selama satu hari" [doc]
ISSUER = "peruri-sandbox"


class InvalidToken(Exception):  # noqa: N818
    """The token is malformed, forged or expired; `reason` says which (for the gateway message)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _key() -> bytes:
    material = f"{settings.SECRET_KEY}|{settings.SANDBOX_API_KEY}|sandbox-jwt".encode()
    return hashlib.sha256(material).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = _b64(hmac.new(_key(), signing_input, hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


def issue(*, system_id: str, now: float | None = None) -> tuple[str, int]:
    """A token for `system_id` and its expiry (Unix time)."""
    issued = int(now if now is not None else time.time())
    expires = issued + LIFETIME_SECONDS
    claims = {"iss": ISSUER, "sub": system_id, "iat": issued, "exp": expires, "jti": secrets.token_hex(8)}
    return encode(claims), expires


def decode(token: str, *, now: float | None = None) -> dict[str, Any]:
    """The claims of a token this sandbox issued. Raises InvalidToken."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("malformed")
    header_b64, payload_b64, signature_b64 = parts
    expected = _b64(hmac.new(_key(), f"{header_b64}.{payload_b64}".encode("ascii"), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature_b64):
        raise InvalidToken("signature")
    try:
        header = json.loads(_unb64(header_b64))
        claims = json.loads(_unb64(payload_b64))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidToken("malformed") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        raise InvalidToken("malformed")
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= (now if now is not None else time.time()):
        raise InvalidToken("expired")
    return claims
