"""The shared widgets in a real Chromium (fake camera), under Paraf's own CSP.

Pages come from the little static site in conftest.py; POSTs land in `site.posts`.
"""

from __future__ import annotations

import base64
import html
import json
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image

from tests.frontend.test_placement_math import Geometry, make_pdf

pytestmark = pytest.mark.e2e

SCRIPTS = {
    "pdf": ["js/paraf-common.js", "js/pdf-viewer.js"],
    "video": ["js/paraf-common.js", "js/video-recorder.js"],
    "signature": ["js/paraf-common.js", "vendor/signature_pad/signature_pad.umd.min.js", "js/signature.js"],
    "listener": ["js/paraf-common.js", "js/webview-listener.js"],
}


def page_html(kind: str, body: str) -> str:
    scripts = "".join(f'<script src="/static/{s}" defer></script>' for s in SCRIPTS[kind])
    return f"""<!DOCTYPE html><html lang="id"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/css/app.css"><title>{kind}</title></head>
<body>{body}{scripts}</body></html>"""


CSRF = '<input type="hidden" name="csrfmiddlewaretoken" value="tok-123">'


# ------------------------------------------------------------------------------------------ pdf viewer


def test_the_pdf_viewer_shows_every_page_fitted_to_a_phone(page, widget_site, console_errors):
    url, site = widget_site
    site.pdfs["three.pdf"] = make_pdf([
        Geometry(media=(0, 0, 595, 842)), Geometry(media=(0, 0, 595, 842), rotate=90), Geometry(media=(0, 0, 842, 595)),
    ])
    site.pages["viewer"] = lambda q: page_html("pdf", """
      <div data-pdf-viewer data-pdf-url="/pdf/three.pdf" data-pdfjs-base="/static/vendor/pdfjs/"
           data-text-page-of="Halaman {page} dari {pages}"></div>""")
    page.goto(f"{url}/page/viewer")
    page.wait_for_function("() => document.querySelectorAll('.pdfv-page').length === 3")
    page.wait_for_function("() => document.querySelector('.pdfv-page canvas').width > 300")
    assert page.locator(".pdfv-page").nth(1).get_attribute("aria-label") == "Halaman 2 dari 3"
    page.locator(".pdfv-page").nth(2).scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelectorAll('.pdfv-page canvas')[2].width > 300")
    sizes = page.evaluate("""() => [...document.querySelectorAll('.pdfv-page canvas')]
        .map((c) => [c.getBoundingClientRect().width, c.getBoundingClientRect().height])""")
    viewport_width = page.viewport_size["width"]
    for width, _ in sizes:
        assert width <= viewport_width
    # Portrait, then the same page turned by /Rotate 90 (landscape), then a landscape page.
    assert sizes[0][1] > sizes[0][0] and sizes[1][0] > sizes[1][1] and sizes[2][0] > sizes[2][1]
    assert not console_errors


def test_the_pdf_viewer_says_so_when_the_pdf_is_missing(page, widget_site):
    url, site = widget_site
    site.pages["viewer"] = lambda q: page_html("pdf", """
      <div data-pdf-viewer data-pdf-url="/pdf/missing.pdf" data-pdfjs-base="/static/vendor/pdfjs/"
           data-text-error="Dokumen tidak dapat ditampilkan."></div>""")
    page.goto(f"{url}/page/viewer")
    page.get_by_text("Dokumen tidak dapat ditampilkan.").wait_for()


# ------------------------------------------------------------------------------------------ video


def video_page(mode: str) -> str:
    target = 'data-upload-url="/post/video"' if mode == "upload" else 'data-file-input="video_file"'
    return page_html("video", f"""
      <form id="f" method="post" enctype="multipart/form-data">{CSRF}
        <input type="hidden" name="enrolment" value="42">
        <input type="file" name="video_file" hidden>
        <div data-video-recorder {target} data-max-seconds="2" data-min-seconds="1" data-countdown="1"
             data-strings="video-strings"></div>
      </form>
      <script type="application/json" id="video-strings">{{"start_camera": "Nyalakan kamera", "use": "Kirim video ini"}}</script>""")


def record(page: Any) -> None:
    page.get_by_role("button", name="Nyalakan kamera").click()
    page.get_by_role("button", name="Start recording").click()
    # Stops by itself after data-max-seconds.
    page.locator(".vr-playback").wait_for(state="visible", timeout=15_000)


def test_the_video_recorder_records_the_fake_camera_and_uploads_webm(page, widget_site, console_errors):
    url, site = widget_site
    site.pages["video"] = lambda q: video_page("upload")
    site.replies["/post/video"] = (200, json.dumps({"status": "Video diterima"}).encode())
    page.goto(f"{url}/page/video")
    record(page)
    # The camera is off once recording stopped.
    assert page.evaluate("() => document.querySelector('.vr-live').srcObject") is None
    page.get_by_role("button", name="Kirim video ini").click()
    page.get_by_text("Video diterima").wait_for()
    [post] = site.posts
    assert post["csrf"] == "tok-123"
    assert post["content_type"].startswith("multipart/form-data")
    assert b'name="enrolment"\r\n\r\n42' in post["body"]
    assert b'filename="face-video.webm"' in post["body"]
    assert b"Content-Type: video/webm" in post["body"]
    assert b"\x1a\x45\xdf\xa3" in post["body"]  # the WebM (EBML) signature
    assert not console_errors


def test_the_video_recorder_can_fill_a_file_input_and_retake(page, widget_site):
    url, site = widget_site
    site.pages["video"] = lambda q: video_page("file")
    page.goto(f"{url}/page/video")
    record(page)
    first = page.evaluate("() => { const f = document.forms.f.elements.video_file.files[0]; return [f.name, f.type, f.size]; }")
    assert first[0] == "face-video.webm" and first[1] == "video/webm" and first[2] > 1000
    page.get_by_role("button", name="Record again").click()
    assert page.evaluate("() => document.forms.f.elements.video_file.files.length") == 0
    page.get_by_role("button", name="Start recording").click()
    page.locator(".vr-playback").wait_for(state="visible", timeout=15_000)
    assert page.evaluate("() => document.forms.f.elements.video_file.files.length") == 1
    assert not site.posts


def test_the_video_recorder_refuses_a_video_over_the_size_limit(page, widget_site):
    url, site = widget_site
    site.pages["video"] = lambda q: page_html("video", f"""
      <form>{CSRF}<div data-video-recorder data-upload-url="/post/video" data-max-seconds="3" data-countdown="0"
           data-max-bytes="2000" data-text-too-big="Terlalu besar: {{size}} MB dari {{max}} MB"></div></form>""")
    page.goto(f"{url}/page/video")
    page.get_by_role("button", name="Turn on the camera").click()
    page.get_by_role("button", name="Start recording").click()
    page.get_by_text("Terlalu besar:").wait_for(timeout=15_000)
    assert page.get_by_role("button", name="Record again").is_visible()
    assert not page.get_by_role("button", name="Send this video").is_visible()


# ------------------------------------------------------------------------------------------ signature


def signature_page(query: dict[str, list[str]]) -> str:
    return page_html("signature", f"""
      <form id="f" method="post">{CSRF}
        <input type="hidden" name="specimen">
        <div data-signature-pad data-input="specimen" data-required="true" data-upload-url="/post/specimen"
             data-text-clear="Hapus" data-text-undo="Batalkan" data-text-save="Simpan"></div>
        <button type="submit">Lanjut</button>
      </form>""")


def draw(page: Any) -> None:
    box = page.locator(".sig-canvas").bounding_box()
    x, y = box["x"] + 40, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 20):
        page.mouse.move(x + i * 12, y + (20 if i % 2 else -20), steps=2)
    page.mouse.up()


def png_of(data_url: str) -> Image.Image:
    assert data_url.startswith("data:image/png;base64,")
    return Image.open(BytesIO(base64.b64decode(data_url.split(",", 1)[1])))


def test_the_signature_pad_exports_a_trimmed_png_with_undo_and_clear(page, widget_site, console_errors):
    url, site = widget_site
    site.pages["sig"] = signature_page
    page.goto(f"{url}/page/sig")
    page.locator(".sig-canvas").wait_for()
    page.wait_for_function("() => document.querySelector('[data-signature-pad]').parafSignature.pad")
    # Empty pad: the form does not submit.
    page.get_by_role("button", name="Lanjut").click()
    page.get_by_text("Please draw your signature first.").wait_for()
    assert urlsplit(page.url).path == "/page/sig"

    draw(page)
    image = png_of(page.input_value("input[name=specimen]"))
    canvas_width = page.evaluate("() => document.querySelector('.sig-canvas').width")
    assert image.mode == "RGBA" and 150 < image.width < canvas_width  # trimmed to the drawing
    assert image.getpixel((0, 0))[3] == 0  # transparent background

    draw(page)
    page.get_by_role("button", name="Batalkan").click()
    assert page.input_value("input[name=specimen]").startswith("data:image/png")
    page.get_by_role("button", name="Batalkan").click()
    assert page.input_value("input[name=specimen]") == ""
    draw(page)
    page.get_by_role("button", name="Hapus").click()
    assert page.input_value("input[name=specimen]") == ""

    draw(page)
    site.replies["/post/specimen"] = (200, json.dumps({"status": "Tersimpan"}).encode())
    page.get_by_role("button", name="Simpan").click()
    page.get_by_text("Tersimpan").wait_for()
    [post] = site.posts
    assert post["csrf"] == "tok-123"
    assert b'name="specimen"; filename="specimen.png"' in post["body"]
    assert b"\x89PNG" in post["body"]
    assert not console_errors


def test_a_picture_can_be_uploaded_instead_and_becomes_a_png(page, widget_site, tmp_path):
    url, site = widget_site
    site.pages["sig"] = signature_page
    photo = Image.new("RGB", (600, 200), "white")
    for x in range(100, 500):
        photo.putpixel((x, 100), (0, 0, 0))
    photo.save(tmp_path / "ttd.jpg", "JPEG")
    (tmp_path / "not-an-image.png").write_bytes(b"%PDF-1.7 definitely not a picture")

    page.goto(f"{url}/page/sig")
    page.wait_for_function("() => document.querySelector('[data-signature-pad]').parafSignature.pad")
    page.set_input_files(".sig-upload", tmp_path / "not-an-image.png")
    page.get_by_text("This file is not a PNG or JPEG picture.").wait_for()
    assert page.input_value("input[name=specimen]") == ""

    page.set_input_files(".sig-upload", tmp_path / "ttd.jpg")
    page.wait_for_function("() => document.forms.f.elements.specimen.value !== ''")
    image = png_of(page.input_value("input[name=specimen]"))
    assert image.format == "PNG" and image.width > image.height


# ------------------------------------------------------------------------------------------ web-view listener


def listener_page(webview_origin: str, order_id: str = "") -> str:
    order = f'data-order-id="{order_id}"' if order_id else ""
    return page_html("listener", f"""
      <div data-webview-listener data-kind="signing" data-origin="{html.escape(webview_origin)}"
           data-func-signing="signDocument" data-confirm-url="/post/confirm" data-iframe="peruri" {order}
           data-text-checking="Memeriksa hasil ke Peruri…">{CSRF}
        <iframe id="peruri" src="{webview_origin}/page/child" title="Peruri"></iframe>
        <iframe id="other" src="{webview_origin}/page/child" title="other"></iframe>
        <p data-webview-status></p>
      </div>""")


@pytest.fixture
def listener(page: Any, widget_site: tuple[str, Any], settings: Any) -> tuple[Any, Any, Any, Any]:
    url, site = widget_site
    # The web view's origin: same server, other host name, so another origin.
    webview = url.replace("127.0.0.1", "localhost")
    settings.PERURI_WEBVIEW_URL = f"{webview}/webview"  # Paraf's CSP frame-src follows it
    site.pages["listener"] = lambda q: listener_page(webview, q.get("order", [""])[0])
    site.pages["child"] = lambda q: ("<!DOCTYPE html><title>child</title><p>web view</p>", "")
    site.pages["done"] = lambda q: "<!DOCTYPE html><title>done</title><p>selesai</p>"
    page.goto(f"{url}/page/listener?order=77")
    page.frame_locator("#peruri").locator("p").wait_for()
    page.frame_locator("#other").locator("p").wait_for()
    peruri = page.locator("#peruri").element_handle().content_frame()
    other = page.locator("#other").element_handle().content_frame()
    return page, site, peruri, other


GOOD = {"func": "signDocument", "message": {"resultCode": "0", "resultDesc": "Success", "orderId": "77"}}


def post_from(frame: Any, data: Any, target: str = "*") -> None:
    frame.evaluate("([data, target]) => window.parent.postMessage(data, target)", [data, target])


def test_the_listener_confirms_a_valid_callback_with_the_server_and_follows_it(listener):
    page, site, peruri, _ = listener
    site.replies["/post/confirm"] = (200, json.dumps({"redirect": "/page/done"}).encode())
    with page.expect_navigation():
        post_from(peruri, GOOD)
    assert urlsplit(page.url).path == "/page/done"
    [post] = site.posts
    assert post["csrf"] == "tok-123"
    body = post["body"].decode()
    for name, value in [("kind", "signing"), ("func", "signDocument"), ("resultCode", "0"),
                        ("resultDesc", "Success"), ("orderId", "77")]:
        assert f'name="{name}"\r\n\r\n{value}\r\n' in body


@pytest.mark.parametrize("data", [
    {"func": "generateCertificate", "message": {"resultCode": "0", "resultDesc": "x"}},  # not this iFrame's
    {"func": "alert", "message": {"resultCode": "0", "resultDesc": "x"}},
    {"func": "signDocument", "message": {"resultCode": "<img src=x onerror=alert(1)>", "resultDesc": "x"}},
    {"func": "signDocument", "message": {"resultCode": "0", "resultDesc": "x" * 256}},
    {"func": "signDocument", "message": {"resultCode": "0", "resultDesc": "x", "orderId": "78"}},  # other order
    {"func": "signDocument", "message": {"resultCode": "0", "resultDesc": "x", "orderId": "7 7"}},
    {"func": "signDocument", "message": {"resultCode": 0, "resultDesc": "x"}},
    {"func": "signDocument", "message": "resultCode=0"},
    {"func": "signDocument", "message": ["0", "x"]},
    '{"func": "signDocument", "message": {"resultCode": "0", "resultDesc": "x"}}',  # a string
    None,
])
def test_the_listener_ignores_a_malformed_callback(listener, data):
    page, site, peruri, _ = listener
    post_from(peruri, data)
    page.wait_for_timeout(300)
    assert not site.posts
    assert page.locator("[data-webview-status]").text_content() == ""


def test_the_listener_ignores_the_right_origin_from_another_window(listener):
    page, site, peruri, other = listener
    assert other.url == peruri.url  # same origin, same page, but not the iFrame we opened
    post_from(other, GOOD)
    page.evaluate("(data) => window.postMessage(data, '*')", GOOD)  # our own window
    page.wait_for_timeout(300)
    assert not site.posts


def test_the_listener_ignores_a_forged_callback_from_a_third_origin(listener):
    page, site, _, _ = listener
    page.context.route("http://evil.test/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!DOCTYPE html><title>evil</title>"))
    with page.context.expect_page() as popup_info:
        page.evaluate("() => { window.evil = window.open('http://evil.test/'); }")
    popup = popup_info.value
    popup.wait_for_load_state()
    popup.evaluate("(data) => window.opener.postMessage(data, '*')", GOOD)
    page.wait_for_timeout(300)
    assert not site.posts


def test_the_listener_shows_status_text_and_never_follows_a_foreign_redirect(listener):
    page, site, peruri, _ = listener
    site.replies["/post/confirm"] = (
        200, json.dumps({"redirect": "http://evil.test/", "status": "<b>Dokumen sedang diproses</b>"}).encode())
    post_from(peruri, GOOD)
    status = page.locator("[data-webview-status]")
    status.filter(has_text="Dokumen sedang diproses").wait_for()
    assert status.inner_html() == "&lt;b&gt;Dokumen sedang diproses&lt;/b&gt;"  # textContent, not HTML
    assert urlsplit(page.url).path == "/page/listener"
    assert len(site.posts) == 1


def test_the_listener_asks_again_when_the_server_says_retry(listener):
    page, site, peruri, _ = listener
    site.replies["/post/confirm"] = (200, json.dumps({"status": "Menunggu Peruri…", "retry": 0.2}).encode())
    post_from(peruri, GOOD)
    page.wait_for_function("() => document.querySelector('[data-webview-status]').textContent === 'Menunggu Peruri…'")
    page.wait_for_timeout(700)
    site.replies["/post/confirm"] = (200, json.dumps({"redirect": "/page/done"}).encode())
    page.wait_for_url("**/page/done")
    assert len(site.posts) >= 3
