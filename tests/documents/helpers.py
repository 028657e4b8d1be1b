"""Helpers for documents/signing tests: sample PDFs, the sandbox's outbox and faults, a signed flow."""

from __future__ import annotations

import io
import json
import time
import urllib.parse
import urllib.request
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile


def make_pdf(
    pages: int = 1,
    *,
    size: tuple[float, float] = (595, 842),
    rotate: dict[int, int] | None = None,
    cropbox: dict[int, tuple[float, float, float, float]] | None = None,
    encrypt: bool = False,
    text: str = "Perjanjian kerja sama",
) -> bytes:
    """A small real PDF: ``pages`` pages of ``size`` points with a line of text each; optional
    per-page (1-based) /Rotate and crop boxes, optional encryption."""
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, FloatObject, NameObject

    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    font_ref = writer._add_object(font)
    for number in range(1, pages + 1):
        page = writer.add_blank_page(width=size[0], height=size[1])
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 18 Tf 72 {size[1] - 100} Td ({text} - {number}) Tj ET".encode())
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font_ref})}
        )
        if rotate and number in rotate:
            page.rotate(rotate[number])
        if cropbox and number in cropbox:
            page[NameObject("/CropBox")] = ArrayObject(FloatObject(v) for v in cropbox[number])
    if encrypt:
        writer.encrypt(user_password="rahasia", owner_password="rahasia-pemilik")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def upload(data: bytes, name: str = "kontrak.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def outbox(sandbox: str, email: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"to": email})
    with urllib.request.urlopen(f"{sandbox}/sandbox/outbox.json?{query}", timeout=10) as response:  # noqa: S310
        return json.loads(response.read())["messages"]


def latest_otp(sandbox: str, email: str, *, after: int = 0, timeout: float = 10) -> str:
    """The newest OTP the sandbox "sent" to ``email`` (with an id greater than ``after``)."""
    deadline = time.monotonic() + timeout
    while True:
        for message in outbox(sandbox, email):
            if message.get("otp") and int(message["id"]) > after:
                return str(message["otp"])
        if time.monotonic() > deadline:
            raise AssertionError(f"no OTP for {email} in the sandbox outbox")
        time.sleep(0.1)


def last_message_id(sandbox: str, email: str) -> int:
    messages = outbox(sandbox, email)
    return max((int(m["id"]) for m in messages), default=0)


def _faults(sandbox: str, method: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310
        f"{sandbox}/sandbox/faults",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"x-Gateway-APIKey": settings.SANDBOX_API_KEY, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def fault_set(sandbox: str, **config: Any) -> dict[str, Any]:
    """e.g. fault_set(sandbox, kinds=["http500"], operations=["sendDocument"], count=1, when="after")"""
    return _faults(sandbox, "POST", config)


def fault_clear(sandbox: str) -> None:
    _faults(sandbox, "DELETE")


def sandbox_orders_for(email: str) -> list[Any]:
    """The sandbox's own orders for a signer (its tables share the test database)."""
    from sandbox.models import Order

    return list(Order.objects.filter(user__email__iexact=email).order_by("pk"))


def peruri_calls(document: Any = None, operation: str | None = None) -> list[Any]:
    from signing.models import PeruriCall

    qs = PeruriCall.objects.all()
    if document is not None:
        qs = qs.filter(object_type="documents.document", object_id=str(document.pk))
    if operation:
        qs = qs.filter(operation=operation)
    return list(qs.order_by("created_at", "id"))
