"""Fixtures and sample data for certificates: a signer whose Peruri certificate is issued.

`certified_signer` runs the real enrolment (Registration → Activation → Video Verification →
Send Speciment → Check Certificate) against the sandbox over HTTP, through certificates.services,
and returns the User. Tests of other apps use it to get a signer who can sign.
"""

from __future__ import annotations

import io
import itertools
import random
import time
from datetime import date
from typing import Any

import pytest

_counter = itertools.count(1)


def make_ktp(seed: int | None = None) -> str:
    """A structurally valid NIK: Jakarta Pusat region, born 15/08/1990, a serial."""
    serial = seed if seed is not None else random.randint(1, 9999)
    return f"317101150890{serial % 9999 + 1:04d}"


def sample_photo(*, size: tuple[int, int] = (640, 400), fmt: str = "JPEG", exif: bool = False) -> bytes:
    from PIL import Image

    image = Image.new("RGB", size, (30, 90, 160))
    out = io.BytesIO()
    if exif:
        exif_data = Image.Exif()
        exif_data[0x010F] = "SecretCameraMaker"  # Make
        exif_data[0x010E] = "GPS -6.175392, 106.827153"  # ImageDescription
        image.save(out, format=fmt, exif=exif_data)
    else:
        image.save(out, format=fmt)
    return out.getvalue()


def sample_specimen() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (400, 160), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.line([(20, 120), (120, 30), (200, 130), (380, 40)], fill=(10, 10, 80, 255), width=6)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def sample_webm(padding: int = 4096) -> bytes:
    """A minimal WebM container (EBML header with DocType "webm", a Segment, a Void element)."""
    header_body = (
        b"\x42\x86\x81\x01"  # EBMLVersion 1
        b"\x42\xf7\x81\x01"  # EBMLReadVersion 1
        b"\x42\xf2\x81\x04"  # EBMLMaxIDLength 4
        b"\x42\xf3\x81\x08"  # EBMLMaxSizeLength 8
        b"\x42\x82\x84webm"  # DocType
        b"\x42\x87\x81\x04"  # DocTypeVersion 4
        b"\x42\x85\x81\x02"  # DocTypeReadVersion 2
    )
    ebml = b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(header_body)]) + header_body
    void = b"\xec" + (0x4000 | padding).to_bytes(2, "big") + b"\x00" * padding
    segment = b"\x18\x53\x80\x67" + b"\x01\xff\xff\xff\xff\xff\xff\xff" + void
    return ebml + segment


def registration_data(**overrides: Any) -> dict[str, Any]:
    """Cleaned registration data as certificates.forms.RegistrationForm produces it."""
    n = next(_counter)
    data: dict[str, Any] = {
        "full_name": "Siti Rahmawati",
        "phone": "081234567890",
        "ktp_number": make_ktp(random.randint(1, 9998) + n),
        "npwp_number": "",
        "address": "Jl. Merdeka No. 1",
        "city": "Jakarta Pusat",
        "province": "DKI Jakarta",
        "gender": "F",
        "place_of_birth": "Bandung",
        "date_of_birth": date(1990, 8, 15),
    }
    data.update(overrides)
    return data


def enrol_through_sandbox(
    *,
    email: str,
    full_name: str = "Siti Rahmawati",
    license_type: str = "client",
    timeout: float = 20.0,
    **data_overrides: Any,
) -> Any:
    """Run a whole native enrolment through certificates.services against the sandbox; return the
    Enrolment once issued (raises AssertionError if it does not get there)."""
    from django.core import mail

    from certificates import services
    from certificates.consent import consent_text
    from certificates.identity import clean_photo
    from certificates.models import Enrolment

    before = len(getattr(mail, "outbox", []))
    kwargs: dict[str, Any] = {}
    if license_type == "user":
        kwargs = {"org_unit": "Divisi Hukum", "work_unit": "Kontrak", "position": "Manajer"}
    enrolment = services.enrolment_invite(
        email=email, full_name=full_name, license_type=license_type, invited_by=None, mode="native", **kwargs
    )
    # Keep other tests' view of the outbox clean: drop the invitation we just caused.
    if hasattr(mail, "outbox"):
        del mail.outbox[before:]
    user = enrolment.user
    services.enrolment_registration_submit(
        enrolment=enrolment,
        actor=user,
        data=registration_data(full_name=full_name, **data_overrides),
        photos={"ktp_photo": clean_photo(sample_photo())},
        consent_text=consent_text(retention_days=14),
        language="id",
    )
    enrolment.refresh_from_db()
    assert enrolment.status == Enrolment.Status.AWAITING_VIDEO, (enrolment.status, enrolment.last_error)
    services.enrolment_video_submit(enrolment=enrolment, actor=user, video=sample_webm())
    enrolment.refresh_from_db()
    assert enrolment.status == Enrolment.Status.AWAITING_SPECIMEN, (enrolment.status, enrolment.last_error)
    services.enrolment_specimen_submit(
        enrolment=enrolment, actor=user, image=clean_photo(sample_specimen(), keep_alpha=True)
    )
    deadline = time.monotonic() + timeout
    enrolment.refresh_from_db()
    while enrolment.status != Enrolment.Status.ISSUED and time.monotonic() < deadline:
        # The poller's job, done inline: SANDBOX_CERT_DELAY may be > 0.
        time.sleep(0.2)
        services.enrolment_advance(enrolment_id=enrolment.pk)
        enrolment.refresh_from_db()
    assert enrolment.status == Enrolment.Status.ISSUED, (enrolment.status, enrolment.last_error)
    return enrolment


@pytest.fixture
def certified_signer(sandbox: str) -> Any:
    """A signer (role "signer") whose Peruri certificate has been issued by the sandbox."""
    n = next(_counter)
    enrolment = enrol_through_sandbox(email=f"penanda.tangan{n}@example.com", full_name="Siti Rahmawati")
    return enrolment.user
