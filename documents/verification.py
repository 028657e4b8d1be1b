"""Is a downloaded PDF really the document we sent, signed by the person we expect? (R9)

A document is "signed" only when every check below passes:

1. the bytes start with ``%PDF-``;
2. pyHanko finds at least as many signatures as planned signers;
3. every signature's ``bottom_line`` is true against **explicitly configured trust roots**
   (``PERURI_TRUST_ROOTS`` PEM files; in local/test mode the sandbox CA fetched once from
   ``PERURI_TRUST_ROOT_URL``) — never the operating system's trust store;
4. the last signature covers the entire file (content appended after signing is rejected even when
   the signature itself is intact and trusted);
5. each signer certificate belongs to the expected person (its e-mail address, or its name when the
   certificate carries no e-mail);
6. the signed bytes extend the bytes we uploaded.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import threading
import urllib.request
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any, TypeVar
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

T = TypeVar("T")

_TRUST_ROOT_CACHE_KEY = "documents:trust-root:%s"
_fetched_roots: dict[str, bytes] = {}
_fetch_lock = threading.Lock()


class TrustRootsUnavailable(Exception):
    """No trust roots are configured, or they cannot be read right now. Verification must wait:
    this is not a verdict on the document."""


@dataclass(frozen=True)
class ExpectedSigner:
    email: str
    name: str = ""


@dataclass
class VerificationResult:
    ok: bool
    # A short machine-readable reason when not ok: "not_pdf", "no_signature", "too_few_signatures",
    # "invalid_signature", "untrusted", "not_entire_file", "wrong_signer", "not_our_document",
    # "unreadable".
    reason: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    signer_fingerprints: list[str] = field(default_factory=list)

    @property
    def last_fingerprint(self) -> str:
        return self.signer_fingerprints[-1] if self.signer_fingerprints else ""


# ------------------------------------------------------------------------------------ trust roots


def _fetch_allowed(url: str) -> bool:
    """Fetching a trust root over the network is for local mode and tests only (a sandbox on this
    machine), unless a deployment explicitly allows it."""
    if settings.DEBUG or getattr(settings, "DOCUMENT_TRUST_ROOT_FETCH_ALLOWED", False):
        return True
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _fetch_root(url: str) -> bytes:
    with _fetch_lock:
        if url in _fetched_roots:
            return _fetched_roots[url]
        cached = cache.get(_TRUST_ROOT_CACHE_KEY % hashlib.sha256(url.encode()).hexdigest())
        if isinstance(cached, bytes):
            _fetched_roots[url] = cached
            return cached
        if urlsplit(url).scheme not in ("http", "https"):
            raise TrustRootsUnavailable(f"PERURI_TRUST_ROOT_URL is not http(s): {url!r}")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - scheme checked above
                data = response.read(1024 * 1024)
        except OSError as exc:
            raise TrustRootsUnavailable(f"could not fetch the trust root ({type(exc).__name__})") from exc
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise TrustRootsUnavailable("the trust root URL did not return a PEM certificate")
        _fetched_roots[url] = data
        cache.set(_TRUST_ROOT_CACHE_KEY % hashlib.sha256(url.encode()).hexdigest(), data, timeout=24 * 3600)
        return data


def trust_root_pems() -> list[bytes]:
    """PEM bytes of the configured trust roots. Raises TrustRootsUnavailable."""
    paths: Sequence[str] = settings.PERURI_TRUST_ROOTS
    if paths:
        out = []
        for path in paths:
            try:
                with open(path, "rb") as fh:
                    out.append(fh.read())
            except OSError as exc:
                raise TrustRootsUnavailable(f"cannot read trust root file {path!r}") from exc
        return out
    url = settings.PERURI_TRUST_ROOT_URL
    if not url:
        raise TrustRootsUnavailable("no trust roots configured (PERURI_TRUST_ROOTS)")
    if not _fetch_allowed(url):
        raise TrustRootsUnavailable("PERURI_TRUST_ROOT_URL may only be used in local mode; set PERURI_TRUST_ROOTS")
    return [_fetch_root(url)]


def trust_roots() -> list[Any]:
    from pyhanko.keys import load_certs_from_pemder_data

    certs = []
    for pem in trust_root_pems():
        try:
            certs.extend(load_certs_from_pemder_data(pem))
        except (ValueError, TypeError) as exc:
            raise TrustRootsUnavailable("a trust root is not a certificate") from exc
    if not certs:
        raise TrustRootsUnavailable("the trust root files hold no certificate")
    return certs


def forget_fetched_trust_roots() -> None:
    """Drop the in-process copy of fetched trust roots (tests; a rotated sandbox CA)."""
    with _fetch_lock:
        _fetched_roots.clear()


# ------------------------------------------------------------------------------------ inspection


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion, also from a thread that already has an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def signature_widgets(pdf: bytes) -> list[dict[str, Any]]:
    """Every signature field's widget: name, 1-based page and /Rect (PDF points), in page order."""
    from pypdf import PdfReader

    out: list[dict[str, Any]] = []
    reader = PdfReader(BytesIO(pdf), strict=False)
    for number, page in enumerate(reader.pages, start=1):
        for ref in page.get("/Annots") or []:
            annot = ref.get_object()
            if annot.get("/Subtype") != "/Widget":
                continue
            field_type = annot.get("/FT") or (annot.get("/Parent") or {}).get("/FT")
            if field_type != "/Sig":
                continue
            name = annot.get("/T") or (annot.get("/Parent") or {}).get("/T") or ""
            rect = [float(v) for v in annot.get("/Rect", [0, 0, 0, 0])]
            out.append({"name": str(name), "page": number, "rect": rect})
    return out


def _cert_identity(cert: Any) -> dict[str, Any]:
    subject = cert.subject.native
    emails = set()
    if subject.get("email_address"):
        value = subject["email_address"]
        emails.update(v.lower() for v in (value if isinstance(value, list) else [value]))
    try:
        san = cert.subject_alt_name_value
    except (ValueError, KeyError):
        san = None
    if san is not None:
        for name in san:
            if name.name == "rfc822_name":
                emails.add(str(name.native).lower())
    return {
        "common_name": subject.get("common_name", ""),
        "emails": sorted(emails),
        "issuer": cert.issuer.human_friendly,
        "serial": str(cert.serial_number),
        "sha256": hashlib.sha256(cert.dump()).hexdigest(),
        "not_after": cert["tbs_certificate"]["validity"]["not_after"].native.isoformat(),
    }


def _belongs_to(identity: dict[str, Any], expected: ExpectedSigner) -> bool:
    if identity["emails"]:
        return expected.email.strip().lower() in identity["emails"]
    # A certificate without an e-mail address: fall back to the name Peruri certified.
    cn = " ".join(str(identity["common_name"]).split()).casefold()
    return bool(expected.name) and cn == " ".join(expected.name.split()).casefold()


def pdf_verify(*, signed: bytes, original: bytes, expected_signers: Sequence[ExpectedSigner]) -> VerificationResult:
    """Verify ``signed`` per R9. Never raises for a bad document (returns ok=False with a reason);
    raises TrustRootsUnavailable when verification cannot run at all."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    roots = trust_roots()
    summary: dict[str, Any] = {
        "size": len(signed),
        "sha256": hashlib.sha256(signed).hexdigest(),
        "trust_roots": [hashlib.sha256(c.dump()).hexdigest() for c in roots],
        "expected_signers": len(expected_signers),
        "signatures": [],
    }

    def fail(reason: str, **extra: Any) -> VerificationResult:
        summary.update(extra)
        summary["result"] = reason
        return VerificationResult(ok=False, reason=reason, summary=summary, signer_fingerprints=fingerprints)

    fingerprints: list[str] = []
    if not signed.startswith(b"%PDF-"):
        return fail("not_pdf")
    extends = signed.startswith(original) and len(signed) > len(original)
    summary["extends_original"] = extends
    try:
        reader = PdfFileReader(BytesIO(signed), strict=False)
        embedded = list(reader.embedded_regular_signatures)
    except Exception as exc:  # noqa: BLE001 - any parser failure is "not a valid signed PDF"
        return fail("unreadable", error=type(exc).__name__)
    summary["signature_count"] = len(embedded)
    if not embedded:
        return fail("no_signature")
    if len(embedded) < max(1, len(expected_signers)):
        return fail("too_few_signatures")

    # Explicit trust roots only (no OS store). Revocation: the sandbox CA publishes none, and a
    # deployment that wants CRL/OCSP fetching turns DOCUMENT_VERIFY_ALLOW_FETCHING on.
    allow_fetching = bool(getattr(settings, "DOCUMENT_VERIFY_ALLOW_FETCHING", False))
    widgets = {w["name"]: w for w in _safe_widgets(signed)}

    async def validate_all() -> list[Any]:
        statuses = []
        for sig in embedded:
            context = ValidationContext(
                trust_roots=roots, allow_fetching=allow_fetching, revocation_mode="soft-fail"
            )
            statuses.append(await async_validate_pdf_signature(sig, signer_validation_context=context))
        return statuses

    try:
        statuses = _run(validate_all())
    except Exception as exc:  # noqa: BLE001 - a signature pyHanko cannot evaluate is not valid
        logger.warning("signature validation raised %s", type(exc).__name__)
        return fail("invalid_signature", error=type(exc).__name__)

    verdict = ""
    for index, (sig, status) in enumerate(zip(embedded, statuses, strict=True)):
        identity = _cert_identity(sig.signer_cert)
        fingerprints.append(identity["sha256"])
        entry = {
            "field": sig.field_name,
            "signer": identity,
            "intact": bool(status.intact),
            "valid": bool(status.valid),
            "trusted": bool(status.trusted),
            "coverage": status.coverage.name if status.coverage is not None else None,
            "modification_level": status.modification_level.name if status.modification_level is not None else None,
            "docmdp_ok": status.docmdp_ok,
            "bottom_line": bool(status.bottom_line),
            "signing_time": status.signer_reported_dt.isoformat() if status.signer_reported_dt else None,
            "widget": widgets.get(sig.field_name),
        }
        summary["signatures"].append(entry)
        if verdict:
            continue
        if not (status.intact and status.valid):
            verdict = "invalid_signature"
        elif not status.trusted:
            verdict = "untrusted"
        elif not status.bottom_line:
            verdict = "invalid_signature"
        elif index < len(expected_signers) and not _belongs_to(identity, expected_signers[index]):
            verdict = "wrong_signer"

    if verdict:
        return fail(verdict)
    if statuses[-1].coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return fail("not_entire_file")
    if not extends:
        return fail("not_our_document")
    summary["result"] = "ok"
    return VerificationResult(ok=True, summary=summary, signer_fingerprints=fingerprints)


def _safe_widgets(pdf: bytes) -> list[dict[str, Any]]:
    try:
        return signature_widgets(pdf)
    except Exception:  # noqa: BLE001 - widgets are informative only
        return []
