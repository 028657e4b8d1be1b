"""The signer's side: OTP requests with a cool-down, wrong/expired/too many codes, rate limits in
the shared cache, and the embedded web view's callback (a hint that only triggers a check)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from documents.models import Document
from signing import services as signing
from tests.documents.fixtures import create_document, enrol_at_sandbox, send_document
from tests.documents.helpers import last_message_id, latest_otp, peruri_calls

pytestmark = pytest.mark.usefixtures("english")

S = Document.Status


def _wrong(otp: str) -> str:
    return f"{(int(otp) + 1) % 1_000_000:06d}"


def test_a_code_cannot_be_requested_again_during_the_cool_down(sandbox, sent_document, signer, settings):
    settings.SIGNING_OTP_RESEND_SECONDS = 60
    signing.otp_request(document=sent_document, user=signer)
    with pytest.raises(signing.SigningError) as exc:
        signing.otp_request(document=sent_document, user=signer)
    assert exc.value.kind == "cooldown"
    assert 55 <= exc.value.seconds <= 60
    assert "60 seconds" in exc.value.message or "59 seconds" in exc.value.message
    assert len(peruri_calls(sent_document, "get_otp")) == 1


def test_wrong_codes_get_clear_messages_then_a_new_code_is_needed(sandbox, sent_document, signer, settings):
    settings.SIGNING_OTP_RESEND_SECONDS = 0
    signing.otp_request(document=sent_document, user=signer)
    otp = latest_otp(sandbox, signer.email)
    with pytest.raises(signing.SigningError) as first:
        signing.document_sign(document=sent_document, user=signer, otp_code=_wrong(otp))
    assert first.value.kind == "wrong_otp" and "2 more tries" in first.value.message
    sent_document.refresh_from_db()
    assert sent_document.status == S.AWAITING_SIGNATURE
    with pytest.raises(signing.SigningError) as second:
        signing.document_sign(document=sent_document, user=signer, otp_code=_wrong(otp))
    assert "1 more try" in second.value.message
    with pytest.raises(signing.SigningError) as third:
        signing.document_sign(document=sent_document, user=signer, otp_code=_wrong(otp))
    assert third.value.kind == "too_many_wrong"
    # The code is gone: even the right one needs a new request now.
    with pytest.raises(signing.SigningError) as fourth:
        signing.document_sign(document=sent_document, user=signer, otp_code=otp)
    assert fourth.value.kind == "no_code"
    after = last_message_id(sandbox, signer.email)
    signing.otp_request(document=sent_document, user=signer)
    signing.document_sign(document=sent_document, user=signer, otp_code=latest_otp(sandbox, signer.email, after=after))
    sent_document.refresh_from_db()
    assert sent_document.status == S.SIGNED


def test_an_expired_code_says_so(sandbox, sent_document, signer):
    from sandbox.models import Otp

    signing.otp_request(document=sent_document, user=signer)
    otp = latest_otp(sandbox, signer.email)
    Otp.objects.update(expires_at=timezone.now() - timezone.timedelta(seconds=1))
    with pytest.raises(signing.SigningError) as exc:
        signing.document_sign(document=sent_document, user=signer, otp_code=otp)
    assert exc.value.kind == "expired"
    assert "expired" in exc.value.message
    sent_document.refresh_from_db()
    assert sent_document.status == S.AWAITING_SIGNATURE


def test_code_entry_is_rate_limited_per_document(sandbox, sent_document, signer, settings):
    settings.SIGNING_ATTEMPTS_PER_WINDOW = 2
    signing.otp_request(document=sent_document, user=signer)
    otp = latest_otp(sandbox, signer.email)
    for _ in range(2):
        with pytest.raises(signing.SigningError):
            signing.document_sign(document=sent_document, user=signer, otp_code=_wrong(otp))
    with pytest.raises(signing.SigningError) as exc:
        signing.document_sign(document=sent_document, user=signer, otp_code=otp)
    assert exc.value.kind == "rate_limited"
    assert len(peruri_calls(sent_document, "sign")) == 2


def test_code_requests_are_rate_limited_per_hour(sandbox, sent_document, signer, settings):
    settings.SIGNING_OTP_RESEND_SECONDS = 0
    settings.SIGNING_OTP_REQUESTS_PER_HOUR = 2
    signing.otp_request(document=sent_document, user=signer)
    signing.otp_request(document=sent_document, user=signer)
    with pytest.raises(signing.SigningError) as exc:
        signing.otp_request(document=sent_document, user=signer)
    assert exc.value.kind == "rate_limited"
    assert len(peruri_calls(sent_document, "get_otp")) == 2


def test_a_busy_signing_worker_lets_the_signer_try_again(sandbox, staff, monkeypatch):
    from documents import services
    from tests.factories import SignerFactory

    busy = SignerFactory(email="sibuk+signbusy@example.com", full_name="Siti Rahmawati")
    enrol_at_sandbox(busy.email, busy.full_name)
    monkeypatch.setattr(services, "signer_has_certificate", lambda user: True)
    document = send_document(create_document(staff=staff, signer=busy), staff)
    signing.otp_request(document=document, user=busy)
    otp = latest_otp(sandbox, busy.email)
    with pytest.raises(signing.SigningError) as exc:
        signing.document_sign(document=document, user=busy, otp_code=otp)
    assert exc.value.kind == "busy"
    document.refresh_from_db()
    assert document.status == S.AWAITING_SIGNATURE
    signing.document_sign(document=document, user=busy, otp_code=otp)
    document.refresh_from_db()
    assert document.status == S.SIGNED


def test_a_box_posted_for_a_document_placed_by_staff_changes_nothing(client, sandbox, sent_document, signer):
    """Staff placed the signature: the signer's request cannot rewrite where Paraf says it is."""
    placed = (sent_document.sig_page, sent_document.sig_llx, sent_document.sig_lly, sent_document.sig_urx, sent_document.sig_ury)
    client.force_login(signer)
    client.post(reverse("signing:otp_request", args=[sent_document.public_id]))
    otp = latest_otp(sandbox, signer.email)
    forged = {"page": 2, "lower_left_x": 10, "lower_left_y": 10, "upper_right_x": 60, "upper_right_y": 40}
    client.post(reverse("signing:sign", args=[sent_document.public_id]), {"otp": otp, **forged})
    sent_document.refresh_from_db()
    assert sent_document.status == S.SIGNED, sent_document.last_error
    assert (sent_document.sig_page, sent_document.sig_llx, sent_document.sig_lly, sent_document.sig_urx, sent_document.sig_ury) == placed
    attempt = sent_document.events.get(kind="sign_attempted")
    assert "box" not in attempt.data and "page" not in attempt.data


def test_the_native_pages_request_a_code_and_sign(client, sandbox, sent_document, signer):
    client.force_login(signer)
    page = client.get(reverse("signing:document", args=[sent_document.public_id]))
    assert page.status_code == 200 and b'id="otp-request"' in page.content
    response = client.post(reverse("signing:otp_request", args=[sent_document.public_id]), follow=True)
    assert b"6-digit code" in response.content
    assert b"disabled" in client.get(reverse("signing:document", args=[sent_document.public_id])).content
    bad = client.post(reverse("signing:sign", args=[sent_document.public_id]), {"otp": "12ab"}, follow=True)
    assert b"Enter the 6-digit code" in bad.content
    otp = latest_otp(sandbox, signer.email)
    done = client.post(reverse("signing:sign", args=[sent_document.public_id]), {"otp": otp}, follow=True)
    assert done.status_code == 200
    assert b'id="download-signed"' in done.content
    pdf = client.get(reverse("documents:document_download", args=[sent_document.public_id]))
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF-")


# -------------------------------------------------------------------------------- web view


def _callback(client, document, **fields):
    data = {"kind": "signing", "func": "signDocument", "resultCode": "0", "resultDesc": "Success", **fields}
    return client.post(reverse("signing:webview_confirm", args=[document.public_id]), data)


def test_a_callback_only_asks_peruri_and_peruri_decides(client, sandbox, sent_document, signer):
    client.force_login(signer)
    # The web view claims success, but nothing was signed: Peruri's answer keeps it waiting.
    response = _callback(client, sent_document, orderId=sent_document.peruri_order_id)
    assert response.status_code == 200
    assert response.json() == {"redirect": reverse("signing:document", args=[sent_document.public_id])}
    sent_document.refresh_from_db()
    assert sent_document.status == S.AWAITING_SIGNATURE
    assert [c.operation for c in peruri_calls(sent_document)][-1] == "check_document_status"
    assert sent_document.events.filter(kind="callback").exists()


def test_callbacks_are_rate_limited_per_document(client, sandbox, sent_document, signer):
    client.force_login(signer)
    _callback(client, sent_document)
    _callback(client, sent_document)
    _callback(client, sent_document)
    assert len(peruri_calls(sent_document, "check_document_status")) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"resultCode": "<img src=x>"},
        {"resultCode": ""},
        {"resultDesc": "x" * 256},
        {"orderId": "999999"},
        {"func": "generateCertificate"},
        {"kind": "activation"},
    ],
)
def test_a_malformed_callback_changes_nothing(client, sandbox, sent_document, signer, fields):
    client.force_login(signer)
    response = _callback(client, sent_document, **fields)
    assert response.status_code == 400
    assert response.json()["status"] == "The message from the signing page was not understood."
    assert peruri_calls(sent_document, "check_document_status") == []


def test_a_callback_after_signing_in_the_web_view_finishes_the_job(client, sandbox, sent_document, signer):
    """What the embedded web view does at Peruri, done here through the sandbox's own services."""
    from sandbox import selectors as sandbox_selectors
    from sandbox import services as sandbox_services

    order = sandbox_selectors.order_get(order_id=sent_document.peruri_order_id)
    otp = sandbox_services.otp_issue(order=order)
    sandbox_services.order_sign(order=order, otp=otp.code, token=otp.token)

    client.force_login(signer)
    assert _callback(client, sent_document, orderId=sent_document.peruri_order_id).status_code == 200
    sent_document.refresh_from_db()
    assert sent_document.status == S.SIGNED
    assert sent_document.verification["result"] == "ok"
