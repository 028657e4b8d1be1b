"""Over real TLS on 127.0.0.1: which TLS failures prove that a create/sign request never reached
Peruri, and which leave its outcome unknown."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from peruri import MemoryTokenStore, PeruriClient, PeruriConfig, PeruriTransient

from .conftest import PDF


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@dataclass
class BrokenTlsServer:
    """Reads each request in full, then answers with bytes that are not TLS: the client's TLS layer
    fails (requests raises SSLError) although the request was delivered."""

    url: str
    cert: Path
    requests_received: list[bytes] = field(default_factory=list)


@pytest.fixture
def broken_tls_server(tmp_path: Path) -> Iterator[BrokenTlsServer]:
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    server = BrokenTlsServer(f"https://127.0.0.1:{listener.getsockname()[1]}/gateway/", cert)

    def handle(raw: socket.socket) -> None:
        try:
            with context.wrap_socket(raw, server_side=True) as tls:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += tls.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                while len(body) < length:
                    body += tls.recv(65536)
                server.requests_received.append(body)
                # A plain-text reply on the TLS connection (a middlebox's error page): the client's
                # TLS layer fails while reading the reply to a request that was delivered.
                os.write(tls.fileno(), b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        except (OSError, ValueError, StopIteration):
            pass  # the client refused the handshake: nothing was received

    def serve() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(raw,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield server
    listener.close()


def _client(server: BrokenTlsServer, *, trust: bool) -> PeruriClient:
    store = MemoryTokenStore()
    store.set("jwt", dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))  # no JWT call needed
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment overrides session.verify
    if trust:
        session.verify = str(server.cert)
    config = PeruriConfig(api_key="k", system_id="S", base_url=server.url, read_timeouts={"send_document": 10})
    return PeruriClient(config, token_store=store, session=session)


def test_a_refused_certificate_proves_the_send_never_happened(broken_tls_server: BrokenTlsServer) -> None:
    with pytest.raises(PeruriTransient) as info:
        _client(broken_tls_server, trust=False).send_document(email="a@example.com", file_name="a.pdf", pdf=PDF)
    assert not info.value.outcome_unknown and info.value.retryable
    assert broken_tls_server.requests_received == []


def test_a_tls_failure_after_the_send_arrived_is_an_unknown_outcome(
    broken_tls_server: BrokenTlsServer,
) -> None:
    with pytest.raises(PeruriTransient) as info:
        _client(broken_tls_server, trust=True).send_document(email="a@example.com", file_name="a.pdf", pdf=PDF)
    assert len(broken_tls_server.requests_received) == 1  # Peruri got it: it may have created an order
    assert info.value.outcome_unknown and not info.value.retryable
    assert "reconcile" in str(info.value)
