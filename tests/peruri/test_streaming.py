"""Binary values are streamed into the request body as base64, with a Content-Length, over one
keep-alive connection pool — checked byte for byte, and over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import responses

from peruri import PeruriClient, PeruriConfig

from .conftest import FJS, body_bytes, calls_to, ok


class ShortReads(io.RawIOBase):
    """A seekable raw stream that returns at most 1000 bytes per read (like a socket or pipe)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = {0: offset, 1: self._pos + offset, 2: len(self._data) + offset}[whence]
        return self._pos

    def readinto(self, buffer: Any) -> int:
        chunk = self._data[self._pos : self._pos + min(len(buffer), 1000)]
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)


class Unseekable(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._inner.readinto(buffer)


def _pdf(size: int) -> bytes:
    body = bytes((i * 7) % 256 for i in range(max(0, size - 5)))
    return b"%PDF-" + body


@pytest.mark.parametrize("size", [5, 6, 7, 8, 1000, 3 * 256 * 1024 - 1, 3 * 256 * 1024, 3 * 256 * 1024 + 1, 2_000_003])
@pytest.mark.parametrize("kind", ["bytes", "bytearray", "bytesio", "short-reads", "unseekable"])
def test_streamed_body_is_exact_json_with_a_matching_content_length(
    api: PeruriClient, authed: responses.RequestsMock, size: int, kind: str
) -> None:
    pdf = _pdf(size)
    source: Any = {
        "bytes": pdf,
        "bytearray": bytearray(pdf),
        "bytesio": io.BytesIO(pdf),
        "short-reads": ShortReads(pdf),
        "unseekable": Unseekable(pdf),
    }[kind]
    authed.add(responses.POST, FJS + "sendDocument/v1", json=ok({"orderId": "1"}))
    api.send_document(email="a@example.com", file_name="a.pdf", pdf=source)
    request = calls_to(authed, FJS + "sendDocument/v1")[0].request
    raw = body_bytes(request)
    assert int(request.headers["Content-Length"]) == len(raw)
    sent = json.loads(raw)["param"]["payload"]["base64Document"]
    assert base64.b64decode(sent, validate=True) == pdf
    assert b"\n" not in raw


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    seen: list[dict[str, Any]] = []
    download_pdf = b""

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length)
        self.seen.append(
            {
                "path": self.path,
                "peer": self.client_address,
                "length": length,
                "chunked": self.headers.get("Transfer-Encoding"),
                "body": body,
            }
        )
        if "getJsonWebToken" in self.path:
            reply = ok({"jwt": "jwt", "expiredDate": "2999-01-01 00:00:00"})
        elif "downloadDocument" in self.path:
            reply = ok({"base64Document": base64.b64encode(self.download_pdf).decode()})
        else:
            reply = ok({"orderId": str(len(self.seen))})
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def local_server() -> Iterator[str]:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/gateway/"
    server.shutdown()
    server.server_close()


def test_over_real_http_a_large_file_is_sent_with_content_length_on_one_kept_alive_connection(
    local_server: str, tmp_path: Any
) -> None:
    pdf = _pdf(5 * 1024 * 1024 + 1)
    path = tmp_path / "big.pdf"
    path.write_bytes(pdf)
    _Recorder.download_pdf = pdf
    with PeruriClient(PeruriConfig(api_key="k", system_id="S", base_url=local_server)) as client:
        with path.open("rb") as f:
            assert client.send_document(email="a@example.com", file_name="big.pdf", pdf=f).order_id == "2"
        client.check_document_status(order_id="2")
        assert client.download_document(order_id="2") == pdf
    jwt, send, status, download = _Recorder.seen
    assert send["chunked"] is None and send["length"] == len(send["body"])
    assert base64.b64decode(json.loads(send["body"])["param"]["payload"]["base64Document"]) == pdf
    assert len({r["peer"] for r in _Recorder.seen}) == 1  # one connection, reused


@pytest.mark.parametrize("opener", ["stringio", "text-file"])
def test_a_text_mode_file_is_refused_before_anything_is_sent(
    api: PeruriClient, rsps: responses.RequestsMock, tmp_path: Any, opener: str
) -> None:
    # Accepted, it would fail while the body is being written: half a request on the wire and a
    # bare TypeError instead of a PeruriError.
    path = tmp_path / "video.webm"
    path.write_text("%PDF- not binary")
    with io.StringIO("%PDF- not binary") if opener == "stringio" else path.open() as source:
        with pytest.raises(TypeError, match="binary mode"):
            api.verify_video(email="a@example.com", video=source)
        with pytest.raises(TypeError, match="binary mode"):
            api.send_document(email="a@example.com", file_name="a.pdf", pdf=source)
    assert len(rsps.calls) == 0
