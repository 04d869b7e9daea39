import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.services import tree_integrate
from audit.verify import BadCheckpoint, log_verify, trusted_checkpoint_parse


class Command(BaseCommand):
    help = (
        "Recompute the audit transparency log (Merkle tree) from its events and check every signed checkpoint. "
        "Exit 0 when intact, 1 on tampering. An auditor passes a checkpoint they kept (--checkpoint) to detect "
        "a rewind past it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoint",
            metavar="FILE_OR_NOTE",
            help="a signed checkpoint kept outside this database (from audit_checkpoint_latest): a file or the text",
        )
        parser.add_argument(
            "--no-integrate",
            action="store_true",
            help="do not fold pending events into the tree first (for a read-only replica)",
        )

    def handle(self, *args, **options):
        trusted = self._trusted(options["checkpoint"]) if options["checkpoint"] else None
        if not options["no_integrate"]:
            tree_integrate()
        progress = self._bar if self.stdout.isatty() else None
        started = time.perf_counter()
        result = log_verify(progress=progress, trusted=trusted)
        elapsed = time.perf_counter() - started
        if progress:
            self.stdout.write("")
        if result.ok:
            kept = f" The log still holds the checkpoint of size {trusted.size}." if trusted else ""
            rate = f" ({result.checked / elapsed:,.0f} events/s)" if result.checked and elapsed else ""
            self.stdout.write(self.style.SUCCESS(f"Audit log intact: {result.checked} events verified{rate}.{kept}"))
            return
        self.stderr.write(
            self.style.ERROR(
                f"Audit log broken at {result.where}: {result.problem}.\n"
                f"  expected: {result.expected}\n  found:    {result.found}"
            )
        )
        sys.exit(1)

    def _trusted(self, value: str):
        text = value if "\n" in value else None
        if text is None:
            try:
                text = Path(value).read_text()
            except OSError as exc:
                raise CommandError(f"cannot read the checkpoint file {value}: {exc.strerror}") from exc
        try:
            return trusted_checkpoint_parse(text)
        except BadCheckpoint as exc:
            raise CommandError(f"the kept checkpoint is refused: {exc}") from exc

    def _bar(self, done: int, total: int):
        if done % 5000 and done != total:
            return
        width = 40
        filled = width * done // max(total, 1)
        self.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending="")
        self.stdout.flush()
