"""The whole journey through the services and tasks, against the sandbox over HTTP."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from documents.models import Document, DocumentEvent
from documents.verification import signature_widgets
from signing import services as signing
from tests.documents.fixtures import create_document, send_document
from tests.documents.helpers import latest_otp, peruri_calls, sandbox_orders_for


def test_a_document_goes_from_upload_to_a_verified_signed_copy(sandbox, staff, signer):
    mail.outbox.clear()
    document = create_document(staff=staff, signer=signer, box=(2, 400, 60, 540, 120), reason="Setuju")
    assert document.status == Document.Status.DRAFT
    assert document.page_count == 2 and len(document.sha256) == 64

    send_document(document, staff)
    assert document.status == Document.Status.AWAITING_SIGNATURE
    assert document.peruri_order_id
    assert len(sandbox_orders_for(signer.email)) == 1

    # The signer got one e-mail from Paraf with a link that opens this document.
    [message] = [m for m in mail.outbox if signer.email in m.to]
    assert document.title in message.subject
    assert re.search(r"https?://\S+/akun/tautan/\S+/", message.body)

    signing.otp_request(document=document, user=signer)
    otp = latest_otp(sandbox, signer.email)
    signing.document_sign(document=document, user=signer, otp_code=otp)

    document.refresh_from_db()
    assert document.status == Document.Status.SIGNED, (document.status, document.last_error)
    assert document.verification["result"] == "ok"
    assert document.signer_cert_fingerprint
    signed = document.signed_file.read()
    document.signed_file.close()
    assert signed.startswith(document.original.read())
    [widget] = signature_widgets(signed)
    assert widget["page"] == 2
    assert [round(v) for v in widget["rect"]] == [400, 60, 540, 120]

    # One call of each kind, and a single status check (the follow-through ran right away).
    ops = [c.operation for c in peruri_calls(document)]
    assert ops.count("send_document") == 1
    assert ops.count("get_otp") == 1
    assert ops.count("sign") == 1
    assert ops.count("check_document_status") == 1
    assert ops.count("download_document") == 1

    kinds = list(document.events.values_list("kind", flat=True))
    for kind in (
        DocumentEvent.Kind.UPLOADED,
        DocumentEvent.Kind.PLACED,
        DocumentEvent.Kind.SENT,
        DocumentEvent.Kind.SIGNER_NOTIFIED,
        DocumentEvent.Kind.OTP_REQUESTED,
        DocumentEvent.Kind.SIGNED_AT_PERURI,
        DocumentEvent.Kind.DOWNLOADED,
        DocumentEvent.Kind.VERIFIED,
    ):
        assert kind in kinds


def test_the_signer_can_place_the_signature_when_staff_leave_it_to_them(sandbox, staff, signer):
    document = send_document(create_document(staff=staff, signer=signer, box=None), staff)
    assert document.status == Document.Status.AWAITING_SIGNATURE
    signing.otp_request(document=document, user=signer)
    otp = latest_otp(sandbox, signer.email)
    with pytest.raises(signing.SigningError) as exc:
        signing.document_sign(document=document, user=signer, otp_code=otp)
    assert exc.value.kind == "placement"
    signing.document_sign(
        document=document,
        user=signer,
        otp_code=otp,
        box={"page": 1, "llx": 72, "lly": 100, "urx": 222, "ury": 160},
    )
    document.refresh_from_db()
    assert document.status == Document.Status.SIGNED, document.last_error
    [widget] = signature_widgets(document.signed_file.read())
    assert [round(v) for v in widget["rect"]] == [72, 100, 222, 160]


def test_an_invisible_certification_signature_carries_its_location_and_reason(sandbox, staff, signer):
    """Placement options reach the signed PDF: invisible, NO_CHANGES_ALLOWED, location, reason."""
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import MDPPerm

    document = create_document(
        staff=staff,
        signer=signer,
        visible=False,
        certification_level=Document.CertificationLevel.NO_CHANGES_ALLOWED,
        location="Jakarta",
        reason="Menyetujui isi perjanjian",
    )
    send_document(document, staff)
    signing.otp_request(document=document, user=signer)
    signing.document_sign(document=document, user=signer, otp_code=latest_otp(sandbox, signer.email))
    document.refresh_from_db()
    assert document.status == Document.Status.SIGNED, (document.status, document.last_error)
    signed = document.signed_file.read()
    [sig] = PdfFileReader(io.BytesIO(signed), strict=False).embedded_regular_signatures
    assert sig.sig_object["/Location"] == "Jakarta"
    assert sig.sig_object["/Reason"] == "Menyetujui isi perjanjian"
    assert sig.docmdp_level == MDPPerm.NO_CHANGES
    [widget] = signature_widgets(signed)
    assert widget["rect"] == [0.0, 0.0, 0.0, 0.0]  # no visible stamp
