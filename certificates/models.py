"""Enrolment: one person's way from an invitation to an issued Peruri certificate."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from certificates.crypto import EncryptedTextField


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

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="enrolment")
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
    resent_after_unknown = models.BooleanField(default=False)
    deadline_at = models.DateTimeField(_("deadline"), null=True, blank=True)

    # Invitation e-mails asked for / sent: the send task claims one by compare-and-set, so a task
    # delivered twice sends one e-mail.
    invitations_requested = models.PositiveIntegerField(default=0)
    invitations_sent = models.PositiveIntegerField(default=0)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    files_purged_at = models.DateTimeField(_("identity files deleted at"), null=True, blank=True)
    erased_at = models.DateTimeField(_("identity data erased at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

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
    def ktp_masked(self) -> str:
        return f"************{self.ktp_number[-4:]}" if self.ktp_number else ""


class Consent(models.Model):
    """Explicit consent to processing identity and biometric data (UU PDP), given before any
    identity data is sent to Peruri: who, when, which text (version and its hash), in which language."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="consents")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
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

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, blank=True)
    operation = models.CharField(max_length=32, blank=True)
    outcome = models.CharField(max_length=16, blank=True)
    result_code = models.CharField(max_length=16, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("enrolment event")
        verbose_name_plural = _("enrolment events")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.operation or self.to_status}"
