import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.verify import BadCheckpoint, chain_verify, trusted_checkpoint_parse


class Command(BaseCommand):
    help = (
        "Verify the audit hash chain and its signed checkpoint chain. Exit 0 when intact, 1 on tampering. "
        "An auditor passes the checkpoint they kept (--checkpoint) to detect a rewind past it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoint",
            metavar="FILE_OR_JSON",
            help="a checkpoint kept outside this database (from audit_checkpoint_latest): a file or the JSON",
        )

    def handle(self, *args, **options):
        trusted = self._trusted(options["checkpoint"]) if options["checkpoint"] else None
        progress = self._bar if self.stdout.isatty() else None
        result = chain_verify(progress=progress, trusted=trusted)
        if progress:
            self.stdout.write("")
        if result.ok:
            kept = f" The log still holds checkpoint {trusted.cp_seq}." if trusted else ""
            self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {result.checked} events verified.{kept}"))
            return
        self.stderr.write(
            self.style.ERROR(
                f"Audit chain broken at seq {result.seq}: {result.problem}.\n"
                f"  expected: {result.expected}\n  found:    {result.found}"
            )
        )
        sys.exit(1)

    def _trusted(self, value: str):
        text = value if value.lstrip().startswith("{") else None
        if text is None:
            try:
                text = Path(value).read_text()
            except OSError as exc:
                raise CommandError(f"cannot read the checkpoint file {value}: {exc.strerror}") from exc
        try:
            return trusted_checkpoint_parse(json.loads(text))
        except (json.JSONDecodeError, AttributeError) as exc:
            raise CommandError(f"the kept checkpoint is not a JSON object: {exc}") from exc
        except BadCheckpoint as exc:
            raise CommandError(f"the kept checkpoint is refused: {exc}") from exc

    def _bar(self, done: int, total: int):
        if done % 500 and done != total:
            return
        width = 40
        filled = width * done // max(total, 1)
        self.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending="")
        self.stdout.flush()
