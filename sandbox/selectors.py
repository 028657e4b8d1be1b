"""Reads of the sandbox's state. Keyword-only; refusals raise `Rejected` with Peruri's code."""

from __future__ import annotations

import datetime as dt
import hmac

from cryptography import x509
from django.conf import settings
from django.utils import timezone

from sandbox import errors, validation
from sandbox.errors import Rejected
from sandbox.models import Message, Order, SandboxUser
from sandbox.validation import PageBox

# Check Document Status vocabulary (spec section 5, the sandbox's own).
WAITING_SIGNATURE = "WAITING_SIGNATURE"
WAITING_NEXT_SIGNER = "WAITING_NEXT_SIGNER"
SIGNED = "SIGNED"
FAILED = "FAILED"
EXPIRED = "EXPIRED"


def system_id_check(*, system_id: str) -> None:
    """Raises Rejected 1001 unless `system_id` is the partner's (SANDBOX_SYSTEM_ID)."""
    if not hmac.compare_digest(system_id.encode(), str(settings.SANDBOX_SYSTEM_ID).encode()):
        raise Rejected(errors.INVALID_SYSTEM_ID, "systemId tidak valid")


def user_get(*, email: str) -> SandboxUser:
    """The registered user with this e-mail (case-insensitive). Raises Rejected 1008."""
    user = SandboxUser.objects.filter(email=email.strip().lower()).first()
    if user is None:
        raise Rejected(errors.INVALID_DATA, f"Email {email} belum terdaftar")
    return user


def user_certificate_ready(*, user: SandboxUser) -> bool:
    """True once the user's certificate is issued (issuing it now if it has become due)."""
    from sandbox import services

    services.certificate_issue_if_due(user=user)
    return user.status == SandboxUser.Status.CERTIFIED


def user_certificate_expiry_flag(*, user: SandboxUser) -> str:
    """Check Certificate's `isExpired`: "0" valid, "1" expired, "2" 30 days or less left.

    Scenario addresses force it: `+certexpired` -> "1", `+certexpiring` -> "2".
    """
    if "certexpired" in user.scenarios:
        return "1"
    if "certexpiring" in user.scenarios:
        return "2"
    cert = x509.load_pem_x509_certificate(user.certificate_pem.encode("ascii"))
    left = cert.not_valid_after_utc - timezone.now()
    if left <= dt.timedelta(0):
        return "1"
    if left <= dt.timedelta(days=30):
        return "2"
    return "0"


def order_get(*, order_id: str | int) -> Order:
    """Raises Rejected 4009 when there is no such order."""
    text = str(order_id).strip()
    if not text.isdigit() or len(text) > 18:
        raise Rejected(errors.NOT_FOUND, f"Dokumen dengan orderId {order_id} tidak ditemukan")
    order = Order.objects.select_related("user", "document").filter(pk=int(text)).first()
    if order is None:
        raise Rejected(errors.NOT_FOUND, f"Dokumen dengan orderId {order_id} tidak ditemukan")
    return order


def order_own_status(*, order: Order) -> str:
    """This order's own state (its signer's part), marking it EXPIRED when its time has passed."""
    if order.status == Order.Status.WAITING_SIGNATURE and order.expires_at <= timezone.now():
        Order.objects.filter(pk=order.pk, status=Order.Status.WAITING_SIGNATURE).update(status=Order.Status.EXPIRED)
        order.refresh_from_db(fields=["status", "signed_at"])
    return order.status


def order_status(*, order: Order) -> str:
    """Check Document Status: the document's state as seen from this order.

    Single and bulk orders: their own state. Tier orders share the document's state:
    WAITING_SIGNATURE until the first signer signs, WAITING_NEXT_SIGNER while some have
    signed, SIGNED when all have; FAILED or EXPIRED as soon as one signer's order is.
    """
    own = order_own_status(order=order)
    if order.kind != Order.Kind.TIER:
        return own
    siblings = list(Order.objects.filter(document_id=order.document_id).order_by("tier_position"))
    states = [order_own_status(order=o) for o in siblings]
    if FAILED in states:
        return FAILED
    if all(s == SIGNED for s in states):
        return SIGNED
    if EXPIRED in states:
        return EXPIRED
    if SIGNED in states:
        return WAITING_NEXT_SIGNER
    return WAITING_SIGNATURE


def order_pdf(*, order: Order) -> bytes:
    """The document's current bytes (with every signature applied so far)."""
    return bytes(order.document.content)


def order_pages(*, order: Order) -> list[PageBox]:
    """Page boxes of the order's document (PDF points, pages numbered from 1)."""
    return validation.pdf_pages(order_pdf(order=order))


def message_list(*, to: str | None = None, limit: int = 200) -> list[Message]:
    """The outbox, newest first; `to` filters on the recipient's e-mail (case-insensitive)."""
    qs = Message.objects.all()
    if to:
        qs = qs.filter(to=to.strip().lower())
    return list(qs[:limit])
