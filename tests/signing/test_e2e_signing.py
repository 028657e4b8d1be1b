"""Browser journeys (Playwright + Debian's Chromium): Paraf and the sandbox on two origins.

`pytest -m e2e -k signing` runs exactly these.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core import mail

from documents.models import Document
from documents.verification import ExpectedSigner, pdf_verify, signature_widgets
from tests.documents.helpers import latest_otp, make_pdf, peruri_calls

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("english")]

S = Document.Status
# Page 2 of the test PDF is turned 90° and its crop box does not start at 0,0: the box drawn on
# screen must still land where the signed PDF's widget is.
CROP = (20, 30, 580, 800)


def _login(page, app_server, email, password):
    page.goto(f"{app_server}/akun/masuk/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def _upload_and_place(page, app_server, signer, tmp_path: Path):
    pdf_path = tmp_path / "Perjanjian Kerja.pdf"
    pdf_path.write_bytes(make_pdf(2, rotate={2: 90}, cropbox={2: CROP}))
    page.goto(f"{app_server}/dokumen/unggah/")
    page.set_input_files("#id_file", str(pdf_path))
    page.fill("#id_signer_email", signer.email)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/tempatkan/$"))

    box = page.locator(".placement-box")
    box.wait_for(state="visible")
    canvas = page.locator(".placement-stage canvas")
    page.wait_for_function("document.querySelector('#id_page').value === '2'")
    # Drag the box somewhere else on the page, then make it bigger by its corner handle.
    b = box.bounding_box()
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2 - 230, b["y"] + b["height"] / 2 - 140, steps=8)
    page.mouse.up()
    handle = page.locator(".placement-handle").bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(handle["x"] + handle["width"] / 2 + 40, handle["y"] + handle["height"] / 2 + 25, steps=5)
    page.mouse.up()

    # What was drawn, in page points as displayed (top-left origin), from the screen geometry.
    c = canvas.bounding_box()
    b = box.bounding_box()
    display_width = CROP[3] - CROP[1]  # turned 90°: the display's width is the crop box's height
    scale = c["width"] / display_width
    left, top = (b["x"] - c["x"]) / scale, (b["y"] - c["y"]) / scale
    width, height = b["width"] / scale, b["height"] / scale
    # /Rotate 90 (clockwise): display x runs along user-space y, display y along user-space x.
    drawn = (CROP[0] + top, CROP[1] + left, CROP[0] + top + height, CROP[1] + left + width)
    page.fill("#id_reason", "Setuju")
    return drawn


def _assert_signed_pdf(data: bytes, document: Document, drawn):
    result = pdf_verify(
        signed=data,
        original=document.original.read(),
        expected_signers=[ExpectedSigner(email=document.signer.email, name=document.signer.full_name)],
    )
    assert result.ok, result.summary
    [widget] = signature_widgets(data)
    assert widget["page"] == 2
    assert widget["rect"] == [float(document.sig_llx), float(document.sig_lly), float(document.sig_urx), float(document.sig_ury)]
    for got, want in zip(widget["rect"], drawn, strict=True):
        assert abs(got - want) <= 2, (widget["rect"], drawn)


def _signer_opens_the_emailed_link(browser, signer):
    [message] = [m for m in mail.outbox if signer.email in m.to]
    link = re.search(r"https?://\S+/akun/tautan/\S+/", message.body).group(0)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="id-ID", accept_downloads=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(link)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/tanda-tangan/[0-9a-f-]{36}/$"))
    return context, page


@pytest.fixture
def desktop(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def test_staff_send_and_the_signer_completes_native_otp_signing(desktop, browser, app_server, sandbox, staff, signer, tmp_path):
    mail.outbox.clear()
    _login(desktop, app_server, staff.email, "rahasia-staf-123")
    drawn = _upload_and_place(desktop, app_server, signer, tmp_path)
    desktop.click("#place-and-send")
    desktop.wait_for_url(re.compile(r".*/dokumen/[0-9a-f-]{36}/$"))
    document = Document.objects.get()
    assert document.status == S.AWAITING_SIGNATURE, document.last_error
    assert desktop.locator('[data-status="awaiting_signature"]').first.is_visible()

    context, page = _signer_opens_the_emailed_link(browser, signer)
    try:
        page.click("#otp-request")
        otp = latest_otp(sandbox, signer.email)
        page.fill("#id_otp", otp)
        page.click("#sign-submit")
        page.locator("#download-signed").wait_for()
        with page.expect_download() as download_info:
            page.click("#download-signed")
        data = Path(download_info.value.path()).read_bytes()
    finally:
        context.close()
    document.refresh_from_db()
    assert document.status == S.SIGNED
    _assert_signed_pdf(data, document, drawn)
    ops = [c.operation for c in peruri_calls(document)]
    assert ops.count("send_document") == ops.count("get_otp") == ops.count("sign") == 1


def test_the_signer_completes_embedded_signing_in_peruris_iframe(browser, app_server, sandbox, staff, signer, settings):
    settings.PERURI_SIGNING_MODE = "embedded"
    mail.outbox.clear()
    from tests.documents.fixtures import create_document, send_document

    document = send_document(create_document(staff=staff, signer=signer, box=(1, 380, 60, 540, 120)), staff)
    assert document.status == S.AWAITING_SIGNATURE
    context, page = _signer_opens_the_emailed_link(browser, signer)
    confirms = []
    page.on("request", lambda r: confirms.append(r.url) if "/konfirmasi/" in r.url else None)
    try:
        frame = page.frame_locator("#signing-webview")
        frame.locator('[data-action="request-otp"]').click()
        otp = latest_otp(sandbox, signer.email)
        frame.locator("#pw-otp").fill(otp)
        frame.locator('[data-action="sign"]').click()
        # The web view posts signDocument; our listener asks the server, which asks Peruri.
        page.locator("#download-signed").wait_for()
        with page.expect_download() as download_info:
            page.click("#download-signed")
        data = Path(download_info.value.path()).read_bytes()
    finally:
        context.close()
    assert len(confirms) == 1
    document.refresh_from_db()
    assert document.status == S.SIGNED
    assert document.events.filter(kind="callback").count() == 1
    result = pdf_verify(
        signed=data,
        original=document.original.read(),
        expected_signers=[ExpectedSigner(email=signer.email, name=signer.full_name)],
    )
    assert result.ok, result.summary
    [widget] = signature_widgets(data)
    assert widget["page"] == 1 and widget["rect"] == [380.0, 60.0, 540.0, 120.0]
    ops = [c.operation for c in peruri_calls(document)]
    assert "sign" not in ops and "get_otp" not in ops  # the web view did those, at Peruri
    assert ops.count("check_document_status") == 1 and ops.count("download_document") == 1


FORGER_PAGE = """<!DOCTYPE html><html><body>
<button id="open" type="button">Open</button>
<script>
  const params = new URLSearchParams(location.search);
  let target = null;
  document.getElementById("open").addEventListener("click", () => {
    target = window.open(params.get("target"), "paraf");
  });
  setInterval(() => {
    if (!target) return;
    const message = {resultCode: "0", resultDesc: "Success", orderId: params.get("order")};
    target.postMessage({func: "signDocument", message: message}, "*");
    for (const frame of Array.from(target.frames || [])) {
      try { frame.postMessage({func: "signDocument", message: message}, "*"); } catch (e) {}
    }
  }, 150);
</script></body></html>"""


@pytest.fixture
def third_origin():
    from tests.servers import ServerThread

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [FORGER_PAGE.encode()]

    server = ServerThread(app).start_and_wait()
    yield server.url
    server.stop()


def test_a_forged_signdocument_message_from_a_third_origin_changes_nothing_in_signing(
    browser, app_server, sandbox, staff, signer, settings, third_origin
):
    from urllib.parse import urlencode

    from tests.documents.fixtures import create_document, send_document

    settings.PERURI_SIGNING_MODE = "embedded"
    mail.outbox.clear()
    document = send_document(create_document(staff=staff, signer=signer), staff)
    context, page = _signer_opens_the_emailed_link(browser, signer)
    try:
        page.frame_locator("#signing-webview").locator('[data-action="request-otp"]').wait_for()
        target = page.url
        forger = context.new_page()
        forger.goto(f"{third_origin}/?{urlencode({'target': target, 'order': document.peruri_order_id})}")
        confirms = []
        with context.expect_page() as popup_info:
            forger.click("#open")
        popup = popup_info.value
        popup.on("request", lambda r: confirms.append(r.url) if "/konfirmasi/" in r.url else None)
        popup.frame_locator("#signing-webview").locator('[data-action="request-otp"]').wait_for()
        popup.wait_for_timeout(2500)  # ~15 forged messages to the page and its iFrame
        assert confirms == []
        assert popup.locator("[data-webview-status]").text_content().strip() == ""
    finally:
        context.close()
    document.refresh_from_db()
    assert document.status == S.AWAITING_SIGNATURE
    assert not document.events.filter(kind="callback").exists()
    assert peruri_calls(document, "check_document_status") == []
