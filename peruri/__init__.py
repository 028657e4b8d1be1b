"""Paraf's client for the Peruri digital-signature API. Plain Python: imports nothing from Django.

Usage::

    from peruri import PeruriClient, PeruriConfig, Signer

    client = PeruriClient(PeruriConfig(api_key=..., system_id=...))
    with open("a.pdf", "rb") as pdf:
        order = client.send_document(email=..., file_name="a.pdf", pdf=pdf, signers=[Signer(1, 454, 45, 529, 116)])
"""

from __future__ import annotations

__version__ = "1.0.0"

from .client import BinaryInput, OnCall, PeruriClient, outcome_of, signing_session  # noqa: E402
from .endpoints import DEFAULT_PATHS, OPERATIONS, PRODUCTION_JWT_PATH  # noqa: E402
from .errors import (  # noqa: E402
    PeruriAuthError,
    PeruriConfigError,
    PeruriContractError,
    PeruriError,
    PeruriPending,
    PeruriRejected,
    PeruriTransient,
    PeruriUnavailable,
)
from .session import CircuitBreaker, LockingTokenStore, MemoryTokenStore, TokenStore  # noqa: E402
from .types import (  # noqa: E402
    PRODUCTION_BASE_URL,
    SANDBOX_BASE_URL,
    Ack,
    BulkOtpChallenge,
    BulkSignedDocument,
    CallRecord,
    CertificateStatus,
    DocumentStatus,
    KeySet,
    OtpChallenge,
    PeruriConfig,
    SentBulk,
    SentDocument,
    SignedBulk,
    SignedTier,
    Signer,
    StoredToken,
    ViewedDocument,
)

__all__ = [
    "outcome_of",
    "DEFAULT_PATHS",
    "OPERATIONS",
    "PRODUCTION_BASE_URL",
    "PRODUCTION_JWT_PATH",
    "SANDBOX_BASE_URL",
    "Ack",
    "BinaryInput",
    "BulkOtpChallenge",
    "BulkSignedDocument",
    "CallRecord",
    "CertificateStatus",
    "CircuitBreaker",
    "DocumentStatus",
    "KeySet",
    "LockingTokenStore",
    "MemoryTokenStore",
    "OnCall",
    "OtpChallenge",
    "PeruriAuthError",
    "PeruriClient",
    "PeruriConfig",
    "PeruriConfigError",
    "PeruriContractError",
    "PeruriError",
    "PeruriPending",
    "PeruriRejected",
    "PeruriTransient",
    "PeruriUnavailable",
    "SentBulk",
    "SentDocument",
    "SignedBulk",
    "SignedTier",
    "Signer",
    "StoredToken",
    "TokenStore",
    "ViewedDocument",
    "__version__",
    "signing_session",
]
