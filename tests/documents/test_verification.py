"""R9: a downloaded PDF is "signed" only when every check passes. Each way it can fail is refused."""

from __future__ import annotations

import io

import pytest

from documents.verification import ExpectedSigner, TrustRootsUnavailable, pdf_verify, trust_roots
from tests.documents import pki
from tests.documents.helpers import make_pdf

EXPECTED = [ExpectedSigner(email="siti@example.com", name="Siti Rahmawati")]


@pytest.fixture(scope="module")
def ca():
    return pki.make_ca("Peruri Test CA")


@pytest.fixture(scope="module")
def siti(ca):
    return pki.make_signer(ca, name="Siti Rahmawati", email="siti@example.com")


@pytest.fixture(scope="module")
def original():
    return make_pdf(2)


@pytest.fixture(scope="module")
def signed(original, siti, ca):
    return pki.sign(original, siti, ca)


@pytest.fixture(autouse=True)
def _trust(settings, tmp_path, ca):
    settings.PERURI_TRUST_ROOTS = [ca.write_pem(tmp_path / "ca.pem")]
    settings.PERURI_TRUST_ROOT_URL = ""


def test_a_signature_by_the_expected_person_chained_to_the_trust_root_is_accepted(signed, original):
    result = pdf_verify(signed=signed, original=original, expected_signers=EXPECTED)
    assert result.ok, result.summary
    [sig] = result.summary["signatures"]
    assert sig["bottom_line"] and sig["coverage"] == "ENTIRE_FILE"
    assert sig["signer"]["emails"] == ["siti@example.com"]
    assert result.last_fingerprint == sig["signer"]["sha256"]
    assert sig["widget"]["rect"] == [400.0, 60.0, 540.0, 120.0]


def test_an_unsigned_pdf_is_rejected(original):
    result = pdf_verify(signed=original + b"\n", original=original, expected_signers=EXPECTED)
    assert not result.ok and result.reason == "no_signature"


def test_bytes_that_are_not_a_pdf_are_rejected(original):
    result = pdf_verify(signed=b"<html>oops</html>", original=original, expected_signers=EXPECTED)
    assert not result.ok and result.reason == "not_pdf"


def test_a_signature_chained_to_another_root_is_rejected(signed, original, settings, tmp_path):
    other = pki.make_ca("Somebody Else's CA")
    settings.PERURI_TRUST_ROOTS = [other.write_pem(tmp_path / "other.pem")]
    result = pdf_verify(signed=signed, original=original, expected_signers=EXPECTED)
    assert not result.ok and result.reason == "untrusted"


def test_a_changed_byte_is_rejected(signed, original):
    # Change one byte of the page text, inside the range the signature covers.
    index = signed.index(b"Perjanjian")
    tampered = signed[:index] + b"Q" + signed[index + 1 :]
    result = pdf_verify(signed=tampered, original=original, expected_signers=EXPECTED)
    assert not result.ok and result.reason in ("invalid_signature", "not_our_document")
    assert result.reason == "invalid_signature"


def test_content_appended_after_signing_is_rejected(signed, original):
    """An incremental update that changes the page: the signature stays intact and trusted, but
    it no longer covers the file."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    page_ref = writer.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    stream = generic.StreamObject(stream_data=b"BT /F1 18 Tf 72 300 Td (Dibayar lunas Rp 1) Tj ET")
    page["/Contents"] = writer.add_object(stream)
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    result = pdf_verify(signed=out.getvalue(), original=original, expected_signers=EXPECTED)
    assert not result.ok
    assert result.reason in ("invalid_signature", "not_entire_file")
    [sig] = result.summary["signatures"]
    assert sig["intact"] and sig["trusted"]


def test_a_harmless_looking_update_after_signing_is_still_rejected(signed, original):
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    writer.set_info(generic.DictionaryObject({generic.pdf_name("/Title"): generic.pdf_string("Changed")}))
    out = io.BytesIO()
    writer.write(out)
    result = pdf_verify(signed=out.getvalue(), original=original, expected_signers=EXPECTED)
    assert not result.ok and result.reason == "not_entire_file"


def test_a_signature_by_someone_else_is_rejected(original, ca):
    mallory = pki.make_signer(ca, name="Mallory", email="mallory@example.com")
    result = pdf_verify(signed=pki.sign(original, mallory, ca), original=original, expected_signers=EXPECTED)
    assert not result.ok and result.reason == "wrong_signer"


def test_a_certificate_without_e_mail_must_carry_the_signers_name(original, ca):
    nameless = pki.make_signer(ca, name="Budi Santoso", email=None)
    result = pdf_verify(signed=pki.sign(original, nameless, ca), original=original, expected_signers=EXPECTED)
    assert not result.ok and result.reason == "wrong_signer"
    same_name = pki.make_signer(ca, name="Siti  Rahmawati", email=None)
    result = pdf_verify(signed=pki.sign(original, same_name, ca), original=original, expected_signers=EXPECTED)
    assert result.ok, result.summary


def test_a_valid_signature_on_another_document_is_rejected(siti, ca, original):
    other = make_pdf(1, text="Dokumen lain")
    result = pdf_verify(signed=pki.sign(other, siti, ca), original=original, expected_signers=EXPECTED)
    assert not result.ok and result.reason == "not_our_document"


def test_fewer_signatures_than_planned_signers_are_rejected(signed, original):
    two = [*EXPECTED, ExpectedSigner(email="budi@example.com")]
    result = pdf_verify(signed=signed, original=original, expected_signers=two)
    assert not result.ok and result.reason == "too_few_signatures"


def test_without_configured_trust_roots_nothing_is_verified(settings, signed, original):
    """Never the operating system's store: no configured root means no verdict at all."""
    settings.PERURI_TRUST_ROOTS = []
    settings.PERURI_TRUST_ROOT_URL = ""
    with pytest.raises(TrustRootsUnavailable):
        pdf_verify(signed=signed, original=original, expected_signers=EXPECTED)


def test_a_remote_trust_root_url_is_refused_outside_local_mode(settings):
    settings.PERURI_TRUST_ROOTS = []
    settings.PERURI_TRUST_ROOT_URL = "https://example.com/ca.pem"
    settings.DEBUG = False
    settings.DOCUMENT_TRUST_ROOT_FETCH_ALLOWED = False
    with pytest.raises(TrustRootsUnavailable):
        trust_roots()
