"""Signing: the audit trail of every HTTP call to Peruri.

``PeruriCall`` rows are written by ``signing.gateway`` through the client's ``on_call`` hook, one per
HTTP call (a JWT fetch, a retry and the resend after a JWT refresh each get their own row). Staff read
them in the admin to answer "what did Peruri say, and when?" without server logs. They hold no
secret and no payload: operation, ids, status, code, sizes, timing.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PeruriCall(models.Model):
    class Outcome(models.TextChoices):
        OK = "ok", _("OK")
        REJECTED = "rejected", _("Rejected (resultCode ≠ 0)")
        PENDING = "pending", _("Pending (still verifying)")
        TRANSIENT = "transient", _("Temporary failure, not applied")
        UNKNOWN = "unknown", _("Outcome unknown: reconcile")
        AUTH = "auth", _("Gateway refused credentials")
        CONTRACT = "contract", _("Unusable reply")
        CONFIG = "config", _("Configuration error")
        UNAVAILABLE = "unavailable", _("Not sent: Peruri unavailable")

    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    # The client's operation name (send_document, sign, get_jwt...).
    operation = models.CharField(_("operation"), max_length=40)
    # The Peruri id involved: an order id (or several, comma-separated), else the e-mail's hash.
    peruri_ref = models.CharField(_("Peruri reference"), max_length=255, blank=True)
    # Staff-only, for "what happened to this person's registration?"; blanked on erasure requests.
    email = models.EmailField(_("e-mail"), blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    result_code = models.CharField(_("result code"), max_length=16, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    error = models.CharField(_("error"), max_length=64, blank=True)
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    request_bytes = models.PositiveBigIntegerField(_("bytes sent"), default=0)
    response_bytes = models.PositiveBigIntegerField(_("bytes received"), default=0)
    # Optional link to the row the call was made for (set with signing.gateway.peruri_subject()).
    object_type = models.CharField(_("object type"), max_length=50, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("Peruri call")
        verbose_name_plural = _("Peruri calls")
        ordering = ("-created_at", "-id")
        indexes = [
            # Admin filters and "calls for this document" lookups.
            models.Index(fields=["operation", "outcome", "created_at"], name="peruricall_op_outcome"),
            models.Index(fields=["object_type", "object_id"], name="peruricall_object"),
            models.Index(fields=["peruri_ref"], name="peruricall_ref"),
        ]

    def __str__(self) -> str:
        ref = f" {self.peruri_ref}" if self.peruri_ref else ""
        return f"{self.operation}{ref} → {self.outcome} ({self.result_code or self.http_status or '-'})"
