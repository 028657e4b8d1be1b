"""Log canary: known secret and personal values go through every operation, success and failure,
and none of them reaches the log output, a CallRecord's text fields, or an error message."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
import requests
import responses

from peruri import CallRecord, PeruriClient, PeruriConfig, PeruriError, Signer

from .conftest import FJS, JWT_URL, body_json, ok

API_KEY = "CANARY-API-KEY-0000-1111-222233334444"
JWT = "eyCANARY.JWT-TOKEN-VALUE.sig"
OTP = "918273"
OTP_TOKEN = "c4a7a7c4a7a7c4a7a7c4a7a7c4a7a7c4"
HMAC_KEY = "CANARY-HMAC-KEY-6f1e2d3c4b5a69788796a5b4c3d2e1f0"
PASSWORD = "CANARY-PASSWORD-Zx9!"
EMAIL = "canary.person@example.com"
KTP = "3174999988887777"
NPWP = "998877665544332"
PHONE = "081299998888"
PDF = b"%PDF-1.7\nCANARY-PDF-CONTENT " + b"\x00\x01\xfe" * 50
PHOTO = b"\xff\xd8CANARY-KTP-PHOTO" * 20
VIDEO = b"\x1aE\xdf\xa3CANARY-FACE-VIDEO" * 20

SECRETS = {
    "api key": API_KEY,
    "jwt": JWT,
    "otp": OTP,
    "otp token": OTP_TOKEN,
    "hmac key": HMAC_KEY,
    "password": PASSWORD,
    "email": EMAIL,
    "ktp": KTP,
    "npwp": NPWP,
    "phone": PHONE,
    "pdf bytes": "CANARY-PDF-CONTENT",
    "pdf base64": base64.b64encode(PDF).decode()[:24],
    "photo base64": base64.b64encode(PHOTO).decode()[:24],
    "video base64": base64.b64encode(VIDEO).decode()[:24],
}

SIGNER = Signer(1, 454, 45, 529, 116, location="JAKARTA", reason="setuju")


def every_operation(c: PeruriClient) -> list[Callable[[], Any]]:
    return [
        lambda: c.register(
            name="Canary Person",
            phone=PHONE,
            email=EMAIL,
            password=PASSWORD,
            ktp=KTP,
            ktp_photo=PHOTO,
            npwp=NPWP,
            npwp_photo=PHOTO,
            address="Jl. Canary",
            city="Jakarta",
            province="DKI",
            gender="F",
            place_of_birth="Bogor",
            date_of_birth="01/01/1990",
        ),
        lambda: c.activate(email=EMAIL),
        lambda: c.verify_video(email=EMAIL, video=VIDEO),
        lambda: c.send_specimen(email=EMAIL, image=PHOTO),
        lambda: c.check_certificate(email=EMAIL),
        lambda: c.send_document(email=EMAIL, file_name="a.pdf", pdf=PDF, signers=[SIGNER]),
        lambda: c.view_document(order_id="2965"),
        lambda: c.get_otp(order_id="2965"),
        lambda: c.sign(order_id="2965", otp_code=OTP, token=OTP_TOKEN),
        lambda: c.check_document_status(order_id="2965"),
        lambda: c.download_document(order_id="2965"),
        lambda: c.send_document_tier(uploader=EMAIL, file_name="a.pdf", pdf=PDF, signer_emails=[EMAIL]),
        lambda: c.sign_tier(order_id="2965", otp_code=OTP, token=OTP_TOKEN, signer=SIGNER),
        lambda: c.send_document_bulk(email=EMAIL, files=[("a.pdf", PDF)], signers=[SIGNER]),
        lambda: c.set_signature(order_id="2965", signer=SIGNER),
        lambda: c.get_otp_bulk(order_ids=["2965"]),
        lambda: c.sign_bulk(order_id_bulk="222", otp_code=OTP, token=OTP_TOKEN),
        lambda: c.set_key(key=HMAC_KEY, minutes=30),
        lambda: c.sign_system(order_ids=["2965"], key=HMAC_KEY),
    ]


OPERATION_PATHS = [
    "registration", "activation", "videoVerification", "sendSpeciment", "checkCertificate", "sendDocument",
    "viewDocument", "getOtp", "signing", "checkDocumentStatus", "downloadDocument", "sendDocumentTier",
    "signingTier", "sendDocumentBulk", "setSignature", "getOtpBulk", "signingBulk", "setKey", "signingSystem",
]  # fmt: skip

GOOD_DATA = {
    "orderId": "2965",
    "base64Document": base64.b64encode(PDF).decode(),
    "token": OTP_TOKEN,
    "orderIdBulk": "222",
    "phone": PHONE,
    "email": EMAIL,
    "nik": KTP,
}


def echoing(status: int, key: str, base: dict[str, str]) -> Callable[[Any], tuple[int, dict[str, str], str]]:
    """A server that echoes every short value of the request, and its credentials, in its reply."""

    def values(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [v for item in node.values() for v in values(item)]
        if isinstance(node, list):
            return [v for item in node for v in values(item)]
        return [node] if isinstance(node, str) and len(node) < 200 else []

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        said = values(body_json(request)) + [request.headers["x-Gateway-APIKey"], request.headers["Authorization"]]
        return status, {}, json.dumps({**base, key: "Unauthorized: " + " ".join(said)})

    return callback


# A log record's own numbers: the OTP canary's six digits turn up in a timestamp now and then
# (relativeCreated=6290.612459182739 contains 918273), which is no leak.
_BOOKKEEPING = frozenset({"created", "msecs", "relativeCreated", "thread", "process", "lineno", "levelno"})


def leaks(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


@pytest.mark.parametrize(
    "failure",
    ["success", "rejected-echoing-secrets", "gateway-echoing-secrets", "timeout", "html-500"],
)
def test_no_secret_or_personal_value_reaches_the_logs(
    rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    records: list[CallRecord] = []
    client = PeruriClient(
        PeruriConfig(api_key=API_KEY, system_id="PERURI", read_retries=1),
        on_call=records.append,
        sleep=lambda s: None,
    )
    rsps.add(responses.POST, JWT_URL, json=ok({"jwt": JWT, "expiredDate": "2999-01-01 00:00:00"}))
    echo = f"{API_KEY} {JWT} {OTP} {OTP_TOKEN} {HMAC_KEY} {PASSWORD}"
    for path in OPERATION_PATHS:
        url = FJS + f"{path}/v1"
        if failure == "success":
            data: Any = [GOOD_DATA] if path in ("sendDocumentBulk", "signingBulk") else GOOD_DATA
            rsps.add(responses.POST, url, json=ok(data))
        elif failure == "rejected-echoing-secrets":
            rsps.add_callback(responses.POST, url, callback=echoing(200, "resultDesc", {"resultCode": "4026"}))
        elif failure == "gateway-echoing-secrets":
            rsps.add_callback(responses.POST, url, callback=echoing(401, "Exception", {}))
        elif failure == "timeout":
            rsps.add(responses.POST, url, body=requests.ReadTimeout(f"timed out {echo}"))
        else:
            rsps.add(responses.POST, url, body=f"<html>{echo}</html>", status=500)

    caplog.set_level(logging.DEBUG)  # everything, urllib3 included
    messages: list[str] = []
    for call in every_operation(client):
        try:
            call()
        except PeruriError as exc:
            # Error messages are shown to staff and end up in task results: they must be clean
            # too (a requests exception chained as __cause__ is not rendered by our code).
            messages += [str(exc), repr(exc), str(exc.description or "")]

    assert len(records) >= len(OPERATION_PATHS)
    log_text = "\n".join(
        [r.getMessage() for r in caplog.records]
        + [str(v) for r in caplog.records for k, v in r.__dict__.items() if k not in _BOOKKEEPING]
    )
    assert "send_document" in log_text and "sent=" in log_text  # the logs did capture our calls
    assert leaks(log_text) == []
    assert leaks("\n".join(messages)) == []
    # The Django side may store the e-mail of a call (staff-only); nothing else secret is in a record.
    record_text = "\n".join(repr(r).replace(EMAIL, "") for r in records)
    assert leaks(record_text) == []
