"""The sandbox's own tables. Nothing here refers to Paraf's apps: this is Peruri's side."""

from __future__ import annotations

from django.db import models


class SandboxUser(models.Model):
    """A Peruri customer (certificate holder), from Registration to certificate issued."""

    class Status(models.TextChoices):
        REGISTERED = "REGISTERED"
        ACTIVATED = "ACTIVATED"
        VIDEO_VERIFIED = "VIDEO_VERIFIED"
        SPECIMEN_RECEIVED = "SPECIMEN_RECEIVED"
        CERTIFIED = "CERTIFIED"

    # Stored lower-cased: Peruri treats e-mail addresses case-insensitively.
    email = models.CharField(max_length=75, unique=True)
    name = models.CharField(max_length=100)
    phone = models.CharField(max_length=50)
    ktp = models.CharField(max_length=16, unique=True)
    npwp = models.CharField(max_length=15, blank=True)
    gender = models.CharField(max_length=1)
    place_of_birth = models.CharField(max_length=255)
    date_of_birth = models.DateField()
    address = models.CharField(max_length=255)
    city = models.CharField(max_length=255)
    province = models.CharField(max_length=255)
    org_unit = models.CharField(max_length=255, blank=True)
    work_unit = models.CharField(max_length=255, blank=True)
    position = models.CharField(max_length=255, blank=True)
    system_id = models.CharField(max_length=255)
    ktp_photo = models.BinaryField()
    npwp_photo = models.BinaryField(null=True, blank=True)

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REGISTERED)
    activated_at = models.DateTimeField(null=True, blank=True)
    video_attempts = models.PositiveIntegerField(default=0)
    video_verified_at = models.DateTimeField(null=True, blank=True)
    specimen = models.BinaryField(null=True, blank=True)  # PNG, normalised on receipt
    specimen_at = models.DateTimeField(null=True, blank=True)
    # SANDBOX_CERT_DELAY after the specimen; the certificate is made lazily once this has passed.
    certificate_due_at = models.DateTimeField(null=True, blank=True)
    certificate_pem = models.TextField(blank=True)
    key_pem = models.TextField(blank=True)
    certificate_issued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.email

    @property
    def scenarios(self) -> frozenset[str]:
        """Scenario switches from the address: `ana+kycpending+nocert@example.com`."""
        local = self.email.split("@", 1)[0]
        return frozenset(tag for tag in local.split("+")[1:] if tag)

    @property
    def corporate_user(self) -> bool:
        """orgUnit/workUnit/position filled = Corporate User License (the partner's own staff)."""
        return bool(self.org_unit or self.work_unit or self.position)


class Document(models.Model):
    """One PDF. Single and bulk orders have one document each; a tier's orders share one."""

    file_name = models.CharField(max_length=100)
    original = models.BinaryField()
    content = models.BinaryField()  # current bytes: the signed PDF once signatures are applied
    signature_count = models.PositiveIntegerField(default=0)
    # A NO_CHANGES_ALLOWED signature was applied: nothing may be added any more.
    locked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.file_name


class Order(models.Model):
    """A Peruri order: one signer's signature on one document. Ids are sequential."""

    class Kind(models.TextChoices):
        SINGLE = "SINGLE"
        TIER = "TIER"
        BULK = "BULK"

    class Status(models.TextChoices):
        WAITING_SIGNATURE = "WAITING_SIGNATURE"
        SIGNED = "SIGNED"
        FAILED = "FAILED"
        EXPIRED = "EXPIRED"

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="orders")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    order_type = models.CharField(max_length=20, blank=True)  # "SYSTEM" for Signing System
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="orders")
    uploader = models.CharField(max_length=75, blank=True)
    system_id = models.CharField(max_length=255)
    # Tier: 1-based position of this signer; single and bulk orders are 1 of 1.
    tier_position = models.PositiveSmallIntegerField(default=1)
    tier_size = models.PositiveSmallIntegerField(default=1)
    # The signer object (normalised SignerBox as a dict); null = coordinates not set yet.
    signer = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.WAITING_SIGNATURE)
    failure = models.CharField(max_length=255, blank=True)
    sign_attempts = models.PositiveIntegerField(default=0)
    signed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document", "tier_position"], name="sandbox_order_one_per_position"),
        ]

    def __str__(self) -> str:
        return str(self.pk)

    @property
    def has_coordinates(self) -> bool:
        return self.signer is not None

    @property
    def next_signer_order(self) -> Order | None:
        if self.tier_position >= self.tier_size:
            return None
        return Order.objects.filter(document_id=self.document_id, tier_position=self.tier_position + 1).first()


class Bulk(models.Model):
    """An `orderIdBulk`: several orders of one signer signed with one OTP."""

    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="bulks")
    order_ids = models.JSONField()  # in request order
    system_id = models.CharField(max_length=255)
    signed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return str(self.pk)


class Otp(models.Model):
    """A one-time password sent to the signer, bound to a token and to an order or a bulk."""

    token = models.CharField(max_length=32, unique=True)
    code = models.CharField(max_length=6)
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="otps")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.CASCADE, related_name="otps")
    bulk = models.ForeignKey(Bulk, null=True, blank=True, on_delete=models.CASCADE, related_name="otps")
    attempts = models.PositiveSmallIntegerField(default=0)  # wrong codes entered
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    burned_at = models.DateTimeField(null=True, blank=True)  # too many wrong codes, or superseded
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.token

    @property
    def phone(self) -> str:
        return self.user.phone


class SigningKey(models.Model):
    """The partner's Set Key hashing key for Signing System (one per systemId, last one wins)."""

    system_id = models.CharField(max_length=255, unique=True)
    key = models.CharField(max_length=100)
    expires_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.system_id


class Message(models.Model):
    """What Peruri would have e-mailed or texted: the sandbox outbox."""

    class Kind(models.TextChoices):
        REGISTRATION = "REGISTRATION"
        ACTIVATION = "ACTIVATION"
        CERTIFICATE = "CERTIFICATE"
        SIGN_REQUEST = "SIGN_REQUEST"
        NEXT_SIGNER = "NEXT_SIGNER"
        OTP = "OTP"
        SIGNED = "SIGNED"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    to = models.CharField(max_length=75, db_index=True)  # lower-cased e-mail address
    phone = models.CharField(max_length=50, blank=True)  # OTPs also go out by SMS
    subject = models.CharField(max_length=255)
    body = models.TextField()
    otp = models.CharField(max_length=6, blank=True)
    link = models.CharField(max_length=500, blank=True)
    order_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to}"


class FaultConfig(models.Model):
    """Injected gateway faults. One row (pk=1), in the database so every thread and process sees it."""

    class When(models.TextChoices):
        BEFORE = "before"  # nothing happened: the request never reached the operation
        AFTER = "after"  # the operation was applied, then the reply was lost

    rate = models.FloatField(default=1.0)
    latency_ms = models.PositiveIntegerField(default=0)
    kinds = models.JSONField(default=list)
    operations = models.JSONField(default=list)  # empty = every operation
    remaining = models.IntegerField(null=True, blank=True)  # null = unlimited
    when = models.CharField(max_length=10, choices=When.choices, default=When.BEFORE)
    hang_seconds = models.FloatField(default=35.0)
    triggered = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"faults {self.kinds} ({self.when})"
