"""Single documents: Send, View, Get OTP, Signing, Check Document Status, Download."""

from __future__ import annotations

import base64
import datetime as dt
import re

import pytest
from django.utils import timezone

from sandbox.models import Order, Otp
from tests.sandbox.helpers import Api, b64, encrypted_pdf, pdf, signer


def test_the_documents_send_document_example_succeeds(api: Api, signer_email: str) -> None:
    # Page 27 of the document, with a real two-page PDF for "(base64 dokumen)".
    body = {
        "param": {
            "email": signer_email,
            "payload": {"fileName": "sample-dok.pdf", "base64Document": b64(pdf(2)), "signer": [signer(page="2")]},
            "systemId": api.system_id,
        }
    }
    reply = api.call("sendDocument", body)
    assert reply["resultCode"] == "0"
    assert reply["resultDesc"] == "Success Upload Document"
    assert re.fullmatch(r"\d+", reply["data"]["orderId"])
    request = api.outbox(signer_email)[0]
    assert request["kind"] == "SIGN_REQUEST" and request["orderId"] == reply["data"]["orderId"]
    assert "/webview/signing.php?orderId=" in request["link"]


def test_order_ids_are_sequential_strings(api: Api, signer_email: str) -> None:
    first = api.send_document(signer_email)
    second = api.send_document(signer_email)
    assert int(second) == int(first) + 1


def test_view_document_returns_the_pdf_and_whether_coordinates_are_set(api: Api, signer_email: str) -> None:
    document = pdf(1)
    without = api.send_document(signer_email, document)
    with_box = api.send_document(signer_email, document, signer=[signer()])
    reply = api.ok("viewDocument", {"param": {"orderId": without}})
    assert base64.b64decode(reply["data"]["base64Document"]) == document
    assert reply["data"]["signer"] == "0"
    assert api.ok("viewDocument", {"param": {"orderId": with_box}})["data"]["signer"] == "1"


def test_get_otp_returns_a_token_and_sends_a_six_digit_code(api: Api, signer_email: str) -> None:
    order_id = api.send_document(signer_email, signer=[signer()])
    reply = api.ok("getOtp", {"param": {"orderId": order_id}})
    assert set(reply["data"]) == {"token", "systemId", "phone"}
    assert re.fullmatch(r"[0-9a-f]{32}", reply["data"]["token"])
    assert reply["data"]["systemId"] == api.system_id
    assert reply["data"]["phone"] == "082326068898"
    message = api.outbox(signer_email)[0]
    assert message["kind"] == "OTP" and re.fullmatch(r"\d{6}", message["otp"])
    assert message["otp"] in message["text"] and message["phone"] == "082326068898"


def test_signing_with_coordinates_given_at_signing(api: Api, signer_email: str) -> None:
    order_id = api.send_document(signer_email)
    token, code = api.get_otp(order_id, signer_email)
    reply = api.call(
        "signing", {"requestSigning": {"orderId": order_id, "otpCode": code, "token": token, "signer": [signer()]}}
    )
    assert reply == {"resultCode": "0", "resultDesc": "Success"}


def test_status_goes_from_waiting_to_signed_and_download_waits_for_it(api: Api, signer_email: str) -> None:
    order_id = api.send_document(signer_email, signer=[signer()])
    status = api.ok("checkDocumentStatus", {"param": {"orderId": order_id}})
    assert status["data"] == {"orderId": order_id, "status": "WAITING_SIGNATURE"}
    early = api.call("downloadDocument", {"param": {"orderId": order_id}})
    assert early["resultCode"] == "4009" and "data" not in early
    api.sign(order_id, signer_email)
    assert api.ok("checkDocumentStatus", {"param": {"orderId": order_id}})["data"]["status"] == "SIGNED"
    assert api.download(order_id).startswith(b"%PDF")


def test_signing_twice_is_03(api: Api, signer_email: str) -> None:
    order_id = api.send_document(signer_email, signer=[signer()])
    api.sign(order_id, signer_email)
    assert api.call("getOtp", {"param": {"orderId": order_id}})["resultCode"] == "03"


def test_signing_without_coordinates_anywhere_is_4014(api: Api, signer_email: str) -> None:
    order_id = api.send_document(signer_email)
    token, code = api.get_otp(order_id, signer_email)
    reply = api.call("signing", {"requestSigning": {"orderId": order_id, "otpCode": code, "token": token}})
    assert reply["resultCode"] == "4014"
    # The OTP was not spent on a request that could not sign.
    api.ok("signing", {"requestSigning": {"orderId": order_id, "otpCode": code, "token": token, "signer": [signer()]}})


@pytest.mark.parametrize(
    ("box", "code"),
    [
        (signer(llx="87.5"), "4012"),
        (signer(ury="116,5"), "4012"),
        (signer(llx="-10"), "4012"),
        (signer(llx="abc"), "4012"),
        (signer(urx="600"), "4012"),  # A4 is 595 wide
        (signer(ury="900"), "4012"),  # and 842 high
        (signer(llx="529", urx="454"), "4012"),  # upside down
        (signer(page="3"), "4012"),  # the PDF has 2 pages
        (signer(page="0"), "4012"),
        (signer(urx="1000"), "1008"),  # the field tables allow 3 characters
        (signer(page="1000"), "1008"),
        (signer(lly="0045"), "1008"),
        (signer(llx=""), "4014"),
        ({k: v for k, v in signer().items() if k != "upperRightY"}, "4014"),
        (signer(isVisualSign="MAYBE"), "1008"),
        (signer(level="CERTIFIED"), "1008"),
        (signer(varLocation="J" * 101), "1008"),
        ({**signer(), "lowerLeftX": 454}, "1008"),
    ],
)
def test_send_document_validates_the_signer_object(api: Api, signer_email: str, box: dict, code: str) -> None:
    reply = api.call(
        "sendDocument",
        {
            "param": {
                "email": signer_email,
                "payload": {"fileName": "a.pdf", "base64Document": b64(pdf(2)), "signer": [box]},
                "systemId": api.system_id,
            }
        },
    )
    assert reply["resultCode"] == code, reply
    assert not Order.objects.exists()


def test_decimal_coordinates_at_signing_are_4012(api: Api, signer_email: str) -> None:
    order_id = api.send_document(signer_email)
    token, code = api.get_otp(order_id, signer_email)
    reply = api.call(
        "signing",
        {"requestSigning": {"orderId": order_id, "otpCode": code, "token": token, "signer": [signer(llx="87.5")]}},
    )
    assert reply["resultCode"] == "4012"


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ("not base64 at all!", "1008"),
        ("data:application/pdf;base64," + b64(pdf(1)), "1008"),
        (b64(b"hello, I am not a PDF"), "1008"),
        (b64(b"%PDF-1.7\n garbage without objects or trailer"), "1008"),
        (b64(encrypted_pdf()), "1008"),
        ("", "1008"),
    ],
)
def test_send_document_validates_the_pdf(api: Api, signer_email: str, document: str, code: str) -> None:
    reply = api.call(
        "sendDocument",
        {
            "param": {
                "email": signer_email,
                "payload": {"fileName": "a.pdf", "base64Document": document},
                "systemId": api.system_id,
            }
        },
    )
    assert reply["resultCode"] == code, reply


def test_send_document_checks_mandatory_fields(api: Api, signer_email: str) -> None:
    base = {"email": signer_email, "payload": {"fileName": "a.pdf", "base64Document": b64(pdf(1))}}
    assert api.call("sendDocument", {"param": base})["resultCode"] == "1008"  # no systemId
    no_name = {**base, "systemId": api.system_id, "payload": {"base64Document": b64(pdf(1))}}
    assert api.call("sendDocument", {"param": no_name})["resultCode"] == "1008"
    long_name = {**base, "systemId": api.system_id, "payload": {"fileName": "x" * 101, "base64Document": b64(pdf(1))}}
    assert api.call("sendDocument", {"param": long_name})["resultCode"] == "1008"
    bad_type = {**base, "systemId": api.system_id, "orderType": "AUTO"}
    assert api.call("sendDocument", {"param": bad_type})["resultCode"] == "1008"


def test_a_signer_without_a_certificate_is_4001(api: Api) -> None:
    reply = api.call(
        "sendDocument",
        {
            "param": {
                "email": "stranger@yopmail.com",
                "payload": {"fileName": "a.pdf", "base64Document": b64(pdf(1))},
                "systemId": api.system_id,
            }
        },
    )
    assert reply["resultCode"] == "4001"


@pytest.mark.parametrize("operation", ["viewDocument", "getOtp", "checkDocumentStatus", "downloadDocument"])
def test_an_unknown_order_is_4009(api: Api, operation: str) -> None:
    assert api.call(operation, {"param": {"orderId": "999999"}})["resultCode"] == "4009"


def test_three_wrong_otps_burn_it(api: Api, signer_email: str) -> None:
    order_id = api.send_document(signer_email, signer=[signer()])
    token, code = api.get_otp(order_id, signer_email)
    wrong = "000000" if code != "000000" else "111111"
    for left in (2, 1):
        reply = api.call("signing", {"requestSigning": {"orderId": order_id, "otpCode": wrong, "token": token}})
        assert reply["resultCode"] == "01" and f"sisa {left}" in reply["resultDesc"]
    third = api.call("signing", {"requestSigning": {"orderId": order_id, "otpCode": wrong, "token": token}})
    assert third["resultCode"] == "01" and "diblokir" in third["resultDesc"]
    burned = api.call("signing", {"requestSigning": {"orderId": order_id, "otpCode": code, "token": token}})
    assert burned["resultCode"] == "4026"
    api.sign(order_id, signer_email)  # a new OTP works


def test_an_otp_expires_after_five_minutes(api: Api, signer_email: str) -> None:
    order_id = api.send_document(signer_email, signer=[signer()])
    token, code = api.get_otp(order_id, signer_email)
    otp = Otp.objects.get(token=token)
    assert dt.timedelta(minutes=4, seconds=55) < otp.expires_at - otp.created_at <= dt.timedelta(minutes=5)
    Otp.objects.filter(token=token).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    reply = api.call("signing", {"requestSigning": {"orderId": order_id, "otpCode": code, "token": token}})
    assert reply["resultCode"] == "4026" and "kedaluwarsa" in reply["resultDesc"]


def test_a_new_otp_replaces_the_previous_one(api: Api, signer_email: str) -> None:
    order_id = api.send_document(signer_email, signer=[signer()])
    old_token, old_code = api.get_otp(order_id, signer_email)
    api.get_otp(order_id, signer_email)
    reply = api.call("signing", {"requestSigning": {"orderId": order_id, "otpCode": old_code, "token": old_token}})
    assert reply["resultCode"] == "4026"


def test_a_token_of_another_order_is_4026(api: Api, signer_email: str) -> None:
    first = api.send_document(signer_email, signer=[signer()])
    second = api.send_document(signer_email, signer=[signer()])
    token, code = api.get_otp(first, signer_email)
    reply = api.call("signing", {"requestSigning": {"orderId": second, "otpCode": code, "token": token}})
    assert reply["resultCode"] == "4026"


def test_a_used_token_is_4026(api: Api, signer_email: str) -> None:
    order_id = api.send_document(signer_email, signer=[signer()])
    token, code = api.get_otp(order_id, signer_email)
    api.ok("signing", {"requestSigning": {"orderId": order_id, "otpCode": code, "token": token}})
    again = api.call("signing", {"requestSigning": {"orderId": order_id, "otpCode": code, "token": token}})
    assert again["resultCode"] == "03"  # the order is signed: that is checked first


def test_an_order_past_its_lifetime_is_expired(api: Api, signer_email: str) -> None:
    order_id = api.send_document(signer_email, signer=[signer()])
    Order.objects.filter(pk=order_id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert api.ok("checkDocumentStatus", {"param": {"orderId": order_id}})["data"]["status"] == "EXPIRED"
    assert api.call("getOtp", {"param": {"orderId": order_id}})["resultCode"] == "03"


def test_docexpired_orders_expire_at_once(api: Api) -> None:
    email = api.enrol("budi+docexpired@yopmail.com")
    order_id = api.send_document(email, signer=[signer()])
    assert api.ok("checkDocumentStatus", {"param": {"orderId": order_id}})["data"]["status"] == "EXPIRED"


def test_signbusy_answers_4003_once_without_spending_the_otp(api: Api) -> None:
    email = api.enrol("budi+signbusy@yopmail.com")
    order_id = api.send_document(email, signer=[signer()])
    token, code = api.get_otp(order_id, email)
    body = {"requestSigning": {"orderId": order_id, "otpCode": code, "token": token}}
    assert api.call("signing", body)["resultCode"] == "4003"
    api.ok("signing", body)


def test_signfail_fails_the_order(api: Api) -> None:
    email = api.enrol("budi+signfail@yopmail.com")
    order_id = api.send_document(email, signer=[signer()])
    token, code = api.get_otp(order_id, email)
    reply = api.call("signing", {"requestSigning": {"orderId": order_id, "otpCode": code, "token": token}})
    assert reply["resultCode"] == "F"
    assert api.ok("checkDocumentStatus", {"param": {"orderId": order_id}})["data"]["status"] == "FAILED"
