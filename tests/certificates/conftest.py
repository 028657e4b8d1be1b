"""Helpers for certificates tests: sandbox fault injection, driving the poller inline, users."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.conf import settings

from tests.fixtures_certificates import registration_data, sample_photo, sample_specimen, sample_webm


class Faults:
    """POST/DELETE {sandbox}/sandbox/faults (the sandbox's fault injection)."""

    def __init__(self, base_url: str) -> None:
        self.url = f"{base_url}/sandbox/faults"
        self.headers = {"x-Gateway-APIKey": settings.SANDBOX_API_KEY}

    def set(self, **config: Any) -> dict[str, Any]:
        response = requests.post(self.url, json=config, headers=self.headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def state(self) -> dict[str, Any]:
        return requests.get(self.url, headers=self.headers, timeout=10).json()

    def clear(self) -> None:
        requests.delete(self.url, headers=self.headers, timeout=10)


@pytest.fixture
def faults(sandbox: str) -> Iterator[Faults]:
    f = Faults(sandbox)
    yield f
    f.clear()


HANG_SECONDS = 2.5  # sandbox `read_timeout` faults hang this long: longer than the client waits


@pytest.fixture
def quick_timeouts(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[None]:
    """Short read timeouts so that a sandbox `read_timeout` fault (a hang) times the client out
    in a test-sized delay. The client is rebuilt because its settings key changes."""
    from types import MappingProxyType

    import peruri.types

    short = MappingProxyType(dict.fromkeys(peruri.types.DEFAULT_READ_TIMEOUTS, 1.5))
    monkeypatch.setattr(peruri.types, "DEFAULT_READ_TIMEOUTS", short)
    # Force a new client (and a fresh connection pool) with these timeouts.
    settings.PERURI_BREAKER_THRESHOLD = 1000
    monkeypatch.setattr("signing.gateway._client", None)
    yield
    # Let the sandbox threads still hanging on a timed-out request finish before the database
    # is flushed (they would log errors from a closed test database otherwise).
    time.sleep(HANG_SECONDS)


def drive(enrolment: Any, *, until: set[str] | None = None, timeout: float = 30.0) -> Any:
    """Run the poller inline (what beat + the worker do) until the enrolment reaches one of
    `until` (default: any status that waits on the person or is final)."""
    from certificates.models import Enrolment
    from certificates.services import enrolment_advance

    S = Enrolment.Status
    until = until or {
        S.ISSUED, S.FAILED, S.EXPIRED, S.CANCELLED, S.AWAITING_VIDEO, S.AWAITING_SPECIMEN, S.KYC_REJECTED,
        S.VIDEO_INVALID, S.ALREADY_REGISTERED, S.INVITED, S.AWAITING_WEBVIEW,
    }  # fmt: skip
    deadline = time.monotonic() + timeout
    enrolment.refresh_from_db()
    while enrolment.status not in until:
        assert time.monotonic() < deadline, f"stuck in {enrolment.status}: {enrolment.last_error}"
        # What enrolment_poll_due would do once next_poll_at comes, without waiting for it.
        enrolment_advance(enrolment_id=enrolment.pk)
        enrolment.refresh_from_db()
        time.sleep(0.05)
    return enrolment


__all__ = ["Faults", "drive", "registration_data", "sample_photo", "sample_specimen", "sample_webm"]
