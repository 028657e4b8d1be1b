from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses

from peruri import CallRecord, PeruriClient, PeruriConfig

BASE = "https://apgdev.peruri.co.id:19044/gateway/"
FJS = BASE + "digitalSignatureFullJwtSandbox/1.0/"
JWT_URL = BASE + "jwtSandbox/1.0/getJsonWebToken/v1"
API_KEY = "bfa4be99-939e-4320-a3d3-46652c94d8a3"
SYSTEM_ID = "PERURI"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzeXN0ZW1JZCI6IlBFUlVSSSJ9.c2lnbmF0dXJlLWNhbmFyeQ"
NOW = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)  # 10:00 in Jakarta

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


class FakeClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def body_bytes(request: Any) -> bytes:
    """The bytes requests would have sent (our body is a re-iterable stream)."""
    body = request.body
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return b"".join(body)


def body_json(request: Any) -> Any:
    return json.loads(body_bytes(request))


def all_strings(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and all_strings(v) for k, v in value.items())
    if isinstance(value, list):
        return all(all_strings(v) for v in value)
    return isinstance(value, str)


def ok(data: Any = None, desc: str = "Success") -> dict[str, Any]:
    reply: dict[str, Any] = {"resultCode": "0", "resultDesc": desc}
    if data is not None:
        reply["data"] = data
    return reply


def jwt_reply(token: str = JWT, expired: str = "2024-05-02 10:00:00") -> dict[str, Any]:
    return ok({"jwt": token, "expiredDate": expired})


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def records() -> list[CallRecord]:
    return []


@pytest.fixture
def config() -> PeruriConfig:
    return PeruriConfig(api_key=API_KEY, system_id=SYSTEM_ID)


@pytest.fixture
def make_client(
    config: PeruriConfig, clock: FakeClock, sleeps: list[float], records: list[CallRecord]
) -> Callable[..., PeruriClient]:
    def make(**kwargs: Any) -> PeruriClient:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("sleep", sleeps.append)
        kwargs.setdefault("on_call", records.append)
        return PeruriClient(kwargs.pop("config", config), **kwargs)

    return make


@pytest.fixture
def api(make_client: Callable[..., PeruriClient]) -> PeruriClient:
    return make_client()


@pytest.fixture
def authed(rsps: responses.RequestsMock) -> responses.RequestsMock:
    """A mock that already answers the JWT call."""
    rsps.add(responses.POST, JWT_URL, json=jwt_reply())
    return rsps


def calls_to(rsps: responses.RequestsMock, url: str) -> list[Any]:
    return [c for c in rsps.calls if c.request.url == url]


# The project-wide tests/conftest.py has autouse fixtures that need Django settings and its cache.
# The client is plain Python: replace them here so these tests run with or without Django
# (`pytest -p no:django tests/peruri`).
@pytest.fixture(autouse=True)
def _isolated_files() -> None:
    return None


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    return None
