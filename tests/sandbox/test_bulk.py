"""Bulk: Send Document Bulk, Set Signature, Get OTP Bulk, Signing Bulk (one OTP, many documents)."""

from __future__ import annotations

import re

import pytest

from tests.sandbox.helpers import Api, b64, embedded_signatures, pdf, signer

EMAIL = "ekamui04@yopmail.com"


@pytest.fixture
def email(api: Api) -> str:
    return api.enrol(EMAIL, name="Eka Mui")


def _send_bulk(api: Api, email: str, files: int, with_signer: bool) -> list[str]:
    payload: dict = {"file": [{"fileName": f"demo{i}.pdf", "base64Document": b64(pdf(1))} for i in range(1, files + 1)]}
    if with_signer:
        payload["signer"] = [signer(page="1", varReason="ya setuju")]
    reply = api.ok("sendDocumentBulk", {"param": {"email": email, "payload": payload, "systemId": api.system_id}})
    assert reply["resultDesc"] == "Success"
    assert all(set(item) == {"orderId"} for item in reply["data"])
    return [item["orderId"] for item in reply["data"]]


def test_the_documents_bulk_flow_signs_every_file_with_one_otp(api: Api, email: str) -> None:
    order_ids = _send_bulk(api, email, 3, with_signer=True)  # page 51 of the document
    reply = api.ok(
        "getOtpBulk",
        {"requestGetOtpBulk": {"data": [{"orderId": o} for o in order_ids], "systemId": api.system_id}},
    )
    data = reply["data"]
    assert set(data) == {"token", "systemId", "phone", "orderIdBulk"}
    assert re.fullmatch(r"[0-9a-f]{32}", data["token"]) and data["systemId"] == api.system_id
    code = api.latest_otp(email)
    signed = api.ok(
        "signingBulk",
        {"requestSigning": {"orderIdBulk": data["orderIdBulk"], "otpCodeBulk": code, "tokenBulk": data["token"]}},
    )
    assert signed["data"] == [{"orderId": o, "fileName": f"{o}_demo{i}.pdf"} for i, o in enumerate(order_ids, 1)]
    for order_id in order_ids:
        assert api.ok("checkDocumentStatus", {"param": {"orderId": order_id}})["data"]["status"] == "SIGNED"
        assert len(embedded_signatures(api.download(order_id))) == 1
    again = api.call(
        "signingBulk",
        {"requestSigning": {"orderIdBulk": data["orderIdBulk"], "otpCodeBulk": code, "tokenBulk": data["token"]}},
    )
    assert again["resultCode"] == "03"


def test_get_otp_bulk_needs_coordinates_then_set_signature_provides_them(api: Api, email: str) -> None:
    order_ids = _send_bulk(api, email, 2, with_signer=False)
    body = {"requestGetOtpBulk": {"data": [{"orderId": o} for o in order_ids], "systemId": api.system_id}}
    assert api.call("getOtpBulk", body)["resultCode"] == "4014"
    for order_id in order_ids:
        # Page 54 of the document.
        reply = api.call(
            "setSignature",
            {"requestSetSignature": {"orderId": order_id, "signer": signer(varReason="ya setuju")}},
        )
        assert reply == {"resultCode": "0", "resultDesc": "Success", "data": {"orderId": order_id}}
    assert api.ok("viewDocument", {"param": {"orderId": order_ids[0]}})["data"]["signer"] == "1"
    api.ok("getOtpBulk", body)


def test_set_signature_takes_one_object_not_an_array(api: Api, email: str) -> None:
    [order_id] = _send_bulk(api, email, 1, with_signer=False)
    reply = api.call("setSignature", {"requestSetSignature": {"orderId": order_id, "signer": [signer()]}})
    assert reply["resultCode"] == "1008"
    off_page = api.call("setSignature", {"requestSetSignature": {"orderId": order_id, "signer": signer(page="2")}})
    assert off_page["resultCode"] == "4012"


def test_bulk_otp_rules(api: Api, email: str) -> None:
    order_ids = _send_bulk(api, email, 2, with_signer=True)
    other = api.enrol("lain@yopmail.com", name="Orang Lain")
    other_order = api.send_document(other, signer=[signer()])
    mixed = {
        "requestGetOtpBulk": {"data": [{"orderId": order_ids[0]}, {"orderId": other_order}], "systemId": api.system_id}
    }
    assert api.call("getOtpBulk", mixed)["resultCode"] == "1008"
    dup = {"requestGetOtpBulk": {"data": [{"orderId": order_ids[0]}] * 2, "systemId": api.system_id}}
    assert api.call("getOtpBulk", dup)["resultCode"] == "1008"
    missing = {"requestGetOtpBulk": {"data": [{"orderId": "999999"}], "systemId": api.system_id}}
    assert api.call("getOtpBulk", missing)["resultCode"] == "4009"
    empty = {"requestGetOtpBulk": {"data": [], "systemId": api.system_id}}
    assert api.call("getOtpBulk", empty)["resultCode"] == "1008"


def test_signing_bulk_checks_the_otp(api: Api, email: str) -> None:
    order_ids = _send_bulk(api, email, 2, with_signer=True)
    data = api.ok(
        "getOtpBulk", {"requestGetOtpBulk": {"data": [{"orderId": o} for o in order_ids], "systemId": api.system_id}}
    )["data"]
    code = api.latest_otp(email)
    wrong = "000000" if code != "000000" else "111111"
    bad = api.call(
        "signingBulk",
        {"requestSigning": {"orderIdBulk": data["orderIdBulk"], "otpCodeBulk": wrong, "tokenBulk": data["token"]}},
    )
    assert bad["resultCode"] == "01"
    unknown = api.call(
        "signingBulk", {"requestSigning": {"orderIdBulk": "999999", "otpCodeBulk": code, "tokenBulk": data["token"]}}
    )
    assert unknown["resultCode"] == "4009"


def test_the_table_spelling_file_is_accepted_too(api: Api, email: str) -> None:
    reply = api.ok(
        "sendDocumentBulk",
        {
            "param": {
                "email": email,
                "payload": {"File": [{"fileName": "a.pdf", "base64Document": b64(pdf(1))}]},
                "systemId": api.system_id,
            }
        },
    )
    assert len(reply["data"]) == 1


def test_one_bad_file_rejects_the_whole_bulk(api: Api, email: str) -> None:
    from sandbox.models import Order

    files = [
        {"fileName": "a.pdf", "base64Document": b64(pdf(1))},
        {"fileName": "b.pdf", "base64Document": b64(b"nope")},
    ]
    reply = api.call(
        "sendDocumentBulk", {"param": {"email": email, "payload": {"file": files}, "systemId": api.system_id}}
    )
    assert reply["resultCode"] == "1008" and "file[1]" in reply["resultDesc"]
    assert not Order.objects.exists()
