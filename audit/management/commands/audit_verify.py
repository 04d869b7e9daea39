import sys

from django.core.management.base import BaseCommand

from audit.verify import chain_verify


class Command(BaseCommand):
    help = "Verify the audit hash chain and its signed checkpoints. Exit 0 when intact, 1 on tampering."

    def handle(self, *args, **options):
        progress = self._bar if self.stdout.isatty() else None
        result = chain_verify(progress=progress)
        if progress:
            self.stdout.write("")
        if result.ok:
            self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {result.checked} events verified."))
            return
        self.stderr.write(
            self.style.ERROR(
                f"Audit chain broken at seq {result.seq}: {result.problem}.\n"
                f"  expected: {result.expected}\n  found:    {result.found}"
            )
        )
        sys.exit(1)

    def _bar(self, done: int, total: int):
        if done % 500 and done != total:
            return
        width = 40
        filled = width * done // max(total, 1)
        self.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending="")
        self.stdout.flush()
