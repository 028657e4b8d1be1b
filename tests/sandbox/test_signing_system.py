"""Set Key and Signing System: the HMAC session over the order ids, SYSTEM orders only."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

from django.utils import timezone

from sandbox.models import SigningKey
from sandbox.services import session_for
from tests.sandbox.helpers import Api, embedded_signatures, signer


def test_the_documents_hmac_test_vector() -> None:
    expected = "1fdd4df75c0d0c6548e4c34baeceff2e926a9b5520e6ea393c821b7f3248d824"
    assert session_for(key="p3rur1", order_ids=["3214", "3215", "3216"]) == expected
    assert hmac.new(b"p3rur1", b"321432153216", hashlib.sha256).hexdigest() == expected


def test_the_documents_set_key_example_returns_an_expiry(api: Api) -> None:
    reply = api.ok("setKey", {"param": {"key": "p3rur1", "minutes": "30", "systemId": api.system_id}})
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", reply["data"]["expiredDate"])
    key = SigningKey.objects.get()
    assert dt.timedelta(minutes=29) < key.expires_at - timezone.now() <= dt.timedelta(minutes=30)


def test_set_key_validates(api: Api) -> None:
    for minutes in ("0", "abc", "1.5", ""):
        reply = api.call("setKey", {"param": {"key": "p3rur1", "minutes": minutes, "systemId": api.system_id}})
        assert reply["resultCode"] == "1008", minutes
    long_key = api.call("setKey", {"param": {"key": "k" * 101, "minutes": "30", "systemId": api.system_id}})
    assert long_key["resultCode"] == "1008"
    numeric = api.call("setKey", {"param": {"key": "p3rur1", "minutes": 30, "systemId": api.system_id}})
    assert numeric["resultCode"] == "1008"


def _system_orders(api: Api, email: str, count: int) -> list[str]:
    return [api.send_document(email, signer=[signer()], orderType="SYSTEM") for _ in range(count)]


def test_signing_system_signs_every_order_without_otp(api: Api, signer_email: str) -> None:
    order_ids = _system_orders(api, signer_email, 3)
    api.ok("setKey", {"param": {"key": "p3rur1", "minutes": "30", "systemId": api.system_id}})
    session = hmac.new(b"p3rur1", "".join(order_ids).encode(), hashlib.sha256).hexdigest()
    reply = api.call(
        "signingSystem",
        {"param": {"data": [{"orderId": o} for o in order_ids], "session": session, "systemId": api.system_id}},
    )
    assert reply == {"resultCode": "0", "resultDesc": "Success"}
    for order_id in order_ids:
        assert len(embedded_signatures(api.download(order_id))) == 1
    # No OTP and no signing request went out for system orders.
    assert not [m for m in api.outbox(signer_email) if m["kind"] in ("OTP", "SIGN_REQUEST")]


def test_the_session_is_over_the_ids_in_request_order(api: Api, signer_email: str) -> None:
    order_ids = _system_orders(api, signer_email, 2)
    api.ok("setKey", {"param": {"key": "p3rur1", "minutes": "30", "systemId": api.system_id}})
    reversed_session = session_for(key="p3rur1", order_ids=list(reversed(order_ids)))
    reply = api.call(
        "signingSystem",
        {
            "param": {
                "data": [{"orderId": o} for o in order_ids],
                "session": reversed_session,
                "systemId": api.system_id,
            }
        },
    )
    assert reply["resultCode"] == "4026"
    upper = session_for(key="p3rur1", order_ids=order_ids).upper()
    reply = api.call(
        "signingSystem",
        {"param": {"data": [{"orderId": o} for o in order_ids], "session": upper, "systemId": api.system_id}},
    )
    assert reply["resultCode"] == "4026"


def test_signing_system_refuses_orders_that_are_not_system(api: Api, signer_email: str) -> None:
    order_id = api.send_document(signer_email, signer=[signer()])
    api.ok("setKey", {"param": {"key": "p3rur1", "minutes": "30", "systemId": api.system_id}})
    reply = api.call(
        "signingSystem",
        {
            "param": {
                "data": [{"orderId": order_id}],
                "session": session_for(key="p3rur1", order_ids=[order_id]),
                "systemId": api.system_id,
            }
        },
    )
    assert reply["resultCode"] == "1008" and "SYSTEM" in reply["resultDesc"]


def test_signing_system_needs_a_live_key(api: Api, signer_email: str) -> None:
    [order_id] = _system_orders(api, signer_email, 1)
    body = {
        "param": {
            "data": [{"orderId": order_id}],
            "session": session_for(key="p3rur1", order_ids=[order_id]),
            "systemId": api.system_id,
        }
    }
    assert api.call("signingSystem", body)["resultCode"] == "02"
    api.ok("setKey", {"param": {"key": "p3rur1", "minutes": "1", "systemId": api.system_id}})
    SigningKey.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert api.call("signingSystem", body)["resultCode"] == "02"


def test_the_documents_misspelled_example_is_refused(api: Api, signer_email: str) -> None:
    # Page 66: "Session", "orderid" and a 63-digit hash - typos; the gateway is strict.
    api.ok("setKey", {"param": {"key": "p3rur1", "minutes": "30", "systemId": api.system_id}})
    reply = api.call(
        "signingSystem",
        {
            "param": {
                "data": [{"orderId": "3214"}, {"orderid": "3215"}, {"orderid": "3216"}],
                "Session": "1fdd4df75c0d0c6548e4c34baeceff2e926a9b5520e6ea393c821b7f3248d82",
                "systemId": api.system_id,
            }
        },
    )
    assert reply["resultCode"] == "1008"
