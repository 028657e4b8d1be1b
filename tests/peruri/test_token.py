"""JWT caching, refresh before expiredDate, one refresh + one retry on Unauthorized, and one fetch
shared by many clients through a locking store."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import responses

from peruri import MemoryTokenStore, PeruriClient, PeruriContractError, StoredToken

from .conftest import FJS, JWT, JWT_URL, PDF, FakeClock, body_bytes, calls_to, jwt_reply, ok

OTP_URL = FJS + "getOtp/v1"
SEND_URL = FJS + "sendDocument/v1"
UNAUTHORIZED = {"Exception": "API Gateway encountered an error. Error Message: Unauthorized application request."}


def test_one_jwt_serves_many_calls(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, OTP_URL, json=ok({"token": "t" * 32}))
    for _ in range(5):
        api.get_otp(order_id="1")
    assert len(calls_to(authed, JWT_URL)) == 1
    assert all(c.request.headers["Authorization"] == f"Bearer {JWT}" for c in calls_to(authed, OTP_URL))


def test_the_jwt_is_refreshed_five_minutes_before_its_jakarta_expiry(
    api: PeruriClient, rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    # Expires 2024-05-02 10:00 WIB = 03:00 UTC; the fake clock starts at 2024-05-01 03:00 UTC.
    rsps.add(responses.POST, JWT_URL, json=jwt_reply("first", "2024-05-02 10:00:00"))
    rsps.add(responses.POST, JWT_URL, json=jwt_reply("second", "2024-05-03 10:00:00"))
    rsps.add(responses.POST, OTP_URL, json=ok({"token": "t" * 32}))
    api.get_otp(order_id="1")
    clock.now = datetime(2024, 5, 2, 2, 54, tzinfo=UTC)  # 6 minutes left: keep it
    api.get_otp(order_id="1")
    clock.now = datetime(2024, 5, 2, 2, 56, tzinfo=UTC)  # 4 minutes left: refresh
    api.get_otp(order_id="1")
    auth = [c.request.headers["Authorization"] for c in calls_to(rsps, OTP_URL)]
    assert auth == ["Bearer first", "Bearer first", "Bearer second"]
    assert len(calls_to(rsps, JWT_URL)) == 2


def test_the_stored_expiry_is_an_aware_datetime(
    make_client: Callable[..., PeruriClient], authed: responses.RequestsMock
) -> None:
    store = MemoryTokenStore()
    authed.add(responses.POST, OTP_URL, json=ok({"token": "t" * 32}))
    make_client(token_store=store).get_otp(order_id="1")
    stored = store.get()
    assert stored is not None and stored.token == JWT
    assert stored.expires_at == datetime(2024, 5, 2, 3, 0, tzinfo=UTC)
    assert JWT not in repr(stored)


def test_a_missing_expired_date_means_one_day(
    make_client: Callable[..., PeruriClient], rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    store = MemoryTokenStore()
    rsps.add(responses.POST, JWT_URL, json=ok({"jwt": JWT}))
    rsps.add(responses.POST, OTP_URL, json=ok({"token": "t" * 32}))
    make_client(token_store=store).get_otp(order_id="1")
    stored = store.get()
    assert stored is not None and stored.expires_at == clock.now + timedelta(days=1)


def test_an_expired_date_in_the_past_does_not_cause_a_fetch_per_call(
    api: PeruriClient, rsps: responses.RequestsMock
) -> None:
    rsps.add(responses.POST, JWT_URL, json=jwt_reply(expired="2020-01-01 00:00:00"))
    rsps.add(responses.POST, OTP_URL, json=ok({"token": "t" * 32}))
    for _ in range(3):
        api.get_otp(order_id="1")
    assert len(calls_to(rsps, JWT_URL)) == 1


def test_a_jwt_reply_without_jwt_is_a_contract_error(api: PeruriClient, rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, JWT_URL, json=ok({"expiredDate": "2024-05-02 10:00:00"}))
    with pytest.raises(PeruriContractError):
        api.get_otp(order_id="1")


def test_unauthorized_refreshes_once_and_resends_the_same_request_once(
    api: PeruriClient, rsps: responses.RequestsMock
) -> None:
    rsps.add(responses.POST, JWT_URL, json=jwt_reply("old"))
    rsps.add(responses.POST, JWT_URL, json=jwt_reply("new"))
    rsps.add(responses.POST, SEND_URL, json=UNAUTHORIZED, status=401)
    rsps.add(responses.POST, SEND_URL, json=ok({"orderId": "2965"}))
    # A send is never retried... except after Unauthorized: the gateway rejected it before the
    # operation ran. The streamed body is sent again in full.
    result = api.send_document(email="a@example.com", file_name="a.pdf", pdf=PDF)
    assert result.order_id == "2965"
    sends = calls_to(rsps, SEND_URL)
    assert [c.request.headers["Authorization"] for c in sends] == ["Bearer old", "Bearer new"]
    assert body_bytes(sends[0].request) == body_bytes(sends[1].request)
    assert len(calls_to(rsps, JWT_URL)) == 2


def test_after_unauthorized_a_token_already_replaced_by_another_process_is_used(
    make_client: Callable[..., PeruriClient], rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    store = MemoryTokenStore()
    store.set("stale", clock.now + timedelta(hours=5))

    class OtherProcessRefreshes:
        """Simulates another process storing a new JWT while our request was being rejected."""

        def __call__(self, request: object) -> tuple[int, dict[str, str], str]:
            store.set("fresh-from-elsewhere", clock.now + timedelta(hours=20))
            return 401, {}, '{"Exception": "Unauthorized application request"}'

    rsps.add_callback(responses.POST, OTP_URL, callback=OtherProcessRefreshes())
    rsps.add(responses.POST, OTP_URL, json=ok({"token": "t" * 32}))
    make_client(token_store=store).get_otp(order_id="1")
    assert [c.request.headers["Authorization"] for c in calls_to(rsps, OTP_URL)] == [
        "Bearer stale",
        "Bearer fresh-from-elsewhere",
    ]
    assert calls_to(rsps, JWT_URL) == []


class SharedStore:
    """A store shared by many clients, like the Django cache store: counts lock use."""

    def __init__(self) -> None:
        self._token: StoredToken | None = None
        self._lock = threading.Lock()
        self.lock_entries = 0

    def get(self) -> StoredToken | None:
        return self._token

    def set(self, token: str, expires_at: datetime) -> None:
        self._token = StoredToken(token, expires_at)

    @contextmanager
    def lock(self) -> Iterator[None]:
        with self._lock:
            self.lock_entries += 1
            yield


def test_many_clients_on_one_locking_store_fetch_one_jwt(
    make_client: Callable[..., PeruriClient], rsps: responses.RequestsMock
) -> None:
    store = SharedStore()
    fetches = 0
    entered, release = threading.Event(), threading.Event()

    def slow_jwt(request: object) -> tuple[int, dict[str, str], str]:
        nonlocal fetches
        fetches += 1
        entered.set()
        release.wait(2)  # hold the lock long enough for every other client to queue on it
        return (
            200,
            {},
            '{"resultCode":"0","resultDesc":"ok","data":{"jwt":"shared","expiredDate":"2024-05-02 10:00:00"}}',
        )

    rsps.add_callback(responses.POST, JWT_URL, callback=slow_jwt)
    rsps.add(responses.POST, OTP_URL, json=ok({"token": "t" * 32}))
    clients = [make_client(token_store=store) for _ in range(8)]
    errors: list[BaseException] = []

    def work(c: PeruriClient) -> None:
        try:
            c.get_otp(order_id="1")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    assert entered.wait(5)
    time.sleep(0.2)  # the other clients find no token and queue on the lock
    release.set()
    for t in threads:
        t.join(10)
    assert errors == []
    assert fetches == 1
    assert store.lock_entries >= 1
    assert {c.request.headers["Authorization"] for c in calls_to(rsps, OTP_URL)} == {"Bearer shared"}


def test_a_store_without_lock_works_with_a_local_lock(
    make_client: Callable[..., PeruriClient], authed: responses.RequestsMock, clock: FakeClock
) -> None:
    class PlainStore:
        def __init__(self) -> None:
            self.value: StoredToken | None = None

        def get(self) -> StoredToken | None:
            return self.value

        def set(self, token: str, expires_at: datetime) -> None:
            self.value = StoredToken(token, expires_at)

    store = PlainStore()
    authed.add(responses.POST, OTP_URL, json=ok({"token": "t" * 32}))
    make_client(token_store=store).get_otp(order_id="1")
    assert store.value is not None and store.value.token == JWT
