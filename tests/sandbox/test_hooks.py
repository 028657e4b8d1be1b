"""Sandbox-only hooks: the CA certificate, the outbox page and JSON, CA creation."""

from __future__ import annotations

import threading
from pathlib import Path

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


def test_the_ca_is_created_once_even_when_threads_race(tmp_path: Path) -> None:
    # A private bundle path: SANDBOX_DATA_DIR is left alone, since the session's sandbox server
    # (other threads of this process) reads it for every signature it makes.
    bundle = tmp_path / "sandbox-data" / "ca-bundle.pem"
    results: list[bytes] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        barrier.wait()
        results.append(ca.ensure_ca(path=bundle).certificate_pem)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and len(set(results)) == 1
    assert [p.name for p in bundle.parent.iterdir()] == ["ca-bundle.pem"]
    assert bundle.stat().st_mode & 0o777 == 0o600


def test_the_ca_is_reused_after_a_restart(tmp_path: Path) -> None:
    bundle = tmp_path / "sandbox-data" / "ca-bundle.pem"
    before = ca.ensure_ca(path=bundle)
    ca._cache.clear()  # what a new process starts with
    after = ca.ensure_ca(path=bundle)
    assert after is not before
    assert after.certificate_pem == before.certificate_pem
    assert after.key.private_numbers() == before.key.private_numbers()


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
