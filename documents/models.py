"""Documents: a PDF from upload to a verified, signed copy.

A document's life is a state machine (``Document.Status``); every transition is a service in
``documents/services.py`` or ``signing/services.py`` that checks the current state with a
compare-and-set update. Each transition and each Peruri call leaves a ``DocumentEvent``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


def _original_path(instance: Document, filename: str) -> str:
    return f"documents/{instance.public_id}/original.pdf"


def _signed_path(instance: Document, filename: str) -> str:
    return f"documents/{instance.public_id}/signed.pdf"


class Document(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        QUEUED = "queued", _("Queued for sending")
        SENDING = "sending", _("Sending to Peruri")
        AWAITING_SIGNATURE = "awaiting_signature", _("Waiting for the signer")
        SIGNING = "signing", pgettext_lazy("document status", "Signing")
        CONFIRMING = "confirming", _("Fetching the signed copy")
        NEEDS_RECONCILIATION = "needs_reconciliation", _("Needs reconciliation")
        SIGNED = "signed", _("Signed and verified")
        VERIFICATION_FAILED = "verification_failed", _("Signature not valid")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    class PlacedBy(models.TextChoices):
        STAFF = "staff", _("Placed by staff")
        SIGNER = "signer", _("Left to the signer")

    class CertificationLevel(models.TextChoices):
        NOT_CERTIFIED = "NOT_CERTIFIED", _("Approval signature (more signatures allowed)")
        NO_CHANGES_ALLOWED = "NO_CHANGES_ALLOWED", _("Certification (no changes allowed afterwards)")

    class Reconcile(models.TextChoices):
        NONE = "", _("—")
        SEND = "send_document", _("Send Document")
        SIGN = "sign", pgettext_lazy("Peruri operation", "Signing")

    # Rows the poller looks at. A row in one of these states with a due next_poll_at gets work:
    # QUEUED → Send Document; the others → Check Document Status / Download / verify.
    POLLED_STATUSES = (
        Status.QUEUED,
        Status.AWAITING_SIGNATURE,
        Status.CONFIRMING,
        Status.NEEDS_RECONCILIATION,
    )
    TERMINAL_STATUSES = (
        Status.SIGNED,
        Status.VERIFICATION_FAILED,
        Status.FAILED,
        Status.EXPIRED,
        Status.CANCELLED,
    )
    # A Peruri call that creates or signs is running: nobody may start another one.
    IN_FLIGHT_STATUSES = (Status.SENDING, Status.SIGNING)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(_("title"), max_length=200)
    # Sanitized name sent to Peruri as fileName (≤ 100 characters, ends in .pdf).
    file_name = models.CharField(_("file name"), max_length=100)
    original = models.FileField(_("uploaded PDF"), upload_to=_original_path, max_length=200)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size_bytes = models.PositiveBigIntegerField(_("size in bytes"))
    page_count = models.PositiveIntegerField(_("pages"))
    # One entry per page: {"width", "height" (points, crop box), "rotate", "crop": [x0, y0, x1, y1]}.
    pages = models.JSONField(_("page sizes"), default=list)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("uploaded by")
    )
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="documents_to_sign",
        verbose_name=_("signer"),
    )

    # Where the signature goes: integer PDF points from the bottom-left of the page (crop box).
    placed_by = models.CharField(_("placement"), max_length=8, choices=PlacedBy.choices, default=PlacedBy.STAFF)
    sig_page = models.PositiveSmallIntegerField(_("page"), null=True, blank=True)
    sig_llx = models.PositiveSmallIntegerField(null=True, blank=True)
    sig_lly = models.PositiveSmallIntegerField(null=True, blank=True)
    sig_urx = models.PositiveSmallIntegerField(null=True, blank=True)
    sig_ury = models.PositiveSmallIntegerField(null=True, blank=True)
    sig_visible = models.BooleanField(_("visible signature"), default=True)
    certification_level = models.CharField(
        _("certification level"),
        max_length=24,
        choices=CertificationLevel.choices,
        default=CertificationLevel.NOT_CERTIFIED,
    )
    sig_location = models.CharField(_("location"), max_length=100, blank=True)
    sig_reason = models.CharField(_("reason"), max_length=100, blank=True)

    status = models.CharField(_("status"), max_length=24, choices=Status.choices, default=Status.DRAFT)
    peruri_order_id = models.CharField(_("Peruri order id"), max_length=64, null=True, blank=True)
    # The last answer of Check Document Status, verbatim (WAITING_SIGNATURE, SIGNED...).
    peruri_status = models.CharField(_("Peruri status"), max_length=32, blank=True)
    # Which create/sign call has an unknown outcome, while status is NEEDS_RECONCILIATION.
    reconcile_operation = models.CharField(max_length=16, choices=Reconcile.choices, blank=True, default="")
    # When the running Send Document / Signing call started (status SENDING / SIGNING); kept while
    # a Signing call with an unknown outcome is reconciled (SIGNING_UNKNOWN_OUTCOME_GRACE).
    inflight_since = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    last_error_code = models.CharField(_("last Peruri code"), max_length=32, blank=True)

    # Database-driven polling (see documents.tasks.document_poll_due).
    next_poll_at = models.DateTimeField(_("next check"), null=True, blank=True)
    # A per-row task has been enqueued and has not claimed the row yet.
    poll_queued = models.BooleanField(default=False)
    # Attempts in the current state; drives the backoff.
    poll_count = models.PositiveIntegerField(default=0)
    last_polled_at = models.DateTimeField(null=True, blank=True)

    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # Set before the signer's e-mail goes out, so a task that runs twice sends it once.
    signer_notified_at = models.DateTimeField(_("signer e-mailed at"), null=True, blank=True)
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    signed_file = models.FileField(_("signed PDF"), upload_to=_signed_path, max_length=200, blank=True)
    signed_sha256 = models.CharField(_("signed SHA-256"), max_length=64, blank=True)
    verification = models.JSONField(_("validation summary"), default=dict, blank=True)
    signer_cert_fingerprint = models.CharField(_("signer certificate SHA-256"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-created_at", "-id"]
        indexes = [
            # Serves documents.tasks.document_poll_due: "non-terminal rows whose next_poll_at is due",
            # ordered by next_poll_at. Partial, so it only holds the few rows that are in motion.
            models.Index(
                fields=["next_poll_at"],
                name="document_poll_due_idx",
                condition=Q(
                    next_poll_at__isnull=False,
                    status__in=["queued", "awaiting_signature", "confirming", "needs_reconciliation"],
                ),
            ),
            # The staff list: newest first, optionally filtered by status.
            models.Index(fields=["-created_at", "-id"], name="document_list_idx"),
            models.Index(fields=["status", "-created_at", "-id"], name="document_status_list_idx"),
            # documents.tasks.document_housekeeping: calls in flight for too long.
            models.Index(
                fields=["inflight_since"],
                name="document_inflight_idx",
                condition=Q(status__in=["sending", "signing"]),
            ),
        ]
        constraints = [
            # Peruri's order ids are sequential: one order belongs to one document, ever.
            models.UniqueConstraint(
                fields=["peruri_order_id"],
                condition=Q(peruri_order_id__isnull=False),
                name="document_unique_peruri_order_id",
            ),
            models.CheckConstraint(
                condition=Q(sig_page__isnull=True)
                | Q(
                    sig_llx__isnull=False,
                    sig_lly__isnull=False,
                    sig_urx__gt=models.F("sig_llx"),
                    sig_ury__gt=models.F("sig_lly"),
                ),
                name="document_signature_box_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["awaiting_signature", "signing", "confirming", "signed"])
                | Q(peruri_order_id__isnull=False),
                name="document_sent_has_order_id",
            ),
            models.CheckConstraint(
                condition=~Q(status="signed") | ~Q(signed_sha256=""),
                name="document_signed_has_file",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL_STATUSES

    @property
    def has_box(self) -> bool:
        return self.sig_page is not None

    @property
    def box(self) -> dict[str, Any] | None:
        if self.sig_page is None:
            return None
        return {
            "page": self.sig_page,
            "llx": self.sig_llx,
            "lly": self.sig_lly,
            "urx": self.sig_urx,
            "ury": self.sig_ury,
        }

    @property
    def status_tone(self) -> str:
        """A colour for the status badge."""
        if self.status == self.Status.SIGNED:
            return "ok"
        if self.status in (self.Status.FAILED, self.Status.VERIFICATION_FAILED, self.Status.EXPIRED):
            return "bad"
        if self.status == self.Status.NEEDS_RECONCILIATION:
            return "warn"
        return ""


class DocumentEvent(models.Model):
    """One line of a document's history. Append-only: rows are never updated or deleted by the app.

    ``data`` holds only ids, codes, durations and status names — never an OTP, a token, a PDF or
    personal data beyond what the document row already shows.
    """

    class Kind(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        PLACED = "placed", _("Signature placed")
        SEND_QUEUED = "send_queued", _("Queued for sending")
        SENT = "sent", _("Sent to Peruri")
        SIGNER_NOTIFIED = "signer_notified", _("Signer e-mailed")
        OTP_REQUESTED = "otp_requested", _("OTP requested")
        SIGN_ATTEMPTED = "sign_attempted", _("Signing attempted")
        SIGNED_AT_PERURI = "signed_at_peruri", _("Signed at Peruri")
        CALLBACK = "callback", _("Web view reported back")
        STATUS_CHECKED = "status_checked", _("Status checked")
        DOWNLOADED = "downloaded", _("Signed copy downloaded")
        VERIFIED = "verified", _("Signature verified")
        VERIFICATION_FAILED = "verification_failed", _("Signature rejected")
        PERURI_CALL = "peruri_call", _("Peruri call")
        NEEDS_RECONCILIATION = "needs_reconciliation", _("Needs reconciliation")
        RECONCILED = "reconciled", _("Reconciled")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")
        RETRIED = "retried", _("Retried by staff")
        CANCELLED = "cancelled", _("Cancelled")
        STATUS_CHANGED = "status_changed", _("Status changed")

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("time"), default=timezone.now)
    kind = models.CharField(_("event"), max_length=32, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("document event")
        verbose_name_plural = _("document events")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["document", "at", "id"], name="document_event_timeline_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {self.at:%Y-%m-%d %H:%M:%S}"
