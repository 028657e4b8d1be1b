"""The Django side of the Peruri client: settings, a JWT store and a circuit breaker shared by every
process through Django's cache, and a ``PeruriCall`` row per HTTP call.

Everything in Paraf that talks to Peruri gets its client from :func:`get_peruri_client`.

* **One JWT per day per system id** for all web and worker processes: :class:`CacheTokenStore`
  keeps it in the cache, and its ``lock()`` (``cache.add`` with a TTL) lets one process fetch while
  the others wait for it.
* **Stop hammering Peruri while it is down** (RELIABILITY 4): after ``PERURI_BREAKER_THRESHOLD``
  consecutive transport failures (timeouts, connection errors, 5xx) the shared
  :class:`CacheCircuitBreaker` opens for ``PERURI_BREAKER_COOLDOWN`` seconds; calls then raise
  ``peruri.PeruriUnavailable`` (a ``PeruriTransient``) without sending anything. After the cool-down
  one probe call at a time is let through; its success closes the breaker, its failure reopens it.
* **Audit**: each HTTP call becomes a ``PeruriCall`` row. Wrap work for a given row in
  ``with peruri_subject(document): ...`` to link the calls to it.

The cache holds the JWT in clear: access to Redis (or the cache table) grants Peruri access for the
rest of the day, like access to the API key does.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, cache
from django.utils import timezone

from peruri import (
    DEFAULT_PATHS,
    CallRecord,
    PeruriClient,
    PeruriConfig,
    PeruriConfigError,
    StoredToken,
)

logger = logging.getLogger(__name__)

_CACHE_PREFIX = "peruri"


def _scope(base_url: str, system_id: str) -> str:
    """A short cache-key part per gateway and partner account (a sandbox JWT is no production JWT)."""
    return hashlib.sha256(f"{base_url}\n{system_id}".encode()).hexdigest()[:16]


def email_ref(email: str) -> str:
    """The reference recorded (and logged by the client) for calls that involve only an e-mail."""
    return "email#" + hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:12]


# ---------------------------------------------------------------------------------------- JWT


class CacheTokenStore:
    """The client's token store on Django's cache, shared by every process.

    ``lock()`` is a cache lock (``cache.add`` of a random owner token with a TTL, so a crashed holder
    cannot block others for more than ``lock_ttl`` seconds). A waiter stops waiting as soon as the
    holder has stored a new token, or after ``lock_wait`` seconds, and then proceeds without the
    lock: a second JWT fetch is harmless, a stuck request is not. A cache outage degrades to "fetch a
    JWT when needed" with a warning, never to a failed Peruri call.
    """

    def __init__(
        self,
        *,
        base_url: str,
        system_id: str,
        cache_backend: BaseCache | None = None,
        lock_ttl: float = 90.0,
        lock_wait: float = 45.0,
        poll_interval: float = 0.1,
    ) -> None:
        scope = _scope(base_url, system_id)
        self.key = f"{_CACHE_PREFIX}:jwt:{scope}"
        self.lock_key = f"{_CACHE_PREFIX}:jwt-lock:{scope}"
        self._cache = cache_backend if cache_backend is not None else cache
        self.lock_ttl = lock_ttl
        self.lock_wait = lock_wait
        self.poll_interval = poll_interval

    def get(self) -> StoredToken | None:
        try:
            value = self._cache.get(self.key)
        except Exception:
            logger.warning("peruri token store: cache read failed", exc_info=True)
            return None
        if not isinstance(value, dict):
            return None
        try:
            return StoredToken(token=str(value["token"]), expires_at=datetime.fromisoformat(value["expires_at"]))
        except (KeyError, TypeError, ValueError):
            return None

    def set(self, token: str, expires_at: datetime) -> None:
        # Keep it in the cache until it expires; the client refreshes it a few minutes earlier.
        ttl = max(1, int((expires_at - timezone.now()).total_seconds()))
        try:
            self._cache.set(self.key, {"token": token, "expires_at": expires_at.isoformat()}, ttl)
        except Exception:
            logger.warning("peruri token store: cache write failed", exc_info=True)

    @contextmanager
    def lock(self) -> Iterator[bool]:
        """Yields True when this process holds the lock, False when it gave up waiting."""
        owner = secrets.token_hex(16)
        seen = self.get()
        deadline = time.monotonic() + self.lock_wait
        acquired = False
        while True:
            try:
                acquired = bool(self._cache.add(self.lock_key, owner, self.lock_ttl))
            except Exception:
                logger.warning("peruri token store: cache lock failed; going on without it", exc_info=True)
                break
            if acquired or time.monotonic() >= deadline:
                break
            if self.get() != seen:
                break  # the holder stored a new token: the client will find it
            time.sleep(self.poll_interval)
        try:
            yield acquired
        finally:
            if acquired:
                try:
                    # Delete only our own lock: if it expired and someone else took it, leave it.
                    if self._cache.get(self.lock_key) == owner:
                        self._cache.delete(self.lock_key)
                except Exception:
                    logger.warning("peruri token store: cache unlock failed", exc_info=True)


# ------------------------------------------------------------------------------ circuit breaker


class CacheCircuitBreaker:
    """A circuit breaker shared by all processes through the cache (see the module docstring).

    Keys: a consecutive-failure counter, an "open" flag whose TTL is the cool-down, a "tripped" flag
    that outlives it (so the first call after the cool-down is a probe), and the probe's claim.
    Cache errors fail open: a broken cache must not stop Peruri calls.
    """

    def __init__(
        self,
        *,
        base_url: str,
        threshold: int = 5,
        cooldown: float = 60.0,
        probe_ttl: float = 120.0,
        cache_backend: BaseCache | None = None,
    ) -> None:
        scope = hashlib.sha256(base_url.encode()).hexdigest()[:16]
        self._failures = f"{_CACHE_PREFIX}:breaker:{scope}:failures"
        self._open = f"{_CACHE_PREFIX}:breaker:{scope}:open"
        self._tripped = f"{_CACHE_PREFIX}:breaker:{scope}:tripped"
        self._probe = f"{_CACHE_PREFIX}:breaker:{scope}:probe"
        self._cache = cache_backend if cache_backend is not None else cache
        self.threshold = max(1, threshold)
        self.cooldown = cooldown
        self.probe_ttl = probe_ttl

    def allow(self, operation: str) -> bool:
        try:
            if self._cache.get(self._open):
                return False
            if self._cache.get(self._tripped):
                # Half-open: one probe at a time until a call succeeds or fails.
                return bool(self._cache.add(self._probe, 1, self.probe_ttl))
        except Exception:
            logger.warning("peruri breaker: cache read failed; allowing the call", exc_info=True)
        return True

    def record_success(self, operation: str) -> None:
        try:
            values = self._cache.get_many([self._failures, self._tripped, self._probe])
            if values:  # skip the write on the common path
                self._cache.delete_many([self._failures, self._tripped, self._probe])
                if self._tripped in values:
                    logger.warning("peruri breaker: closed again after a successful %s", operation)
        except Exception:
            logger.warning("peruri breaker: cache write failed", exc_info=True)

    def record_failure(self, operation: str) -> None:
        try:
            if self._cache.get(self._tripped):
                self._trip(operation, "probe failed")
                return
            # Failures far apart are not an outage: the counter expires after a quiet while.
            self._cache.add(self._failures, 0, max(300.0, 5 * self.cooldown))
            failures = self._cache.incr(self._failures)
            if failures >= self.threshold:
                self._trip(operation, f"{failures} consecutive failures")
        except Exception:
            logger.warning("peruri breaker: cache write failed", exc_info=True)

    def _trip(self, operation: str, why: str) -> None:
        self._cache.set(self._open, 1, self.cooldown)
        self._cache.set(self._tripped, 1, None)
        self._cache.delete_many([self._failures, self._probe])
        logger.warning("peruri breaker: open for %ss after %s (%s)", self.cooldown, operation, why)

    def is_open(self) -> bool:
        try:
            return bool(self._cache.get(self._open))
        except Exception:
            logger.warning("peruri breaker: cache read failed", exc_info=True)
            return False

    def reset(self) -> None:
        self._cache.delete_many([self._failures, self._open, self._tripped, self._probe])


# ---------------------------------------------------------------------------------- audit rows

_subject: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("peruri_subject", default=None)


@contextmanager
def peruri_subject(obj: Any = None, *, object_type: str = "", object_id: Any = "") -> Iterator[None]:
    """Link the PeruriCall rows written inside this block to ``obj`` (a model instance), or to an
    explicit ``object_type``/``object_id``."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    token = _subject.set((str(object_type)[:50], str(object_id)[:64]))
    try:
        yield
    finally:
        _subject.reset(token)


def record_call(record: CallRecord) -> None:
    """The client's ``on_call`` hook: one PeruriCall row per HTTP call. Errors propagate to the
    client, which logs them and carries on (an audit row must not fail a signature)."""
    from signing.models import PeruriCall

    object_type, object_id = _subject.get() or ("", "")
    email = (record.email or "")[:254]
    PeruriCall.objects.create(
        operation=record.operation[:40],
        peruri_ref=(record.order_id or (email_ref(email) if email else ""))[:255],
        email=email,
        duration_ms=max(0, record.duration_ms),
        http_status=record.http_status,
        result_code=(record.result_code or "")[:16],
        outcome=record.outcome,
        error=(record.error or "")[:64],
        attempt=record.attempt,
        request_bytes=record.request_bytes,
        response_bytes=record.response_bytes,
        object_type=object_type,
        object_id=object_id,
    )


def peruri_calls_forget_email(*, email: str) -> int:
    """Blank a person's e-mail on their PeruriCall rows (erasure request); the hashed reference
    stays so the audit trail keeps its shape. Returns the number of rows changed."""
    from signing.models import PeruriCall

    return PeruriCall.objects.filter(email__iexact=email.strip()).update(email="")


# --------------------------------------------------------------------------------- the client

# Settings' PERURI_ENDPOINTS and PERURI_TIMEOUTS may name operations the client's way ("get_jwt",
# "verify_video") or Peruri's way ("getJsonWebToken", "videoVerification"): the operation segment
# of the default path.
_PERURI_NAMES = {path.split("/")[-2]: name for name, path in DEFAULT_PATHS.items()}


def _per_operation(setting: str, what: str) -> dict[str, Any]:
    raw = getattr(settings, setting, {}) or {}
    if not isinstance(raw, Mapping):
        raise PeruriConfigError(f"{setting} must be a JSON object of operation → {what}")
    values = {}
    for key, value in raw.items():
        name = key if key in DEFAULT_PATHS else _PERURI_NAMES.get(key)
        if name is None:
            raise PeruriConfigError(f"{setting}: unknown operation {key!r}")
        values[name] = value
    return values


_client_lock = threading.Lock()
_client: PeruriClient | None = None
_client_key: str | None = None


def _settings_key() -> str:
    values = {
        "base_url": settings.PERURI_BASE_URL,
        "api_key": settings.PERURI_API_KEY,
        "system_id": settings.PERURI_SYSTEM_ID,
        "endpoints": getattr(settings, "PERURI_ENDPOINTS", {}),
        "timeouts": getattr(settings, "PERURI_TIMEOUTS", {}),
        "threshold": getattr(settings, "PERURI_BREAKER_THRESHOLD", 5),
        "cooldown": getattr(settings, "PERURI_BREAKER_COOLDOWN", 60),
    }
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def build_peruri_client() -> PeruriClient:
    """A new client from settings. Raises PeruriConfigError when a setting is missing or wrong.

    ``PERURI_ENDPOINTS`` overrides paths and ``PERURI_TIMEOUTS`` read timeouts (seconds; uploads add
    their per-MiB allowance on top), both keyed by operation."""
    config = PeruriConfig(
        base_url=settings.PERURI_BASE_URL,
        api_key=settings.PERURI_API_KEY,
        system_id=settings.PERURI_SYSTEM_ID,
        endpoints=_per_operation("PERURI_ENDPOINTS", "path"),
        read_timeouts=_per_operation("PERURI_TIMEOUTS", "read timeout in seconds"),
    )
    return PeruriClient(
        config,
        token_store=CacheTokenStore(base_url=config.base_url, system_id=config.system_id),
        circuit_breaker=CacheCircuitBreaker(
            base_url=config.base_url,
            threshold=int(getattr(settings, "PERURI_BREAKER_THRESHOLD", 5)),
            cooldown=float(getattr(settings, "PERURI_BREAKER_COOLDOWN", 60)),
        ),
        on_call=record_call,
    )


def get_peruri_client() -> PeruriClient:
    """The process's client (one connection pool, reused), rebuilt when the Peruri settings change
    (tests override them). Raises PeruriConfigError when a setting is missing or wrong."""
    global _client, _client_key
    key = _settings_key()
    with _client_lock:
        if _client is None or _client_key != key:
            # The old client is not closed: another thread may be in the middle of a call with it.
            _client = build_peruri_client()
            _client_key = key
        return _client
