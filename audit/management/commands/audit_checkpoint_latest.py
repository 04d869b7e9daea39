from django.core.management.base import BaseCommand, CommandError

from audit.models import AuditCheckpoint


class Command(BaseCommand):
    help = (
        "Print the newest signed checkpoint (a C2SP signed note). An outside auditor keeps it (with "
        "audit_public_key) and later runs `audit_verify --checkpoint` with it:\n"
        "a log rewound past it no longer verifies."
    )

    def handle(self, *args, **options):
        checkpoint = AuditCheckpoint.objects.order_by("-number").first()
        if checkpoint is None:
            raise CommandError("no checkpoint yet: run the audit_integrate_task (or wait for beat) first")
        self.stdout.write(checkpoint.note, ending="")
