"""Uploads are checked for real: a PDF that parses, not encrypted, within the size limit; bad files
leave nothing behind."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User
from documents.models import Document, DocumentEvent
from documents.pdf import PdfInvalid, file_name_sanitize, pdf_inspect
from tests.documents.helpers import make_pdf, upload

pytestmark = pytest.mark.django_db


def _files(settings):
    root = settings.MEDIA_ROOT
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_it_records_the_hash_page_count_sizes_and_rotation():
    data = make_pdf(3, size=(612, 792), rotate={2: 90}, cropbox={3: (50, 100, 350, 500)})
    info = pdf_inspect(stream=upload(data), max_bytes=10_000_000)
    import hashlib

    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.size == len(data)
    assert info.page_count == 3
    assert [(p.width, p.height, p.rotate) for p in info.pages] == [(612, 792, 0), (612, 792, 90), (300, 400, 0)]
    assert info.pages[2].crop == (50.0, 100.0, 350.0, 500.0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"GIF89a not a pdf at all", "not a PDF"),
        (b"%PDF-1.7\n this is not really a PDF\n%%EOF", "damaged"),
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF", "damaged"),
    ],
)
def test_it_refuses_what_is_not_a_readable_pdf(data, message):
    with pytest.raises(PdfInvalid) as exc:
        pdf_inspect(stream=upload(data), max_bytes=10_000_000)
    assert message in exc.value.message


def test_it_refuses_an_encrypted_pdf():
    with pytest.raises(PdfInvalid) as exc:
        pdf_inspect(stream=upload(make_pdf(1, encrypt=True)), max_bytes=10_000_000)
    assert "encrypted" in exc.value.message


def test_it_refuses_an_oversize_file():
    data = make_pdf(1)
    with pytest.raises(PdfInvalid) as exc:
        pdf_inspect(stream=upload(data), max_bytes=len(data) - 1)
    assert "too large" in exc.value.message


def test_file_names_are_sanitized():
    assert file_name_sanitize("../../etc/passwd") == "passwd.pdf"
    assert file_name_sanitize("C:\\Users\\x\\Kontrak Kerja (final).PDF") == "Kontrak Kerja (final).pdf"
    assert file_name_sanitize('Perjanjian <x>&"*?.pdf') == "Perjanjian _x.pdf"
    assert file_name_sanitize("Surat Keterangan Dinas Ünïcödé.pdf") == "Surat Keterangan Dinas Unicode.pdf"
    assert len(file_name_sanitize("x" * 300 + ".pdf")) == 100
    assert file_name_sanitize("....pdf") == "document.pdf"


def test_staff_upload_a_pdf_and_land_on_the_placement_page(client, staff, settings):
    client.force_login(staff)
    response = client.post(
        reverse("documents:document_upload"),
        {"file": upload(make_pdf(2), "Kontrak Kerja.pdf"), "signer_email": "Budi@Example.com", "signer_name": "Budi"},
    )
    document = Document.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("documents:document_place", args=[document.public_id])
    assert document.title == "Kontrak Kerja"
    assert document.file_name == "Kontrak Kerja.pdf"
    assert document.signer.email == "budi@example.com"
    assert document.signer.role == User.Role.SIGNER
    assert document.events.get().kind == DocumentEvent.Kind.UPLOADED
    assert len(_files(settings)) == 1


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\n garbage", make_pdf(1, encrypt=True), b"\x89PNG\r\n\x1a\n"],
    ids=["damaged", "encrypted", "png"],
)
def test_a_bad_file_gets_a_clear_error_and_leaves_nothing_behind(client, staff, settings, data):
    client.force_login(staff)
    users_before = User.objects.count()
    response = client.post(
        reverse("documents:document_upload"),
        {"file": upload(data, "kontrak.pdf"), "signer_email": "new.signer@example.com"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["file"]
    assert Document.objects.count() == 0
    assert User.objects.count() == users_before
    assert _files(settings) == []


def test_an_oversize_upload_is_refused_before_it_is_read(client, staff, settings):
    settings.DOCUMENT_MAX_BYTES = 1000
    client.force_login(staff)
    response = client.post(
        reverse("documents:document_upload"),
        {"file": upload(make_pdf(1) + b"%" * 70_000), "signer_email": "a@example.com"},
    )
    assert response.status_code == 413
    assert Document.objects.count() == 0


def test_signers_cannot_upload(client):
    from tests.factories import SignerFactory

    client.force_login(SignerFactory())
    assert client.get(reverse("documents:document_upload")).status_code == 403
