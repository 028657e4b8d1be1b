"""Parsing of every documented reply, of gateway errors, template descriptions, non-JSON bodies and
timeouts, and what each error tells the caller."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import requests
import responses
import urllib3
from urllib3.exceptions import MaxRetryError, NewConnectionError

from peruri import (
    Ack,
    CallRecord,
    PeruriAuthError,
    PeruriClient,
    PeruriConfig,
    PeruriContractError,
    PeruriError,
    PeruriPending,
    PeruriRejected,
    PeruriTransient,
    Signer,
)

from .conftest import API_KEY, FJS, JWT_URL, PDF, SYSTEM_ID, calls_to, ok

B64 = base64.b64encode(PDF).decode()
TOKEN = "d76a911c945c4039a290555504bf55ce"
GATEWAY_UNAUTHORIZED = {
    "Exception": "API Gateway encountered an error. Error Message: Unauthorized application request. Request Details: ..."
}


def url(operation: str) -> str:
    return FJS + f"{operation}/v1"


# --- documented "0" replies -------------------------------------------------------------------


def test_activate_returns_the_description(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(
        responses.POST, url("activation"), json=ok(desc="Sukses aktivasi akun, silakan lanjutkan proses verifikasi")
    )
    assert api.activate(email="a@example.com").description.startswith("Sukses aktivasi akun")


@pytest.mark.parametrize(
    ("operation", "call"),
    [
        (
            "registration",
            lambda c: c.register(
                name="A",
                phone="0812",
                email="a@example.com",
                ktp="3174012345678901",
                ktp_photo=b"\xff\xd8 jpeg",
                address="Jl. A",
                city="Bogor",
                province="Jawa Barat",
                gender="F",
                place_of_birth="Bogor",
                date_of_birth="01/01/1990",
            ),
        ),
        ("videoVerification", lambda c: c.verify_video(email="a@example.com", video=b"webm")),
        ("sendSpeciment", lambda c: c.send_specimen(email="a@example.com", image=b"png")),
    ],
)
def test_operations_that_reply_with_codes_only_return_an_ack(
    api: PeruriClient, authed: responses.RequestsMock, operation: str, call: Callable[[PeruriClient], Ack]
) -> None:
    authed.add(responses.POST, url(operation), json=ok(desc="Success"))
    result = call(api)
    assert isinstance(result, Ack) and result.description == "Success"


def test_check_certificate_keeps_the_raw_is_expired_value(api: PeruriClient, authed: responses.RequestsMock) -> None:
    data = {"email": "a@example.com", "phone": "0812", "nik": "3174012345678901", "isExpired": "2"}
    authed.add(responses.POST, url("checkCertificate"), json=ok(data))
    status = api.check_certificate(email="a@example.com")
    assert (status.email, status.phone, status.nik, status.is_expired) == (
        "a@example.com",
        "0812",
        "3174012345678901",
        "2",
    )
    assert status.valid is False


def test_check_certificate_without_data_still_means_issued(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, url("checkCertificate"), json=ok())
    status = api.check_certificate(email="a@example.com")
    assert status.valid and status.is_expired is None


def test_send_document_returns_the_order_id(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, url("sendDocument"), json=ok({"orderId": "2965"}, "Success Upload Document"))
    assert api.send_document(email="a@example.com", file_name="a.pdf", pdf=PDF).order_id == "2965"


def test_send_document_accepts_an_order_id_in_a_one_element_list(
    api: PeruriClient, authed: responses.RequestsMock
) -> None:
    authed.add(responses.POST, url("sendDocument"), json=ok([{"orderId": 2965}]))
    assert api.send_document(email="a@example.com", file_name="a.pdf", pdf=PDF).order_id == "2965"


def test_view_document_decodes_the_pdf_and_coordinate_flag(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, url("viewDocument"), json=ok({"base64Document": B64, "signer": "1"}))
    viewed = api.view_document(order_id="2965")
    assert viewed.pdf == PDF and viewed.coordinates_set
    assert "base64" not in repr(viewed) and B64[:20] not in repr(viewed)


def test_get_otp_returns_the_token_phone_and_system_id(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, url("getOtp"), json=ok({"token": TOKEN, "systemId": "PERURI", "phone": "082326068898"}))
    otp = api.get_otp(order_id="2965")
    assert (otp.token, otp.system_id, otp.phone) == (TOKEN, "PERURI", "082326068898")
    assert TOKEN not in repr(otp)


def test_sign_returns_an_ack(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, url("signing"), json=ok())
    assert api.sign(order_id="2965", otp_code="651129", token=TOKEN).description == "Success"


@pytest.mark.parametrize(
    ("data", "status", "final"),
    [
        ({"orderId": "2965", "status": "SIGNED"}, "SIGNED", True),
        ({"orderId": "2965", "status": "WAITING_SIGNATURE"}, "WAITING_SIGNATURE", False),
        ({"orderId": "2965", "status": "SOMETHING_NEW"}, "SOMETHING_NEW", False),
        (None, None, False),
    ],
)
def test_check_document_status_treats_unknown_or_missing_status_as_not_final(
    api: PeruriClient, authed: responses.RequestsMock, data: dict[str, str] | None, status: str | None, final: bool
) -> None:
    authed.add(responses.POST, url("checkDocumentStatus"), json=ok(data))
    result = api.check_document_status(order_id="2965")
    assert (result.order_id, result.status, result.is_final) == ("2965", status, final)


def test_download_document_returns_pdf_bytes(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, url("downloadDocument"), json=ok({"base64Document": B64}))
    assert api.download_document(order_id="2965") == PDF


def test_download_document_handles_pretty_printed_json_and_keys_in_any_order(
    api: PeruriClient, authed: responses.RequestsMock
) -> None:
    body = "\n".join(
        [
            "{",
            '  "data" : {',
            f'    "base64Document" :  "{B64}"',
            "  },",
            '  "resultDesc": "Success",',
            '  "resultCode": "0"',
            "}",
        ]
    )
    authed.add(responses.POST, url("downloadDocument"), body=body, content_type="application/json")
    assert api.download_document(order_id="2965") == PDF


def test_download_document_handles_escaped_slashes(api: PeruriClient, authed: responses.RequestsMock) -> None:
    pdf = PDF + b"\xff\xff\xff"  # base64 with "/" characters, which some JSON encoders escape
    encoded = base64.b64encode(pdf).decode()
    assert "/" in encoded
    escaped = encoded.replace("/", "\\/")
    body = '{"resultCode":"0","resultDesc":"Success","data":{"base64Document":"' + escaped + '"}}'
    authed.add(responses.POST, url("downloadDocument"), body=body, content_type="application/json")
    assert api.download_document(order_id="2965") == pdf


def test_download_document_ignores_the_key_name_inside_another_string(
    api: PeruriClient, authed: responses.RequestsMock
) -> None:
    body = {"resultCode": "0", "resultDesc": 'see "base64Document":"QUJD"', "data": {"base64Document": B64}}
    authed.add(responses.POST, url("downloadDocument"), body=json.dumps(body), content_type="application/json")
    assert api.download_document(order_id="2965") == PDF


@pytest.mark.parametrize(
    "data",
    [
        {"base64Document": base64.b64encode(b"<html>not a pdf</html>").decode()},
        {"base64Document": B64[:-2] + "!!"},
        {"base64Document": B64[:40] + "\n" + B64[40:]},
        {"base64Document": "data:application/pdf;base64," + B64},
        {"base64Document": ""},
        {},
        None,
    ],
    ids=["not-a-pdf", "bad-characters", "line-break", "data-url", "empty", "missing", "no-data"],
)
def test_download_document_refuses_anything_but_strict_base64_of_a_pdf(
    api: PeruriClient, authed: responses.RequestsMock, data: object
) -> None:
    authed.add(responses.POST, url("downloadDocument"), json=ok(data))
    with pytest.raises(PeruriContractError) as info:
        api.download_document(order_id="2965")
    assert not info.value.retryable and not info.value.outcome_unknown


def test_send_document_tier_returns_the_order_id(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, url("sendDocumentTier"), json=ok({"orderId": "7492"}))
    sent = api.send_document_tier(uploader="u@example.com", file_name="1.pdf", pdf=PDF, signer_emails=["a@example.com"])
    assert sent.order_id == "7492"


def test_sign_tier_returns_the_next_signers_order_id(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, url("signingTier"), json=ok({"orderIdNextSigner": "7493"}))
    signer = Signer(1, 454, 45, 529, 116)
    assert api.sign_tier(order_id="7492", otp_code="651129", token=TOKEN, signer=signer).next_order_id == "7493"
    authed.replace(responses.POST, url("signingTier"), json=ok())
    assert api.sign_tier(order_id="7493", otp_code="651129", token=TOKEN, signer=signer).next_order_id is None


def test_send_document_bulk_returns_one_order_id_per_file(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, url("sendDocumentBulk"), json=ok([{"orderId": "3845"}, {"orderId": "3846"}]))
    sent = api.send_document_bulk(email="a@example.com", files=[("1.pdf", PDF), ("2.pdf", PDF)])
    assert sent.order_ids == ("3845", "3846")


def test_send_document_bulk_with_too_few_order_ids_is_a_contract_error(
    api: PeruriClient, authed: responses.RequestsMock
) -> None:
    authed.add(responses.POST, url("sendDocumentBulk"), json=ok([{"orderId": "3845"}]))
    with pytest.raises(PeruriContractError) as info:
        api.send_document_bulk(email="a@example.com", files=[("1.pdf", PDF), ("2.pdf", PDF)])
    assert info.value.outcome_unknown  # the documents were probably uploaded: reconcile


def test_set_signature_returns_an_ack(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, url("setSignature"), json=ok())
    assert api.set_signature(order_id="7492", signer=Signer(1, 454, 45, 529, 116)).description == "Success"


def test_get_otp_bulk_returns_the_bulk_order_id(api: PeruriClient, authed: responses.RequestsMock) -> None:
    data = {"token": TOKEN, "systemId": "PERURI", "phone": "082326068898", "orderIdBulk": "222"}
    authed.add(responses.POST, url("getOtpBulk"), json=ok(data))
    otp = api.get_otp_bulk(order_ids=["3845"])
    assert (otp.token, otp.order_id_bulk, otp.phone) == (TOKEN, "222", "082326068898")


def test_sign_bulk_returns_the_signed_documents(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, url("signingBulk"), json=ok([{"orderId": "3851", "fileName": "3851_demo1.pdf"}]))
    signed = api.sign_bulk(order_id_bulk="225", otp_code="651129", token=TOKEN)
    assert [(d.order_id, d.file_name) for d in signed.documents] == [("3851", "3851_demo1.pdf")]


def test_set_key_parses_the_expiry_as_jakarta_time(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, url("setKey"), json=ok({"expiredDate": "2024-05-01 10:30:00"}))
    result = api.set_key(key="p3rur1", minutes=30)
    assert result.expired_date == "2024-05-01 10:30:00"
    assert result.expires_at == datetime(2024, 5, 1, 3, 30, tzinfo=UTC)


def test_sign_system_returns_an_ack(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, url("signingSystem"), json=ok())
    assert api.sign_system(order_ids=["3214", "3215", "3216"], key="p3rur1").description == "Success"


# --- "0" replies missing their data: contract errors ------------------------------------------


@pytest.mark.parametrize(
    ("operation", "call", "unknown"),
    [
        ("sendDocument", lambda c: c.send_document(email="a@example.com", file_name="a.pdf", pdf=PDF), True),
        (
            "sendDocumentTier",
            lambda c: c.send_document_tier(
                uploader="a@example.com", file_name="a.pdf", pdf=PDF, signer_emails=["b@example.com"]
            ),
            True,
        ),
        ("getOtp", lambda c: c.get_otp(order_id="1"), True),
        ("getOtpBulk", lambda c: c.get_otp_bulk(order_ids=["1"]), True),
        ("viewDocument", lambda c: c.view_document(order_id="1"), False),
    ],
)
def test_a_zero_reply_without_its_data_is_a_contract_error(
    api: PeruriClient,
    authed: responses.RequestsMock,
    operation: str,
    call: Callable[[PeruriClient], object],
    unknown: bool,
) -> None:
    authed.add(responses.POST, url(operation), json=ok({"somethingElse": "x"}))
    with pytest.raises(PeruriContractError) as info:
        call(api)
    assert info.value.outcome_unknown is unknown
    assert info.value.retryable is False
    assert len(calls_to(authed, url(operation))) == 1


# --- non-"0" result codes ---------------------------------------------------------------------


def test_a_template_result_desc_is_kept_with_its_code(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(
        responses.POST, url("signing"), json={"resultCode": "4012", "resultDesc": "%docSigningOutput/errorMessage%"}
    )
    with pytest.raises(PeruriRejected) as info:
        api.sign(order_id="2965", otp_code="651129", token=TOKEN)
    err = info.value
    assert (err.code, err.description, err.http_status) == ("4012", "%docSigningOutput/errorMessage%", 200)
    assert err.description_is_template and "4012" in str(err)
    assert not err.retryable and not err.pending and not err.outcome_unknown


@pytest.mark.parametrize("code", ["01", "1002", "4026", "F", "99999"])
def test_any_other_code_is_a_permanent_rejection_that_keeps_its_code(
    api: PeruriClient, authed: responses.RequestsMock, code: str
) -> None:
    authed.add(responses.POST, url("signing"), json={"resultCode": code, "resultDesc": "Gagal"})
    with pytest.raises(PeruriRejected) as info:
        api.sign(order_id="2965", otp_code="651129", token=TOKEN)
    assert type(info.value) is PeruriRejected
    assert info.value.code == code and not info.value.retryable


def test_1040_is_pending_not_a_failure(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(
        responses.POST, url("videoVerification"), json={"resultCode": "1040", "resultDesc": "Sedang diverifikasi"}
    )
    with pytest.raises(PeruriPending) as info:
        api.verify_video(email="a@example.com", video=b"webm")
    err = info.value
    assert err.pending and isinstance(err, PeruriRejected) and err.code == "1040"
    assert not err.retryable  # do not re-send the video: poll check_certificate


@pytest.mark.parametrize("code", ["4003", "4004"])
def test_signing_worker_unavailable_is_transient_and_was_not_applied(
    api: PeruriClient, authed: responses.RequestsMock, records: list[CallRecord], code: str
) -> None:
    authed.add(responses.POST, url("signing"), json={"resultCode": code, "resultDesc": "Worker unavailable"})
    with pytest.raises(PeruriTransient) as info:
        api.sign(order_id="2965", otp_code="651129", token=TOKEN)
    assert info.value.code == code and info.value.retryable and not info.value.outcome_unknown
    assert len(calls_to(authed, url("signing"))) == 1  # never re-sent by the client
    assert records[-1].outcome == "transient" and records[-1].result_code == code


def test_result_code_sent_as_a_number_is_understood(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, url("signing"), json={"resultCode": 0, "resultDesc": "Success"})
    assert api.sign(order_id="2965", otp_code="651129", token=TOKEN).description == "Success"


# --- gateway errors, HTTP errors, non-JSON bodies ---------------------------------------------


@pytest.mark.parametrize("status", [401, 500])
def test_gateway_unauthorized_after_one_refresh_is_an_auth_error(
    api: PeruriClient, authed: responses.RequestsMock, status: int
) -> None:
    authed.add(responses.POST, url("sendDocument"), json=GATEWAY_UNAUTHORIZED, status=status)
    with pytest.raises(PeruriAuthError) as info:
        api.send_document(email="a@example.com", file_name="a.pdf", pdf=PDF)
    assert info.value.http_status == status and not info.value.retryable
    assert "Unauthorized" in str(info.value)
    assert len(calls_to(authed, JWT_URL)) == 2  # the first JWT, then exactly one refresh
    assert len(calls_to(authed, url("sendDocument"))) == 2  # the request, then exactly one retry


def test_a_bad_api_key_fails_the_jwt_call_without_looping(api: PeruriClient, rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, JWT_URL, json=GATEWAY_UNAUTHORIZED, status=401)
    with pytest.raises(PeruriAuthError):
        api.get_otp(order_id="1")
    assert len(rsps.calls) == 1


def test_a_non_auth_gateway_error_on_a_create_call_is_an_unknown_outcome(
    api: PeruriClient, authed: responses.RequestsMock
) -> None:
    body = {"Exception": "API Gateway encountered an error. Error Message: Read timed out"}
    authed.add(responses.POST, url("sendDocument"), json=body, status=500)
    with pytest.raises(PeruriTransient) as info:
        api.send_document(email="a@example.com", file_name="a.pdf", pdf=PDF)
    err = info.value
    assert err.outcome_unknown and not err.retryable and err.http_status == 500
    assert "Read timed out" in str(err) and "reconcile" in str(err)
    assert len(calls_to(authed, url("sendDocument"))) == 1


def test_a_5xx_html_page_on_a_read_is_retried_then_transient(
    api: PeruriClient, authed: responses.RequestsMock, sleeps: list[float]
) -> None:
    authed.add(responses.POST, url("checkDocumentStatus"), body="<html>502 Bad Gateway</html>", status=502)
    with pytest.raises(PeruriTransient) as info:
        api.check_document_status(order_id="1")
    assert info.value.retryable and not info.value.outcome_unknown and "not JSON" in str(info.value)
    assert len(calls_to(authed, url("checkDocumentStatus"))) == 3  # 1 + read_retries (2)
    assert len(sleeps) == 2 and all(0 <= s <= 5.0 for s in sleeps)


def test_a_non_json_200_on_a_sign_call_is_an_unknown_outcome(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, url("signing"), body="OK", status=200)
    with pytest.raises(PeruriTransient) as info:
        api.sign(order_id="1", otp_code="123456", token=TOKEN)
    assert info.value.outcome_unknown


def test_a_4xx_without_peruri_format_was_not_applied(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, url("signing"), body="Too Many Requests", status=429)
    with pytest.raises(PeruriTransient) as info:
        api.sign(order_id="1", otp_code="123456", token=TOKEN)
    assert info.value.retryable and not info.value.outcome_unknown


def test_reads_recover_after_transient_errors(
    api: PeruriClient, authed: responses.RequestsMock, sleeps: list[float]
) -> None:
    authed.add(responses.POST, url("checkCertificate"), body=requests.ConnectionError("reset"))
    authed.add(responses.POST, url("checkCertificate"), json={"Exception": "Backend unavailable"}, status=503)
    authed.add(responses.POST, url("checkCertificate"), json=ok())
    assert api.check_certificate(email="a@example.com").valid
    assert len(calls_to(authed, url("checkCertificate"))) == 3 and len(sleeps) == 2


def test_read_retries_are_configurable(
    make_client: Callable[..., PeruriClient], authed: responses.RequestsMock
) -> None:
    api = make_client(config=PeruriConfig(api_key=API_KEY, system_id=SYSTEM_ID, read_retries=0))
    authed.add(responses.POST, url("downloadDocument"), body=requests.ReadTimeout("slow"))
    with pytest.raises(PeruriTransient):
        api.download_document(order_id="1")
    assert len(calls_to(authed, url("downloadDocument"))) == 1


def test_backoff_is_capped(
    make_client: Callable[..., PeruriClient], authed: responses.RequestsMock, sleeps: list[float]
) -> None:
    config = PeruriConfig(
        api_key=API_KEY, system_id=SYSTEM_ID, read_retries=6, retry_backoff=1.0, retry_backoff_max=2.0
    )
    api = make_client(config=config)
    authed.add(responses.POST, url("viewDocument"), body=requests.ReadTimeout("slow"))
    with pytest.raises(PeruriTransient):
        api.view_document(order_id="1")
    assert len(sleeps) == 6 and max(sleeps) <= 2.0


# --- timeouts and connection errors -----------------------------------------------------------


def _new_connection_error() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, "/", reason))  # type: ignore[arg-type]


def _tls_error(cause: ssl.SSLError) -> requests.exceptions.SSLError:
    """What requests raises for a TLS failure: its SSLError around urllib3's, around the ssl error."""
    return requests.exceptions.SSLError(MaxRetryError(None, "/", urllib3.exceptions.SSLError(cause)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "unknown"),
    [
        (requests.ReadTimeout("Read timed out. (read timeout=60)"), True),
        (requests.ConnectionError("('Connection aborted.', ConnectionResetError(104))"), True),
        (requests.exceptions.ChunkedEncodingError("Connection broken"), True),
        (requests.ConnectTimeout("Connect timed out"), False),
        (_tls_error(ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED]")), False),
        # A TLS failure while waiting for the reply (here an abrupt EOF) is an SSLError too.
        (_tls_error(ssl.SSLEOFError(8, "EOF occurred in violation of protocol")), True),
        (requests.exceptions.SSLError("TLS failure of unknown kind"), True),
        (_new_connection_error(), False),
    ],
    ids=[
        "read-timeout",
        "reset",
        "broken-body",
        "connect-timeout",
        "bad-certificate",
        "tls-eof",
        "tls-other",
        "refused",
    ],
)
@pytest.mark.parametrize("operation", ["send_document", "sign", "sign_system"])
def test_create_and_sign_calls_are_never_retried_and_say_if_they_may_have_happened(
    api: PeruriClient, authed: responses.RequestsMock, error: Exception, unknown: bool, operation: str
) -> None:
    cases: dict[str, tuple[str, Callable[[], object]]] = {
        "send_document": ("sendDocument", lambda: api.send_document(email="a@example.com", file_name="a.pdf", pdf=PDF)),
        "sign": ("signing", lambda: api.sign(order_id="1", otp_code="123456", token=TOKEN)),
        "sign_system": ("signingSystem", lambda: api.sign_system(order_ids=["1"], key="k" * 32)),
    }
    path, call = cases[operation]
    authed.add(responses.POST, url(path), body=error)
    with pytest.raises(PeruriTransient) as info:
        call()
    assert info.value.outcome_unknown is unknown
    assert info.value.retryable is not unknown
    assert len(calls_to(authed, url(path))) == 1


def test_a_read_timeout_on_a_read_is_retryable(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, url("checkDocumentStatus"), body=requests.ReadTimeout("slow"))
    with pytest.raises(PeruriTransient) as info:
        api.check_document_status(order_id="1")
    assert info.value.retryable and not info.value.outcome_unknown and "timed out" in str(info.value)


def test_every_error_is_a_peruri_error_with_a_retryable_flag() -> None:
    for cls in (PeruriAuthError, PeruriContractError, PeruriTransient, PeruriError):
        err = cls("x")
        assert isinstance(err, PeruriError) and isinstance(err.retryable, bool)
    assert PeruriRejected("x", code="1", description="d").retryable is False


def test_a_reply_larger_than_the_limit_is_refused(
    make_client: Callable[..., PeruriClient], authed: responses.RequestsMock
) -> None:
    api = make_client(config=PeruriConfig(api_key=API_KEY, system_id=SYSTEM_ID, max_response_bytes=1000))
    authed.add(responses.POST, url("downloadDocument"), json=ok({"base64Document": B64 * 3}))
    with pytest.raises(PeruriContractError, match="larger|too large"):
        api.download_document(order_id="1")


def test_a_failing_jwt_fetch_is_not_retried_again_by_the_read_that_needed_it(
    api: PeruriClient, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.add(responses.POST, JWT_URL, body=requests.ConnectTimeout("no route"))
    with pytest.raises(PeruriTransient) as info:
        api.check_document_status(order_id="1")
    assert info.value.operation == "get_jwt" and info.value.retryable
    assert len(calls_to(rsps, JWT_URL)) == 3  # the JWT call's own 1 + 2 retries, not 3 x 3
    assert rsps.calls and all(c.request.url == JWT_URL for c in rsps.calls)


def test_http_401_is_auth_whatever_the_body(api: PeruriClient, authed: responses.RequestsMock) -> None:
    authed.add(responses.POST, url("signing"), json={"resultCode": "401", "resultDesc": "Unauthorized"}, status=401)
    with pytest.raises(PeruriAuthError):
        api.sign(order_id="1", otp_code="123456", token=TOKEN)
    assert len(calls_to(authed, url("signing"))) == 2
