"""`manage.py runsandbox`: the sandbox served alone, on its own URLconf and origin, as a developer runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`runsandbox` in its own process, against a throwaway SQLite database and data folder."""
    tmp = tmp_path_factory.mktemp("runsandbox")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp / 'sandbox.sqlite3'}",
        "SANDBOX_DATA_DIR": str(tmp / "data"),
        "SANDBOX_PUBLIC_URL": url,
        "SANDBOX_FRAME_ANCESTORS": "http://partner.test:8000",
    }
    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    subprocess.run(
        [*manage, "migrate", "--noinput"], cwd=BASE_DIR, env=env, check=True, capture_output=True, timeout=300
    )  # noqa: S603
    log = (tmp / "runsandbox.log").open("w")
    server = subprocess.Popen(  # noqa: S603
        [*manage, "runsandbox", f"127.0.0.1:{port}", "--noreload"], cwd=BASE_DIR, env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 120
        while not _listening(port):
            assert server.poll() is None, (tmp / "runsandbox.log").read_text()
            assert time.monotonic() < deadline, "runsandbox did not start listening"
            time.sleep(0.1)
        yield url, tmp / "data"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_it_creates_the_ca_on_start_and_serves_it(served: tuple[str, Path]) -> None:
    url, data = served
    # Created before the server listened (startup.prepare), not lazily by this request.
    bundle = data / "ca-bundle.pem"
    assert bundle.exists() and (bundle.stat().st_mode & 0o777) == 0o600
    response = requests.get(f"{url}/sandbox/ca.pem", timeout=10)
    assert response.status_code == 200 and response.content.startswith(b"-----BEGIN CERTIFICATE-----")
    assert response.content in bundle.read_bytes()


def test_it_answers_the_gateway_and_only_the_sandboxs_own_urls(served: tuple[str, Path]) -> None:
    url, _data = served
    response = requests.post(
        f"{url}/gateway/jwtSandbox/1.0/getJsonWebToken/v1",
        json={"param": {"systemId": settings.SANDBOX_SYSTEM_ID}},
        headers={"x-Gateway-APIKey": settings.SANDBOX_API_KEY},
        timeout=10,
    )
    body = response.json()
    assert body["resultCode"] == "0" and body["data"]["jwt"] and body["data"]["expiredDate"]
    assert requests.get(f"{url}/sandbox/outbox.json", timeout=10).json() == {"messages": []}
    assert requests.get(f"{url}/sandbox/outbox", timeout=10).status_code == 200
    # Paraf's own pages are not there: the sandbox has its own URLconf.
    assert requests.get(f"{url}/healthz", timeout=10).status_code == 404
    assert requests.get(f"{url}/accounts/login/", timeout=10).status_code == 404


def test_its_web_views_and_their_static_files_are_served(served: tuple[str, Path]) -> None:
    url, _data = served
    page = requests.get(f"{url}/webview/signing.php", params={"orderId": "1"}, timeout=10)
    assert page.status_code == 200 and '<html lang="id">' in page.text
    assert "frame-ancestors http://partner.test:8000" in page.headers["Content-Security-Policy"]
    for asset in ("sandbox/webview.js", "sandbox/webview.css", "js/placement.js", "vendor/pdfjs/pdf.min.mjs"):
        assert requests.get(f"{url}/static/{asset}", timeout=10).status_code == 200, asset
