import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_otp.models import CooldownMixin, SideChannelDevice, ThrottlingMixin, TimestampMixin

from identity.crypto import decrypt
from identity.validators import age_on, resident_id_birth_date


class User(AbstractUser):
    """Operators of provider organisations and platform staff. People sign in by phone instead.

    Failed sign-ins are counted per (user name, client address) in the shared cache, not on the user.
    """


class Organization(models.Model):
    name = models.CharField(_("name"), max_length=200)
    uscc = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    privacy_contact_name = models.CharField(_("privacy contact"), max_length=100)
    privacy_contact_email = models.EmailField(_("privacy contact e-mail"))
    privacy_contact_phone = models.CharField(_("privacy contact phone"), max_length=20)
    address = models.CharField(_("address"), max_length=300)
    # Public and stable (unlike the database id, and unlike the USCC, which an owner may correct): the
    # `aud` of the organisation's consent tokens, shown on its settings page.
    public_id = models.UUIDField(_("public identifier"), default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("owner")
        OPERATOR = "operator", _("operator")
        VIEWER = "viewer", _("viewer")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.OPERATOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="membership_unique")]

    def __str__(self):
        return f"{self.user} @ {self.organization} ({self.role})"


class Invitation(models.Model):
    """An owner's invitation to join an organisation: a single-use link that expires.

    Only the SHA-256 of the random token is kept, so a copy of the database cannot accept an invitation.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(max_length=16, choices=Membership.Role.choices)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=20, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(email="") | ~models.Q(phone=""), name="invitation_has_address")
        ]

    def __str__(self):
        return f"{self.email or self.phone} → {self.organization} ({self.role})"


class OutboxMessage(models.Model):
    """Development outbox: SMS and e-mail that a real gateway would have sent. Shown at /dev/outbox/."""

    class Channel(models.TextChoices):
        SMS = "sms", "SMS"
        EMAIL = "email", _("e-mail")

    channel = models.CharField(max_length=8, choices=Channel.choices)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.channel} to {self.to}"


class IdentityCheck(models.Model):
    """Evidence of one real-name check (Provisions Art. 9): who was checked, how, by whom, with what outcome."""

    class Subject(models.TextChoices):
        SELF = "self", _("the person")
        GUARDIAN = "guardian", _("the guardian")

    person = models.ForeignKey("Person", on_delete=models.CASCADE, related_name="checks")
    subject = models.CharField(max_length=16, choices=Subject.choices)
    method = models.CharField(max_length=40)
    backend = models.CharField(max_length=40)
    reference = models.CharField(max_length=100, blank=True)
    outcome = models.CharField(max_length=16)
    detail = models.CharField(max_length=300, blank=True)
    # Who asked, for the daily caps on checks (the provider is paid per call and answers name+ID questions).
    ip = models.GenericIPAddressField(null=True, blank=True)
    phone_index = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.subject} {self.method}: {self.outcome}"

    def as_evidence(self) -> dict:
        return {
            "method": self.method,
            "backend": self.backend,
            "reference": self.reference,
            "outcome": self.outcome,
            "time": self.created_at.isoformat(),
        }


class Person(models.Model):
    """Someone whose face or voice may be edited. Legal name and ID number are encrypted at rest."""

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="person")
    phone = models.CharField(_("mobile number"), max_length=20, unique=True)
    email = models.EmailField(_("e-mail"), blank=True)
    legal_name_enc = models.TextField(blank=True)
    id_number_enc = models.TextField(blank=True)
    id_number_index = models.CharField(max_length=64, unique=True, null=True, blank=True)
    legal_name_masked = models.CharField(max_length=40, blank=True)
    id_number_masked = models.CharField(max_length=18, blank=True)
    id_kind = models.CharField(max_length=24, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verification = models.ForeignKey(IdentityCheck, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.legal_name_masked or 'person'} ({self.phone[:5]}…{self.phone[-2:]})"

    @property
    def legal_name(self) -> str:
        return decrypt(self.legal_name_enc, context="person.legal_name") if self.legal_name_enc else ""

    @property
    def id_number(self) -> str:
        return decrypt(self.id_number_enc, context="person.id_number") if self.id_number_enc else ""

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    def age_on(self, day) -> int | None:
        """Age from the encrypted ID number: no plaintext birth date is kept (with the mask it rebuilt the ID)."""
        number = self.id_number
        return age_on(resident_id_birth_date(number), day) if number else None


class Guardian(models.Model):
    """The guardian who decides for a child under 14 (PIPL Art. 31); both identities are recorded."""

    class Relationship(models.TextChoices):
        PARENT = "parent", _("parent")
        GUARDIAN = "legal_guardian", _("other legal guardian")

    child = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="guardian")
    legal_name_enc = models.TextField()
    id_number_enc = models.TextField()
    id_number_index = models.CharField(max_length=64)
    legal_name_masked = models.CharField(max_length=40)
    id_number_masked = models.CharField(max_length=18)
    relationship = models.CharField(max_length=20, choices=Relationship.choices)
    verification = models.ForeignKey(IdentityCheck, on_delete=models.PROTECT, related_name="+")
    verified_at = models.DateTimeField()

    def __str__(self):
        return f"{self.legal_name_masked} ({self.relationship})"


class SmsSend(models.Model):
    """One SMS code sent: the ledger behind the per-phone and per-address limits (SMS pumping).

    The phone is kept only as its blind index: enough to count sends per number, nothing to read back.
    """

    phone_index = models.CharField(max_length=64, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    purpose = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self):
        return f"{self.purpose} code ({self.created_at:%Y-%m-%d %H:%M})"


class PhoneDevice(ThrottlingMixin, CooldownMixin, TimestampMixin, SideChannelDevice):
    """A django-otp device that delivers 6-digit codes by SMS, optionally bound to a digest of terms."""

    phone = models.CharField(max_length=20)
    bound_to = models.CharField(max_length=80, blank=True)

    class Meta(SideChannelDevice.Meta):
        verbose_name = "SMS device"

    def get_throttle_factor(self):
        return 1

    def get_cooldown_duration(self):
        return settings.SMS_SEND_COOLDOWN_SECONDS

    def verify_token(self, token):
        """As django-otp's EmailDevice: refuse while backing off, count failures, reset on success."""
        verify_allowed, _ = self.verify_is_allowed()
        if not verify_allowed:
            return False
        verified = super().verify_token(token)
        if verified:
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save()
        else:
            self.throttle_increment()
        return verified
