"""Registration -> Activation -> Video (e-KYC) -> Specimen -> Check Certificate, with scenarios."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from sandbox.models import SandboxUser
from tests.sandbox.helpers import MP4, WEBM, Api, b64, jpeg, png, registration

EMAIL = "fitrifebriana22@yopmail.com"


def _who(api: Api, email: str = EMAIL) -> dict[str, str]:
    return {"email": email, "systemId": api.system_id}


def test_registration_from_the_field_table_succeeds_and_mails_the_activation_link(api: Api) -> None:
    reply = api.call("registration", {"param": registration(EMAIL)})
    assert reply == {"resultCode": "0", "resultDesc": "Success"}
    message = api.outbox(EMAIL)[0]
    assert message["kind"] == "REGISTRATION"
    assert "/webview/index.php?email=" in message["link"]


def test_the_documents_activation_and_video_examples_succeed(api: Api) -> None:
    api.ok("registration", {"param": registration(EMAIL)})
    # Page 13-14 of the document (systemId is the partner's own here).
    reply = api.call("activation", {"param": {"email": EMAIL, "systemId": api.system_id}})
    assert reply == {"resultCode": "0", "resultDesc": "Sukses aktivasi akun, silakan lanjutkan proses verifikasi"}
    # Page 16: "(base64 video verification)" -> a WebM recording.
    reply = api.call(
        "videoVerification", {"param": {"email": EMAIL, "systemId": api.system_id, "videoStream": b64(WEBM)}}
    )
    assert reply == {"resultCode": "0", "resultDesc": "Success"}


def test_the_certificate_is_issued_only_after_the_delay_then_check_answers_0_with_data(api: Api, settings: Any) -> None:
    settings.SANDBOX_CERT_DELAY = 3600
    api.ok("registration", {"param": registration(EMAIL, ktp="3174012202900001")})
    who = _who(api)
    steps = [
        ("activation", {}),
        ("videoVerification", {"videoStream": b64(MP4)}),
        ("sendSpeciment", {"speciment": b64(png())}),
    ]
    for operation, extra in steps:
        before = api.call("checkCertificate", {"param": who})
        assert before["resultCode"] == "4001" and "data" not in before
        api.ok(operation, {"param": {**who, **extra}})
    pending = api.call("checkCertificate", {"param": who})
    assert pending["resultCode"] == "4001"
    assert "proses penerbitan" in pending["resultDesc"]

    SandboxUser.objects.filter(email=EMAIL).update(certificate_due_at=timezone.now() - dt.timedelta(seconds=1))
    reply = api.call("checkCertificate", {"param": who})
    assert reply == {
        "resultCode": "0",
        "resultDesc": "Success",
        "data": {"email": EMAIL, "phone": "082326068898", "nik": "3174012202900001", "isExpired": "0"},
    }
    assert any(m["kind"] == "CERTIFICATE" for m in api.outbox(EMAIL))


def test_steps_out_of_order_are_refused(api: Api) -> None:
    api.ok("registration", {"param": registration(EMAIL)})
    who = _who(api)
    video = api.call("videoVerification", {"param": {**who, "videoStream": b64(WEBM)}})
    assert video["resultCode"] == "1008" and "aktivasi" in video["resultDesc"]
    api.ok("activation", {"param": who})
    specimen = api.call("sendSpeciment", {"param": {**who, "speciment": b64(png())}})
    assert specimen["resultCode"] == "1008" and "e-KYC" in specimen["resultDesc"]


def test_activation_is_idempotent(api: Api) -> None:
    api.ok("registration", {"param": registration(EMAIL)})
    api.ok("activation", {"param": _who(api)})
    api.ok("activation", {"param": _who(api)})


def test_an_unregistered_email_is_refused(api: Api) -> None:
    reply = api.call("activation", {"param": _who(api, "nobody@yopmail.com")})
    assert reply["resultCode"] == "1008" and "belum terdaftar" in reply["resultDesc"]


def test_a_duplicate_email_is_1002_and_a_duplicate_ktp_is_1003(api: Api) -> None:
    api.ok("registration", {"param": registration(EMAIL, ktp="3174012202900002")})
    again = api.call("registration", {"param": registration(EMAIL.upper())})
    assert again["resultCode"] == "1002"
    same_ktp = api.call("registration", {"param": registration("other@yopmail.com", ktp="3174012202900002")})
    assert same_ktp["resultCode"] == "1003"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("ktp", "317401220290000", "1004"),  # 15 digits
        ("ktp", "31740122029000011", "1004"),  # 17 digits
        ("ktp", "3174O12202900001", "1004"),  # a letter O
        ("npwp", "12345678901234", "1008"),
        ("npwp", "12.345.678.9-012.345", "1008"),
        ("dateOfBirth", "1990-02-22", "1008"),
        ("dateOfBirth", "31/02/1990", "1008"),
        ("gender", "L", "1008"),
        ("gender", "Male", "1008"),
        ("type", "CORPORATE", "1008"),
        ("email", "not-an-email", "1008"),
        ("email", "a" * 70 + "@x.com", "1008"),
        ("name", "N" * 101, "1008"),
        ("phone", "0812-ABC", "1008"),
        ("address", "", "1008"),
        ("city", ..., "1008"),
        ("province", "P" * 256, "1008"),
        ("placeOfBirth", ..., "1008"),
        ("ktpPhoto", "not base64!", "1008"),
        ("ktpPhoto", "data:image/jpeg;base64," + b64(jpeg()), "1008"),
        ("ktpPhoto", b64(b"GIF89a this is not really an image"), "1008"),
        ("npwpPhoto", b64(b"%PDF-1.4 not an image"), "1008"),
        ("systemId", "PERURI", "1001"),
        ("orgUnit", "O" * 256, "1008"),
    ],
)
def test_registration_validates_every_field(api: Api, field: str, value: object, code: str) -> None:
    reply = api.call("registration", {"param": registration(EMAIL, **{field: value})})
    assert reply["resultCode"] == code, reply
    assert field in reply["resultDesc"] or code in ("1004", "1001") or "NPWP" in reply["resultDesc"]
    assert not SandboxUser.objects.exists()


def test_a_corporate_user_license_registration_is_accepted(api: Api) -> None:
    api.ok(
        "registration",
        {"param": registration(EMAIL, orgUnit="Divisi Digital", workUnit="Produk", position="Manajer")},
    )
    assert SandboxUser.objects.get(email=EMAIL).corporate_user


@pytest.mark.parametrize(
    "video",
    [
        b"just some bytes that are not a video at all",
        bytes.fromhex("1a45dfa3a34286810142f7810142f2810442f381084282886d6174726f736b61"),  # Matroska, not WebM
        b"RIFF\x00\x00\x00\x00AVI LIST" + b"\x00" * 20,
    ],
)
def test_a_video_that_is_not_webm_or_mp4_is_1045(api: Api, video: bytes) -> None:
    api.ok("registration", {"param": registration(EMAIL)})
    api.ok("activation", {"param": _who(api)})
    reply = api.call("videoVerification", {"param": {**_who(api), "videoStream": b64(video)}})
    assert reply["resultCode"] == "1045"


def test_a_specimen_that_is_not_an_image_is_1008(api: Api) -> None:
    api.ok("registration", {"param": registration(EMAIL)})
    api.ok("activation", {"param": _who(api)})
    api.ok("videoVerification", {"param": {**_who(api), "videoStream": b64(WEBM)}})
    reply = api.call("sendSpeciment", {"param": {**_who(api), "speciment": b64(b"\x89PNG\r\n\x1a\n broken")}})
    assert reply["resultCode"] == "1008" and "speciment" in reply["resultDesc"]


def test_kycreject_gets_1006(api: Api) -> None:
    email = "rina+kycreject@yopmail.com"
    api.ok("registration", {"param": registration(email)})
    api.ok("activation", {"param": _who(api, email)})
    reply = api.call("videoVerification", {"param": {**_who(api, email), "videoStream": b64(WEBM)}})
    assert reply["resultCode"] == "1006"


def test_kycpending_gets_1040_twice_then_passes(api: Api) -> None:
    email = "rina+kycpending@yopmail.com"
    api.ok("registration", {"param": registration(email)})
    api.ok("activation", {"param": _who(api, email)})
    body = {"param": {**_who(api, email), "videoStream": b64(WEBM)}}
    assert api.call("videoVerification", body)["resultCode"] == "1040"
    assert api.call("videoVerification", body)["resultCode"] == "1040"
    assert api.call("videoVerification", body)["resultCode"] == "0"


def test_nocert_never_gets_a_certificate(api: Api) -> None:
    email = "rina+nocert@yopmail.com"
    api.ok("registration", {"param": registration(email)})
    api.ok("activation", {"param": _who(api, email)})
    api.ok("videoVerification", {"param": {**_who(api, email), "videoStream": b64(WEBM)}})
    api.ok("sendSpeciment", {"param": {**_who(api, email), "speciment": b64(png())}})
    for _ in range(3):
        assert api.call("checkCertificate", {"param": _who(api, email)})["resultCode"] == "4001"


@pytest.mark.parametrize(("tag", "flag"), [("certexpired", "1"), ("certexpiring", "2")])
def test_certificate_expiry_scenarios(api: Api, tag: str, flag: str) -> None:
    email = f"rina+{tag}@yopmail.com"
    api.enrol(email)
    assert api.ok("checkCertificate", {"param": _who(api, email)})["data"]["isExpired"] == flag


@pytest.mark.parametrize(("tag", "code"), [("blocked", "1007"), ("crmfail", "1005")])
def test_registration_scenarios(api: Api, tag: str, code: str) -> None:
    reply = api.call("registration", {"param": registration(f"rina+{tag}@yopmail.com")})
    assert reply["resultCode"] == code


def test_dukcapilslow_answers_late(api: Api, settings: Any) -> None:
    import time

    settings.SANDBOX_DUKCAPIL_SLOW_SECONDS = 0.5
    email = "rina+dukcapilslow@yopmail.com"
    api.ok("registration", {"param": registration(email)})
    api.ok("activation", {"param": _who(api, email)})
    started = time.monotonic()
    api.ok("videoVerification", {"param": {**_who(api, email), "videoStream": b64(WEBM)}})
    assert time.monotonic() - started >= 0.5
