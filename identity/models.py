from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """Operators of provider organisations and platform staff. People sign in by phone instead."""

    failed_logins = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)


class Organization(models.Model):
    name = models.CharField(_("name"), max_length=200)
    uscc = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    privacy_contact_name = models.CharField(_("privacy contact"), max_length=100)
    privacy_contact_email = models.EmailField(_("privacy contact e-mail"))
    privacy_contact_phone = models.CharField(_("privacy contact phone"), max_length=20)
    address = models.CharField(_("address"), max_length=300)
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
