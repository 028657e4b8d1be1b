"""Sandbox-only hooks: the CA certificate, the outbox page and JSON, CA creation."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import requests
from cryptography import x509

from sandbox import ca
from tests.sandbox.helpers import Api, signer


def test_the_ca_certificate_is_served_as_pem(api: Api) -> None:
    response = requests.get(f"{api.base}/sandbox/ca.pem", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-pem-file"
    cert = x509.load_pem_x509_certificate(response.content)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert b"PRIVATE KEY" not in response.content
    assert requests.get(f"{api.base}/sandbox/ca.pem", timeout=10).content == response.content  # reused


def test_the_ca_is_created_once_even_when_threads_race(settings: Any, tmp_path: Path) -> None:
    settings.SANDBOX_DATA_DIR = tmp_path / "sandbox-data"
    ca._cache.clear()
    results: list[bytes] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        barrier.wait()
        results.append(ca.ensure_ca().certificate_pem)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert [p.name for p in (tmp_path / "sandbox-data").iterdir()] == ["ca-bundle.pem"]
    ca._cache.clear()


def test_the_outbox_json_filters_by_recipient_newest_first(api: Api, signer_email: str) -> None:
    api.enrol("lain@yopmail.com")
    order_id = api.send_document(signer_email, signer=[signer()])
    api.get_otp(order_id, signer_email)
    messages = api.outbox(signer_email)
    assert {m["to"] for m in messages} == {signer_email}
    assert [m["kind"] for m in messages[:2]] == ["OTP", "SIGN_REQUEST"]
    assert "otp" in messages[0] and "otp" not in messages[1]
    assert set(messages[1]) >= {"id", "kind", "to", "subject", "text", "link", "orderId", "createdAt"}
    everyone = requests.get(f"{api.base}/sandbox/outbox.json", timeout=10).json()["messages"]
    assert {m["to"] for m in everyone} == {signer_email, "lain@yopmail.com"}


def test_the_outbox_page_lists_the_messages(api: Api, signer_email: str) -> None:
    order_id = api.send_document(signer_email, signer=[signer()])
    api.get_otp(order_id, signer_email)
    code = api.latest_otp(signer_email)
    response = requests.get(f"{api.base}/sandbox/outbox", params={"to": signer_email}, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert code in response.text and signer_email in response.text
    assert "<script" not in response.text and "style=" not in response.text
