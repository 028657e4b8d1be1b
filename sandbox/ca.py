"""The sandbox's certificate authority: created once, kept under SANDBOX_DATA_DIR, reused.

The key and certificate live in ONE file (`ca-bundle.pem`) so they are created as a pair
atomically: each process writes a complete temporary file and `os.link`s it into place; the
link fails if another process got there first, and the loser simply reads the winner's file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings

CA_COMMON_NAME = "Peruri Sandbox CA - NOT FOR PRODUCTION"
KEY_SIZE = 2048
CA_VALIDITY = dt.timedelta(days=3650)
USER_VALIDITY = dt.timedelta(days=365)

_lock = threading.Lock()
_cache: dict[tuple[str, int, int], CertificateAuthority] = {}


@dataclass(frozen=True)
class CertificateAuthority:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class IssuedCertificate:
    certificate_pem: str
    key_pem: str
    not_after: dt.datetime


def data_dir() -> Path:
    return Path(settings.SANDBOX_DATA_DIR)


def bundle_path() -> Path:
    return data_dir() / "ca-bundle.pem"


def _now() -> dt.datetime:
    return dt.datetime.now(tz=dt.UTC)


def _create_bundle() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Paraf Sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME),
        ]
    )
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem + cert.public_bytes(serialization.Encoding.PEM)


def _load(data: bytes) -> CertificateAuthority:
    key = serialization.load_pem_private_key(data, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    cert = x509.load_pem_x509_certificate(data[data.index(b"-----BEGIN CERTIFICATE-----") :])
    return CertificateAuthority(key=key, certificate=cert)


def ensure_ca(*, path: Path | None = None) -> CertificateAuthority:
    """The CA, created on first need. Safe against other threads and processes doing the same.

    `path` is the bundle file (default: `SANDBOX_DATA_DIR/ca-bundle.pem`).
    """
    path = path or bundle_path()
    with _lock:
        try:
            st = path.stat()
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ca-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(_create_bundle())
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(tmp, 0o600)
                with contextlib.suppress(FileExistsError):  # another process won the race
                    os.link(tmp, path)  # atomic: never a half-written or mismatched pair
            finally:
                os.unlink(tmp)
            st = path.stat()
        cache_key = (str(path), st.st_ino, st.st_mtime_ns)
        ca = _cache.get(cache_key)
        if ca is None:
            ca = _load(path.read_bytes())
            _cache.clear()
            _cache[cache_key] = ca
        return ca


def issue_user_certificate(
    *, name: str, email: str, org_unit: str = "", work_unit: str = "", position: str = ""
) -> IssuedCertificate:
    """A fresh key pair and an X.509 certificate for a signer, issued by the sandbox CA."""
    ca = ensure_ca()
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "ID")]
    if org_unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_unit[:64]))
    if work_unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, work_unit[:64]))
    if position:
        attrs.append(x509.NameAttribute(NameOID.TITLE, position[:64]))
    attrs += [
        x509.NameAttribute(NameOID.COMMON_NAME, name[:64]),
        x509.NameAttribute(NameOID.EMAIL_ADDRESS, email),
    ]
    now = _now()
    not_after = now + USER_VALIDITY
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # a.k.a. nonRepudiation
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return IssuedCertificate(
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        key_pem=key_pem,
        not_after=not_after,
    )


def issued_by_current_ca(certificate_pem: str) -> bool:
    """False when the data dir was wiped and the CA recreated: the user needs a new certificate."""
    if not certificate_pem:
        return False
    cert = x509.load_pem_x509_certificate(certificate_pem.encode("ascii"))
    ca = ensure_ca()
    try:
        cert.verify_directly_issued_by(ca.certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
