from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consent.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup made by backup_dump into a fresh, empty database (DATABASE_URL) and an empty media "
        "folder, after checking every file against the manifest. Then run audit_verify."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", help="the folder backup_dump wrote")

    def handle(self, *args, source, **options):
        try:
            manifest = backup_restore(source=Path(source))
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Restored the backup of {manifest['created_at']}; now run: manage.py audit_verify")
        )
