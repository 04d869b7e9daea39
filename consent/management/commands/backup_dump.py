from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consent.backup import SECRETS_TO_KEEP, BackupError, backup_dump


class Command(BaseCommand):
    help = "Back up the PostgreSQL database (pg_dump, custom format) and the media store into a new folder."

    def add_arguments(self, parser):
        parser.add_argument("out", help="a new (or empty) folder for database.dump, media.tar.gz, manifest.json")
        parser.add_argument("--skip-media", action="store_true", help="object storage is backed up on its own")

    def handle(self, *args, out, skip_media, **options):
        try:
            manifest = backup_dump(out=Path(out), media=not skip_media)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Backup written to {out}: {', '.join(manifest['files'])}."))
        self.stdout.write(
            "Keep these environment secrets with it (apart from it): without them the encrypted data and "
            "the signatures cannot be used: " + ", ".join(SECRETS_TO_KEEP)
        )
