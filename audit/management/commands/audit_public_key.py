from django.core.management.base import BaseCommand

from audit.keys import platform_key_id, platform_public_key_pem


class Command(BaseCommand):
    help = "Print the public key (PEM) that verifies the audit checkpoints, for auditors and regulators."

    def handle(self, *args, **options):
        self.stdout.write(f"# key id {platform_key_id()}\n{platform_public_key_pem()}")
