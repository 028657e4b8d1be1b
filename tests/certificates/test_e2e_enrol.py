"""Browser journeys (Playwright + Chromium with a fake camera): from the invitation e-mail to
"certificate issued", natively and through the sandbox's activation iFrame on its own origin, and
a forged generateCertificate message from a third origin that changes nothing.

Run exactly these with `pytest -m e2e -k enrol`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.db import connections
from django.urls import reverse

from certificates import services
from certificates.models import Enrolment, EnrolmentEvent
from tests.factories import StaffFactory
from tests.fixtures_certificates import make_ktp, sample_photo

pytestmark = pytest.mark.e2e

S = Enrolment.Status


@pytest.fixture
def beat(sandbox: str) -> Iterator[None]:
    """What Celery beat does in production: run the dispatcher every half second."""
    from certificates.tasks import enrolment_poll_due

    stop = threading.Event()

    def loop() -> None:
        try:
            while not stop.is_set():
                enrolment_poll_due()
                stop.wait(0.5)
        finally:
            connections.close_all()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(5)


def invite(email: str, mode: str) -> Enrolment:
    return services.enrolment_invite(
        email=email, full_name="Siti Rahmawati", license_type="client", invited_by=StaffFactory(), mode=mode
    )


def open_invitation(page: Any, email: str) -> None:
    message = next(m for m in reversed(mail.outbox) if email in m.to)
    link = re.search(r"https?://\S+/akun/tautan/\S+/", message.body).group(0)
    page.goto(link)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(re.escape(reverse("certificates:my_enrolment")) + "$"))


def fill_registration(page: Any, app_server: str, seed: int) -> None:
    page.locator(f"a[href='{reverse('certificates:register')}']").click()
    page.check("input[name=consent]")
    page.fill("input[name=full_name]", "Siti Rahmawati")
    page.fill("input[name=ktp_number]", make_ktp(seed))
    page.set_input_files(
        "input[name=ktp_photo]", files=[{"name": "ktp.jpg", "mimeType": "image/jpeg", "buffer": sample_photo()}]
    )
    page.check("input[name=gender][value=F]")
    page.fill("input[name=place_of_birth]", "Bandung")
    page.fill("input[name=date_of_birth]", "1990-08-15")
    page.fill("input[name=address]", "Jl. Merdeka No. 1")
    page.fill("input[name=city]", "Jakarta Pusat")
    page.fill("input[name=province]", "DKI Jakarta")
    page.fill("input[name=phone]", "0812 3456 7890")
    page.locator("main form button[type=submit]").click()


def wait_for_status(page: Any, status: str, timeout: float = 30_000) -> None:
    page.locator(f"[data-enrolment-status='{status}']").wait_for(timeout=timeout)


def record_video(scope: Any) -> None:
    """Drive static/js/video-recorder.js: camera on, record (fake camera), send."""
    buttons = scope.locator(".vr-buttons button:visible")
    buttons.first.click()  # turn on the camera
    scope.locator("video.vr-live:visible").wait_for()
    buttons.first.click()  # start recording (after a countdown, stops by itself at the limit)
    scope.locator("video.vr-playback:visible").wait_for(timeout=30_000)
    buttons.last.click()  # send this video


def draw_signature(page: Any, scope: Any) -> None:
    canvas = scope.locator("canvas.sig-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + w * 0.1, y + h * 0.7)
    page.mouse.down()
    for i in range(1, 12):
        page.mouse.move(x + w * (0.1 + 0.07 * i), y + h * (0.3 if i % 2 else 0.7), steps=3)
    page.mouse.up()


def test_native_enrolment_from_the_invitation_email_to_an_issued_certificate(page, app_server, sandbox, beat, settings):
    settings.CERTIFICATES_VIDEO_MAX_SECONDS = 4
    invite("native.journey@example.com", mode="native")
    open_invitation(page, "native.journey@example.com")
    wait_for_status(page, S.INVITED)

    fill_registration(page, app_server, seed=101)
    wait_for_status(page, S.AWAITING_VIDEO)

    page.locator(f"a[href='{reverse('certificates:video')}']").click()
    record_video(page)
    wait_for_status(page, S.AWAITING_SPECIMEN)

    page.locator(f"a[href='{reverse('certificates:specimen')}']").click()
    draw_signature(page, page)
    page.wait_for_function("document.querySelector('input[name=specimen_data]').value.startsWith('data:image/png')")
    page.locator("#specimen-form > p > button[type=submit]").click()
    wait_for_status(page, S.ISSUED)

    enrolment = Enrolment.objects.get(email="native.journey@example.com")
    assert enrolment.status == S.ISSUED and not enrolment.has_identity_files
    assert page.locator("ol.steps li.done").count() == 5


def test_embedded_enrolment_through_the_sandbox_activation_iframe(page, app_server, sandbox, beat, settings):
    invite("embedded.journey@example.com", mode="embedded")
    open_invitation(page, "embedded.journey@example.com")
    fill_registration(page, app_server, seed=202)
    wait_for_status(page, S.AWAITING_WEBVIEW)

    page.locator(f"a[href='{reverse('certificates:activation')}']").click()
    frame = page.frame_locator("#activation-webview")
    record_video(frame)
    frame.locator("[data-section=specimen]:visible").wait_for(timeout=30_000)
    draw_signature(page, frame)
    frame.locator(".sig-buttons button").last.click()  # "save": uploads to Peruri's page
    # The web view posts generateCertificate; the listener asks Paraf, Paraf asks Peruri.
    page.wait_for_url(re.compile(re.escape(reverse("certificates:my_enrolment")) + "$"), timeout=30_000)
    wait_for_status(page, S.ISSUED)
    assert EnrolmentEvent.objects.filter(
        enrolment__email="embedded.journey@example.com", operation="check_now"
    ).exists()


FORGED = {
    "func": "generateCertificate",
    "message": {"resultCode": "0", "resultDesc": "Data sertifikat berhasil di-generate"},
}


def test_a_forged_enrolment_callback_from_a_third_origin_changes_nothing(page, app_server, sandbox, settings):
    enrolment = invite("forged.enrol@example.com", mode="embedded")
    open_invitation(page, "forged.enrol@example.com")
    fill_registration(page, app_server, seed=303)
    wait_for_status(page, S.AWAITING_WEBVIEW)

    # A third origin, embedded inside Peruri's page (say, an ad or a compromised widget there).
    evil = "http://evil.example.test"
    page.route(
        f"{evil}/**",
        lambda route: route.fulfill(
            content_type="text/html",
            body="<!DOCTYPE html><p>third party</p>",
        ),
    )

    def relax_webview_csp(route: Any) -> None:
        response = route.fetch()
        headers = dict(response.headers)
        headers["content-security-policy"] = headers.get("content-security-policy", "") + f"; frame-src {evil}"
        route.fulfill(response=response, headers=headers)

    page.route(f"{sandbox}/webview/index.php*", relax_webview_csp)
    confirm_url = reverse("certificates:activation_confirm")
    confirms: list[str] = []
    page.on("request", lambda request: confirms.append(request.url) if confirm_url in request.url else None)

    page.goto(app_server + reverse("certificates:activation"))
    webview = page.frame_locator("#activation-webview")
    webview.locator("[data-section=video]:visible").wait_for()
    webview.locator("body").evaluate(
        "(body, src) => { const f = document.createElement('iframe'); f.id = 'evil'; f.src = src; body.append(f); }",
        f"{evil}/forge.html",
    )
    evil_frame = next(f for f in _wait_for_frame(page, evil))
    # 1. The third-origin frame posts to Paraf's page (the top window), with any target.
    evil_frame.evaluate(
        "(msg) => { window.top.postMessage(msg, '*'); window.parent.parent.postMessage(msg, '*'); }", FORGED
    )
    # 2. Paraf's own origin (not the web view's), e.g. another tab or an injected script.
    page.evaluate("(msg) => window.postMessage(msg, '*')", FORGED)
    # 3. A synthetic event claiming the web view's origin but not coming from its window.
    page.evaluate(
        "([msg, origin]) => window.dispatchEvent(new MessageEvent('message', {data: msg, origin, source: window}))",
        [FORGED, sandbox],
    )
    page.wait_for_timeout(1500)

    assert confirms == []  # the listener did not even ask the server
    enrolment.refresh_from_db()
    assert enrolment.status == S.AWAITING_WEBVIEW
    assert not enrolment.events.filter(operation="check_now").exists()
    assert page.locator("#webview-status").text_content().strip() == ""
    assert page.url.endswith(reverse("certificates:activation"))

    # Control: the same message from the real web view's window is passed on — as a hint only.
    webview.locator("body").evaluate("(body, msg) => window.parent.postMessage(msg, '*')", FORGED)
    page.wait_for_timeout(1500)
    assert len(confirms) == 1
    enrolment.refresh_from_db()
    assert enrolment.status == S.AWAITING_WEBVIEW  # Peruri has issued nothing: nothing changes
    assert enrolment.events.filter(operation="check_certificate", result_code="4001").exists()


def _wait_for_frame(page: Any, origin: str, timeout: float = 10.0) -> Iterator[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in page.frames:
            if frame.url.startswith(origin):
                frame.wait_for_load_state()
                yield frame
                return
        page.wait_for_timeout(100)
    raise AssertionError(f"no frame from {origin}")
