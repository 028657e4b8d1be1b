"""The gateway itself: JWT, API key, unknown paths and methods, envelopes, all-strings values."""

from __future__ import annotations

import datetime as dt
import re
import time
from zoneinfo import ZoneInfo

import pytest
import requests

from sandbox import jwt as sandbox_jwt
from tests.sandbox.helpers import FJS, Api

GATEWAY_PREFIX = "API Gateway encountered an error. Error Message: "


def _exception(response: requests.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["Exception"]
    assert body["Exception"].startswith(GATEWAY_PREFIX)
    return str(body["Exception"])


@pytest.mark.parametrize("path", ["jwtSandbox/1.0/getJsonWebToken/v1", "jwt/1.0/getJsonWebToken/v1"])
def test_it_issues_a_jwt_valid_one_day_on_both_jwt_paths(api: Api, path: str) -> None:
    response = requests.post(
        f"{api.base}/gateway/{path}",
        json={"param": {"systemId": api.system_id}},
        headers=api.headers(jwt=False),
        timeout=10,
    )
    body = response.json()
    assert response.status_code == 200
    assert body["resultCode"] == "0"
    token, expired = body["data"]["jwt"], body["data"]["expiredDate"]
    assert len(token) <= 600 and token.count(".") == 2
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", expired)
    expires = dt.datetime.strptime(expired, "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo("Asia/Jakarta"))
    left = expires - dt.datetime.now(tz=dt.UTC)
    assert dt.timedelta(hours=23, minutes=59) < left <= dt.timedelta(days=1)


def test_the_jwt_works_for_an_operation(api: Api) -> None:
    reply = api.call("checkCertificate", {"param": {"email": "nobody@example.com", "systemId": api.system_id}})
    assert reply["resultCode"] == "1008"


def test_a_jwt_for_an_unknown_system_id_is_refused_with_1001(api: Api) -> None:
    response = requests.post(
        f"{api.base}/gateway/jwtSandbox/1.0/getJsonWebToken/v1",
        json={"param": {"systemId": "PERURI"}},
        headers=api.headers(jwt=False),
        timeout=10,
    )
    assert response.json() == {"resultCode": "1001", "resultDesc": "systemId tidak valid"}


@pytest.mark.parametrize("key", [None, "", "wrong-key-0000-0000-0000-000000000000"])
def test_a_missing_or_wrong_api_key_is_a_401_gateway_exception(api: Api, key: str | None) -> None:
    headers = api.headers()
    if key is None:
        del headers["x-Gateway-APIKey"]
    else:
        headers["x-Gateway-APIKey"] = key
    response = api.post("checkCertificate", {"param": {"email": "a@b.co", "systemId": api.system_id}}, headers=headers)
    assert "Unauthorized application request" in _exception(response, 401)
    jwt_response = requests.post(
        f"{api.base}/gateway/jwtSandbox/1.0/getJsonWebToken/v1",
        json={"param": {"systemId": api.system_id}},
        headers=headers,
        timeout=10,
    )
    _exception(jwt_response, 401)


def test_a_missing_jwt_is_a_401_gateway_exception(api: Api) -> None:
    headers = api.headers(jwt=False)
    response = api.post("checkCertificate", {"param": {"email": "a@b.co", "systemId": api.system_id}}, headers=headers)
    assert "JWT token is missing" in _exception(response, 401)


def test_an_expired_jwt_is_a_401_gateway_exception(api: Api) -> None:
    now = int(time.time())
    token = sandbox_jwt.encode({"iss": "peruri-sandbox", "sub": api.system_id, "iat": now - 90000, "exp": now - 3600})
    headers = {**api.headers(jwt=False), "Authorization": f"Bearer {token}"}
    response = api.post("checkCertificate", {"param": {"email": "a@b.co", "systemId": api.system_id}}, headers=headers)
    assert "JWT token has expired" in _exception(response, 401)


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        # right shape, signed with another key
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJQQVJBRi1TQU5EQk9YIiwiZXhwIjo0MTAyNDQ0ODAwfQ."
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    ],
)
def test_a_forged_jwt_is_a_401_gateway_exception(api: Api, token: str) -> None:
    headers = {**api.headers(jwt=False), "Authorization": f"Bearer {token}"}
    response = api.post("checkCertificate", {"param": {"email": "a@b.co", "systemId": api.system_id}}, headers=headers)
    assert "JWT token is invalid" in _exception(response, 401)


def test_a_tampered_jwt_payload_is_refused(api: Api) -> None:
    header, _payload, signature = api.jwt.split(".")
    forged_payload = sandbox_jwt._b64(b'{"sub":"PARAF-SANDBOX","exp":4102444800}')
    headers = {**api.headers(jwt=False), "Authorization": f"Bearer {header}.{forged_payload}.{signature}"}
    response = api.post("checkCertificate", {"param": {"email": "a@b.co", "systemId": api.system_id}}, headers=headers)
    _exception(response, 401)


@pytest.mark.parametrize(
    "path",
    [
        f"{FJS}/1.0/noSuchOperation/v1",
        f"{FJS}/2.0/signing/v1",
        "otherNamespace/1.0/signing/v1",
        f"{FJS}/1.0/getJsonWebToken/v1",
        "",
    ],
)
def test_an_unknown_path_is_a_500_gateway_exception(api: Api, path: str) -> None:
    response = requests.post(f"{api.base}/gateway/{path}", json={"param": {}}, headers=api.headers(), timeout=10)
    assert "API resource not found" in _exception(response, 500)


def test_a_get_is_a_500_gateway_exception(api: Api) -> None:
    response = requests.get(api.url("checkCertificate"), headers=api.headers(), timeout=10)
    assert "not supported" in _exception(response, 500)


def test_the_exception_names_service_and_operation(api: Api) -> None:
    response = api.post("signing", {"requestSigning": {}}, headers=api.headers(jwt=False))
    text = _exception(response, 401)
    assert f"Service - {FJS}" in text and "Operation - /signing/v1" in text


def test_a_number_instead_of_a_string_is_refused_with_1008(api: Api) -> None:
    reply = api.call("viewDocument", {"param": {"orderId": 2965}})
    assert reply["resultCode"] == "1008"
    assert "orderId" in reply["resultDesc"] and "string" in reply["resultDesc"]


def test_a_nested_number_is_refused_with_1008(api: Api) -> None:
    # The document's Get OTP Bulk screenshot sends "orderId": 3845 unquoted; the gateway wants strings.
    reply = api.call("getOtpBulk", {"requestGetOtpBulk": {"data": [{"orderId": 3845}], "systemId": api.system_id}})
    assert reply["resultCode"] == "1008"
    assert "data[0].orderId" in reply["resultDesc"]


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("signing", {"param": {"orderId": "1", "otpCode": "123456", "token": "a" * 32}}),
        ("setSignature", {"param": {"orderId": "1"}}),
        ("getOtpBulk", {"param": {"data": [{"orderId": "1"}]}}),
        ("checkCertificate", {"requestSigning": {"email": "a@b.co"}}),
        ("checkCertificate", ["not", "an", "object"]),
    ],
)
def test_the_wrong_envelope_is_refused_with_1008(api: Api, operation: str, body: object) -> None:
    reply = api.call(operation, body)
    assert reply["resultCode"] == "1008"


def test_a_body_that_is_not_json_is_refused_with_1008(api: Api) -> None:
    response = requests.post(api.url("checkCertificate"), data=b"{not json", headers=api.headers(), timeout=10)
    assert response.status_code == 200
    assert response.json()["resultCode"] == "1008"


def test_the_system_id_is_checked_on_operations(api: Api) -> None:
    reply = api.call("checkCertificate", {"param": {"email": "a@b.co", "systemId": "PERURI"}})
    assert reply == {"resultCode": "1001", "resultDesc": "systemId tidak valid"}


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_not_sent_as_application_json_is_refused_with_1008(api: Api, content_type: str | None) -> None:
    headers = api.headers()
    if content_type is None:
        del headers["Content-Type"]
    else:
        headers["Content-Type"] = content_type
    body = b'{"param": {"email": "a@b.co", "systemId": "%s"}}' % api.system_id.encode()
    response = requests.post(api.url("checkCertificate"), data=body, headers=headers, timeout=10)
    assert response.status_code == 200
    assert response.json() == {"resultCode": "1008", "resultDesc": "Header Content-Type harus application/json"}


def test_a_charset_on_the_json_content_type_is_fine(api: Api) -> None:
    headers = {**api.headers(), "Content-Type": "application/json; charset=UTF-8"}
    body = b'{"param": {"email": "nobody@example.com", "systemId": "%s"}}' % api.system_id.encode()
    response = requests.post(api.url("checkCertificate"), data=body, headers=headers, timeout=10)
    assert response.json()["resultCode"] == "1008" and "belum terdaftar" in response.json()["resultDesc"]
