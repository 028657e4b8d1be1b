"""Signer and argument checks before sending, configuration, HMAC session, timeouts, hooks."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
import responses

from peruri import (
    PRODUCTION_BASE_URL,
    SANDBOX_BASE_URL,
    CallRecord,
    PeruriClient,
    PeruriConfig,
    PeruriConfigError,
    PeruriRejected,
    PeruriTransient,
    PeruriUnavailable,
    Signer,
    signing_session,
)

from .conftest import API_KEY, FJS, JWT_URL, PDF, SYSTEM_ID, calls_to, ok

# --- Signer -------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [87.5, 87.0, True, False, "87", None])
def test_signer_rejects_non_integer_coordinates(bad: Any) -> None:
    with pytest.raises(TypeError):
        Signer(1, bad, 45, 529, 116)
    with pytest.raises(TypeError):
        Signer(bad, 454, 45, 529, 116)


@pytest.mark.parametrize(
    "args",
    [
        (0, 454, 45, 529, 116),  # pages are 1-based
        (1, 529, 45, 454, 116),  # lower-left right of upper-right
        (1, 454, 116, 529, 45),  # lower-left above upper-right
        (1, 454, 45, 454, 116),  # zero width
        (1, -1, 45, 529, 116),  # negative
        (1, 454, 45, 1000, 116),  # more than the 3 characters of the field table
    ],
)
def test_signer_rejects_impossible_boxes(args: tuple[int, int, int, int, int]) -> None:
    with pytest.raises(ValueError):
        Signer(*args)


def test_signer_rejects_unknown_certification_levels_and_long_texts() -> None:
    with pytest.raises(ValueError):
        Signer(1, 1, 1, 2, 2, certification_level="CERTIFIED")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Signer(1, 1, 1, 2, 2, reason="x" * 101)


def test_signer_wire_format_is_all_strings() -> None:
    wire = Signer(3, 1, 2, 30, 40, visible=False, certification_level="NO_CHANGES_ALLOWED", location="Bogor").to_wire()
    assert wire == {
        "isVisualSign": "NO",
        "lowerLeftX": "1",
        "lowerLeftY": "2",
        "upperRightX": "30",
        "upperRightY": "40",
        "page": "3",
        "certificateLevel": "NO_CHANGES_ALLOWED",
        "varLocation": "Bogor",
        "varReason": "",
    }


# --- arguments are checked before anything is sent --------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.sign(order_id="1", otp_code="12345", token="t"),
        lambda c: c.sign(order_id="1", otp_code="12345a", token="t"),
        lambda c: c.sign(order_id="1", otp_code=123456, token="t"),
        lambda c: c.sign(order_id="", otp_code="123456", token="t"),
        lambda c: c.send_document(email="a@example.com", file_name="a.pdf", pdf=b"<html>"),
        lambda c: c.send_document(email="a@example.com", file_name="a.pdf", pdf=b""),
        lambda c: c.send_document(email="a@example.com", file_name="x" * 101 + ".pdf", pdf=PDF),
        lambda c: c.send_document(email="not-an-email", file_name="a.pdf", pdf=PDF),
        lambda c: c.send_document(email="a@example.com", file_name="a.pdf", pdf="%PDF-as text"),
        lambda c: c.send_document(email="a@example.com", file_name="a.pdf", pdf=PDF, signers=[{"page": "1"}]),
        lambda c: c.set_key(key="k", minutes=True),
        lambda c: c.set_key(key="k", minutes=0),
        lambda c: c.set_key(key="k" * 101, minutes=30),
        lambda c: c.get_otp_bulk(order_ids=[]),
        lambda c: c.get_otp_bulk(order_ids="3845"),
        lambda c: c.send_document_tier(uploader="a@example.com", file_name="a.pdf", pdf=PDF, signer_emails=[]),
        lambda c: c.send_document_bulk(email="a@example.com", files=[]),
        lambda c: c.register(
            name="A",
            phone="1",
            email="a@example.com",
            ktp="123",
            ktp_photo=b"x",
            address="a",
            city="c",
            province="p",
            gender="M",
            place_of_birth="p",
            date_of_birth="01/01/1990",
        ),
        lambda c: c.register(
            name="A",
            phone="1",
            email="a@example.com",
            ktp="3174012345678901",
            ktp_photo=b"x",
            address="a",
            city="c",
            province="p",
            gender="L",
            place_of_birth="p",
            date_of_birth="01/01/1990",
        ),
        lambda c: c.register(
            name="A",
            phone="1",
            email="a@example.com",
            ktp="3174012345678901",
            ktp_photo=b"x",
            address="a",
            city="c",
            province="p",
            gender="M",
            place_of_birth="p",
            date_of_birth="1990-01-01",
        ),
    ],
)
def test_invalid_arguments_fail_before_any_request(
    api: PeruriClient, rsps: responses.RequestsMock, call: Callable[[PeruriClient], object]
) -> None:
    with pytest.raises((TypeError, ValueError)):
        call(api)
    assert len(rsps.calls) == 0


# --- configuration --------------------------------------------------------------------------


def test_config_repr_never_shows_the_api_key() -> None:
    config = PeruriConfig(api_key=API_KEY, system_id=SYSTEM_ID)
    assert API_KEY not in repr(config) and API_KEY not in str(config)
    assert API_KEY not in repr(PeruriClient(config))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"api_key": "", "system_id": "S"},
        {"api_key": "k", "system_id": " "},
        {"api_key": "k", "system_id": "S", "base_url": "ftp://example.com/"},
        {"api_key": "k", "system_id": "S", "endpoints": {"send_docment": "x/1.0/sendDocument/v1"}},
        {"api_key": "k", "system_id": "S", "endpoints": {"send_document": ""}},
        {"api_key": "k", "system_id": "S", "read_timeouts": {"video": 600}},
        {"api_key": "k", "system_id": "S", "connect_timeout": 0},
        {"api_key": "k", "system_id": "S", "connect_timeout": "5"},
        {"api_key": "k", "system_id": "S", "read_timeouts": {"get_otp": 0}},
        {"api_key": "k", "system_id": "S", "read_timeouts": {"get_otp": "12"}},
        {"api_key": "k", "system_id": "S", "read_timeouts": {"get_otp": True}},
        {"api_key": "k", "system_id": "S", "read_timeout_per_mb": -1},
        {"api_key": "k", "system_id": "S", "read_retries": -1},
    ],
)
def test_bad_configuration_raises_config_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(PeruriConfigError):
        PeruriConfig(**kwargs)


def test_the_jwt_path_defaults_to_productions_on_the_production_host() -> None:
    sandbox = PeruriConfig(api_key="k", system_id="S")
    assert sandbox.url("get_jwt") == SANDBOX_BASE_URL + "jwtSandbox/1.0/getJsonWebToken/v1"
    production = PeruriConfig(api_key="k", system_id="S", base_url=PRODUCTION_BASE_URL)
    assert production.url("get_jwt") == PRODUCTION_BASE_URL + "jwt/1.0/getJsonWebToken/v1"
    # The other operations keep the spec's namespace, also on the production host.
    assert production.url("sign") == PRODUCTION_BASE_URL + "digitalSignatureFullJwtSandbox/1.0/signing/v1"
    # An explicit override still wins.
    custom = PeruriConfig(
        api_key="k", system_id="S", base_url=PRODUCTION_BASE_URL, endpoints={"get_jwt": "jwtSandbox/1.0/x/v1"}
    )
    assert custom.url("get_jwt") == PRODUCTION_BASE_URL + "jwtSandbox/1.0/x/v1"


def test_config_is_frozen() -> None:
    config = PeruriConfig(api_key="k", system_id="S", endpoints={"get_jwt": "jwt/1.0/getJsonWebToken/v1"})
    with pytest.raises(AttributeError):
        config.api_key = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.endpoints["sign"] = "x"  # type: ignore[index]


def test_signing_session_matches_the_document_test_vector() -> None:
    assert (
        signing_session(["3214", "3215", "3216"], "p3rur1")
        == "1fdd4df75c0d0c6548e4c34baeceff2e926a9b5520e6ea393c821b7f3248d824"
    )


# --- timeouts ---------------------------------------------------------------------------------


def _timeout(rsps: responses.RequestsMock, url: str) -> tuple[float, float]:
    (call,) = calls_to(rsps, url)
    timeout = call.request.req_kwargs["timeout"]
    assert isinstance(timeout, tuple)
    return timeout


def test_every_call_has_a_connect_and_read_timeout_fit_for_its_operation(
    api: PeruriClient, authed: responses.RequestsMock
) -> None:
    for op in ("checkDocumentStatus", "videoVerification", "sendDocument"):
        authed.add(responses.POST, FJS + f"{op}/v1", json=ok({"orderId": "1"}))
    api.check_document_status(order_id="1")
    api.verify_video(email="a@example.com", video=b"v" * (10 * 1024 * 1024))
    api.send_document(email="a@example.com", file_name="a.pdf", pdf=PDF + b"0" * (50 * 1024 * 1024))
    assert _timeout(authed, JWT_URL) == (5.0, 30.0)
    assert _timeout(authed, FJS + "checkDocumentStatus/v1") == (5.0, 30.0)
    assert _timeout(authed, FJS + "videoVerification/v1")[1] >= 300  # minutes for e-KYC
    assert _timeout(authed, FJS + "sendDocument/v1")[1] == pytest.approx(60 + 2.0 * 50, abs=0.1)  # scaled by size


def test_read_timeouts_can_be_overridden_per_operation(
    make_client: Callable[..., PeruriClient], authed: responses.RequestsMock
) -> None:
    config = PeruriConfig(api_key=API_KEY, system_id=SYSTEM_ID, connect_timeout=3, read_timeouts={"get_otp": 12})
    authed.add(responses.POST, FJS + "getOtp/v1", json=ok({"token": "t" * 32}))
    make_client(config=config).get_otp(order_id="1")
    assert _timeout(authed, FJS + "getOtp/v1") == (3, 12)


# --- audit hook and circuit breaker ---------------------------------------------------------


def test_the_hook_receives_one_record_per_http_call(
    api: PeruriClient, authed: responses.RequestsMock, records: list[CallRecord]
) -> None:
    authed.add(responses.POST, FJS + "sendDocument/v1", json=ok({"orderId": "2965"}))
    authed.add(responses.POST, FJS + "signing/v1", json={"resultCode": "01", "resultDesc": "OTP salah"})
    api.send_document(email="a@example.com", file_name="a.pdf", pdf=PDF)
    with pytest.raises(PeruriRejected):
        api.sign(order_id="2965", otp_code="000000", token="t" * 32)
    jwt, send, sign = records
    assert (jwt.operation, jwt.outcome, jwt.result_code, jwt.http_status) == ("get_jwt", "ok", "0", 200)
    assert (send.operation, send.order_id, send.email, send.outcome) == ("send_document", "2965", "a@example.com", "ok")
    assert send.request_bytes > len(PDF) and send.duration_ms >= 0
    assert (sign.operation, sign.order_id, sign.result_code, sign.outcome, sign.error) == (
        "sign", "2965", "01", "rejected", "PeruriRejected",
    )  # fmt: skip


def test_a_failing_hook_does_not_break_the_call(
    make_client: Callable[..., PeruriClient], authed: responses.RequestsMock
) -> None:
    def broken(record: CallRecord) -> None:
        raise RuntimeError("database down")

    authed.add(responses.POST, FJS + "getOtp/v1", json=ok({"token": "t" * 32}))
    assert make_client(on_call=broken).get_otp(order_id="1").token == "t" * 32


class CountingBreaker:
    def __init__(self, open_: bool = False) -> None:
        self.open = open_
        self.failures: list[str] = []
        self.successes: list[str] = []

    def allow(self, operation: str) -> bool:
        return not self.open

    def record_success(self, operation: str) -> None:
        self.successes.append(operation)

    def record_failure(self, operation: str) -> None:
        self.failures.append(operation)


def test_an_open_breaker_fails_fast_without_sending(
    make_client: Callable[..., PeruriClient], rsps: responses.RequestsMock, records: list[CallRecord]
) -> None:
    api = make_client(circuit_breaker=CountingBreaker(open_=True))
    with pytest.raises(PeruriUnavailable) as info:
        api.send_document(email="a@example.com", file_name="a.pdf", pdf=io.BytesIO(PDF))
    assert isinstance(info.value, PeruriTransient) and info.value.retryable and not info.value.outcome_unknown
    assert len(rsps.calls) == 0
    assert records[-1].outcome == "unavailable"


def test_the_breaker_counts_transport_failures_not_rejections(
    make_client: Callable[..., PeruriClient], authed: responses.RequestsMock
) -> None:
    breaker = CountingBreaker()
    api = make_client(
        circuit_breaker=breaker, config=PeruriConfig(api_key=API_KEY, system_id=SYSTEM_ID, read_retries=0)
    )
    authed.add(responses.POST, FJS + "signing/v1", json={"resultCode": "01", "resultDesc": "OTP salah"})
    authed.add(responses.POST, FJS + "checkDocumentStatus/v1", body="bad gateway", status=502)
    with pytest.raises(PeruriRejected):
        api.sign(order_id="1", otp_code="000000", token="t" * 32)
    with pytest.raises(PeruriTransient):
        api.check_document_status(order_id="1")
    assert breaker.successes == ["get_jwt", "sign"]
    assert breaker.failures == ["check_document_status"]


def test_the_package_imports_nothing_from_django() -> None:
    import subprocess
    import sys
    from pathlib import Path

    code = "import sys, peruri; bad = [m for m in sys.modules if m.split('.')[0] == 'django']; assert not bad, bad"
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, env={"PYTHONPATH": str(root)})
