"""Demo data for `make run`: idempotent, prints credentials (and `--json` for scripts)."""

import json
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from consent import services as consent_services
from consent.models import ApiKey
from identity import services as identity_services
from identity.models import Membership, Organization, User

DEMO_USCC = "91350100M000100Y43"
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
        organization = Organization.objects.filter(uscc=DEMO_USCC).first() or identity_services.organization_create(
            actor=ACTOR,
            name="演示影像科技有限公司 (Demo Imaging Co.)",
            uscc=DEMO_USCC,
            privacy_contact_name="隐私保护负责人 Privacy Officer",
            privacy_contact_email="privacy@demo.example",
            privacy_contact_phone="+8613800138000",
            address="福建省福州市鼓楼区示例路1号",
        )
        secrets_path = settings.VAR_DIR / "demo-credentials.json"
        stored = json.loads(secrets_path.read_text()) if secrets_path.exists() else {}
        password = stored.get("password") or f"demo-{secrets.token_urlsafe(12)}"
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            user = identity_services.operator_create(actor=ACTOR, username=DEMO_USERNAME, password=password)
        elif not user.check_password(password):
            identity_services.operator_set_password(actor=ACTOR, user=user, password=password)
        secrets_path.parent.mkdir(parents=True, exist_ok=True)
        secrets_path.write_text(json.dumps({"password": password}))
        secrets_path.chmod(0o600)
        identity_services.membership_set(actor=ACTOR, user=user, organization=organization, role=Membership.Role.OWNER)
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
        return {
            "url": settings.SITE_URL,
            "organization_id": organization.pk,
            "username": DEMO_USERNAME,
            "password": password,
            "otpauth_uri": device.config_url,
            "totp_now": f"{totp.token():06d}",
            "backup_code": backup_code,
            "api_key": api_key,
        }

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
        )
