"""Check a signed consent record on the command line: exit 0 if valid, 1 if not, with the reasons."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consent.records.render import artifact_verify


class Command(BaseCommand):
    help = "Verify a consent or withdrawal record (PDF): platform signature, embedded receipt, current state."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the PDF record to check")

    def handle(self, *args, file: Path, **options):
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}", returncode=2) from exc
        report = artifact_verify(data)
        if report.status:
            status = report.status
            self.stdout.write(f"record: {report.kind} of consent #{status.consent_id}")
            signed_at = f"{report.signed_at:%Y-%m-%d %H:%M:%S %z}" if report.signed_at else "(no time)"
            self.stdout.write(f"signed: {signed_at} by {report.signer}")
            self.stdout.write(f"organisation: {status.organization}")
            self.stdout.write(f"modality: {status.modality}; valid until {status.valid_until:%Y-%m-%d %H:%M:%S %z}")
            self.stdout.write(f"state now: {status.state}")
            self.stdout.write(f"identical to the stored copy: {'yes' if report.stored_copy else 'no'}")
        if report.log_leaf_index is not None:
            self.stdout.write(
                f"audit log: event at leaf {report.log_leaf_index}, proven against the signed checkpoint "
                f"of {report.log_tree_size} leaves"
            )
        if report.valid:
            self.stdout.write(self.style.SUCCESS("VALID"))
            return
        for problem in report.problems:
            self.stdout.write(f"- {problem.value}: {problem.label}")
        raise CommandError("INVALID", returncode=1)
