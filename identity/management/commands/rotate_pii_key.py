from django.core.management.base import BaseCommand

from identity.crypto import current_key_id
from identity.services import pii_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt legal names and ID numbers under the first key of PII_ENCRYPTION_KEYS. "
        "Put the new key first, keep the old one after it until this has run, then remove it."
    )

    def handle(self, *args, **options):
        changed = pii_rotate()
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {changed} rows under key {current_key_id()!r}."))
