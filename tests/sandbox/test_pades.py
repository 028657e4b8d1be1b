"""The signatures are real: pyHanko validates them against the sandbox CA and nothing else."""

from __future__ import annotations

import datetime as dt
import re
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.general import SigningError
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pypdf import PdfReader

from tests.sandbox.helpers import (
    Api,
    b64,
    embedded_signatures,
    pdf,
    sandbox_ca,
    signature_widgets,
    signer,
    validate_signatures,
)


@pytest.fixture
def ca(api: Api) -> Any:
    return sandbox_ca(api.base)


def _assert_good(status: Any, name: str) -> None:
    assert status.intact, status.pretty_print_details()
    assert status.valid, status.pretty_print_details()
    assert status.trusted, status.pretty_print_details()
    assert status.bottom_line
    assert status.signing_cert.subject.native["common_name"] == name


def test_a_signed_document_carries_a_valid_pades_signature_chained_to_the_sandbox_ca(
    api: Api, signer_email: str, ca: Any
) -> None:
    order_id = api.send_document(signer_email, pdf(2), signer=[signer(page="2", varReason="Biodata")])
    api.sign(order_id, signer_email)
    signed = api.download(order_id)

    [status] = validate_signatures(signed, ca)
    _assert_good(status, "Patria Development")
    assert status.signing_cert.subject.native["email_address"] == signer_email
    assert status.signing_cert.issuer == ca.subject
    assert {"digital_signature", "non_repudiation"} <= set(status.signing_cert.key_usage_value.native)
    [sig] = embedded_signatures(signed)
    assert sig.docmdp_level is None  # an approval signature: more may follow
    assert len(embedded_signatures(_sign_with_a_throwaway_key(signed))) == 2
    # PAdES: ETSI.CAdES.detached.
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert sig.sig_object["/Location"] == "JAKARTA" and sig.sig_object["/Reason"] == "Biodata"
    assert list(signature_widgets(signed).values()) == [(2, (454, 45, 529, 116))]


def test_the_signature_is_not_trusted_without_the_sandbox_ca(api: Api, signer_email: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = cx509.Name([cx509.NameAttribute(cx509.NameOID.COMMON_NAME, "Other CA")])
    now = dt.datetime.now(tz=dt.UTC)
    other = (
        cx509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(cx509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    other_ca = asn1_x509.Certificate.load(other.public_bytes(serialization.Encoding.DER))
    order_id = api.send_document(signer_email, signer=[signer()])
    api.sign(order_id, signer_email)
    [status] = validate_signatures(api.download(order_id), other_ca)
    assert status.intact and status.valid and not status.trusted


def test_the_visible_stamp_carries_the_specimen_name_and_date(api: Api, signer_email: str) -> None:
    order_id = api.send_document(signer_email, pdf(1), signer=[signer(llx="300", lly="100", urx="500", ury="200")])
    jakarta = ZoneInfo("Asia/Jakarta")
    before = dt.datetime.now(tz=jakarta).strftime("%d/%m/%Y").encode()
    api.sign(order_id, signer_email)
    after = dt.datetime.now(tz=jakarta).strftime("%d/%m/%Y").encode()
    signed = api.download(order_id)
    page = PdfReader(BytesIO(signed)).pages[0]
    [annot] = [a.get_object() for a in page["/Annots"]]
    appearance = annot["/AP"]["/N"].get_object()
    content = appearance.get_data()
    assert b"Do" in content  # draws its form XObjects (stamp text, specimen image)

    def xobjects(stream: Any) -> list[Any]:
        found = []
        resources = stream.get("/Resources")
        if resources is None:
            return found
        for ref in (resources.get_object().get("/XObject") or {}).values():
            obj = ref.get_object()
            found.append(obj)
            found.extend(xobjects(obj))
        return found

    inner = xobjects(appearance)
    assert any(obj.get("/Subtype") == "/Image" for obj in inner), "the specimen image is in the stamp"
    texts = b"".join(obj.get_data() for obj in [appearance, *inner] if obj.get("/Subtype") == "/Form")
    assert b"Patria Development" in texts
    # The date of signing, Jakarta time ("dd/mm/yyyy HH:MM:SS WIB").
    texts = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), texts)  # PDF string escapes
    dates = b"|".join(re.escape(day) for day in {before, after})
    assert re.search(rb"\((" + dates + rb") \d{2}:\d{2}:\d{2} WIB\)", texts), texts


def test_an_invisible_signature_has_no_widget_box(api: Api, signer_email: str, ca: Any) -> None:
    order_id = api.send_document(signer_email, signer=[{"isVisualSign": "NO", "varLocation": "JAKARTA"}])
    api.sign(order_id, signer_email)
    signed = api.download(order_id)
    [status] = validate_signatures(signed, ca)
    _assert_good(status, "Patria Development")
    [(page, rect)] = signature_widgets(signed).values()
    assert rect == (0, 0, 0, 0)


def test_no_changes_allowed_makes_a_certification_signature(api: Api, signer_email: str, ca: Any) -> None:
    order_id = api.send_document(signer_email, signer=[signer(level="NO_CHANGES_ALLOWED")])
    api.sign(order_id, signer_email)
    signed = api.download(order_id)
    [status] = validate_signatures(signed, ca)
    _assert_good(status, "Patria Development")
    assert status.docmdp_ok
    [sig] = embedded_signatures(signed)
    assert sig.docmdp_level == MDPPerm.NO_CHANGES  # /Perms /DocMDP: a certification signature
    # The document is locked: a conforming signer refuses to add anything to it.
    with pytest.raises(SigningError, match="forbids all changes"):
        _sign_with_a_throwaway_key(signed)


def _sign_with_a_throwaway_key(data: bytes) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    from sandbox.signing import outside_event_loop

    key = ec.generate_private_key(ec.SECP256R1())
    name = cx509.Name([cx509.NameAttribute(cx509.NameOID.COMMON_NAME, "Someone else")])
    now = dt.datetime.now(tz=dt.UTC)
    cert = (
        cx509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        cert_registry=SimpleCertificateStore(),
    )
    writer = IncrementalPdfFileWriter(BytesIO(data))
    meta = signers.PdfSignatureMetadata(field_name="Later")
    return outside_event_loop(signers.sign_pdf, writer, meta, signer=signer).getvalue()


def test_three_tier_signers_make_three_valid_signatures(api: Api, ca: Any) -> None:
    people = [
        ("Ana Suryani", "ana@yopmail.com"),
        ("Budi Santoso", "budi@yopmail.com"),
        ("Citra Dewi", "citra@yopmail.com"),
    ]
    for name, email in people:
        api.enrol(email, name=name)
    reply = api.ok(
        "sendDocumentTier",
        {
            "param": {
                "uploader": "ana@yopmail.com",
                "payload": {
                    "fileName": "1.pdf",
                    "base64Document": b64(pdf(2)),
                    "signer": [{"email": email} for _name, email in people],
                },
                "systemId": api.system_id,
            }
        },
    )
    order_id = reply["data"]["orderId"]
    first_order = order_id
    boxes = [("1", "50", "50", "200", "120"), ("1", "220", "50", "370", "120"), ("2", "390", "50", "540", "120")]
    for index, (_name, email) in enumerate(people):
        page, llx, lly, urx, ury = boxes[index]
        level = "NO_CHANGES_ALLOWED" if index == 2 else "NOT_CERTIFIED"
        token, code = api.get_otp(order_id, email)
        box = signer(llx=llx, lly=lly, urx=urx, ury=ury, page=page, level=level)
        reply = api.ok(
            "signingTier",
            {"requestSigning": {"orderId": order_id, "otpCode": code, "token": token, "signer": [box]}},
        )
        if index < 2:
            order_id = reply["data"]["orderIdNextSigner"]
        else:
            assert "data" not in reply

    signed = api.download(first_order)
    statuses = validate_signatures(signed, ca)
    assert len(statuses) == 3
    for status, (name, _email) in zip(statuses, people, strict=True):
        _assert_good(status, name)
    # Each earlier signature covers its own revision; later ones are allowed incremental updates.
    assert statuses[-1].coverage.name == "ENTIRE_FILE"
    widgets = sorted(signature_widgets(signed).values())
    assert widgets == [(1, (50, 50, 200, 120)), (1, (220, 50, 370, 120)), (2, (390, 50, 540, 120))]
    # The last signer locked the document with a field lock (P=1): a certification signature
    # is only allowed as the first signature of a document.
    last = embedded_signatures(signed)[-1]
    assert last.sig_field["/Lock"]["/P"] == 1
    assert api.ok("checkDocumentStatus", {"param": {"orderId": first_order}})["data"]["status"] == "SIGNED"


def test_signing_and_validation_work_in_a_thread_whose_event_loop_is_running(
    api: Api, signer_email: str, ca: Any
) -> None:
    """Playwright's sync API (and an ASGI server) keep an asyncio loop running in the calling
    thread, where pyHanko's sync API (asyncio.run) would fail: the services must still sign."""
    import asyncio

    from sandbox import selectors, services

    order_id = api.send_document(signer_email, signer=[signer()])
    order = selectors.order_get(order_id=order_id)
    otp = services.otp_issue(order=order)

    async def in_a_running_loop() -> list[Any]:
        services.order_sign(order=order, otp=otp.code, token=otp.token)
        return validate_signatures(api.download(order_id), ca)

    [status] = asyncio.run(in_a_running_loop())
    _assert_good(status, "Patria Development")
