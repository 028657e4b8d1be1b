"""Enrolment: one person's way from an invitation to an issued Peruri certificate."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from certificates.crypto import EncryptedTextField
from signing.models import PeruriCall


class Enrolment(models.Model):
    """A person's certificate enrolment. State changes go through certificates.services.

    `next_poll_at` is when the background poller next looks at the row (Check Certificate,
    reconciliation, a lost task, or the enrolment's deadline); it is NULL once the row is final.
    `call_started_at` is set, by compare-and-set, just before a call that creates something is
    sent; a row found with it set and no recorded outcome is reconciled, never re-sent blindly.
    """

    class Status(models.TextChoices):
        INVITED = "invited", _("Invited")
        REGISTERING = "registering", _("Registering")
        ACTIVATING = "activating", _("Activating")
        AWAITING_VIDEO = "awaiting_video", _("Waiting for the face video")
        VERIFYING_VIDEO = "verifying_video", _("Sending the face video")
        VIDEO_PENDING = "video_pending", _("Face video being verified")
        AWAITING_SPECIMEN = "awaiting_specimen", _("Waiting for the signature specimen")
        SENDING_SPECIMEN = "sending_specimen", _("Sending the signature specimen")
        AWAITING_WEBVIEW = "awaiting_webview", _("Waiting for Peruri's activation page")
        AWAITING_CERTIFICATE = "awaiting_certificate", _("Waiting for the certificate")
        RECONCILING = "reconciling", _("Checking with Peruri")
        KYC_REJECTED = "kyc_rejected", _("Face verification rejected")
        VIDEO_INVALID = "video_invalid", _("Video not accepted")
        ALREADY_REGISTERED = "already_registered", _("Already registered at Peruri")
        ISSUED = "issued", _("Certificate issued")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    class LicenseType(models.TextChoices):
        CLIENT = "client", _("Corporate Client License (a customer)")
        USER = "user", _("Corporate User License (our staff)")

    class Mode(models.TextChoices):
        NATIVE = "native", _("Paraf's own pages")
        EMBEDDED = "embedded", _("Peruri's activation page (embedded)")

    class Gender(models.TextChoices):
        MALE = "M", _("Male")
        FEMALE = "F", _("Female")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="enrolment", verbose_name=_("user")
    )
    # The address Peruri knows the person by (its key for every certificate call).
    email = models.EmailField(_("e-mail address"), max_length=75)
    license_type = models.CharField(_("license"), max_length=8, choices=LicenseType.choices)
    mode = models.CharField(_("activation"), max_length=8, choices=Mode.choices)
    org_unit = models.CharField(_("organisation unit"), max_length=100, blank=True)
    work_unit = models.CharField(_("work unit"), max_length=100, blank=True)
    position = models.CharField(_("position"), max_length=100, blank=True)
    status = models.CharField(_("status"), max_length=24, choices=Status.choices, default=Status.INVITED)

    # Registration data (the Registration table of the spec). KTP/NPWP numbers encrypted at rest.
    full_name = models.CharField(_("full name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    ktp_number = EncryptedTextField(_("KTP number (NIK)"), blank=True)
    npwp_number = EncryptedTextField(_("NPWP number"), blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    province = models.CharField(_("province"), max_length=100, blank=True)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    place_of_birth = models.CharField(_("place of birth"), max_length=100, blank=True)
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    # Identity files, encrypted, in private storage; deleted once Peruri has them.
    ktp_photo = models.FileField(_("KTP photo"), max_length=200, blank=True)
    npwp_photo = models.FileField(_("NPWP photo"), max_length=200, blank=True)
    video = models.FileField(_("face video"), max_length=200, blank=True)
    specimen = models.FileField(_("signature specimen"), max_length=200, blank=True)

    # Progress (what the person sees as ticks).
    invited_at = models.DateTimeField(_("invited at"), default=timezone.now)
    submitted_at = models.DateTimeField(_("registration submitted at"), null=True, blank=True)
    registered_at = models.DateTimeField(_("registered at"), null=True, blank=True)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    video_verified_at = models.DateTimeField(_("video verified at"), null=True, blank=True)
    # Peruri answered 1040 to the video: accepted, still being verified.
    video_pending = models.BooleanField(_("video still being verified"), default=False)
    specimen_sent_at = models.DateTimeField(_("specimen sent at"), null=True, blank=True)
    issued_at = models.DateTimeField(_("certificate issued at"), null=True, blank=True)
    certificate_is_expired = models.CharField(_("isExpired (raw)"), max_length=8, blank=True)

    # Last word from Peruri, and the error staff see.
    last_result_code = models.CharField(_("last Peruri result code"), max_length=16, blank=True)
    last_result_desc = models.CharField(_("last Peruri result"), max_length=255, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)

    # Background machinery.
    next_poll_at = models.DateTimeField(_("next check"), null=True, blank=True)
    poll_attempts = models.PositiveIntegerField(_("checks made"), default=0)
    call_started_at = models.DateTimeField(_("call in flight since"), null=True, blank=True)
    step_attempts = models.PositiveIntegerField(_("attempts of this step"), default=0)
    # The step whose outcome is unknown while RECONCILING (one of the in-flight statuses).
    reconcile_step = models.CharField(_("step being reconciled"), max_length=24, blank=True)
    # True after an unknown outcome: a re-sent Registration answered "already registered"
    # means our first one went through.
    resent_after_unknown = models.BooleanField(_("sent again after an unknown outcome"), default=False)
    deadline_at = models.DateTimeField(_("deadline"), null=True, blank=True)

    # Invitation e-mails asked for / sent: the send task claims one by compare-and-set, so a task
    # delivered twice sends one e-mail.
    invitations_requested = models.PositiveIntegerField(_("invitations requested"), default=0)
    invitations_sent = models.PositiveIntegerField(_("invitations sent"), default=0)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("invited by"),
    )
    files_purged_at = models.DateTimeField(_("identity files deleted at"), null=True, blank=True)
    erased_at = models.DateTimeField(_("identity data erased at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("enrolment")
        verbose_name_plural = _("enrolments")
        ordering = ["-created_at"]
        indexes = [
            # Serves certificates.tasks.enrolment_poll_due: `next_poll_at <= now` among rows that
            # are not final. Final rows keep no next_poll_at and stay out of the index.
            models.Index(
                fields=["next_poll_at"],
                name="cert_enrolment_poll_due_idx",
                condition=Q(next_poll_at__isnull=False) & ~Q(status__in=["issued", "failed", "expired", "cancelled"]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="cert_enrolment_email_ci_unique"),
            models.CheckConstraint(
                name="cert_enrolment_user_license_has_units",
                condition=Q(license_type="client", org_unit="", work_unit="", position="")
                | (Q(license_type="user") & ~Q(org_unit="") & ~Q(work_unit="") & ~Q(position="")),
            ),
            models.CheckConstraint(name="cert_enrolment_gender_valid", condition=Q(gender__in=["", "M", "F"])),
            models.CheckConstraint(
                name="cert_enrolment_issued_has_time", condition=~Q(status="issued") | Q(issued_at__isnull=False)
            ),
        ]

    TERMINAL = frozenset({Status.ISSUED, Status.FAILED, Status.EXPIRED, Status.CANCELLED})
    # Statuses in which a call that creates something is queued or in flight.
    IN_FLIGHT = frozenset({Status.REGISTERING, Status.ACTIVATING, Status.VERIFYING_VIDEO, Status.SENDING_SPECIMEN})
    # Statuses waiting for the person to act.
    PERSON_ACTION = frozenset(
        {
            Status.INVITED,
            Status.AWAITING_VIDEO,
            Status.AWAITING_SPECIMEN,
            Status.AWAITING_WEBVIEW,
            Status.KYC_REJECTED,
            Status.VIDEO_INVALID,
            Status.ALREADY_REGISTERED,
        }
    )

    def __str__(self) -> str:
        return f"{self.email} ({self.get_status_display()})"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def is_issued(self) -> bool:
        return self.status == self.Status.ISSUED

    @property
    def is_embedded(self) -> bool:
        return self.mode == self.Mode.EMBEDDED

    @property
    def has_identity_files(self) -> bool:
        return any((self.ktp_photo, self.npwp_photo, self.video, self.specimen))

    @property
    def reconcile_step_label(self) -> str:
        """What is being checked with Peruri: the step in doubt, or linking an existing account."""
        if self.reconcile_step.startswith("link"):
            return str(_("Linking the existing Peruri account"))
        return _status_label(self.reconcile_step)

    @property
    def ktp_masked(self) -> str:
        return f"************{self.ktp_number[-4:]}" if self.ktp_number else ""


class Consent(models.Model):
    """Explicit consent to processing identity and biometric data (UU PDP), given before any
    identity data is sent to Peruri: who, when, which text (version and its hash), in which language."""

    enrolment = models.ForeignKey(
        Enrolment, on_delete=models.CASCADE, related_name="consents", verbose_name=_("enrolment")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("given by")
    )
    version = models.CharField(_("text version"), max_length=32)
    language = models.CharField(_("language"), max_length=8)
    text_sha256 = models.CharField(_("SHA-256 of the text shown"), max_length=64)
    given_at = models.DateTimeField(_("given at"), default=timezone.now)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["-given_at"]

    def __str__(self) -> str:
        return f"{self.version} @ {self.given_at:%Y-%m-%d %H:%M}"


class EnrolmentEvent(models.Model):
    """Append-only history of an enrolment: state changes, Peruri calls, actions, identity reads.

    Carries no identity data (no KTP, no photos, no video): it outlives erasure.
    """

    class Kind(models.TextChoices):
        STATE = "state", _("State change")
        CALL = "call", _("Peruri call")
        ACTION = "action", _("Action")
        IDENTITY_READ = "identity_read", _("Identity data read")
        DATA = "data", _("Data handling")

    enrolment = models.ForeignKey(
        Enrolment, on_delete=models.CASCADE, related_name="events", verbose_name=_("enrolment")
    )
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("done by"),
    )
    from_status = models.CharField(_("from status"), max_length=24, blank=True)
    to_status = models.CharField(_("to status"), max_length=24, blank=True)
    operation = models.CharField(_("operation"), max_length=32, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, blank=True)
    result_code = models.CharField(_("Peruri result code"), max_length=16, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    # Events other than Peruri calls store an English source string (marked with gettext_noop in
    # certificates.services) and its parameters, and are translated when shown (`text`). A call's
    # message is Peruri's own description (or the error's), kept verbatim as evidence.
    message = models.CharField(_("message"), max_length=500, blank=True)
    params = models.JSONField(_("message parameters"), default=dict, blank=True)

    class Meta:
        verbose_name = _("enrolment event")
        verbose_name_plural = _("enrolment events")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.operation or self.to_status}"

    @property
    def text(self) -> str:
        """The message in the active language, with its parameters filled in."""
        if not self.message:
            return ""
        if self.kind == self.Kind.CALL:
            return self.message
        template = gettext(self.message)
        if not self.params:
            return template
        try:
            return template % {k: _param_display(k, v) for k, v in self.params.items()}
        except (KeyError, ValueError, TypeError):  # a catalog typo must not break the history page
            return self.message

    @property
    def from_status_label(self) -> str:
        return _status_label(self.from_status)

    @property
    def to_status_label(self) -> str:
        return _status_label(self.to_status)

    @property
    def operation_label(self) -> str:
        return str(OPERATION_LABELS.get(self.operation, self.operation))

    @property
    def outcome_label(self) -> str:
        return str(OUTCOME_LABELS.get(self.outcome, self.outcome))


# What the history shows for the `operation` and `outcome` columns.
OPERATION_LABELS = {
    "register": _("Registration"),
    "activate": _("Activation"),
    "verify_video": _("Video Verification"),
    "send_specimen": _("Send Specimen"),
    "check_certificate": _("Check Certificate"),
    "invite": _("Invitation"),
    "invitation_email": _("Invitation e-mail"),
    "prefill": _("Registration data filled in"),
    "consent": _("Consent"),
    "check_now": _("Check requested"),
    "retry": _("Retry"),
    "delete_files": _("Files deleted"),
    "erase": _("Erasure"),
    "staff_page": _("Staff page"),
    "export": _("Export"),
}
# Outcomes of Peruri calls are those of the call log (peruri.outcome_of); "error" is ours.
OUTCOME_LABELS = {**dict(PeruriCall.Outcome.choices), "error": _("error")}


def _status_label(value: str) -> str:
    if value in Enrolment.Status.values:
        return str(Enrolment.Status(value).label)
    return value


def _file_label(name: str) -> str:
    try:
        return str(Enrolment._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name


def _param_display(key: str, value: Any) -> str:
    """Parameters that name something get its translated label: statuses, operations, files."""
    if key == "files" and isinstance(value, list):
        return ", ".join(_file_label(str(v)) for v in value)
    if key == "file":
        return _file_label(str(value))
    if key in ("step", "status"):
        return _status_label(str(value))
    if key == "operation":
        return str(OPERATION_LABELS.get(str(value), value))
    if key == "license" and value in Enrolment.LicenseType.values:
        return str(Enrolment.LicenseType(value).label)
    if key == "mode" and value in Enrolment.Mode.values:
        return str(Enrolment.Mode(value).label)
    return str(value)
