"""Encryption at rest for identity data (RELIABILITY-SECURITY 17).

KTP/NPWP numbers live in `EncryptedTextField`s and identity files (KTP/NPWP photos, face video,
specimen) are written encrypted. Keys come from FIELD_ENCRYPTION_KEYS (Fernet keys, newest first):
the first one encrypts, every one decrypts, so a key can be rotated by prepending a new one.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        if str(getattr(settings, "SETTINGS_MODULE", "")).endswith("production"):
            raise ImproperlyConfigured("Set PARAF_FIELD_ENCRYPTION_KEYS in production.")
        # Outside production a key derived from SECRET_KEY keeps `make run` and tests key-free.
        digest = hashlib.sha256(b"paraf.certificates.field-encryption:" + secret_key.encode()).digest()
        keys = (base64.urlsafe_b64encode(digest).decode(),)
    return MultiFernet([Fernet(k.encode()) for k in keys])


def _fernet() -> MultiFernet:
    # Looked up per call (cheap, cached) so that keys overridden in tests apply.
    return _fernet_for(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt_bytes(data: bytes) -> bytes:
    return _fernet().encrypt(data)


def decrypt_bytes(token: bytes) -> bytes:
    """Raises cryptography.fernet.InvalidToken when no configured key opens the token."""
    return _fernet().decrypt(token)


def encrypt_str(value: str) -> str:
    return encrypt_bytes(value.encode()).decode("ascii")


def decrypt_str(token: str) -> str:
    return decrypt_bytes(token.encode("ascii")).decode()


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """A text column stored as a Fernet token. Empty strings are stored as they are.

    Encryption is randomized, so the column cannot be filtered on: look rows up by other fields.
    """

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if not value:
            return value
        try:
            return decrypt_str(value)
        except InvalidToken as exc:
            raise ImproperlyConfigured(
                f"{self.model.__name__}.{self.name} cannot be decrypted with FIELD_ENCRYPTION_KEYS"
            ) from exc

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt_str(str(value))
