"""Fixtures shared by tests/documents and tests/signing (imported by both conftests)."""

from __future__ import annotations

import itertools
import random
import time
from datetime import date
from typing import Any

import pytest

from tests.documents.helpers import make_pdf, upload


@pytest.fixture
def staff(db: Any) -> Any:
    from tests.factories import StaffFactory

    return StaffFactory(email="staf.dokumen@example.com", password="rahasia-staf-123")


def create_document(*, staff: Any, signer: Any, pdf: bytes | None = None, box: tuple[int, ...] | None = (1, 400, 60, 540, 120), **place: Any) -> Any:
    from documents import services

    document = services.document_create(
        uploaded_file=upload(pdf or make_pdf(2)),
        title="Kontrak kerja",
        signer_email=signer.email,
        signer_name=signer.full_name,
        actor=staff,
    )
    if box is None:
        return services.document_place(document=document, actor=staff, placed_by="signer", **place)
    page, llx, lly, urx, ury = box
    return services.document_place(
        document=document, actor=staff, placed_by="staff", page=page, llx=llx, lly=lly, urx=urx, ury=ury, **place
    )


def send_document(document: Any, staff: Any) -> Any:
    """Send through the service; Celery is eager in tests, so Send Document has run on return."""
    from documents import services

    services.document_send_request(document=document, actor=staff)
    document.refresh_from_db()
    return document


_serial = itertools.count(1)


def enrol_at_sandbox(email: str, full_name: str = "Siti Rahmawati") -> None:
    """Give ``email`` an issued certificate at the sandbox, straight through the client (the
    certificates app's own journey is tested there; here only the outcome matters)."""
    from signing.gateway import get_peruri_client
    from tests.fixtures_certificates import make_ktp, sample_photo, sample_specimen, sample_webm

    client = get_peruri_client()
    client.register(
        name=full_name,
        phone="081234567890",
        email=email,
        ktp=make_ktp(next(_serial) + random.randint(1, 5000)),
        ktp_photo=sample_photo(),
        address="Jl. Merdeka No. 1",
        city="Jakarta Pusat",
        province="DKI Jakarta",
        gender="F",
        place_of_birth="Bandung",
        date_of_birth=date(1990, 8, 15),
        type="INDIVIDUAL",
    )
    client.activate(email=email)
    client.verify_video(email=email, video=sample_webm())
    client.send_specimen(email=email, image=sample_specimen())
    deadline = time.monotonic() + 20
    while True:
        try:
            client.check_certificate(email=email)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def signer(certified_signer: Any) -> Any:
    """A signer whose Peruri certificate the sandbox has issued, through the certificates app's
    real enrolment (so Paraf's own certificate check passes without patching)."""
    return certified_signer


@pytest.fixture
def sent_document(sandbox: str, staff: Any, signer: Any) -> Any:
    from documents.models import Document

    document = send_document(create_document(staff=staff, signer=signer), staff)
    assert document.status == Document.Status.AWAITING_SIGNATURE, (document.status, document.last_error)
    return document
