"""Tier (berjenjang) signing: order enforced, next signer's order id, next signer notified."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.helpers import Api, b64, pdf, signer

ANA, EKA = "ekamui04@yopmail.com", "ekamui1@yopmail.com"


@pytest.fixture
def tier(api: Api) -> str:
    api.enrol(ANA, name="Eka Mui")
    api.enrol(EKA, name="Eka Satu")
    # Page 43 of the document.
    reply = api.call(
        "sendDocumentTier",
        {
            "param": {
                "uploader": ANA,
                "payload": {
                    "fileName": "1.pdf",
                    "base64Document": b64(pdf(1)),
                    "signer": [{"email": ANA}, {"email": EKA}],
                },
                "systemId": api.system_id,
            }
        },
    )
    assert reply["resultCode"] == "0" and reply["resultDesc"] == "Success"
    return str(reply["data"]["orderId"])


def _sign_tier(api: Api, order_id: str, email: str, **box: str) -> dict[str, Any]:
    token, code = api.get_otp(order_id, email)
    return api.call(
        "signingTier",
        {"requestSigning": {"orderId": order_id, "otpCode": code, "token": token, "signer": [signer(**box)]}},
    )


def test_the_second_signer_cannot_sign_first(api: Api, tier: str) -> None:
    second = str(int(tier) + 1)  # guessed: ids are sequential
    reply = api.call("getOtp", {"param": {"orderId": second}})
    assert reply["resultCode"] == "4009" and "sebelumnya" in reply["resultDesc"]
    assert not any(m["kind"] == "SIGN_REQUEST" for m in api.outbox(EKA))


def test_signing_tier_gives_the_next_signers_order_id_and_notifies_them(api: Api, tier: str) -> None:
    assert api.ok("checkDocumentStatus", {"param": {"orderId": tier}})["data"]["status"] == "WAITING_SIGNATURE"
    first = _sign_tier(api, tier, ANA)
    assert first["resultCode"] == "0"
    next_id = first["data"]["orderIdNextSigner"]
    assert next_id != tier
    notice = api.outbox(EKA)[0]
    assert notice["kind"] == "NEXT_SIGNER" and notice["orderId"] == next_id
    assert f"orderId={next_id}" in notice["link"]
    for order_id in (tier, next_id):
        status = api.ok("checkDocumentStatus", {"param": {"orderId": order_id}})["data"]["status"]
        assert status == "WAITING_NEXT_SIGNER"

    last = _sign_tier(api, next_id, EKA, llx="300", urx="400")
    assert last == {"resultCode": "0", "resultDesc": "Success"}
    for order_id in (tier, next_id):
        assert api.ok("checkDocumentStatus", {"param": {"orderId": order_id}})["data"]["status"] == "SIGNED"
    assert api.outbox(ANA)[0]["kind"] == "SIGNED"


def test_signing_tier_needs_every_signer_field(api: Api, tier: str) -> None:
    token, code = api.get_otp(tier, ANA)
    box = {k: v for k, v in signer().items() if k != "varLocation"}
    reply = api.call(
        "signingTier", {"requestSigning": {"orderId": tier, "otpCode": code, "token": token, "signer": [box]}}
    )
    assert reply["resultCode"] == "1008" and "varLocation" in reply["resultDesc"]
    no_signer = api.call("signingTier", {"requestSigning": {"orderId": tier, "otpCode": code, "token": token}})
    assert no_signer["resultCode"] == "1008"


def test_only_the_last_tier_signer_may_lock_the_document(api: Api, tier: str) -> None:
    reply = _sign_tier(api, tier, ANA, level="NO_CHANGES_ALLOWED")
    assert reply["resultCode"] == "4012"


def test_a_tier_signer_without_a_certificate_is_4001(api: Api) -> None:
    api.enrol(ANA)
    reply = api.call(
        "sendDocumentTier",
        {
            "param": {
                "uploader": ANA,
                "payload": {
                    "fileName": "1.pdf",
                    "base64Document": b64(pdf(1)),
                    "signer": [{"email": ANA}, {"email": "x@yopmail.com"}],
                },
                "systemId": api.system_id,
            }
        },
    )
    assert reply["resultCode"] == "4001"


def test_download_after_the_first_tier_signature_has_one_signature(api: Api, tier: str) -> None:
    from tests.sandbox.helpers import embedded_signatures

    _sign_tier(api, tier, ANA)
    assert len(embedded_signatures(api.download(tier))) == 1
