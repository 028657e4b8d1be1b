"""The sandbox's web views inside a partner's page on another origin, in a real Chromium.

The partner is a tiny page served by its own ServerThread (127.0.0.1:<port>, so another origin
than the sandbox, and still a secure context for the camera). It embeds a web view in an iframe
and records every message it receives; the tests drive the iFrame (fake camera) and check the
postMessage and the sandbox's state.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
import requests
from django.conf import settings
from pypdf import PdfReader

from tests.sandbox.helpers import registration
from tests.servers import ServerThread

PARENT = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Partner</title></head>
<body><h1>Partner app</h1>
<iframe id="peruri" src="{src}" allow="camera; microphone" title="Peruri" width="380" height="760"></iframe>
<script>
  window.received = [];
  window.addEventListener("message", (event) => {{
    window.received.push({{
      origin: event.origin,
      fromFrame: event.source === document.getElementById("peruri").contentWindow,
      data: event.data,
    }});
  }});
</script></body></html>"""


def partner_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The partner's page (no CSP: a stand-in, its inline script only records messages)."""
    src = parse_qs(environ.get("QUERY_STRING", "")).get("src", [""])[0]
    if environ["PATH_INFO"] != "/parent" or not src.startswith("http://127.0.0.1:"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b""]
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [PARENT.format(src=html.escape(src)).encode()]


@pytest.fixture(scope="module")
def _partner_server() -> Iterator[ServerThread]:
    server = ServerThread(partner_app).start_and_wait()
    yield server
    server.stop()


@pytest.fixture
def partner(_partner_server: ServerThread, sandbox: str, settings: Any) -> str:
    settings.SANDBOX_FRAME_ANCESTORS = [_partner_server.url]
    return _partner_server.url


@pytest.fixture
def console_errors(page: Any) -> list[str]:
    """Console errors of the partner page and the iFrame (a CSP violation shows up here)."""
    errors: list[str] = []

    def on_console(msg: Any) -> None:
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"{msg.text} {msg.location}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def embed(page: Any, partner: str, src: str) -> Any:
    page.set_viewport_size({"width": 420, "height": 900})
    page.goto(f"{partner}/parent?{urlencode({'src': src})}")
    return page.frame_locator("#peruri")


def wait_message(page: Any, timeout: float = 30_000) -> dict[str, Any]:
    page.wait_for_function("() => window.received.length > 0", timeout=timeout)
    page.wait_for_timeout(200)  # a second message would be a bug: give it a moment to show up
    received = page.evaluate("() => window.received")
    assert len(received) == 1, received
    return received[0]


def draw(page: Any, canvas: Any) -> None:
    box = canvas.bounding_box()
    x, y = box["x"] + 30, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 16):
        page.mouse.move(x + i * 15, y + (18 if i % 2 else -18), steps=2)
    page.mouse.up()


# ---------------------------------------------------------------------------------------------- activation


@pytest.mark.e2e
def test_the_activation_web_view_records_video_and_specimen_and_tells_the_partner(
    page, partner, sandbox, api, console_errors
):
    email = "webview.aktivasi@example.com"
    api.ok("registration", {"param": registration(email, name="Sari Wulandari")})
    src = f"{sandbox}/webview/index.php?{urlencode({'email': email, 'systemId': settings.SANDBOX_SYSTEM_ID})}"
    frame = embed(page, partner, src)

    frame.get_by_text("Halo, Sari Wulandari").wait_for()
    frame.get_by_role("button", name="Nyalakan kamera").click()
    frame.get_by_role("button", name="Mulai merekam").click()
    stop = frame.get_by_role("button", name="Berhenti")
    stop.wait_for()
    frame.locator("button.danger:not([disabled])").wait_for(timeout=10_000)  # after the 3 s minimum
    stop.click()
    frame.get_by_role("button", name="Kirim video").click()

    frame.get_by_role("heading", name="Langkah 2 · Tanda tangan spesimen").wait_for(timeout=30_000)
    canvas = frame.locator(".sig-canvas")
    canvas.wait_for()
    draw(page, canvas)
    frame.get_by_role("button", name="Simpan tanda tangan").click()

    message = wait_message(page)
    assert message["origin"] == sandbox
    assert message["fromFrame"] is True
    assert message["data"] == {
        "func": "generateCertificate",
        "message": {"resultCode": "0", "resultDesc": "Data sertifikat berhasil di-generate"},
    }
    frame.get_by_role("status").filter(has_text="Data sertifikat berhasil di-generate.").wait_for()
    # The callback was only a hint; the gateway is the truth (SANDBOX_CERT_DELAY is 0 in tests).
    reply = api.call("checkCertificate", {"param": {"email": email, "systemId": api.system_id}})
    assert reply["resultCode"] == "0", reply
    assert not console_errors


@pytest.mark.e2e
def test_a_rejected_face_video_is_reported_to_the_partner(page, partner, sandbox, api):
    email = "webview+kycreject@example.com"
    api.ok("registration", {"param": registration(email)})
    src = f"{sandbox}/webview/index.php?{urlencode({'email': email, 'systemId': settings.SANDBOX_SYSTEM_ID})}"
    frame = embed(page, partner, src)
    frame.get_by_role("button", name="Nyalakan kamera").click()
    frame.get_by_role("button", name="Mulai merekam").click()
    frame.get_by_role("button", name="Kirim video").click(timeout=30_000)  # stops by itself at 10 s
    frame.get_by_text("(kode 1006)").wait_for()
    message = wait_message(page)
    assert message["data"]["func"] == "generateCertificate"
    assert message["data"]["message"]["resultCode"] == "1006"
    assert frame.get_by_role("button", name="Rekam ulang").is_visible()


@pytest.mark.e2e
def test_an_unknown_email_gets_an_error_page_and_a_failure_callback(page, partner, sandbox):
    src = f"{sandbox}/webview/index.php?{urlencode({'email': 'nobody@example.com', 'systemId': settings.SANDBOX_SYSTEM_ID})}"
    frame = embed(page, partner, src)
    frame.get_by_text("belum terdaftar").wait_for()
    assert wait_message(page)["data"]["message"]["resultCode"] == "1008"


# ---------------------------------------------------------------------------------------------- signing


def _widget_rect(pdf: bytes, page_number: int) -> list[int]:
    page = PdfReader(io.BytesIO(pdf)).pages[page_number - 1]
    rects = [
        [round(float(v)) for v in annot.get_object()["/Rect"]]
        for annot in page.get("/Annots", [])
        if annot.get_object().get("/FT") == "/Sig"
    ]
    assert len(rects) == 1, rects
    return rects[0]


@pytest.mark.e2e
def test_the_peruri_sign_web_view_places_the_box_signs_with_the_otp_and_tells_the_partner(
    page, partner, sandbox, api, signer_email, console_errors
):
    order_id = api.send_document(signer_email)  # no coordinates: the user places the box
    frame = embed(page, partner, f"{sandbox}/webview/signing.php?orderId={order_id}")

    frame.locator(".placement-page").filter(has_text="Halaman 2 dari 2").wait_for(timeout=20_000)  # the last page first
    box = frame.locator(".placement-box")
    box.wait_for()
    b = box.bounding_box()
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2 - 120, b["y"] + b["height"] / 2 - 200, steps=6)
    page.mouse.up()
    placed = {
        name: int(frame.locator(f"input[name={name}]").input_value())
        for name in ("page", "lower_left_x", "lower_left_y", "upper_right_x", "upper_right_y")
    }
    assert placed["page"] == 2

    frame.get_by_role("button", name="Kirim kode OTP").click()
    frame.get_by_text("Kode OTP telah dikirim").wait_for()
    otp = api.latest_otp(signer_email)  # GET /sandbox/outbox.json?to=<email>
    wrong = "000000" if otp != "000000" else "111111"
    frame.locator("#pw-otp").fill(wrong)
    frame.get_by_role("button", name="Tanda tangani").click()
    frame.get_by_text("(kode 01)").wait_for()
    assert page.evaluate("() => window.received.length") == 0
    frame.locator("#pw-otp").fill(otp)
    frame.get_by_role("button", name="Tanda tangani").click()

    message = wait_message(page)
    assert message["origin"] == sandbox and message["fromFrame"] is True
    assert message["data"] == {
        "func": "signDocument",
        "message": {"resultCode": "0", "resultDesc": "Success", "orderId": order_id},
    }
    frame.get_by_text("Dokumen berhasil ditandatangani.").wait_for()

    status = api.ok("checkDocumentStatus", {"param": {"orderId": order_id}})
    assert status["data"]["status"] == "SIGNED"
    signed = api.ok("downloadDocument", {"param": {"orderId": order_id}})
    rect = _widget_rect(base64.b64decode(signed["data"]["base64Document"]), placed["page"])
    assert rect == [placed["lower_left_x"], placed["lower_left_y"], placed["upper_right_x"], placed["upper_right_y"]]
    assert not console_errors


@pytest.mark.e2e
def test_an_order_with_coordinates_shows_the_pages_and_signs(page, partner, sandbox, api, signer_email):
    signer = [{"isVisualSign": "YES", "lowerLeftX": "50", "lowerLeftY": "50", "upperRightX": "250",
               "upperRightY": "120", "page": "1", "certificateLevel": "NOT_CERTIFIED", "varLocation": "Jakarta",
               "varReason": "Setuju"}]
    order_id = api.send_document(signer_email, signer=signer)
    frame = embed(page, partner, f"{sandbox}/webview/signing.php?orderId={order_id}")
    frame.locator(".pdfv-page").nth(1).wait_for(timeout=20_000)
    assert frame.locator(".placement-box").count() == 0
    frame.get_by_role("button", name="Kirim kode OTP").click()
    frame.get_by_text("Kode OTP telah dikirim").wait_for()
    frame.locator("#pw-otp").fill(api.latest_otp(signer_email))
    frame.get_by_role("button", name="Tanda tangani").click()
    assert wait_message(page)["data"]["message"] == {"resultCode": "0", "resultDesc": "Success", "orderId": order_id}

    # Opened again after signing: the page says so and reports it.
    page.evaluate("() => { window.received = []; }")
    frame = embed(page, partner, f"{sandbox}/webview/signing.php?orderId={order_id}")
    frame.get_by_text("Dokumen sudah ditandatangani").wait_for()
    assert wait_message(page)["data"]["message"]["resultCode"] == "03"


# ---------------------------------------------------------------------------------------------- framing and endpoints


@pytest.mark.e2e
def test_a_page_on_an_origin_that_is_not_a_partner_cannot_frame_the_web_view(page, partner, sandbox, settings, api):
    settings.SANDBOX_FRAME_ANCESTORS = ["https://other-partner.example"]
    # An existing order: framed, its page would post a callback to the parent.
    order_id = api.send_document(api.enrol("bingkai@example.com"))
    # goto() returns on the parent's load event, which waits for the iframe's own load.
    page.goto(f"{partner}/parent?{urlencode({'src': f'{sandbox}/webview/signing.php?orderId={order_id}'})}")
    frame = page.locator("#peruri").element_handle().content_frame()
    assert frame.url.startswith("chrome-error://")  # blocked by frame-ancestors: Chromium's error page
    assert page.evaluate("() => window.received.length") == 0


def test_the_web_views_are_frameable_by_partners_only(sandbox, settings):
    settings.SANDBOX_FRAME_ANCESTORS = ["http://partner.test:8000/some/path", "https://b.example"]
    response = requests.get(f"{sandbox}/webview/index.php", params={"email": "x@example.com", "systemId": "?"}, timeout=10)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors http://partner.test:8000 https://b.example" in csp
    assert "script-src 'self'" in csp and "unsafe" not in csp
    assert "X-Frame-Options" not in response.headers


def test_the_json_endpoints_need_the_page_token_and_our_own_origin(sandbox, api, signer_email):
    order_id = api.send_document(signer_email)
    page = requests.get(f"{sandbox}/webview/signing.php", params={"orderId": order_id}, timeout=10)
    token = page.text.split('name="page_token" value="', 1)[1].split('"', 1)[0]
    url = f"{sandbox}/webview/api/signing/otp"
    good = {"orderId": order_id, "page_token": token}
    placed = {"page": "1", "lower_left_x": "50", "lower_left_y": "50", "upper_right_x": "200", "upper_right_y": "100"}

    assert requests.post(url, data={**good, **placed}, timeout=10).status_code == 403  # no Origin
    evil = {"Origin": "https://evil.example"}
    assert requests.post(url, data={**good, **placed}, headers=evil, timeout=10).status_code == 403
    mine = {"Origin": sandbox}
    forged = {**good, "page_token": token[:-2] + ("AA" if not token.endswith("AA") else "BB")}
    assert requests.post(url, data={**forged, **placed}, headers=mine, timeout=10).status_code == 403
    other = api.send_document(signer_email)  # a token for one order does not open another
    assert requests.post(url, data={**good, **placed, "orderId": other}, headers=mine, timeout=10).status_code == 403
    assert not [m for m in api.outbox(signer_email) if m.get("otp")]

    reply = requests.post(url, data={**good, **placed}, headers=mine, timeout=10)
    assert reply.status_code == 200 and reply.json()["resultCode"] == "0", reply.text
    assert "ticket" in reply.json() and api.latest_otp(signer_email) not in json.dumps(reply.json())


ENGLISH_DEFAULTS = ("Loading", "Page ", "Previous page", "Next page", "Signature box", "Start camera", "Clear", "Save")


@pytest.mark.e2e
def test_both_web_views_fit_a_phone_and_speak_indonesian(page, sandbox, api, signer_email):
    page.set_viewport_size({"width": 360, "height": 740})
    fits = "() => document.documentElement.scrollWidth <= window.innerWidth"

    order_id = api.send_document(signer_email)
    page.goto(f"{sandbox}/webview/signing.php?orderId={order_id}")
    page.locator(".placement-page").filter(has_text="Halaman 2 dari 2").wait_for(timeout=20_000)
    page.locator(".placement-box").wait_for()
    assert page.evaluate(fits)
    assert page.get_by_role("button", name="Kirim kode OTP").is_visible()
    text = page.locator("body").inner_text()
    assert page.locator("html").get_attribute("lang") == "id"
    assert not [word for word in ENGLISH_DEFAULTS if word in text], text

    email = "ponsel@example.com"
    api.ok("registration", {"param": registration(email, name="Dewi Lestari")})
    page.goto(f"{sandbox}/webview/index.php?{urlencode({'email': email, 'systemId': settings.SANDBOX_SYSTEM_ID})}")
    page.get_by_role("button", name="Nyalakan kamera").wait_for()
    assert page.evaluate(fits)
    text = page.locator("body").inner_text()
    assert page.locator("html").get_attribute("lang") == "id"
    assert not [word for word in ENGLISH_DEFAULTS if word in text], text
