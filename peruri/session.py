"""Where the client keeps its JWT, and the circuit-breaker hook.

A JWT is valid for one day per ``system_id``. The default :class:`MemoryTokenStore` keeps it in the
process. A deployment with many web and worker processes supplies a shared store (the Django side
uses its cache) that also implements ``lock()``, so that only one process fetches a new JWT while the
others wait and then read it from the store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Protocol, runtime_checkable

from .types import StoredToken


class TokenStore(Protocol):
    """Holds the current JWT. ``get()`` returns None when there is none (or it was lost)."""

    def get(self) -> StoredToken | None: ...

    def set(self, token: str, expires_at: datetime) -> None: ...


@runtime_checkable
class LockingTokenStore(TokenStore, Protocol):
    """A token store shared between processes.

    ``lock()`` returns a context manager held while the client re-reads the store and, if the token is
    still missing or stale, fetches a new one. It should be a cross-process lock with a bounded wait:
    if it cannot be acquired in time, entering it may simply proceed (a second fetch is harmless,
    a stuck login is not). Stores without ``lock()`` get a per-client thread lock.
    """

    def lock(self) -> AbstractContextManager[object]: ...


class MemoryTokenStore:
    """The default store: one JWT per client, in memory, safe across threads."""

    def __init__(self) -> None:
        self._token: StoredToken | None = None
        self._lock = threading.Lock()

    def get(self) -> StoredToken | None:
        return self._token

    def set(self, token: str, expires_at: datetime) -> None:
        self._token = StoredToken(token=token, expires_at=expires_at)

    @contextmanager
    def lock(self) -> Iterator[None]:
        with self._lock:
            yield


class CircuitBreaker(Protocol):
    """Optional hook: stop calling Peruri while it is down.

    ``allow()`` is asked before each HTTP call (False: the client raises PeruriUnavailable without
    sending anything). ``record_failure()`` follows a transport-level failure (timeout, connection
    error, HTTP 5xx, non-auth gateway error); ``record_success()`` follows any reply in Peruri's
    format, including a rejection — Peruri is up.
    """

    def allow(self, operation: str) -> bool: ...

    def record_success(self, operation: str) -> None: ...

    def record_failure(self, operation: str) -> None: ...
