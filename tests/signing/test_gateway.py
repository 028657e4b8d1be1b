"""signing.gateway: the JWT shared through the cache, the shared circuit breaker, PeruriCall rows."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import responses
from django.core.cache import cache
from django.db import connections
from django.utils import timezone

from peruri import PeruriClient, PeruriConfigError, PeruriRejected, PeruriTransient, PeruriUnavailable
from signing import gateway
from signing.gateway import CacheCircuitBreaker, CacheTokenStore, email_ref, get_peruri_client, peruri_subject
from signing.models import PeruriCall
from tests.factories import AdminFactory

BASE = "https://peruri.test/gateway/"
JWT_URL = BASE + "jwtSandbox/1.0/getJsonWebToken/v1"
FJS = BASE + "digitalSignatureFullJwtSandbox/1.0/"
PDF = b"%PDF-1.7\n" + b"x" * 100
JWT_REPLY = {"resultCode": "0", "resultDesc": "ok", "data": {"jwt": "shared-jwt", "expiredDate": "2999-01-01 00:00:00"}}


def ok(data: Any = None) -> dict[str, Any]:
    return {"resultCode": "0", "resultDesc": "Success", **({"data": data} if data is not None else {})}


@pytest.fixture
def peruri_settings(settings: Any) -> Any:
    settings.PERURI_BASE_URL = BASE
    settings.PERURI_API_KEY = "test-api-key-0000-1111-2222-33334444"
    settings.PERURI_SYSTEM_ID = "PARAF-TEST"
    settings.PERURI_ENDPOINTS = {}
    settings.PERURI_TIMEOUTS = {}
    settings.PERURI_BREAKER_THRESHOLD = 3
    settings.PERURI_BREAKER_COOLDOWN = 60
    return settings


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


# --- the JWT, shared through the cache --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_many_processes_fetch_one_jwt_through_the_cache_lock(
    peruri_settings: Any, rsps: responses.RequestsMock
) -> None:
    """Eight "processes" (each its own client and store object, sharing only the cache) need a JWT
    at the same moment: exactly one fetches it, the others wait and read it from the cache."""
    fetches = 0
    entered, release = threading.Event(), threading.Event()

    def slow_jwt(request: Any) -> tuple[int, dict[str, str], str]:
        nonlocal fetches
        fetches += 1
        entered.set()
        release.wait(5)
        return (
            200,
            {},
            '{"resultCode":"0","resultDesc":"ok","data":{"jwt":"shared-jwt","expiredDate":"2999-01-01 00:00:00"}}',
        )

    rsps.add_callback(responses.POST, JWT_URL, callback=slow_jwt)
    rsps.add(responses.POST, FJS + "getOtp/v1", json=ok({"token": "t" * 32}))
    clients = [gateway.build_peruri_client() for _ in range(8)]
    for c in clients:
        assert isinstance(c.token_store, CacheTokenStore)
        c.token_store.poll_interval = 0.02  # type: ignore[attr-defined]
    errors: list[BaseException] = []

    def work(c: PeruriClient) -> None:
        try:
            c.get_otp(order_id="1")
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    assert entered.wait(10)
    time.sleep(0.3)  # everyone else is now waiting on the cache lock
    release.set()
    for t in threads:
        t.join(20)
    assert errors == []
    assert fetches == 1
    otp_calls = [c for c in rsps.calls if c.request.url == FJS + "getOtp/v1"]
    assert len(otp_calls) == 8
    assert {c.request.headers["Authorization"] for c in otp_calls} == {"Bearer shared-jwt"}
    assert PeruriCall.objects.filter(operation="get_jwt").count() == 1


@pytest.mark.django_db
def test_the_token_store_keeps_an_aware_expiry_per_gateway_and_system_id() -> None:
    expires = timezone.now() + timedelta(hours=20)
    sandbox = CacheTokenStore(base_url=BASE, system_id="A")
    sandbox.set("jwt-a", expires)
    stored = sandbox.get()
    assert stored is not None and stored.token == "jwt-a" and stored.expires_at == expires
    assert stored.expires_at.tzinfo is not None
    assert CacheTokenStore(base_url=BASE, system_id="B").get() is None
    assert CacheTokenStore(base_url="https://apg.peruri.co.id:9055/gateway/", system_id="A").get() is None


@pytest.mark.django_db
def test_a_lock_waiter_stops_waiting_when_the_holder_stores_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    holder = CacheTokenStore(base_url=BASE, system_id="A")
    waiter = CacheTokenStore(base_url=BASE, system_id="A", lock_wait=30, poll_interval=0.01)
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 3:  # meanwhile, the holder fetched and stored a new JWT
            holder.set("new", timezone.now() + timedelta(hours=1))

    monkeypatch.setattr(gateway.time, "sleep", nap)
    with holder.lock() as held:
        assert held
        with waiter.lock() as got:
            assert not got  # it did not take the lock...
        assert len(naps) == 3  # ...and stopped waiting as soon as the token changed
    stored = waiter.get()
    assert stored is not None and stored.token == "new"


@pytest.mark.django_db
def test_a_lock_waiter_gives_up_after_its_wait_and_proceeds() -> None:
    holder = CacheTokenStore(base_url=BASE, system_id="A")
    waiter = CacheTokenStore(base_url=BASE, system_id="A", lock_wait=0.2, poll_interval=0.02)
    with holder.lock() as held, waiter.lock() as got:
        assert held and not got
    # The holder released its own lock: the next caller gets it at once.
    with waiter.lock() as got:
        assert got


@pytest.mark.django_db
def test_a_lock_left_by_a_crashed_holder_expires() -> None:
    crashed = CacheTokenStore(base_url=BASE, system_id="A", lock_ttl=1)
    crashed._cache.add(crashed.lock_key, "someone-dead", 1)
    waiter = CacheTokenStore(base_url=BASE, system_id="A", lock_wait=5, poll_interval=0.05)
    with waiter.lock() as got:
        assert got


class BrokenCache:
    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("redis is down")

        return fail


def test_a_cache_outage_degrades_the_store_and_breaker_instead_of_failing() -> None:
    store = CacheTokenStore(base_url=BASE, system_id="A", cache_backend=BrokenCache())  # type: ignore[arg-type]
    assert store.get() is None
    store.set("jwt", timezone.now() + timedelta(hours=1))
    with store.lock() as got:
        assert got is False
    breaker = CacheCircuitBreaker(base_url=BASE, cache_backend=BrokenCache())  # type: ignore[arg-type]
    assert breaker.allow("sign")
    breaker.record_failure("sign")
    breaker.record_success("sign")


# --- the circuit breaker ------------------------------------------------------------------------


@pytest.mark.django_db
def test_after_consecutive_transport_failures_calls_fail_fast_in_every_process(
    peruri_settings: Any, rsps: responses.RequestsMock
) -> None:
    rsps.add(responses.POST, JWT_URL, json=JWT_REPLY)
    rsps.add(responses.POST, FJS + "signing/v1", body="<html>502</html>", status=502)
    one, other = gateway.build_peruri_client(), gateway.build_peruri_client()
    for _ in range(3):
        with pytest.raises(PeruriTransient) as info:
            one.sign(order_id="1", otp_code="123456", token="t" * 32)
        assert not isinstance(info.value, PeruriUnavailable)
    sent = len(rsps.calls)
    with pytest.raises(PeruriUnavailable) as info:
        other.sign(order_id="1", otp_code="123456", token="t" * 32)  # another process: same breaker
    assert info.value.retryable and not info.value.outcome_unknown
    assert len(rsps.calls) == sent  # nothing was sent
    assert PeruriCall.objects.filter(outcome="unavailable", operation="sign").count() == 1
    assert PeruriCall.objects.filter(outcome="unknown", operation="sign", http_status=502).count() == 3


@pytest.mark.django_db
def test_rejections_do_not_open_the_breaker_and_a_success_resets_the_count(
    peruri_settings: Any, rsps: responses.RequestsMock
) -> None:
    rsps.add(responses.POST, JWT_URL, json=JWT_REPLY)
    rsps.add(responses.POST, FJS + "signing/v1", json={"resultCode": "01", "resultDesc": "OTP salah"})
    rsps.add(responses.POST, FJS + "getOtp/v1", body="down", status=503)
    rsps.add(responses.POST, FJS + "getOtp/v1", body="down", status=503)
    rsps.add(responses.POST, FJS + "getOtp/v1", json=ok({"token": "t" * 32}))
    rsps.add(responses.POST, FJS + "getOtp/v1", body="down", status=503)
    rsps.add(responses.POST, FJS + "getOtp/v1", body="down", status=503)
    client = gateway.build_peruri_client()
    for _ in range(5):
        with pytest.raises(PeruriRejected):
            client.sign(order_id="1", otp_code="123456", token="t" * 32)
    results = []
    for _ in range(5):
        try:
            client.get_otp(order_id="1")
            results.append("ok")
        except PeruriUnavailable:
            results.append("unavailable")
        except PeruriTransient:
            results.append("failed")
    # failed, failed, ok (resets), failed, failed: never three in a row.
    assert results == ["failed", "failed", "ok", "failed", "failed"]


@pytest.mark.django_db
def test_after_the_cool_down_one_probe_decides(peruri_settings: Any) -> None:
    breaker = CacheCircuitBreaker(base_url=BASE, threshold=2, cooldown=60)
    breaker.record_failure("sign")
    breaker.record_failure("sign")
    assert breaker.is_open() and not breaker.allow("sign")
    cache.delete(breaker._open)  # the cool-down has passed
    assert breaker.allow("check_document_status")  # the probe
    assert not breaker.allow("sign")  # only one probe at a time
    breaker.record_failure("check_document_status")  # probe failed: open again at once
    assert breaker.is_open() and not breaker.allow("sign")
    cache.delete(breaker._open)
    assert breaker.allow("check_document_status")
    breaker.record_success("check_document_status")  # probe succeeded: closed
    assert all(breaker.allow("sign") for _ in range(3))


# --- PeruriCall rows ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_http_call_becomes_a_row(peruri_settings: Any, rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, JWT_URL, json=JWT_REPLY)
    rsps.add(responses.POST, FJS + "sendDocument/v1", json=ok({"orderId": "2965"}))
    rsps.add(
        responses.POST, FJS + "signing/v1", json={"resultCode": "4012", "resultDesc": "%docSigningOutput/errorMessage%"}
    )
    rsps.add(responses.POST, FJS + "checkCertificate/v1", json=ok())
    client = get_peruri_client()
    document = AdminFactory()  # any model instance will do as the subject
    with peruri_subject(document):
        client.send_document(email="Signer@Example.com", file_name="a.pdf", pdf=PDF)
        with pytest.raises(PeruriRejected):
            client.sign(order_id="2965", otp_code="123456", token="t" * 32)
    client.check_certificate(email="signer@example.com")

    rows = list(PeruriCall.objects.order_by("id"))
    assert [(r.operation, r.outcome, r.result_code, r.http_status) for r in rows] == [
        ("get_jwt", "ok", "0", 200),
        ("send_document", "ok", "0", 200),
        ("sign", "rejected", "4012", 200),
        ("check_certificate", "ok", "0", 200),
    ]
    jwt, send, sign, check = rows
    assert send.peruri_ref == "2965" and send.email == "Signer@Example.com" and send.request_bytes > len(PDF)
    assert sign.peruri_ref == "2965" and sign.error == "PeruriRejected"
    assert check.peruri_ref == email_ref("signer@example.com") == email_ref("Signer@Example.com")
    assert (send.object_type, send.object_id) == (document._meta.label_lower, str(document.pk))
    assert (sign.object_type, check.object_type) == (document._meta.label_lower, "")
    assert "shared-jwt" not in str([r.__dict__ for r in rows])


def test_the_row_reference_matches_what_the_client_logs() -> None:
    from peruri.client import _email_ref

    assert email_ref(" Someone@Example.com ") == _email_ref("someone@example.com")


@pytest.mark.django_db
def test_a_failing_audit_write_does_not_fail_the_call(
    peruri_settings: Any, rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    rsps.add(responses.POST, JWT_URL, json=JWT_REPLY)
    rsps.add(responses.POST, FJS + "getOtp/v1", json=ok({"token": "t" * 32}))

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("database is down")

    monkeypatch.setattr(PeruriCall.objects, "create", broken)
    assert get_peruri_client().get_otp(order_id="1").token == "t" * 32


@pytest.mark.django_db
def test_staff_can_erase_an_email_from_the_rows(peruri_settings: Any) -> None:
    PeruriCall.objects.create(
        operation="activate", outcome="ok", email="a@example.com", peruri_ref=email_ref("a@example.com")
    )
    assert gateway.peruri_calls_forget_email(email="A@example.com") == 1
    assert PeruriCall.objects.get().email == ""


# --- the client from settings ---------------------------------------------------------------------


def test_the_client_is_reused_and_rebuilt_when_settings_change(peruri_settings: Any) -> None:
    first = get_peruri_client()
    assert get_peruri_client() is first
    peruri_settings.PERURI_SYSTEM_ID = "OTHER"
    second = get_peruri_client()
    assert second is not first and second.config.system_id == "OTHER"
    assert isinstance(second.token_store, CacheTokenStore)
    assert isinstance(second.circuit_breaker, CacheCircuitBreaker)


def test_endpoint_overrides_accept_client_or_peruri_operation_names(peruri_settings: Any) -> None:
    peruri_settings.PERURI_ENDPOINTS = {
        "getJsonWebToken": "jwt/1.0/getJsonWebToken/v1",
        "send_document": "partner/1.0/sendDocument/v1",
    }
    config = get_peruri_client().config
    assert config.url("get_jwt") == BASE + "jwt/1.0/getJsonWebToken/v1"
    assert config.url("send_document") == BASE + "partner/1.0/sendDocument/v1"
    assert config.url("sign") == FJS + "signing/v1"


@pytest.mark.django_db
def test_read_timeouts_per_operation_come_from_settings(peruri_settings: Any, rsps: responses.RequestsMock) -> None:
    default = get_peruri_client()
    # Peruri's operation names or the client's, like PERURI_ENDPOINTS.
    peruri_settings.PERURI_TIMEOUTS = {"videoVerification": 900, "check_document_status": 8}
    client = get_peruri_client()
    assert client is not default  # a changed setting rebuilds the client
    assert client.config.read_timeout("verify_video") == 900
    assert client.config.read_timeout("check_document_status") == 8
    assert client.config.read_timeout("get_otp") == default.config.read_timeout("get_otp")
    rsps.add(responses.POST, JWT_URL, json=JWT_REPLY)
    rsps.add(responses.POST, FJS + "checkDocumentStatus/v1", json=ok({"orderId": "1", "status": "SIGNED"}))
    client.check_document_status(order_id="1")
    (call,) = [c for c in rsps.calls if c.request.url == FJS + "checkDocumentStatus/v1"]
    assert call.request.req_kwargs["timeout"] == (client.config.connect_timeout, 8)


@pytest.mark.parametrize(
    "change",
    [
        {"PERURI_API_KEY": ""},
        {"PERURI_SYSTEM_ID": ""},
        {"PERURI_ENDPOINTS": {"sendDocumen": "x/1.0/y/v1"}},
        {"PERURI_TIMEOUTS": {"videoVerificaton": 600}},
        {"PERURI_TIMEOUTS": {"videoVerification": "600"}},
        {"PERURI_TIMEOUTS": {"getOtp": 0}},
        {"PERURI_TIMEOUTS": [600]},
    ],
)
def test_bad_settings_raise_a_config_error(peruri_settings: Any, change: dict[str, Any]) -> None:
    for name, value in change.items():
        setattr(peruri_settings, name, value)
    with pytest.raises(PeruriConfigError):
        get_peruri_client()


# --- admin --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_lists_calls_read_only_with_filters(client: Any) -> None:
    call = PeruriCall.objects.create(
        operation="activate",
        outcome="ok",
        result_code="0",
        email="a@example.com",
        peruri_ref=email_ref("a@example.com"),
    )
    PeruriCall.objects.create(operation="sign", outcome="unknown", peruri_ref="2965", http_status=502)
    client.force_login(AdminFactory())
    url = "/admin/signing/peruricall/"
    listing = client.get(url)
    assert listing.status_code == 200
    html = listing.content.decode()
    # What staff need to answer "what did Peruri say, and when?" (checked by column and filter
    # links, not by their titles: the admin speaks Indonesian by default).
    for column in ("created_at", "operation", "peruri_ref", "outcome", "result_code", "http_status", "duration_ms"):
        assert f"column-{column}" in html, column
    assert 'href="?operation=activate"' in html and 'href="?outcome__exact=unknown"' in html
    assert "/admin/signing/peruricall/add/" not in html
    assert client.get(url, {"outcome__exact": "unknown"}).context["cl"].result_count == 1
    # E-mail-only calls are found by the plain address through their hashed reference.
    assert list(client.get(url, {"q": "a@example.com"}).context["cl"].result_list) == [call]
    detail = client.get(f"{url}{call.pk}/change/")
    assert detail.status_code == 200 and b'name="_save"' not in detail.content
    assert client.get(f"{url}add/").status_code == 403
    assert client.post(f"{url}{call.pk}/delete/", {"post": "yes"}).status_code == 403
    assert PeruriCall.objects.count() == 2
