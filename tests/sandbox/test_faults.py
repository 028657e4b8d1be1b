"""Fault injection: before (nothing happened) or after (applied, reply lost) the operation."""

from __future__ import annotations

import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings

from sandbox.models import Message, Order
from tests.sandbox.helpers import Api, b64, pdf, signer


def _faults(api: Api, method: str = "POST", body: Any = None, key: str | None = None) -> requests.Response:
    headers = {"x-Gateway-APIKey": key if key is not None else settings.SANDBOX_API_KEY}
    return requests.request(method, f"{api.base}/sandbox/faults", json=body, headers=headers, timeout=10)


def _send_body(api: Api, email: str) -> dict[str, Any]:
    return {
        "param": {
            "email": email,
            "payload": {"fileName": "a.pdf", "base64Document": b64(pdf(1)), "signer": [signer()]},
            "systemId": api.system_id,
        }
    }


def test_the_fault_api_needs_the_api_key(api: Api) -> None:
    for method in ("GET", "POST", "DELETE"):
        response = _faults(api, method, {"kinds": ["http500"]}, key="wrong")
        assert response.status_code == 401 and "Exception" in response.json()


@pytest.mark.parametrize(
    "body",
    [
        {"kinds": ["explode"]},
        {"rate": 2},
        {"when": "during"},
        {"operations": ["noSuchOperation"]},
        {"count": -1},
        {"latency_ms": "100"},
        {"surprise": True},
    ],
)
def test_a_bad_fault_configuration_is_a_400(api: Api, body: dict[str, Any]) -> None:
    response = _faults(api, "POST", body)
    assert response.status_code == 400 and response.json()["error"]


def test_before_http500_leaves_nothing_behind_and_count_limits_it(api: Api, signer_email: str) -> None:
    reply = _faults(api, "POST", {"kinds": ["http500"], "operations": ["sendDocument"], "count": 1}).json()
    assert reply["active"] and reply["when"] == "before" and reply["count"] == 1
    response = api.post("sendDocument", _send_body(api, signer_email))
    assert response.status_code == 500 and "text/html" in response.headers["Content-Type"]
    assert not Order.objects.exists()
    api.ok("sendDocument", _send_body(api, signer_email))  # count exhausted
    state = _faults(api, "GET").json()
    assert state["triggered"] == 1 and state["count"] == 0


def test_gateway_exception_has_the_gateway_body(api: Api, signer_email: str) -> None:
    _faults(api, "POST", {"kinds": ["gateway_exception"]})
    response = api.post("checkCertificate", {"param": {"email": signer_email, "systemId": api.system_id}})
    assert response.status_code == 500
    assert response.json()["Exception"].startswith("API Gateway encountered an error.")


def test_after_connection_reset_the_order_exists_although_the_reply_was_lost(api: Api, signer_email: str) -> None:
    _faults(api, "POST", {"kinds": ["connection_reset"], "when": "after", "operations": ["sendDocument"]})
    with pytest.raises(requests.ConnectionError):
        api.post("sendDocument", _send_body(api, signer_email))
    assert Order.objects.count() == 1


def test_before_connection_reset_nothing_happened(api: Api, signer_email: str) -> None:
    _faults(api, "POST", {"kinds": ["connection_reset"], "operations": ["sendDocument"]})
    with pytest.raises(requests.ConnectionError):
        api.post("sendDocument", _send_body(api, signer_email))
    assert not Order.objects.exists()


def test_after_malformed_json_the_otp_was_sent(api: Api, signer_email: str) -> None:
    order_id = api.send_document(signer_email, signer=[signer()])
    _faults(api, "POST", {"kinds": ["malformed_json"], "when": "after", "operations": ["getOtp"]})
    response = api.post("getOtp", {"param": {"orderId": order_id}})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
    assert Message.objects.filter(kind=Message.Kind.OTP, order_id=order_id).exists()


def test_a_signing_reply_lost_after_signing_is_reconciled_by_status(api: Api, signer_email: str) -> None:
    order_id = api.send_document(signer_email, signer=[signer()])
    token, code = api.get_otp(order_id, signer_email)
    _faults(api, "POST", {"kinds": ["http500"], "when": "after", "operations": ["signing"], "count": 1})
    body = {"requestSigning": {"orderId": order_id, "otpCode": code, "token": token}}
    assert api.post("signing", body).status_code == 500
    assert api.call("signing", body)["resultCode"] == "03"  # a blind retry: already signed
    assert api.ok("checkDocumentStatus", {"param": {"orderId": order_id}})["data"]["status"] == "SIGNED"


def _post_then_wait_for_the_late_reply(api: Api, operation: str, body: Any, give_up_after: float) -> dict[str, Any]:
    """POST over a raw socket; the client "times out" after `give_up_after` seconds (asserted),
    then keeps listening until the sandbox finally answers, so that the test goes on only once
    the hanging request is over (what it did is then in the database), instead of sleeping."""
    target = urlsplit(api.url(operation))
    payload = json.dumps(body).encode()
    head = [f"POST {target.path} HTTP/1.1", f"Host: {target.netloc}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in api.headers().items()] + [f"Content-Length: {len(payload)}"]
    with socket.create_connection((target.hostname, target.port), timeout=30) as sock:
        sock.sendall("\r\n".join(head).encode() + b"\r\n\r\n" + payload)
        sock.settimeout(give_up_after)
        with pytest.raises(TimeoutError):  # a client with this read timeout gives up here
            sock.recv(1)
        sock.settimeout(60)
        raw = b""
        while chunk := sock.recv(65536):  # the server closes the connection after its reply
            raw += chunk
    status_line, _, rest = raw.partition(b"\r\n")
    return {"status": int(status_line.split()[1]), "body": json.loads(rest.partition(b"\r\n\r\n")[2])}


def test_read_timeout_before_hangs_past_the_client_timeout_and_applies_nothing(api: Api, signer_email: str) -> None:
    _faults(api, "POST", {"kinds": ["read_timeout"], "hang_seconds": 1.0, "operations": ["sendDocument"]})
    late = _post_then_wait_for_the_late_reply(api, "sendDocument", _send_body(api, signer_email), give_up_after=0.3)
    assert late["status"] == 500 and "Read timed out" in late["body"]["Exception"]
    assert not Order.objects.exists()


def test_read_timeout_after_applies_the_operation(api: Api, signer_email: str) -> None:
    _faults(
        api, "POST", {"kinds": ["read_timeout"], "hang_seconds": 1.0, "when": "after", "operations": ["sendDocument"]}
    )
    late = _post_then_wait_for_the_late_reply(api, "sendDocument", _send_body(api, signer_email), give_up_after=0.5)
    # The reply the client never saw: the order exists although the partner does not know its id.
    assert late["status"] == 200 and late["body"]["resultCode"] == "0"
    assert list(Order.objects.values_list("pk", flat=True)) == [int(late["body"]["data"]["orderId"])]


def test_faults_hit_only_the_listed_operations_and_latency_is_added(api: Api, signer_email: str) -> None:
    _faults(api, "POST", {"kinds": ["http500"], "operations": ["getOtp"], "latency_ms": 0})
    api.ok("checkCertificate", {"param": {"email": signer_email, "systemId": api.system_id}})
    _faults(api, "POST", {"latency_ms": 300})
    started = time.monotonic()
    api.ok("checkCertificate", {"param": {"email": signer_email, "systemId": api.system_id}})
    assert time.monotonic() - started >= 0.3


def test_rate_zero_never_fails_and_delete_clears(api: Api, signer_email: str) -> None:
    _faults(api, "POST", {"kinds": ["http500"], "rate": 0})
    for _ in range(3):
        api.ok("checkCertificate", {"param": {"email": signer_email, "systemId": api.system_id}})
    _faults(api, "POST", {"kinds": ["http500"]})
    assert (
        api.post("checkCertificate", {"param": {"email": signer_email, "systemId": api.system_id}}).status_code == 500
    )
    assert _faults(api, "DELETE").json() == {"active": False}
    api.ok("checkCertificate", {"param": {"email": signer_email, "systemId": api.system_id}})


def test_faults_do_not_bypass_authentication(api: Api) -> None:
    _faults(api, "POST", {"kinds": ["http500"]})
    response = api.post("checkCertificate", {"param": {}}, headers=api.headers(jwt=False))
    assert response.status_code == 401
