import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from identity.models import Guardian, Organization, Person


class ApiKey(models.Model):
    """A service's credential: `prefix.secret`, of which only the prefix and a SHA-256 of the secret are kept."""

    class Scope(models.TextChoices):
        REQUESTS_WRITE = "requests:write", _("create and cancel consent requests")
        CONSENTS_READ = "consents:read", _("read consents and their tokens")
        TOKENS_VERIFY = "tokens:verify", _("verify consent tokens")
        OUTPUTS_WRITE = "outputs:write", _("register generated outputs")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=24, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Modality(models.TextChoices):
    FACE = "face", _("face")
    VOICE = "voice", _("voice")


class Operation(models.TextChoices):
    """Deep synthesis operations on likeness (Provisions Art. 23 taxonomy)."""

    FACE_GENERATION = "face_generation", _("face generation")
    FACE_SWAP = "face_swap", _("face swap")
    ATTRIBUTE_EDITING = "attribute_editing", _("face attribute editing")
    FACE_MANIPULATION = "face_manipulation", _("face manipulation")
    POSE_MANIPULATION = "pose_manipulation", _("pose manipulation")
    VOICE_CLONING = "voice_cloning", _("voice cloning")
    VOICE_CONVERSION = "voice_conversion", _("voice conversion")
    SPEECH_SYNTHESIS = "speech_synthesis", _("speech synthesis")


OPERATIONS_BY_MODALITY = {
    Modality.FACE: {
        Operation.FACE_GENERATION,
        Operation.FACE_SWAP,
        Operation.ATTRIBUTE_EDITING,
        Operation.FACE_MANIPULATION,
        Operation.POSE_MANIPULATION,
    },
    Modality.VOICE: {Operation.VOICE_CLONING, Operation.VOICE_CONVERSION, Operation.SPEECH_SYNTHESIS},
}


class EndUserVerification(models.TextChoices):
    """How the provider verified its own end user (使用者), Provisions Art. 9."""

    MOBILE = "mobile", _("mobile number")
    ID_NUMBER = "id_number", _("identity document number")
    USCC = "uscc", _("unified social credit code")
    NATIONAL_NETWORK_ID = "national_network_id", _("national network identity authentication")


class ConsentRequest(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        COMPLETED = "completed", _("decided")
        CANCELLED = "cancelled", _("cancelled")
        EXPIRED = "expired", _("expired")

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="requests")
    code = models.CharField(max_length=64, unique=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    end_user_reference = models.CharField(_("end user (provider's reference)"), max_length=100)
    end_user_verification_method = models.CharField(max_length=24, choices=EndUserVerification.choices)
    end_user_verification_reference = models.CharField(max_length=100)
    end_user_verified_at = models.DateTimeField()
    end_user_prompted_to_notify = models.BooleanField(default=False)
    person_phone = models.CharField(max_length=20, db_index=True)
    person_email = models.EmailField(blank=True)
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="requests")
    language = models.CharField(max_length=8, default="zh-hans")
    notice_processor = models.CharField(max_length=200)
    notice_contact = models.CharField(max_length=300)
    # How long the reference samples are kept after the item's consent ends (or the item is denied,
    # cancelled or expires); the retention task erases them then. Bounded by SAMPLE_RETENTION_MAX_DAYS.
    retention_days = models.PositiveSmallIntegerField(default=30)
    notice_retention = models.CharField(max_length=300, blank=True)  # optional further words (e.g. outputs)
    notice_withdrawal = models.CharField(max_length=300)
    notice_recipients = models.JSONField(default=list, blank=True)  # names of other recipients; [] = none
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The person records a consent statement that is checked against the samples before any grant.
    statement_required = models.BooleanField(_("recorded statement required"), default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(created_by_user__isnull=False) | Q(created_by_key__isnull=False),
                name="request_has_creator",
            )
        ]

    def __str__(self):
        return f"request #{self.pk} ({self.state})"


class RequestItem(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("awaiting decision")
        GRANTED = "granted", _("granted")
        DENIED = "denied", _("denied")
        CANCELLED = "cancelled", _("cancelled")
        EXPIRED = "expired", _("expired")

    request = models.ForeignKey(ConsentRequest, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField(default=1)
    modality = models.CharField(max_length=8, choices=Modality.choices)
    operations = models.JSONField()
    purpose = models.CharField(max_length=500)
    usage = models.CharField(_("where the output is published or used"), max_length=500)
    valid_until = models.DateField()
    terms_json = models.TextField()
    terms_sha256 = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    deny_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["request_id", "position"]

    def __str__(self):
        return f"item #{self.pk} {self.modality} ({self.state})"

    @property
    def digest(self) -> str:
        """The short digest an SMS grant code is bound to (first 8 hex digits of the terms' SHA-256)."""
        return self.terms_sha256[:8]


class Sample(models.Model):
    """A reference image or recording of the person, stored through Django storage, hashed with SHA-256."""

    class Kind(models.TextChoices):
        IMAGE = "image", _("image")
        AUDIO = "audio", _("audio")

    item = models.ForeignKey(RequestItem, on_delete=models.CASCADE, related_name="samples")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    file = models.FileField(upload_to="samples/%Y/%m/")
    content_type = models.CharField(max_length=60)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    original_name = models.CharField(max_length=200, blank=True)
    # Set when the file (and its preview) was deleted, on schedule or with the account; the hash stays.
    erased_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.kind} {self.sha256[:12]}"


class Notification(models.Model):
    """One message to the person, sent by a Celery task: a request's notice (initial or resent), or, with
    `consent` set, a notice about that consent (its expiry ahead, or that it expired), at most one of each."""

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        # Not sent, and rightly so: the consent was withdrawn before its reminder went, or the person deleted
        # their account (a deleted person gets nothing).
        SKIPPED = "skipped", _("not sent")

    class Reason(models.TextChoices):
        INITIAL = "initial", _("first notice")
        RESEND = "resend", _("sent again on request")
        EXPIRY_REMINDER = "expiry_reminder", _("consent expires soon")
        EXPIRED = "expired", _("consent expired")

    request = models.ForeignKey(ConsentRequest, on_delete=models.CASCADE, related_name="notifications")
    # The consent a notice is about (reasons EXPIRY_REMINDER and EXPIRED); null for a request's own notices.
    consent = models.ForeignKey(
        "Consent", null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    reason = models.CharField(max_length=16, choices=Reason.choices, default=Reason.INITIAL)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    requested_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Exactly once per consent: a retried or doubled sweep cannot queue a second reminder or notice.
            models.UniqueConstraint(
                fields=["consent", "reason"], condition=Q(consent__isnull=False), name="one_notice_per_consent"
            ),
            models.CheckConstraint(
                condition=Q(consent__isnull=True, reason__in=["initial", "resend"])
                | Q(consent__isnull=False, reason__in=["expiry_reminder", "expired"]),
                name="notice_reason_matches_subject",
            ),
        ]

    def __str__(self):
        return f"notification #{self.pk} ({self.state})"


class NotificationAttempt(models.Model):
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="attempts")
    channel = models.CharField(max_length=8)
    ok = models.BooleanField()
    reference = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.channel} {'ok' if self.ok else 'failed'}"


class Consent(models.Model):
    """One granted item. The terms are frozen; a change of mind is a new state, never an edit."""

    class State(models.TextChoices):
        ACTIVE = "active", _("active")
        REVOKED = "revoked", _("withdrawn")
        EXPIRED = "expired", _("expired")

    item = models.OneToOneField(RequestItem, on_delete=models.PROTECT, related_name="consent")
    # The public check page (/verify/<public_id>, the QR target) must not be enumerable by counting ids.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="consents")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="consents")
    guardian = models.ForeignKey(Guardian, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    modality = models.CharField(max_length=8, choices=Modality.choices)
    operations = models.JSONField()
    terms_json = models.TextField()
    terms_sha256 = models.CharField(max_length=64)
    code_digest = models.CharField(max_length=8)
    evidence = models.JSONField(default=dict)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE, db_index=True)
    granted_at = models.DateTimeField()
    valid_until = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=500, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-granted_at", "-id"]

    def __str__(self):
        return f"consent #{self.pk} {self.modality} ({self.state})"


class Block(models.Model):
    """A person refuses every request from an organisation."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="blocks")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "organization"], name="block_unique")]

    def __str__(self):
        return f"{self.person} blocks {self.organization}"


class WebhookEvent(models.Model):
    """Outbox: written in the transaction of the change, delivered afterwards by a Celery task."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("gave up")
        NO_ENDPOINT = "no_endpoint", _("no endpoint configured")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_events")
    event_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=40)
    payload = models.JSONField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.type} {self.event_id}"


class StatementPolicy(models.TextChoices):
    """When a request needs a recorded consent statement (besides when the request itself asks for one)."""

    ASKED = "asked", _("only when the request asks for one")
    VOICE_CLONING = "voice_cloning", _("for every request with voice cloning")
    ALWAYS = "always", _("for every request")


class OrganizationSettings(models.Model):
    """How the consent service treats one organisation's services; no row means the defaults."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="consent_settings")
    require_media_binding = models.BooleanField(
        _("require media binding"),
        default=False,
        help_text=_("Token verification refuses media whose SHA-256 is not among the consent's samples."),
    )
    statement_policy = models.CharField(
        _("recorded consent statement"),
        max_length=16,
        choices=StatementPolicy.choices,
        default=StatementPolicy.ASKED,
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("organisation consent settings")
        verbose_name_plural = _("organisation consent settings")

    def __str__(self):
        return str(self.organization)


class WebhookEndpoint(models.Model):
    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="webhook_endpoint")
    url = models.URLField(max_length=500)
    secret_enc = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.url


class WebhookDelivery(models.Model):
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    attempt = models.PositiveSmallIntegerField()
    url = models.URLField(max_length=500)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.event_id} attempt {self.attempt}: {self.status_code or self.error}"


class SigningKey(models.Model):
    """An Ed25519 key signing consent tokens; retired keys stay published until their last token expires."""

    kid = models.CharField(max_length=40, unique=True)
    private_key_enc = models.TextField()
    public_jwk = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    last_token_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.kid


class StatusList(models.Model):
    """A Token Status List (1 bit per token: 0 valid, 1 revoked), large enough for herd privacy."""

    number = models.PositiveIntegerField(unique=True)
    size = models.PositiveIntegerField(default=131072)
    bits = models.BinaryField()
    allocated = models.PositiveIntegerField(default=0)
    token = models.TextField(blank=True)
    token_issued_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"status list {self.number}"


class ConsentToken(models.Model):
    consent = models.OneToOneField(Consent, on_delete=models.PROTECT, related_name="token")
    jti = models.CharField(max_length=64, unique=True)
    kid = models.CharField(max_length=40)
    value = models.TextField()
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    status_list = models.ForeignKey(StatusList, on_delete=models.PROTECT, related_name="tokens")
    status_index = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["status_list", "status_index"], name="token_status_slot_unique")]

    def __str__(self):
        return self.jti


class Presentation(models.Model):
    """Every time a service presented a token to the verify endpoint, whatever the answer."""

    class Result(models.TextChoices):
        ACTIVE = "active", _("accepted")
        INACTIVE = "inactive", _("refused")

    consent = models.ForeignKey(Consent, null=True, blank=True, on_delete=models.PROTECT, related_name="presentations")
    api_key = models.ForeignKey(ApiKey, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    modality = models.CharField(max_length=8, blank=True)
    operation = models.CharField(max_length=40, blank=True)
    media_sha256 = models.CharField(max_length=64, blank=True)
    result = models.CharField(max_length=8, choices=Result.choices)
    reason = models.CharField(max_length=40, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"presentation {self.result} {self.reason}"


class IdempotencyRecord(models.Model):
    """The request an API call with a given Idempotency-Key created, answered again to its retries."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    body_sha256 = models.CharField(max_length=64)
    # Null only inside the transaction that creates both: the row is written first to claim the key.
    request = models.ForeignKey(ConsentRequest, on_delete=models.CASCADE, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "key"], name="idempotency_key_unique")]

    def __str__(self):
        return self.key


class Artifact(models.Model):
    """A signed PDF record of a consent (or of its withdrawal)."""

    class Kind(models.TextChoices):
        GRANT = "grant", _("consent record")
        REVOCATION = "revocation", _("withdrawal record")

    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, related_name="artifacts")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    file = models.FileField(upload_to="artifacts/%Y/%m/")
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["consent", "kind"], name="artifact_one_per_kind")]

    def __str__(self):
        return f"{self.kind} record of consent #{self.consent_id}"


class Statement(models.Model):
    """The person's recorded consent statement for one request, and the check that it is them in the samples.

    The recording is stored encrypted (AES-GCM, the personal-data keys); `sha256` is of the plain bytes,
    the hash that goes into the consent's evidence and signed record.
    """

    class State(models.TextChoices):
        AWAITING = "awaiting", _("waiting for the recording")
        CHECKING = "checking", _("being checked")
        PASSED = "passed", _("matches the samples")
        NEEDS_REVIEW = "needs_review", _("needs review")
        APPROVED = "approved", _("approved by the organisation")
        REFUSED = "refused", _("refused by the organisation")

    request = models.OneToOneField(ConsentRequest, on_delete=models.CASCADE, related_name="statement")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="statements")
    number = models.CharField(max_length=6)
    # The text is rebuilt from the request, the person's (encrypted) name and this language, never stored.
    language = models.CharField(max_length=8, default="zh-hans")
    state = models.CharField(max_length=16, choices=State.choices, default=State.AWAITING, db_index=True)
    file = models.FileField(upload_to="statements/%Y/%m/", blank=True)
    content_type = models.CharField(max_length=60, blank=True)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    has_video = models.BooleanField(default=False)
    recorded_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_reason = models.CharField(max_length=500, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"statement for request #{self.request_id} ({self.state})"

    @property
    def lets_grant(self) -> bool:
        return self.state in (self.State.PASSED, self.State.APPROVED)


class Output(models.Model):
    """A generated file registered by a service under a consent: the link from the output back to the consent."""

    # The receipt id: in the signed receipt, the AIGC label's ProduceID and the public check's links.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="outputs")
    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, related_name="outputs")
    presentation = models.ForeignKey(Presentation, on_delete=models.PROTECT, related_name="outputs")
    api_key = models.ForeignKey(ApiKey, on_delete=models.PROTECT, related_name="+")
    sha256 = models.CharField(max_length=64, db_index=True)
    media_type = models.CharField(max_length=100)
    perceptual_hash = models.CharField(max_length=16, blank=True)
    thumbnail = models.BinaryField(blank=True, default=b"")
    receipt = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    consent_withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "sha256"], name="output_unique_per_organization")
        ]

    def __str__(self):
        return f"output {self.public_id} ({self.media_type})"


class OutputHashBand(models.Model):
    """One 16-bit quarter of an output's 64-bit perceptual hash, indexed: the "similar" search probes these.

    Two hashes at most 7 bits apart differ in at most one bit in at least one of their four quarters (were
    every quarter 2 or more bits apart, they would be 8 or more apart). So the outputs whose quarter at some
    position equals the query's or is one bit from it are every candidate — 4 × 17 index probes, about one
    registered output in a thousand at random — and the exact distance is computed on those alone
    (multi-index hashing, Norouzi et al. 2012) instead of on every registered output.
    """

    BANDS = 4
    BYTES = 2

    output = models.ForeignKey(Output, on_delete=models.CASCADE, related_name="hash_bands")
    band = models.PositiveSmallIntegerField()
    value = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["band", "value"], name="output_hash_band_idx")]
        constraints = [models.UniqueConstraint(fields=["output", "band"], name="output_hash_band_unique")]

    def __str__(self):
        return f"output #{self.output_id} quarter {self.band} = {self.value:04x}"

    @classmethod
    def of(cls, perceptual_hash: str) -> list[tuple[int, int]]:
        """(quarter, 16-bit value) pairs of a 16-hex-digit hash; none for an empty or malformed one."""
        try:
            raw = bytes.fromhex(perceptual_hash)
        except ValueError:
            return []
        if len(raw) != cls.BANDS * cls.BYTES:
            return []
        return [(band, int.from_bytes(raw[band * cls.BYTES : (band + 1) * cls.BYTES])) for band in range(cls.BANDS)]

    @classmethod
    def near(cls, value: int) -> list[int]:
        """The quarter itself and the 16 values one bit from it."""
        return [value, *(value ^ (1 << bit) for bit in range(cls.BYTES * 8))]


class OutputDisplay(models.Model):
    """The person's choice to see the thumbnails services send with their outputs (off unless they opt in)."""

    person = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="output_display")
    show_thumbnails = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.person_id}: thumbnails {'on' if self.show_thumbnails else 'off'}"
