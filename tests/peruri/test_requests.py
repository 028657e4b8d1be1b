"""The exact request of every operation: path, headers, envelope, field names and casing, strings
only — checked against the field tables and the examples of the Peruri document."""

from __future__ import annotations

import base64
import io
from datetime import date
from typing import Any

import pytest
import responses

from peruri import PeruriClient, PeruriConfig, Signer

from .conftest import API_KEY, BASE, FJS, JWT, JWT_URL, PDF, all_strings, body_bytes, body_json, calls_to, ok

KTP_PHOTO = b"\xff\xd8\xff\xe0 ktp photo jpeg"
NPWP_PHOTO = b"\x89PNG npwp photo"
VIDEO = b"\x1aE\xdf\xa3 webm video" * 10
SPECIMEN = b"\x89PNG handwritten specimen"

DOC_SIGNER = Signer(
    page=2,
    lower_left_x=454,
    lower_left_y=45,
    upper_right_x=529,
    upper_right_y=116,
    location="JAKARTA",
    reason="Biodata",
)
DOC_SIGNER_WIRE = {
    "isVisualSign": "YES",
    "lowerLeftX": "454",
    "lowerLeftY": "45",
    "upperRightX": "529",
    "upperRightY": "116",
    "page": "2",
    "certificateLevel": "NOT_CERTIFIED",
    "varLocation": "JAKARTA",
    "varReason": "Biodata",
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sent(rsps: responses.RequestsMock, operation: str) -> Any:
    """The one request sent to ``operation``, after checking the headers every API call carries."""
    calls = calls_to(rsps, FJS + f"{operation}/v1")
    assert len(calls) == 1
    request = calls[0].request
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["x-Gateway-APIKey"] == API_KEY
    assert request.headers["Authorization"] == f"Bearer {JWT}"
    assert request.headers["User-Agent"].startswith("paraf-peruri/")
    assert int(request.headers["Content-Length"]) == len(body_bytes(request))
    assert "Transfer-Encoding" not in request.headers
    body = body_json(request)
    assert all_strings(body), body
    return body


def reply(rsps: responses.RequestsMock, operation: str, payload: dict[str, Any]) -> None:
    rsps.add(responses.POST, FJS + f"{operation}/v1", json=payload)


def test_get_jwt_request_has_system_id_and_no_authorization(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "activation", ok())
    api.activate(email="fitrifebriana22@yopmail.com")
    (call,) = calls_to(authed, JWT_URL)
    assert call.request.headers["x-Gateway-APIKey"] == API_KEY
    assert call.request.headers["Content-Type"] == "application/json"
    assert "Authorization" not in call.request.headers
    assert body_json(call.request) == {"param": {"systemId": "PERURI"}}


def test_register_sends_every_field_of_the_registration_table(
    api: PeruriClient, authed: responses.RequestsMock
) -> None:
    reply(authed, "registration", ok())
    api.register(
        name="Fitri Febriana",
        phone="082326068898",
        email="fitrifebriana22@yopmail.com",
        password="s3cret-pass",
        type="INDIVIDUAL",
        ktp="3174012345678901",
        ktp_photo=KTP_PHOTO,
        npwp="123456789012345",
        npwp_photo=io.BytesIO(NPWP_PHOTO),
        address="Jl. Palatehan No. 4",
        city="Jakarta Selatan",
        province="DKI Jakarta",
        gender="F",
        place_of_birth="Bandung",
        date_of_birth=date(1990, 2, 22),
        org_unit="Divisi TI",
        work_unit="Pengembangan",
        position="Staf",
    )
    assert sent(authed, "registration") == {
        "param": {
            "name": "Fitri Febriana",
            "phone": "082326068898",
            "email": "fitrifebriana22@yopmail.com",
            "password": "s3cret-pass",
            "type": "INDIVIDUAL",
            "ktp": "3174012345678901",
            "ktpPhoto": b64(KTP_PHOTO),
            "npwp": "123456789012345",
            "npwpPhoto": b64(NPWP_PHOTO),
            "address": "Jl. Palatehan No. 4",
            "city": "Jakarta Selatan",
            "province": "DKI Jakarta",
            "gender": "F",
            "placeOfBirth": "Bandung",
            "dateOfBirth": "22/02/1990",
            "orgUnit": "Divisi TI",
            "workUnit": "Pengembangan",
            "position": "Staf",
            "systemId": "PERURI",
        }
    }


def test_register_of_a_customer_leaves_optional_fields_out(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "registration", ok())
    api.register(
        name="Budi",
        phone="0812",
        email="budi@example.com",
        ktp="3174012345678901",
        ktp_photo=KTP_PHOTO,
        address="Jl. A",
        city="Bogor",
        province="Jawa Barat",
        gender="M",
        place_of_birth="Bogor",
        date_of_birth="01/12/1985",
    )
    param = sent(authed, "registration")["param"]
    assert set(param) == {
        "name", "phone", "email", "type", "ktp", "ktpPhoto", "address", "city", "province",
        "gender", "placeOfBirth", "dateOfBirth", "systemId",
    }  # fmt: skip
    assert param["type"] == "INDIVIDUAL"
    assert param["dateOfBirth"] == "01/12/1985"


def test_activate_matches_the_document_example(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "activation", ok(desc="Sukses aktivasi akun, silakan lanjutkan proses verifikasi"))
    api.activate(email="fitrifebriana22@yopmail.com")
    assert sent(authed, "activation") == {"param": {"email": "fitrifebriana22@yopmail.com", "systemId": "PERURI"}}


def test_verify_video_streams_the_video_as_video_stream(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "videoVerification", ok())
    api.verify_video(email="fitrifebriana22@yopmail.com", video=VIDEO)
    assert sent(authed, "videoVerification") == {
        "param": {"email": "fitrifebriana22@yopmail.com", "systemId": "PERURI", "videoStream": b64(VIDEO)}
    }


def test_send_specimen_uses_the_misspelt_speciment_field(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "sendSpeciment", ok())
    api.send_specimen(email="a@example.com", image=io.BytesIO(SPECIMEN))
    assert sent(authed, "sendSpeciment") == {
        "param": {"email": "a@example.com", "systemId": "PERURI", "speciment": b64(SPECIMEN)}
    }


def test_check_certificate_request(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "checkCertificate", ok())
    api.check_certificate(email="a@example.com")
    assert sent(authed, "checkCertificate") == {"param": {"email": "a@example.com", "systemId": "PERURI"}}


def test_send_document_matches_the_document_example(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "sendDocument", ok({"orderId": "2965"}, "Success Upload Document"))
    api.send_document(email="patriadevelopment@yopmail.com", file_name="sample-dok.pdf", pdf=PDF, signers=[DOC_SIGNER])
    assert sent(authed, "sendDocument") == {
        "param": {
            "email": "patriadevelopment@yopmail.com",
            "payload": {"fileName": "sample-dok.pdf", "base64Document": b64(PDF), "signer": [DOC_SIGNER_WIRE]},
            "systemId": "PERURI",
        }
    }


def test_send_document_for_signing_system_without_signers(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "sendDocument", ok({"orderId": "3214"}))
    api.send_document(email="a@example.com", file_name="a.pdf", pdf=io.BytesIO(PDF), order_type="SYSTEM")
    assert sent(authed, "sendDocument") == {
        "param": {
            "email": "a@example.com",
            "payload": {"fileName": "a.pdf", "base64Document": b64(PDF)},
            "systemId": "PERURI",
            "orderType": "SYSTEM",
        }
    }


@pytest.mark.parametrize(
    ("method", "operation"),
    [
        ("view_document", "viewDocument"),
        ("get_otp", "getOtp"),
        ("check_document_status", "checkDocumentStatus"),
        ("download_document", "downloadDocument"),
    ],
)
def test_order_id_operations_send_only_the_order_id(
    api: PeruriClient, authed: responses.RequestsMock, method: str, operation: str
) -> None:
    reply(authed, operation, ok({"base64Document": b64(PDF), "token": "d76a911c945c4039a290555504bf55ce"}))
    getattr(api, method)(order_id="2965")
    assert sent(authed, operation) == {"param": {"orderId": "2965"}}


def test_sign_uses_the_request_signing_envelope(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "signing", ok())
    api.sign(order_id="2965", otp_code="651129", token="f8719714c24244afbcca03f496b95c55")
    assert sent(authed, "signing") == {
        "requestSigning": {"orderId": "2965", "otpCode": "651129", "token": "f8719714c24244afbcca03f496b95c55"}
    }


def test_sign_with_signers_sends_the_signer_array(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "signing", ok())
    invisible = Signer(1, 10, 20, 110, 70, visible=False, certification_level="NO_CHANGES_ALLOWED")
    api.sign(order_id="2965", otp_code="000123", token="t" * 32, signers=[invisible])
    assert sent(authed, "signing")["requestSigning"]["signer"] == [
        {
            "isVisualSign": "NO",
            "lowerLeftX": "10",
            "lowerLeftY": "20",
            "upperRightX": "110",
            "upperRightY": "70",
            "page": "1",
            "certificateLevel": "NO_CHANGES_ALLOWED",
            "varLocation": "",
            "varReason": "",
        }
    ]


def test_send_document_tier_matches_the_document_example(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "sendDocumentTier", ok({"orderId": "7492"}))
    api.send_document_tier(
        uploader="ekamui04@yopmail.com",
        file_name="1.pdf",
        pdf=PDF,
        signer_emails=["ekamui04@yopmail.com", "ekamui1@yopmail.com"],
    )
    assert sent(authed, "sendDocumentTier") == {
        "param": {
            "uploader": "ekamui04@yopmail.com",
            "payload": {
                "fileName": "1.pdf",
                "base64Document": b64(PDF),
                "signer": [{"email": "ekamui04@yopmail.com"}, {"email": "ekamui1@yopmail.com"}],
            },
            "systemId": "PERURI",
        }
    }


def test_sign_tier_sends_one_signer_in_an_array(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "signingTier", ok())
    api.sign_tier(order_id="7492", otp_code="651129", token="f8719714c24244afbcca03f496b95c55", signer=DOC_SIGNER)
    assert sent(authed, "signingTier") == {
        "requestSigning": {
            "orderId": "7492",
            "otpCode": "651129",
            "token": "f8719714c24244afbcca03f496b95c55",
            "signer": [DOC_SIGNER_WIRE],
        }
    }


def test_send_document_bulk_matches_the_document_example(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "sendDocumentBulk", ok([{"orderId": "3845"}, {"orderId": "3846"}]))
    other = PDF + b"second"
    signer = Signer(1, 454, 45, 529, 116, location="JAKARTA", reason="ya setuju")
    api.send_document_bulk(
        email="ekamui04@yopmail.com", files=[("demo1.pdf", PDF), ("demo2.pdf", io.BytesIO(other))], signers=[signer]
    )
    assert sent(authed, "sendDocumentBulk") == {
        "param": {
            "email": "ekamui04@yopmail.com",
            "payload": {
                "file": [
                    {"fileName": "demo1.pdf", "base64Document": b64(PDF)},
                    {"fileName": "demo2.pdf", "base64Document": b64(other)},
                ],
                "signer": [{**DOC_SIGNER_WIRE, "page": "1", "varReason": "ya setuju"}],
            },
            "systemId": "PERURI",
        }
    }


def test_set_signature_sends_one_signer_object_not_an_array(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "setSignature", ok())
    signer = Signer(1, 454, 45, 529, 116, location="JAKARTA", reason="ya setuju")
    api.set_signature(order_id="7492", signer=signer)
    assert sent(authed, "setSignature") == {
        "requestSetSignature": {
            "orderId": "7492",
            "signer": {**DOC_SIGNER_WIRE, "page": "1", "varReason": "ya setuju"},
        }
    }


def test_get_otp_bulk_sends_order_ids_as_strings(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "getOtpBulk", ok({"token": "d76a911c945c4039a290555504bf55ce", "orderIdBulk": "222"}))
    api.get_otp_bulk(order_ids=["3845", "3846"])
    # The document's screenshot sends 3845 as a number; the all-strings rule wins.
    assert sent(authed, "getOtpBulk") == {
        "requestGetOtpBulk": {"data": [{"orderId": "3845"}, {"orderId": "3846"}], "systemId": "PERURI"}
    }


def test_sign_bulk_matches_the_document_example(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "signingBulk", ok([{"orderId": "3851", "fileName": "3851_demo1.pdf"}]))
    api.sign_bulk(order_id_bulk="225", otp_code="651129", token="f8719714c24244afbcca03f496b95c55")
    assert sent(authed, "signingBulk") == {
        "requestSigning": {
            "orderIdBulk": "225",
            "otpCodeBulk": "651129",
            "tokenBulk": "f8719714c24244afbcca03f496b95c55",
        }
    }


def test_set_key_matches_the_document_example(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "setKey", ok({"expiredDate": "2024-05-01 10:30:00"}))
    api.set_key(key="p3rur1", minutes=30)
    assert sent(authed, "setKey") == {"param": {"key": "p3rur1", "minutes": "30", "systemId": "PERURI"}}


def test_sign_system_sends_the_hmac_session_of_the_document(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "signingSystem", ok())
    api.sign_system(order_ids=["3214", "3215", "3216"], key="p3rur1")
    # The document's example misspells session/orderId and drops the last hex digit: typos.
    assert sent(authed, "signingSystem") == {
        "param": {
            "data": [{"orderId": "3214"}, {"orderId": "3215"}, {"orderId": "3216"}],
            "session": "1fdd4df75c0d0c6548e4c34baeceff2e926a9b5520e6ea393c821b7f3248d824",
            "systemId": "PERURI",
        }
    }


def test_endpoint_overrides_change_only_their_own_path(rsps: responses.RequestsMock) -> None:
    config = PeruriConfig(
        api_key=API_KEY,
        system_id="PARTNER",
        base_url="https://apg.peruri.co.id:9055/gateway",
        endpoints={"get_jwt": "jwt/1.0/getJsonWebToken/v1", "send_document": "partnerNs/1.0/sendDocument/v1"},
    )
    prod = "https://apg.peruri.co.id:9055/gateway/"
    rsps.add(
        responses.POST, prod + "jwt/1.0/getJsonWebToken/v1", json=ok({"jwt": JWT, "expiredDate": "2999-01-01 00:00:00"})
    )
    rsps.add(responses.POST, prod + "partnerNs/1.0/sendDocument/v1", json=ok({"orderId": "1"}))
    rsps.add(responses.POST, prod + "digitalSignatureFullJwtSandbox/1.0/getOtp/v1", json=ok({"token": "x" * 32}))
    api = PeruriClient(config)
    api.send_document(email="a@example.com", file_name="a.pdf", pdf=PDF)
    api.get_otp(order_id="1")
    assert [c.request.url for c in rsps.calls] == [
        prod + "jwt/1.0/getJsonWebToken/v1",
        prod + "partnerNs/1.0/sendDocument/v1",
        prod + "digitalSignatureFullJwtSandbox/1.0/getOtp/v1",
    ]
    assert body_json(rsps.calls[0].request) == {"param": {"systemId": "PARTNER"}}


def test_default_base_url_is_the_sandbox_gateway() -> None:
    assert PeruriConfig(api_key="k", system_id="s").base_url == BASE


def test_a_file_object_is_sent_from_its_current_position(api: PeruriClient, authed: responses.RequestsMock) -> None:
    reply(authed, "sendDocument", ok({"orderId": "1"}))
    f = io.BytesIO(b"JUNK" + PDF)
    f.seek(4)
    api.send_document(email="a@example.com", file_name="a.pdf", pdf=f)
    assert sent(authed, "sendDocument")["param"]["payload"]["base64Document"] == b64(PDF)
