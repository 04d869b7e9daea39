from django.core.management.base import BaseCommand

from audit.keys import log_verifier_key, platform_key_id, platform_public_key_pem


class Command(BaseCommand):
    help = (
        "Print the key that verifies the audit log's checkpoints: the C2SP verifier key (first line) and "
        "the same Ed25519 key as PEM, for auditors and regulators."
    )

    def handle(self, *args, **options):
        self.stdout.write(f"{log_verifier_key()}\n# key id {platform_key_id()}\n{platform_public_key_pem()}")
