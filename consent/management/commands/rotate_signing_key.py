from django.core.management.base import BaseCommand

from consent.models import SigningKey
from consent.tokens import jwks, signing_key_rotate


class Command(BaseCommand):
    help = (
        "Sign consent tokens with a new Ed25519 key from now on. Retired keys stay in the JWKS until "
        "the last token they signed has expired."
    )

    def handle(self, *args, **options):
        key = signing_key_rotate(actor="rotate_signing_key")
        self.stdout.write(self.style.SUCCESS(f"New signing key {key.kid}."))
        published = {entry["kid"] for entry in jwks()["keys"]}
        for old in SigningKey.objects.filter(kid__in=published, retired_at__isnull=False):
            until = old.last_token_expires_at.isoformat() if old.last_token_expires_at else "no tokens"
            self.stdout.write(f"  retired {old.kid}: still published (last token expires: {until})")
