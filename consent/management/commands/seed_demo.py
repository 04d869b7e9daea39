"""Demo data for `make run`: idempotent, prints credentials (and `--json` for scripts)."""

import json
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from consent import services as consent_services
from consent.builders import (
    build_granted_consent,
    build_operator,
    build_organization,
    build_request,
    build_verified_person,
    face_item,
    voice_item,
)
from consent.models import ApiKey, Consent, ConsentRequest
from consent.services import ItemInput
from identity import services as identity_services
from identity.models import Membership, Organization, User

DEMO_USCC = "91350100M000100Y43"
DEMO_PERSON_PHONE = "+8613800000001"
DEMO_GRANTOR_PHONE = "+8613800000002"
DEMO_GRANTOR_ID = "11010519491231002X"
DEMO_USERNAME = "demo-operator"
ACTOR = "seed_demo"


class Command(BaseCommand):
    help = "Create (or refresh) the demo organisation, operator, API key and consent data."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the credentials as one JSON object")

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo creates known credentials and runs only with DJANGO_DEBUG=1.")
        with transaction.atomic():
            credentials = self._seed()
        if options["json"]:
            self.stdout.write(json.dumps(credentials, ensure_ascii=False))
            return
        self.stdout.write(self._text(credentials))

    def _seed(self) -> dict:
        organization = Organization.objects.filter(uscc=DEMO_USCC).first() or build_organization(
            actor=ACTOR,
            name="演示影像科技有限公司 (Demo Imaging Co.)",
            uscc=DEMO_USCC,
            privacy_contact_name="隐私保护负责人 Privacy Officer",
            privacy_contact_email="privacy@demo.example",
            address="福建省福州市鼓楼区示例路1号",
        )
        secrets_path = settings.VAR_DIR / "demo-credentials.json"
        stored = json.loads(secrets_path.read_text()) if secrets_path.exists() else {}
        password = stored.get("password") or f"demo-{secrets.token_urlsafe(12)}"
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            user = build_operator(
                actor=ACTOR,
                organization=organization,
                username=DEMO_USERNAME,
                password=password,
                role=Membership.Role.OWNER,
            )
        elif not user.check_password(password):
            identity_services.operator_set_password(actor=ACTOR, user=user, password=password)
        secrets_path.parent.mkdir(parents=True, exist_ok=True)
        secrets_path.write_text(json.dumps({"password": password}))
        secrets_path.chmod(0o600)
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = identity_services.totp_enrolment_start(user=user)
            code = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()
            identity_services.totp_enrolment_confirm(user=user, device_id=device.pk, token=f"{code:06d}")
            device.refresh_from_db()
        backup = StaticDevice.objects.filter(user=user, name="backup").first()
        backup_code = backup.token_set.values_list("token", flat=True).first() if backup else None
        if backup_code is None:
            backup_code = identity_services.backup_codes_regenerate(user=user)[0]
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        _, api_key = consent_services.api_key_create(
            actor=ACTOR, organization=organization, name="demo key", scopes=list(ApiKey.Scope.values)
        )
        pending = self._pending_request(organization, user)
        consent = self._granted_consent(organization, user)
        token = getattr(consent, "token", None)
        return {
            "url": settings.SITE_URL,
            "pending_request_link": f"{settings.SITE_URL}/r/{pending.code}/",
            "pending_request_phone": pending.person_phone,
            "consent_id": consent.pk,
            "token": token.value if token else None,
            "organization_id": organization.pk,
            "username": DEMO_USERNAME,
            "password": password,
            "otpauth_uri": device.config_url,
            "totp_now": f"{totp.token():06d}",
            "backup_code": backup_code,
            "api_key": api_key,
        }

    def _pending_request(self, organization, user) -> ConsentRequest:
        pending = ConsentRequest.objects.filter(
            organization=organization, person_phone=DEMO_PERSON_PHONE, state=ConsentRequest.State.PENDING
        ).first()
        return pending or build_request(
            actor=user, organization=organization, phone=DEMO_PERSON_PHONE, items=_demo_items(), **DEMO_NOTICE
        )

    def _granted_consent(self, organization, user) -> Consent:
        """A consent granted by a second demo person, so that a newcomer can call verify at once."""
        consent = Consent.objects.filter(
            organization=organization, person__phone=DEMO_GRANTOR_PHONE, state=Consent.State.ACTIVE
        ).first()
        if consent:
            return consent
        person = build_verified_person(phone=DEMO_GRANTOR_PHONE, legal_name="演示用户", id_number=DEMO_GRANTOR_ID)
        # Demo data only: the grant transaction without the SMS round trip a real person makes.
        return build_granted_consent(
            person=person, actor=user, organization=organization, items=_demo_items(), **DEMO_NOTICE
        )

    def _text(self, c: dict) -> str:
        return (
            "\n=== Demo data ready ===\n"
            f"Back-office:   {c['url']}/office/login/\n"
            f"  username:    {c['username']}\n"
            f"  password:    {c['password']}\n"
            f"  TOTP URI:    {c['otpauth_uri']}\n"
            f"  (add the URI to an authenticator app; code right now: {c['totp_now']};"
            f" one-time backup code: {c['backup_code']})\n"
            f"API key (new on every run, all scopes): {c['api_key']}\n"
            f"Dev outbox (SMS and e-mail): {c['url']}/dev/outbox/\n"
            f"Pending request for {c['pending_request_phone']}: {c['pending_request_link']}\n"
            f"  (sign in there with that number; the SMS codes appear in the dev outbox)\n"
            f"Granted consent #{c['consent_id']} (face, face_swap), its token:\n  {c['token']}\n"
        )


DEMO_NOTICE = {
    "end_user_reference": "demo-user-1",
    "end_user_verification_reference": "demo-sms-check",
    "retention_days": 30,
    "notice_withdrawal": "随时在本门户撤回，立即生效。Withdraw at any time in this portal; effective at once.",
    "notice_recipients": [],
}


def _demo_items() -> list[ItemInput]:
    until = timezone.localdate() + timedelta(days=180)
    return [
        face_item(
            purpose="电影预告片换脸 Film trailer face swap", usage="抖音官方账号 Official channel", valid_until=until
        ),
        voice_item(purpose="旁白配音 Narration", usage="播客 Podcast", valid_until=until),
    ]
